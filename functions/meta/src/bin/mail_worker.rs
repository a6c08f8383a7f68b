//! Lambda entry point of the mail worker (EventBridge continuations, SES notifications via SNS);
//! all logic is in `meta::worker::handle`.

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::context::init_tracing();
    let services = meta::Services::from_env().await?;
    let services = &services;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        meta::worker::handle(event.payload, services)
            .await
            .map_err(|e| lambda_runtime::Error::from(e.to_string()))
    }))
    .await
}
