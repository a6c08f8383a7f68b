//! `local-stack create-tables` creates the template's missing tables; `local-stack serve` does
//! that and then serves every route on `127.0.0.1:$PORT` until Ctrl-C.

use std::sync::Arc;

use local_stack::bootstrap::create_missing_tables;
use local_stack::gateway::{Gateway, serve};
use local_stack::template::Template;
use shared::AppContext;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

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
