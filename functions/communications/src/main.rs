//! Lambda entry point of the communications function; all logic is in `communications::handle`.

shared::http_lambda_main!(communications::handle, communications);
