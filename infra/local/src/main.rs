//! `local-stack create-tables` creates the template's missing tables; `local-stack serve` does
//! that and then serves every route on `127.0.0.1:$PORT` until Ctrl-C.

use std::sync::Arc;

use aws_config::BehaviorVersion;
use local_stack::bootstrap::create_missing_tables;
use local_stack::eventbus::{EventRouter, verify_sender_identity};
use local_stack::functions::Functions;
use local_stack::gateway::{Gateway, serve};
use local_stack::streams::StreamPoller;
use local_stack::template::Template;
use shared::AppContext;
use shared::config::Config;

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

/// Plays the mailbox pull's EventBridge schedule: every `MAILBOX_SYNC_INTERVAL_SECS` (default
/// 600, as `rate(10 minutes)` in template.yaml), when there are mailboxes.
fn spawn_mailbox_schedule(functions: &Functions, mailboxes: Vec<mailbox::MailboxConfig>) {
    let Some(services) = functions.mail("mailbox-sync").cloned() else {
        return;
    };
    if mailboxes.is_empty() {
        return;
    }
    let every = std::env::var("MAILBOX_SYNC_INTERVAL_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600u64)
        .max(1);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(std::time::Duration::from_secs(every));
        loop {
            ticker.tick().await;
            let report = mailbox::run(&services, &mailboxes, std::time::Duration::from_secs(240)).await;
            tracing::info!(mailboxes = report.mailboxes.len(), "scheduled mailbox pull finished");
        }
    });
}

/// Plays the auto-push's one-minute schedule (`rate(1 minute)` in template.yaml).
fn spawn_sheets_schedule(functions: &Functions) {
    let functions = functions.clone();
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            ticker.tick().await;
            let tick = serde_json::json!({"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}});
            if let Some(Err(e)) = functions.dispatch_event("sheets-sync", tick).await {
                tracing::error!(error = %e, "scheduled sheets push failed");
            }
        }
    });
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    shared::context::init_tracing();
    let command = std::env::args().nth(1).unwrap_or_else(|| "serve".into());
    let template = Template::load(std::env::var("TEMPLATE").unwrap_or_else(|_| "template.yaml".into()))?;
    let config = Config::from_env()?;
    let sdk = aws_config::defaults(BehaviorVersion::latest()).load().await;
    // Tables are made as CloudFormation would, outside any function's role.
    let admin = AppContext::from_sdk_config(config.clone(), &sdk);
    let created = create_missing_tables(admin.store.client(), &template, &config.env).await?;
    tracing::info!(env = %config.env, ?created, "tables ready");
    // Every function (and the schedule) runs under its own role from the template.
    let functions = Functions::new(&template, &config, &sdk)?;
    match command.as_str() {
        "create-tables" => Ok(()),
        "serve" => {
            // SES and EventBridge as a deploy sets them up: the sending identity verified, the
            // rules that invoke functions created (on the emulator `make run` starts).
            let identity = local_stack::iam::local_ses_identity();
            verify_sender_identity(&sdk, &identity).await?;
            let router = Arc::new(EventRouter::setup(&template, functions.clone(), &sdk, &config.env).await?);
            router.spawn(std::time::Duration::from_millis(250));
            tracing::info!(%identity, "SES identity verified; EventBridge rules routed");
            let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(3000);
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
            let rollup = functions.context("rollup").ok_or("template has no rollup function")?;
            spawn_rollup_schedule(rollup.clone());
            // Lambda polls each stream about four times a second (`STREAM_POLL_MS`, 0 = off).
            let streams = Arc::new(StreamPoller::new(&template, functions.clone(), &sdk, &config.env));
            let poll_ms = std::env::var("STREAM_POLL_MS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(250u64);
            if poll_ms > 0 {
                streams.clone().spawn(std::time::Duration::from_millis(poll_ms));
            }
            // The mailbox pull's schedule (`rate(10 minutes)` in the template) and its on-demand
            // route, over the mailboxes of `PARTNERSHIPS_MAILBOXES`.
            let mailboxes = mailbox::mailboxes_from_json(&std::env::var("PARTNERSHIPS_MAILBOXES").unwrap_or_default())?;
            spawn_mailbox_schedule(&functions, mailboxes.clone());
            spawn_sheets_schedule(&functions);
            let openapi: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(
                std::env::var("OPENAPI").unwrap_or_else(|_| "api/openapi.json".into()),
            )?)?;
            let gateway = Arc::new(
                Gateway::new(&template, functions)?
                    .with_streams(streams)
                    .with_mailboxes(mailboxes)
                    .with_openapi(openapi),
            );
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
