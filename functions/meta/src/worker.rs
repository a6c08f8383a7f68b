//! The mail worker: continues campaigns the send request handed over (an EventBridge event per
//! continuation), and suppresses the addresses SES reports through SNS as bounced for good or
//! complained about (SES's notification JSON, as documented, inside the SNS message).

use chrono::Utc;
use serde_json::{Value, json};
use shared::domain::normalize::iso_millis;

use crate::Services;
use crate::campaign::{CONTINUATION_DETAIL_TYPE, continue_later, deliver};

/// Why an invocation failed (Lambda retries the event, then keeps it for the operator).
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("unrecognized event: {0}")]
    Unrecognized(String),
    #[error("store: {0}")]
    Store(#[from] shared::store::StoreError),
}

/// Handles one event Lambda delivers to the worker.
pub async fn handle(event: Value, services: &Services) -> Result<Value, WorkerError> {
    if event.get("detail-type").and_then(Value::as_str) == Some(CONTINUATION_DETAIL_TYPE) {
        let campaign_id = event["detail"]["campaignId"].as_str().unwrap_or_default();
        return continue_campaign(services, campaign_id).await;
    }
    if let Some(records) = event.get("Records").and_then(Value::as_array) {
        let mut suppressed = 0;
        for record in records {
            let message = record["Sns"]["Message"].as_str().unwrap_or_default();
            let notification: Value = serde_json::from_str(message).unwrap_or(Value::Null);
            for (email, reason) in addresses_to_suppress(&notification) {
                services
                    .ctx
                    .store
                    .suppress(&email, reason, &iso_millis(Utc::now()))
                    .await?;
                suppressed += 1;
            }
        }
        return Ok(json!({"suppressed": suppressed}));
    }
    Err(WorkerError::Unrecognized(
        shared::error::capped(&event, 0).to_string().chars().take(300).collect(),
    ))
}

/// Sends what is still queued on a campaign, and hands on again if the budget runs out.
async fn continue_campaign(services: &Services, campaign_id: &str) -> Result<Value, WorkerError> {
    let store = &services.ctx.store;
    let Some((campaign, recipients)) = store.get_campaign(campaign_id).await? else {
        tracing::warn!(campaign_id, "continuation for an unknown campaign");
        return Ok(json!({"campaignId": campaign_id, "sent": 0}));
    };
    let Some(secret) = services.settings.signing_secret.as_deref() else {
        tracing::error!("no signing secret: the campaign stays queued");
        return Ok(json!({"campaignId": campaign_id, "sent": 0}));
    };
    let event = match &campaign.event_id {
        Some(id) => store.get_event(id).await?,
        None => None,
    };
    let settled = deliver(
        services,
        secret,
        &campaign,
        event.as_ref(),
        &recipients,
        services.settings.worker_budget,
    )
    .await;
    let queued_before = recipients.iter().filter(|r| r.state == "queued").count();
    if settled.len() < queued_before {
        continue_later(services, campaign_id).await;
    }
    Ok(json!({"campaignId": campaign_id, "settled": settled.len(), "remaining": queued_before - settled.len()}))
}

/// The addresses an SES notification says must not be emailed again: every recipient of a
/// permanent bounce, and every complainant.
pub fn addresses_to_suppress(notification: &Value) -> Vec<(String, &'static str)> {
    let list = |items: &Value| -> Vec<String> {
        items
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["emailAddress"].as_str())
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty())
            .collect()
    };
    match notification["notificationType"].as_str() {
        Some("Bounce") if notification["bounce"]["bounceType"] == "Permanent" => {
            list(&notification["bounce"]["bouncedRecipients"])
                .into_iter()
                .map(|e| (e, "bounced"))
                .collect()
        }
        Some("Complaint") => list(&notification["complaint"]["complainedRecipients"])
            .into_iter()
            .map(|e| (e, "complained"))
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permanent_bounces_and_complaints_suppress_transient_bounces_do_not() {
        let permanent = json!({"notificationType": "Bounce", "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": "Gone@Acme.com"}]}});
        assert_eq!(
            addresses_to_suppress(&permanent),
            vec![("gone@acme.com".to_string(), "bounced")]
        );
        let transient = json!({"notificationType": "Bounce", "bounce": {"bounceType": "Transient", "bouncedRecipients": [{"emailAddress": "full@acme.com"}]}});
        assert!(addresses_to_suppress(&transient).is_empty());
        let complaint = json!({"notificationType": "Complaint", "complaint": {"complainedRecipients": [{"emailAddress": "angry@acme.com"}]}});
        assert_eq!(
            addresses_to_suppress(&complaint),
            vec![("angry@acme.com".to_string(), "complained")]
        );
        assert!(addresses_to_suppress(&json!({"notificationType": "Delivery"})).is_empty());
    }
}
