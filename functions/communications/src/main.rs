//! Lambda entry point: wires config, logs and the SDK client, then serves `communications::handle`.

use lambda_http::{Error, service_fn};
use shared::AppContext;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::context::init_tracing();
    let ctx = AppContext::from_env().await?;
    ctx.warm_up().await;
    let ctx = &ctx;
    lambda_http::run(service_fn(move |request| async move {
        Ok::<_, Error>(communications::handle(request, ctx).await)
    }))
    .await
}
