//! POST `/partnerships/email/send` (§8.4) and GET `/partnerships/email/campaigns/{id}`.
//!
//! A send validates, prechecks the recipients, records the campaign with every recipient's
//! state (`queued` for those to email), then sends one by one at the account's SES rate until
//! its time budget runs out. What is left stays `queued` and an EventBridge event hands it to
//! the mail worker, so API Gateway's 29 s limit never cuts a campaign. Each recipient is claimed
//! (`queued` → `sending`) before its email goes out, so no one is emailed twice, even when an
//! event is delivered twice. An `Idempotency-Key` makes a retried request answer the first
//! result instead of sending again.

use std::collections::HashMap;
use std::time::Duration;

use chrono::Utc;
use lambda_http::http::StatusCode;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Value, json};
use shared::auth::Caller;
use shared::domain::event::PartnershipEvent;
use shared::domain::mass_email::{
    CAMPAIGN_ENTITY, Campaign, CampaignRecipient, MergeValues, NOTHING_TO_SEND, RecipientCard, RecipientResult,
    RecipientStatus, SendRequest, Sender, history_summary, precheck, render_for, send_message, summary,
};
use shared::domain::normalize::iso_millis;
use shared::domain::records::{Audit, Communication, EventRef};
use shared::http::{json_body, json_response, ok};
use shared::store::meta::campaign_row_id;
use shared::{ApiError, ApiResult};
use tokio::time::Instant;

use crate::Services;
use crate::mailer::{Outgoing, build_message, send_interval, send_raw};

/// The EventBridge `source` and `detail-type` of a campaign continuation.
pub const CONTINUATION_SOURCE: &str = "partnerships.mass-email";
pub const CONTINUATION_DETAIL_TYPE: &str = "Campaign continuation";

/// POST `/partnerships/email/send`: the body is validated before the sender (§8.4). An
/// `Idempotency-Key` is honoured around it (`shared::http::idempotent`).
pub async fn send(request: &Request, services: &Services, caller: &Caller) -> ApiResult<Response<Body>> {
    let body = json_body(request)?;
    // A segment is resolved now: whoever it holds at this moment gets the email.
    let body = shared::directory::with_segment_recipients(&services.ctx, body, &caller.email).await?;
    let send = SendRequest::parse(&body)?;
    let sender = crate::sender_of(caller)?;
    let (status, answer) = run(request, services, &sender, &send).await?;
    Ok(json_response(status, &answer))
}

