//! Lambda entry point of the reports function; all logic is in `reports::handle`.

shared::http_lambda_main!(reports::handle, meta);
