//! Lambda entry point of the scheduled mailbox pull; all logic is in `mailbox::run`.

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::context::init_tracing();
    let services = meta::Services::from_env().await?;
    let mailboxes = mailbox::mailboxes_from_json(&std::env::var("PARTNERSHIPS_MAILBOXES").unwrap_or_default())?;
    // Leave a minute of the 15-minute timeout for the last batch and the status rows.
    let budget = std::time::Duration::from_secs(
        std::env::var("PARTNERSHIPS_MAILBOX_BUDGET_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(240),
    );
    let (services, mailboxes) = (&services, &mailboxes);
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<serde_json::Value>| async move {
        let report = mailbox::run(services, mailboxes, budget).await;
        let failed = report.mailboxes.iter().filter(|(_, r)| r.is_err()).count();
        Ok::<_, lambda_runtime::Error>(serde_json::json!({"mailboxes": report.mailboxes.len(), "failed": failed}))
    }))
    .await
}