/// The public base URL the unsubscribe links point at.
fn public_base_url(request: &Request, services: &Services) -> String {
    if let Some(url) = &services.settings.public_api_url {
        return url.clone();
    }
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => match &ctx.domain_name {
            Some(domain) if !domain.is_empty() => format!("https://{domain}"),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

async fn require_event(services: &Services, id: &str) -> ApiResult<PartnershipEvent> {
    services
        .ctx
        .store
        .get_event(id)
        .await?
        .ok_or_else(|| ApiError::not_found("partnership event", id))
}

/// The checks, the campaign and its first round of sends: the answer and its status.
async fn run(
    request: &Request,
    services: &Services,
    sender: &Sender,
    send: &SendRequest,
) -> ApiResult<(StatusCode, Value)> {
    let started = Instant::now();
    let store = &services.ctx.store;
    let event = match &send.event_id {
        Some(id) => Some(require_event(services, id).await?),
        None => None,
    };
    if let Some(id) = &send.template_id {
        let template = store
            .get_template(id)
            .await?
            .ok_or_else(|| ApiError::not_found("partnerships mass-email template", id))?;
        if template.archived {
            return Err(ApiError::validation(
                "The selected template is archived.",
                json!({"templateId": id}),
            ));
        }
    }
    let Some(secret) = services.settings.signing_secret.as_deref() else {
        return Err(ApiError::NotConfigured(
            "Mass email is not configured on this deployment (no signing secret for unsubscribe links).".into(),
        ));
    };
    let cards: HashMap<String, RecipientCard> = store
        .batch_get_fields::<RecipientCard>(
            &store.tables().partners,
            &send.partner_ids,
            &["id", "company", "contactName", "email", "archived"],
        )
        .await?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    let addresses: Vec<String> = cards
        .values()
        .map(|c| c.email.trim().to_lowercase())
        .filter(|e| !e.is_empty())
        .collect();
    let suppressed = store.suppressed(&addresses).await?;
    let (skipped, eligible) = precheck(&send.partner_ids, &cards, &suppressed, send.include_archived);
    if eligible.is_empty() {
        return Ok((
            StatusCode::OK,
            json!({
                "message": NOTHING_TO_SEND,
                "summary": summary(send.partner_ids.len(), &skipped),
                "results": skipped.iter().map(RecipientResult::to_wire).collect::<Vec<_>>(),
            }),
        ));
    }
    let now = Utc::now();
    let campaign_id = uuid::Uuid::new_v4().to_string();
    let results: Vec<RecipientResult> = skipped
        .iter()
        .cloned()
        .chain(
            eligible
                .iter()
                .map(|card| RecipientResult::new(&card.id, Some(card), RecipientStatus::Queued)),
        )
        .collect();
    let campaign = Campaign {
        id: campaign_row_id(&campaign_id, None),
        campaign_id: campaign_id.clone(),
        entity_type: CAMPAIGN_ENTITY.into(),
        campaign_name: send.campaign_name.clone(),
        subject: send.subject.clone(),
        body: send.body.clone(),
        sender: sender.clone(),
        event_id: event.as_ref().map(|e| e.id.clone()),
        event_name: event.as_ref().map(|e| e.name.clone()),
        event_year: event.as_ref().map(|e| e.year),
        template_id: send.template_id.clone(),
        partner_ids: results.iter().map(|r| r.partner_id.clone()).collect(),
        occurred_at: iso_millis(now),
        created_at: now.timestamp_millis(),
        public_base_url: public_base_url(request, services),
        version: 1,
    };
    let recipients: Vec<CampaignRecipient> = results
        .iter()
        .map(|r| CampaignRecipient {
            id: campaign_row_id(&campaign_id, Some(&r.partner_id)),
            campaign_id: campaign_id.clone(),
            partner_id: r.partner_id.clone(),
            card: r.card.clone(),
            state: r.status.as_str().to_string(),
            message: r.message.clone(),
            updated_at: campaign.created_at,
        })
        .collect();
    store.put_campaign(&campaign, &recipients).await?;
    let budget = match &services.ctx.config.event_bus {
        Some(_) => services.settings.request_budget.saturating_sub(started.elapsed()),
        // Without a worker to continue, the request sends to the end.
        None => Duration::from_secs(24 * 3600),
    };
    let outcomes = deliver(services, secret, &campaign, event.as_ref(), &recipients, budget).await;
    let results: Vec<RecipientResult> = results
        .into_iter()
        .map(|r| match outcomes.get(&r.partner_id) {
            Some(done) => done.clone(),
            None => r,
        })
        .collect();
    if results.iter().any(|r| r.status == RecipientStatus::Queued) {
        continue_later(services, &campaign_id).await;
    }
    if let Some(template_id) = &send.template_id
        && let Err(e) = store.mark_template_used(template_id, &campaign.occurred_at).await
    {
        tracing::warn!(error = %shared::error::error_chain(&e), "could not record the template's use");
    }
    Ok((
        StatusCode::OK,
        json!({
            "message": send_message(&results),
            "campaignId": campaign_id,
            "summary": summary(send.partner_ids.len(), &results),
            "results": results.iter().map(RecipientResult::to_wire).collect::<Vec<_>>(),
        }),
    ))
}

/// Asks the mail worker (through EventBridge) to send what is still queued. A failure leaves
/// the recipients queued and visible on the campaign; it is logged for the operator.
pub async fn continue_later(services: &Services, campaign_id: &str) {
    let Some(bus) = &services.ctx.config.event_bus else {
        return;
    };
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .event_bus_name(bus)
        .source(CONTINUATION_SOURCE)
        .detail_type(CONTINUATION_DETAIL_TYPE)
        .detail(json!({"campaignId": campaign_id}).to_string())
        .build();
    match services.ctx.events.put_events().entries(entry).send().await {
        Ok(out) if out.failed_entry_count() == 0 => {
            tracing::info!(campaign_id, "campaign continues in the mail worker");
        }
        Ok(out) => tracing::error!(
            campaign_id,
            failed = out.failed_entry_count(),
            "continuation event refused"
        ),
        Err(err) => {
            tracing::error!(campaign_id, error = %shared::error::error_chain(&err), "continuation event failed")
        }
    }
}

/// Sends to the `queued` recipients of `campaign`, one at a time at the account's rate, until
/// `budget` would be passed; returns the new result of each recipient it settled.
pub async fn deliver(
    services: &Services,
    secret: &[u8],
    campaign: &Campaign,
    event: Option<&PartnershipEvent>,
    recipients: &[CampaignRecipient],
    budget: Duration,
) -> HashMap<String, RecipientResult> {
    let deadline = Instant::now() + budget;
    let store = &services.ctx.store;
    let queued: Vec<&CampaignRecipient> = recipients
        .iter()
        .filter(|r| r.state == RecipientStatus::Queued.as_str())
        .collect();
    let mut settled = HashMap::new();
    if queued.is_empty() {
        return settled;
    }
    let interval = send_interval(&services.ses).await;
    let mut next_slot = Instant::now();
    for recipient in queued {
        let Some(card) = recipient.card.as_ref() else { continue };
        // Stop while one more send still fits, leaving time to record it.
        if next_slot.max(Instant::now()) + interval + Duration::from_millis(500) > deadline {
            break;
        }
        tokio::time::sleep_until(next_slot).await;
        next_slot = Instant::now().max(next_slot) + interval;
        match store.claim_recipient(recipient, Utc::now().timestamp_millis()).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::error!(error = %shared::error::error_chain(&e), "could not claim a recipient; left queued");
                continue;
            }
        }
        let (status, message) = send_one(services, secret, campaign, event, card).await;
        let result = RecipientResult {
            partner_id: recipient.partner_id.clone(),
            card: Some(card.clone()),
            status,
            message,
        };
        if let Err(e) = store
            .settle_recipient(
                recipient,
                status.as_str(),
                &result.message,
                Utc::now().timestamp_millis(),
            )
            .await
        {
            tracing::error!(error = %shared::error::error_chain(&e), "could not record a recipient's state");
        }
        settled.insert(recipient.partner_id.clone(), result);
    }
    settled
}

