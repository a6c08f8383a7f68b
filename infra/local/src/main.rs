//! `local-stack create-tables` creates the template's missing tables; `local-stack serve` does
//! that and then serves every route on `127.0.0.1:$PORT` until Ctrl-C.

use std::sync::Arc;

use local_stack::bootstrap::create_missing_tables;
use local_stack::gateway::{Gateway, serve};
use local_stack::template::Template;
use shared::AppContext;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Plays the EventBridge schedule of the rollup function: a first run shortly after start, then
/// every `ROLLUP_INTERVAL_SECS` (default 300, as `rate(5 minutes)` in template.yaml).
fn spawn_rollup_schedule(ctx: AppContext) {
    let every = std::env::var("ROLLUP_INTERVAL_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300u64)
        .max(1);
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        let mut ticker = tokio::time::interval(std::time::Duration::from_secs(every));
        loop {
            ticker.tick().await;
            match rollup::run(&ctx, std::time::Duration::from_secs(60)).await {
                Ok(report) => tracing::info!(?report, "scheduled rollup finished"),
                Err(e) => tracing::error!(error = %shared::error::error_chain(&e), "scheduled rollup failed"),
            }
        }
    });
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    shared::context::init_tracing();
    let command = std::env::args().nth(1).unwrap_or_else(|| "serve".into());
    let template = Template::load(std::env::var("TEMPLATE").unwrap_or_else(|_| "template.yaml".into()))?;
    let ctx = AppContext::from_env().await?;
    let created = create_missing_tables(ctx.store.client(), &template, &ctx.config.env).await?;
    tracing::info!(env = %ctx.config.env, ?created, "tables ready");
    match command.as_str() {
        "create-tables" => Ok(()),
        "serve" => {
            let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
            spawn_rollup_schedule(ctx.clone());
            let gateway = Arc::new(Gateway::new(&template, ctx)?);
            tracing::info!(url = %format!("http://127.0.0.1:{port}"), routes = template.routes.len(), "serving");
            serve(listener, gateway, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await;
            tracing::info!("stopped");
            Ok(())
        }
        other => Err(format!("unknown command {other:?}; use serve or create-tables").into()),
    }
}
