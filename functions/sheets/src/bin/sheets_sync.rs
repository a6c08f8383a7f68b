//! Lambda entry point of the debounced auto-push (change events and a one-minute schedule);
//! all logic is in `sheets::autosync::handle`.

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::context::init_tracing();
    let services = sheets::Services::from_env().await?;
    let services = &services;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        sheets::autosync::handle(&event.payload, services)
            .await
            .map_err(lambda_runtime::Error::from)
    }))
    .await
}