/// Renders, sends and logs one email: its status and message.
async fn send_one(
    services: &Services,
    secret: &[u8],
    campaign: &Campaign,
    event: Option<&PartnershipEvent>,
    card: &RecipientCard,
) -> (RecipientStatus, String) {
    let values = MergeValues::new(card, &campaign.sender, campaign.event());
    let Some(email) = render_for(&campaign.subject, &campaign.body, &values) else {
        let status = RecipientStatus::FailedRender;
        return (status, status.fixed_message().to_string());
    };
    let to = card.email.trim().to_lowercase();
    let unsubscribe_url = crate::unsubscribe::link(&campaign.public_base_url, secret, &to);
    let raw = match build_message(&Outgoing {
        sender: &campaign.sender,
        to: &to,
        email: &email,
        unsubscribe_url: &unsubscribe_url,
        campaign_id: &campaign.campaign_id,
    }) {
        Ok(raw) => raw,
        Err(e) => {
            return (
                RecipientStatus::FailedSend,
                format!("The email could not be built: {e}"),
            );
        }
    };
    if let Err(failure) = send_raw(&services.ses, &campaign.sender.email, raw).await {
        return (RecipientStatus::FailedSend, failure.message);
    }
    let entry = timeline_entry(campaign, event, card, &to, &email.subject, &email.body);
    match services.ctx.store.create_record(&entry, event).await {
        Ok(()) => (RecipientStatus::Sent, RecipientStatus::Sent.fixed_message().to_string()),
        Err(e) => {
            tracing::error!(error = %shared::error::error_chain(&e), "sent, but the timeline entry failed");
            (
                RecipientStatus::WarningLogFailed,
                RecipientStatus::WarningLogFailed.fixed_message().to_string(),
            )
        }
    }
}

/// The `mass_email` communication a sent email leaves on the partner's timeline (§8.4).
fn timeline_entry(
    campaign: &Campaign,
    event: Option<&PartnershipEvent>,
    card: &RecipientCard,
    to: &str,
    subject: &str,
    body: &str,
) -> Communication {
    let extra = json!({
        "sender": campaign.sender.email,
        "recipientEmail": to,
        "templateId": campaign.template_id,
        "campaignId": campaign.campaign_id,
        "campaignName": campaign.campaign_name,
        "source": "mass_email",
    });
    Communication {
        id: uuid::Uuid::new_v4().to_string(),
        partner_id: card.id.clone(),
        subject: shared::domain::normalize::truncate_chars(subject, 180).to_string(),
        summary: history_summary(&campaign.sender.email, to, body),
        channel: "email".into(),
        direction: "outbound".into(),
        occurred_at: Some(campaign.occurred_at.clone()),
        follow_up_date: None,
        follow_up_done: false,
        follow_up_done_at: None,
        event: event.map(EventRef::to).unwrap_or_default(),
        audit: Audit {
            created_at: campaign.created_at,
            updated_at: campaign.created_at,
            updated_by: campaign.sender.email.clone(),
            version: 1,
        },
        extra: extra.as_object().cloned().unwrap_or_default(),
    }
}

/// The campaign's answer: what was asked and each recipient's state, in the send's order.
pub fn campaign_wire(campaign: &Campaign, recipients: &[CampaignRecipient], now_ms: i64) -> Value {
    let results: Vec<RecipientResult> = recipients.iter().map(|r| r.result(now_ms)).collect();
    let sending = results.iter().any(|r| r.status == RecipientStatus::Queued);
    json!({
        "campaignId": campaign.campaign_id,
        "campaignName": campaign.campaign_name,
        "status": if sending { "sending" } else { "finished" },
        "subject": campaign.subject,
        "sender": campaign.sender.email,
        "eventId": campaign.event_id,
        "templateId": campaign.template_id,
        "occurredAt": campaign.occurred_at,
        "message": send_message(&results),
        "summary": summary(campaign.partner_ids.len(), &results),
        "results": results.iter().map(RecipientResult::to_wire).collect::<Vec<_>>(),
    })
}

/// GET `/partnerships/email/campaigns/{campaignId}`.
pub async fn show(services: &Services, campaign_id: &str) -> ApiResult<Response<Body>> {
    let (campaign, recipients) = services
        .ctx
        .store
        .get_campaign(campaign_id)
        .await?
        .ok_or_else(|| ApiError::not_found("partnerships mass-email campaign", campaign_id))?;
    ok(&campaign_wire(&campaign, &recipients, Utc::now().timestamp_millis()))
}
