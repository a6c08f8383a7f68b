//! Lambda entry point of the stream processor; all logic is in `stream::handle`.

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use shared::AppContext;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::context::init_tracing();
    let ctx = AppContext::from_env().await?;
    ctx.warm_up(&ctx.config.tables.meta).await;
    let ctx = &ctx;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, Error>(stream::handle(event.payload, ctx).await)
    }))
    .await
}
