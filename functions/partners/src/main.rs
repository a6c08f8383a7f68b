//! Lambda entry point of the partners function; all logic is in `partners::handle`.

shared::http_lambda_main!(partners::handle, partners);
