//! Lambda entry point of the meta function; all logic is in `meta::handle`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::context::init_tracing();
    let services = meta::Services::from_env().await?;
    services.ctx.warm_up(&services.ctx.config.tables.meta).await;
    let services = &services;
    lambda_http::run(lambda_http::service_fn(move |request| async move {
        Ok::<_, lambda_http::Error>(meta::handle(request, services).await)
    }))
    .await
}
