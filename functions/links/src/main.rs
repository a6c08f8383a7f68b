//! Lambda entry point of the links function; all logic is in `links::handle`.

shared::http_lambda_main!(links::handle, links);
