//! Lambda entry point of the sheets function; all logic is in `sheets::handle`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::context::init_tracing();
    let services = sheets::Services::from_env().await?;
    let services = &services;
    lambda_http::run(lambda_http::service_fn(move |request| async move {
        Ok::<_, lambda_http::Error>(sheets::handle(request, services).await)
    }))
    .await
}
