//! Lambda entry point of the events function; all logic is in `events::handle`.

shared::http_lambda_main!(events::handle, events);
