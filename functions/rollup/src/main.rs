//! Lambda entry point for the EventBridge schedule: runs one (resumable) rollup within the
//! invocation's time budget and answers its report.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use shared::AppContext;

/// Time kept back from the invocation deadline to save the checkpoint.
const SAFETY_MS: u64 = 5_000;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::context::init_tracing();
    let ctx = AppContext::from_env().await?;
    ctx.warm_up(&ctx.config.tables.meta).await;
    let ctx = &ctx;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
        let budget = event.context.deadline.saturating_sub(now_ms).saturating_sub(SAFETY_MS);
        let report = rollup::run(ctx, std::time::Duration::from_millis(budget)).await?;
        Ok::<_, Error>(serde_json::to_value(report)?)
    }))
    .await
}
