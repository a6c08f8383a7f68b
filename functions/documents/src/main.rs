//! Lambda entry point of the documents function; all logic is in `documents::handle`.

shared::http_lambda_main!(documents::handle, documents);
