//! Email sync (contract §7, issue 12): the status the Emails tab shows, the ingest route the
//! generated Apps Script posts to, and the pipeline both ingest and the mailbox pull use to turn
//! messages into timeline entries.
//!
//! Ingest is public (a script has no Cognito session) but never open: a POST must carry the
//! `token` of the `ingestUrl` the status route gave a signed-in admin (stored only as a hash,
//! rotatable), or an `X-Partnerships-Signature` HMAC over the raw body made with the configured
//! integration secret, fresh and not seen before.

use std::collections::{BTreeSet, HashMap};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use hmac::Mac;
use lambda_http::http::StatusCode;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use shared::auth::Caller;
use shared::domain::email_sync::{
    self, DISABLED_MESSAGE, FAILED_MESSAGE, Insiders, MAX_ACTORS, MAX_ERRORS, MAX_UNMATCHED, READY_MESSAGE, SyncEntry,
    SyncStats, domain_matchable, domain_of,
};
use shared::domain::event::PartnershipEvent;
use shared::domain::normalize::{is_valid_email, iso_millis};
use shared::domain::records::{Audit, Communication, EventRef};
use shared::http::{json_body, json_response, ok, query_params};
use shared::store::email_sync::{MailboxRun, MailboxStatus, SyncTokenOwner};
use shared::store::partners::EmailMatch;
use shared::{ApiError, ApiResult};

use crate::Services;

/// Email-sync settings, read once at init.
#[derive(Debug, Clone, Default)]
pub struct SyncSettings {
    /// `PARTNERSHIPS_EMAIL_SYNC_ENABLED` (off unless it says on).
    pub enabled: bool,
    /// `PARTNERSHIPS_EMAIL_SYNC_ALLOWED_DOMAINS`: the organisation's own domains.
    pub allowed_domains: Vec<String>,
    /// `PARTNERSHIPS_EMAIL_SYNC_INGEST_URL`: the ingest URL to report instead of the derived one.
    pub ingest_url: Option<String>,
    /// `PARTNERSHIPS_EMAIL_SYNC_SIGNING_SECRET`: the secret of signed (non-script) integrations.
    pub signing_secret: Option<Vec<u8>>,
    /// `PARTNERSHIPS_EMAIL_SYNC_DOMAIN_MATCHING` (default on): an unknown address matches the one
    /// partner of its domain (never at a public mail domain).
    pub domain_matching: bool,
}

impl SyncSettings {
    /// Reads the settings from the environment.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).unwrap_or_default();
        let secret = var("PARTNERSHIPS_EMAIL_SYNC_SIGNING_SECRET");
        let url = var("PARTNERSHIPS_EMAIL_SYNC_INGEST_URL");
        let matching = var("PARTNERSHIPS_EMAIL_SYNC_DOMAIN_MATCHING");
        Self {
            enabled: email_sync::enabled_flag(&var("PARTNERSHIPS_EMAIL_SYNC_ENABLED")),
            allowed_domains: email_sync::allowed_domains(&var("PARTNERSHIPS_EMAIL_SYNC_ALLOWED_DOMAINS")),
            ingest_url: Some(url.trim().to_string()).filter(|u| !u.is_empty()),
            signing_secret: Some(secret.trim().as_bytes().to_vec()).filter(|s| !s.is_empty()),
            domain_matching: matching.trim().is_empty() || email_sync::enabled_flag(&matching),
        }
    }
}

/// How long a signature stays valid either side of its timestamp.
const SIGNATURE_WINDOW_SECS: i64 = 300;

/// The ingest token of `owner`'s generation `generation`: derived from the signing secret, so the
/// status route can show it again without storing it; only its hash is stored.
pub fn ingest_token(secret: &[u8], owner: &str, generation: u64) -> String {
    let mut mac = crate::hmac_sha256(secret);
    mac.update(format!("partnerships-sync-token\n{owner}\n{generation}").as_bytes());
    format!("pst_{}", URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()))
}

/// The stored form of a token.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Checks `X-Partnerships-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
/// at `now_secs`: the signature's bytes when it is valid and fresh (compared in constant time).
pub fn verify_signature(secret: &[u8], header: &str, body: &[u8], now_secs: i64) -> Result<Vec<u8>, &'static str> {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.trim().parse::<i64>().ok(),
            Some(("v1", value)) => v1 = Some(value.trim()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return Err("The signature header is malformed.");
    };
    if (now_secs - t).abs() > SIGNATURE_WINDOW_SECS {
        return Err("The signature has expired.");
    }
    let expected = (0..v1.len())
        .step_by(2)
        .map(|i| v1.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<Vec<u8>>>()
        .ok_or("The signature is not hex.")?;
    let mut mac = crate::hmac_sha256(secret);
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| "The signature does not match.")?;
    Ok(expected)
}

/// The admin's current token (issued on first ask).
async fn current_token(services: &Services, secret: &[u8], owner: &str) -> ApiResult<String> {
    let store = &services.ctx.store;
    let mut retries = shared::store::Retries::default();
    loop {
        retries.next().await?;
        if let Some(row) = store.sync_token_owner(owner).await? {
            return Ok(ingest_token(secret, owner, row.generation));
        }
        let token = ingest_token(secret, owner, 1);
        match store
            .set_sync_token(owner, None, 1, &token_hash(&token), &iso_millis(Utc::now()))
            .await
        {
            Ok(()) => return Ok(token),
            // Issued concurrently: read the winner's.
            Err(e) if e.should_retry() => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// The ingest URL a script should post to, with `token` in its query.
fn with_token(url: &str, token: &str) -> String {
    if url.is_empty() {
        return String::new();
    }
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}token={token}")
}

fn derived_ingest_url(request: &Request, services: &Services) -> String {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok());
    let stage = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.stage.clone(),
        _ => None,
    };
    email_sync::ingest_url(
        services.settings.sync.ingest_url.as_deref(),
        header("x-forwarded-proto"),
        header("x-forwarded-host").or(header("host")),
        request.uri().path(),
        stage.as_deref(),
    )
}

fn mailbox_wire(m: &MailboxStatus) -> Value {
    json!({
        "mailbox": m.mailbox,
        "kind": m.kind,
        "lastIngestAt": m.last_ingest_at,
        "lastSuccessAt": m.last_success_at,
        "lastStatusCode": m.last_status_code,
        "lastError": m.last_error,
        "stats": m.stats.to_wire(),
    })
}

/// GET `/partnerships/email/sync/status` (§7.1 shape, plus `mailboxes`).
pub async fn status(request: &Request, services: &Services, caller: &Caller) -> ApiResult<Response<Body>> {
    let settings = &services.settings.sync;
    let secret = services.settings.signing_secret.as_deref();
    let configured = settings.enabled && secret.is_some();
    let base = derived_ingest_url(request, services);
    let ingest_url = match secret.filter(|_| configured) {
        Some(secret) => with_token(&base, &current_token(services, secret, &caller.email).await?),
        None => base,
    };
    let mut mailboxes = services.ctx.store.mailbox_statuses().await?;
    mailboxes.sort_by(|a, b| b.last_ingest_at.cmp(&a.last_ingest_at));
    let mut stats = SyncStats::default();
    for m in &mailboxes {
        stats.add(&m.stats);
    }
    let newest = mailboxes.first();
    let failed = newest.and_then(|m| m.last_status_code).is_some_and(|c| c >= 400);
    let mut unmatched = Vec::new();
    for email in mailboxes.iter().flat_map(|m| &m.last_unmatched_emails) {
        if unmatched.len() < MAX_UNMATCHED && !unmatched.contains(email) {
            unmatched.push(email.clone());
        }
    }
    let errors: Vec<&Value> = mailboxes.iter().flat_map(|m| &m.last_errors).take(MAX_ERRORS).collect();
    ok(&json!({
        "provider": "gmail",
        "enabled": settings.enabled,
        "configured": configured,
        "ingestUrl": ingest_url,
        "allowedDomains": settings.allowed_domains,
        "message": if failed { FAILED_MESSAGE } else { READY_MESSAGE },
        "lastIngestAt": newest.and_then(|m| m.last_ingest_at.clone()),
        "lastSuccessAt": mailboxes.iter().filter_map(|m| m.last_success_at.clone()).max(),
        "lastIngestStatusCode": newest.and_then(|m| m.last_status_code),
        "stats": stats.to_wire(),
        "recentActorEmails": mailboxes
            .iter()
            .map(|m| m.mailbox.clone())
            .fold(Vec::<String>::new(), |mut seen, m| {
                if !seen.contains(&m) {
                    seen.push(m);
                }
                seen
            })
            .into_iter()
            .take(MAX_ACTORS)
            .collect::<Vec<_>>(),
        "unmatchedEmails": unmatched,
        "recentErrors": errors,
        "mailboxes": mailboxes.iter().map(mailbox_wire).collect::<Vec<_>>(),
    }))
}

/// POST `/partnerships/email/sync/token`: revokes the caller's ingest token and issues the next
/// (a script using the old URL gets 401 from then on).
pub async fn rotate_token(request: &Request, services: &Services, caller: &Caller) -> ApiResult<Response<Body>> {
    let Some(secret) = services
        .settings
        .signing_secret
        .as_deref()
        .filter(|_| services.settings.sync.enabled)
    else {
        return Err(ApiError::ForbiddenBecause(DISABLED_MESSAGE.into()));
    };
    let store = &services.ctx.store;
    let mut retries = shared::store::Retries::default();
    let token = loop {
        retries.next().await?;
        let previous: Option<SyncTokenOwner> = store.sync_token_owner(&caller.email).await?;
        let generation = previous.as_ref().map_or(1, |p| p.generation + 1);
        let token = ingest_token(secret, &caller.email, generation);
        match store
            .set_sync_token(
                &caller.email,
                previous.as_ref(),
                generation,
                &token_hash(&token),
                &iso_millis(Utc::now()),
            )
            .await
        {
            Ok(()) => break token,
            Err(e) if e.should_retry() => continue,
            Err(e) => return Err(e.into()),
        }
    };
    ok(&json!({
        "message": "Ingest token rotated. Update the Apps Script with the new ingest URL.",
        "ingestUrl": with_token(&derived_ingest_url(request, services).replace("/sync/token", "/sync/ingest"), &token),
    }))
}

/// Who an ingest request is from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestAuth {
    /// The `token` of an admin's ingest URL: every entry is that admin's.
    Token { owner: String },
    /// A signed body: the payload names its actor.
    Signed,
}

fn raw_body(request: &Request) -> &[u8] {
    match request.body() {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => b"",
    }
}

/// 401 unless the request carries a current token or a fresh, unseen signature.
async fn authenticate_ingest(request: &Request, services: &Services) -> ApiResult<IngestAuth> {
    let store = &services.ctx.store;
    if let Some(token) = query_params(request).get("token").filter(|t| !t.is_empty()) {
        return match store.sync_token(&token_hash(token)).await? {
            Some(row) => Ok(IngestAuth::Token { owner: row.owner }),
            None => Err(ApiError::UnauthorizedBecause(
                "This ingest token is not valid (it may have been rotated). Copy the ingest URL from the Emails tab again.".into(),
            )),
        };
    }
    let header = request
        .headers()
        .get("x-partnerships-signature")
        .and_then(|v| v.to_str().ok());
    match (header, services.settings.sync.signing_secret.as_deref()) {
        (Some(header), Some(secret)) => {
            let now = Utc::now().timestamp();
            let signature = verify_signature(secret, header, raw_body(request), now)
                .map_err(|why| ApiError::UnauthorizedBecause(why.into()))?;
            // A signature is good once: a replay within its window is refused.
            if !store
                .first_sight(
                    &format!("sync_signature#{}", token_hash(&URL_SAFE_NO_PAD.encode(&signature))),
                    now + 2 * SIGNATURE_WINDOW_SECS,
                )
                .await?
            {
                return Err(ApiError::UnauthorizedBecause(
                    "This signed request was already received.".into(),
                ));
            }
            Ok(IngestAuth::Signed)
        }
        _ => Err(ApiError::UnauthorizedBecause(
            "Email sync ingest needs the token of an ingest URL or an X-Partnerships-Signature.".into(),
        )),
    }
}

/// POST `/partnerships/email/sync/ingest` (§7.2, authenticated).
pub async fn ingest(request: &Request, services: &Services) -> ApiResult<Response<Body>> {
    if !services.settings.sync.enabled {
        return Err(ApiError::ForbiddenBecause(DISABLED_MESSAGE.into()));
    }
    let auth = authenticate_ingest(request, services).await?;
    let payload = json_body(request)?;
    let named = ["actorEmail", "userEmail"]
        .iter()
        .map(|k| shared::domain::normalize::text(payload.get(*k), 180).to_lowercase())
        .find(|a| !a.is_empty());
    let actor = match (&auth, named) {
        (IngestAuth::Token { owner }, Some(named)) if named != *owner => {
            return Err(ApiError::ForbiddenBecause(
                "actorEmail does not match the owner of this ingest token.".into(),
            ));
        }
        (IngestAuth::Token { owner }, _) => owner.clone(),
        (IngestAuth::Signed, Some(named)) if is_valid_email(&named) => named,
        (IngestAuth::Signed, _) => {
            return Err(ApiError::validation(
                "actorEmail is required for email sync payloads.",
                json!({}),
            ));
        }
    };
    if !services
        .settings
        .sync
        .allowed_domains
        .iter()
        .any(|d| d == domain_of(&actor))
    {
        return Err(ApiError::ForbiddenBecause(
            "actorEmail domain is not allowed for partnerships email sync.".into(),
        ));
    }
    let entries = email_sync::payload_entries(&payload)?;
    let parsed: Vec<SyncEntry> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| SyncEntry::parse(i, e))
        .collect();
    let bound_actor = matches!(auth, IngestAuth::Token { .. });
    let outcome = ingest_entries(services, &actor, bound_actor, &parsed).await?;
    let status = if outcome.stats.errors > 0 {
        StatusCode::MULTI_STATUS
    } else {
        StatusCode::OK
    };
    let run = MailboxRun {
        mailbox: actor.clone(),
        kind: if bound_actor { "apps_script" } else { "signed" }.into(),
        at_iso: iso_millis(Utc::now()),
        status_code: status.as_u16(),
        stats: outcome.stats,
        unmatched_emails: outcome.unmatched_emails.clone(),
        errors: outcome.errors.clone(),
        failure: None,
    };
    services.ctx.store.record_mailbox_run(&run).await?;
    Ok(json_response(status, &outcome.to_wire(status)))
}

/// What an ingest did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestOutcome {
    pub stats: SyncStats,
    pub touched_partners: BTreeSet<String>,
    pub unmatched_emails: Vec<String>,
    pub errors: Vec<Value>,
}

impl IngestOutcome {
    /// The ingest response (§7.2 step 8).
    pub fn to_wire(&self, status: StatusCode) -> Value {
        json!({
            "message": if status == StatusCode::OK { "Email sync completed." } else { "Email sync completed with partial errors." },
            "statusCode": status.as_u16(),
            "stats": self.stats.to_wire(),
            "touchedPartnerCount": self.touched_partners.len(),
            "unmatchedEmails": self.unmatched_emails,
            "recentErrors": self.errors,
        })
    }

    fn note_error(&mut self, error: Value) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(error);
        }
    }

    fn note_unmatched(&mut self, email: &str) {
        if self.unmatched_emails.len() < MAX_UNMATCHED && !self.unmatched_emails.iter().any(|e| e == email) {
            self.unmatched_emails.push(email.to_string());
        }
    }
}

/// How many lookups or writes of one ingest run at once.
const CONCURRENCY: usize = 8;

/// The partner an address belongs to: its own (an active partner before an archived one), else,
/// with domain matching on, the only partner at its domain.
async fn match_address(services: &Services, address: &str) -> ApiResult<Option<EmailMatch>> {
    let store = &services.ctx.store;
    let domain = domain_of(address);
    let mut exact = store.partners_by_email(domain, Some(address)).await?;
    exact.sort_by_key(|m| (m.archived, m.id.clone()));
    if let Some(found) = exact.into_iter().next() {
        return Ok(Some(found));
    }
    if !services.settings.sync.domain_matching || !domain_matchable(domain) {
        return Ok(None);
    }
    let at_domain = store.partners_by_email(domain, None).await?;
    let ids: BTreeSet<&str> = at_domain.iter().map(|m| m.id.as_str()).collect();
    Ok(if ids.len() == 1 {
        at_domain.into_iter().next()
    } else {
        None
    })
}

/// Turns `entries` into timeline entries for `actor`'s mailbox: the one pipeline of ingest and
/// of the mailbox pull. `bound_actor` ignores an entry's own `actorEmail` (a token's owner
/// speaks for its entries).
pub async fn ingest_entries(
    services: &Services,
    actor: &str,
    bound_actor: bool,
    entries: &[SyncEntry],
) -> ApiResult<IngestOutcome> {
    let store = &services.ctx.store;
    let domains = &services.settings.sync.allowed_domains;
    let mut outcome = IngestOutcome::default();
    outcome.stats.received = entries.len() as u64;
    // Every distinct candidate address and event, looked up once, a few at a time.
    let plans: Vec<(&SyncEntry, String, &'static str, Vec<String>)> = entries
        .iter()
        .map(|entry| {
            let entry_actor = match (&entry.actor, bound_actor) {
                (Some(own), false) => own.clone(),
                _ => actor.to_string(),
            };
            let insiders = Insiders {
                actor: &entry_actor,
                domains,
            };
            let direction = email_sync::direction(entry, &insiders);
            let candidates = email_sync::candidates(entry, direction, &insiders);
            (entry, entry_actor, direction, candidates)
        })
        .collect();
    let addresses: Vec<String> = plans
        .iter()
        .flat_map(|(_, _, _, c)| c)
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // The futures are built first, then run a few at a time.
    let lookups: Vec<_> = addresses.iter().map(|a| match_address(services, a)).collect();
    let found: Vec<ApiResult<Option<EmailMatch>>> =
        futures::stream::iter(lookups).buffered(CONCURRENCY).collect().await;
    let mut matched: HashMap<String, Option<EmailMatch>> = HashMap::new();
    for (address, result) in addresses.into_iter().zip(found) {
        matched.insert(address, result?);
    }
    let event_ids: BTreeSet<&String> = entries.iter().filter_map(|e| e.event_id.as_ref()).collect();
    let mut events: HashMap<String, PartnershipEvent> = HashMap::new();
    for id in event_ids {
        if let Some(event) = store.get_event(id).await? {
            events.insert(id.clone(), event);
        }
    }
    let now = Utc::now();
    let mut writes = Vec::new();
    for (entry, entry_actor, direction, candidates) in &plans {
        if !domains.iter().any(|d| d == domain_of(entry_actor)) {
            outcome.stats.skipped += 1;
            continue;
        }
        if candidates.is_empty() {
            outcome.stats.unmatched += 1;
            outcome.note_error(json!({
                "entryIndex": entry.index,
                "reason": "no_candidate_partner_email",
                "details": {"direction": direction, "subject": entry.subject},
            }));
            continue;
        }
        let mut pairs = Vec::new();
        for address in candidates {
            match matched.get(address).cloned().flatten() {
                Some(partner) if !pairs.iter().any(|(p, _): &(EmailMatch, String)| p.id == partner.id) => {
                    pairs.push((partner, address.clone()))
                }
                Some(_) => {}
                None => outcome.note_unmatched(address),
            }
        }
        if pairs.is_empty() {
            outcome.stats.unmatched += 1;
            continue;
        }
        outcome.stats.processed += 1;
        let event = entry.event_id.as_ref().and_then(|id| events.get(id));
        for (partner, address) in pairs {
            outcome.touched_partners.insert(partner.id.clone());
            let entry_row = timeline_entry(entry, entry_actor, direction, &partner.id, &address, event, now);
            writes.push((entry.index, partner.id.clone(), address, entry_row, event));
        }
    }
    let puts: Vec<_> = writes
        .iter()
        .map(|(_, _, _, row, event)| store.create_record(row, *event))
        .collect();
    let results: Vec<Result<(), shared::store::StoreError>> =
        futures::stream::iter(puts).buffered(CONCURRENCY).collect().await;
    for ((index, partner_id, address, _, _), result) in writes.into_iter().zip(results) {
        match result {
            Ok(()) => outcome.stats.imported += 1,
            // The same message again: its id is taken (the dedupe).
            Err(e) if e.condition_failed_at(0) => outcome.stats.duplicates += 1,
            Err(e) => {
                tracing::error!(error = %shared::error::error_chain(&e), "a synced email could not be written");
                outcome.stats.errors += 1;
                outcome.note_error(json!({
                    "entryIndex": index,
                    "reason": "create_failed",
                    "details": {"partnerId": partner_id, "email": address},
                }));
            }
        }
    }
    Ok(outcome)
}

/// The `email_sync` communication of one message on one partner's timeline (§2.6).
fn timeline_entry(
    entry: &SyncEntry,
    actor: &str,
    direction: &str,
    partner_id: &str,
    partner_email: &str,
    event: Option<&PartnershipEvent>,
    now: DateTime<Utc>,
) -> Communication {
    let (sender, recipient) = email_sync::sender_and_recipient(entry, direction, actor, partner_email);
    let summary = email_sync::stored_summary(entry, direction, &sender, &recipient);
    let mut extra = Map::new();
    for (key, value) in [
        ("sender", json!(sender)),
        ("recipientEmail", json!(recipient)),
        ("source", json!("email_sync")),
        ("sourceProvider", json!(entry.provider)),
        ("sourceMethod", json!(entry.source_method)),
        ("externalMessageId", json!(entry.message_id)),
        ("externalThreadId", json!(entry.thread_id)),
        ("actorEmail", json!(actor)),
    ] {
        extra.insert(key.into(), value);
    }
    Communication {
        id: email_sync::communication_id(entry, direction, partner_id),
        partner_id: partner_id.to_string(),
        subject: entry.subject.clone(),
        summary,
        channel: "email".into(),
        direction: direction.into(),
        occurred_at: Some(iso_millis(entry.occurred_at.unwrap_or(now))),
        follow_up_date: None,
        follow_up_done: false,
        follow_up_done_at: None,
        event: event.map(EventRef::to).unwrap_or_default(),
        audit: Audit {
            created_at: now.timestamp_millis(),
            updated_at: now.timestamp_millis(),
            updated_by: actor.to_string(),
            version: 1,
        },
        extra,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &[u8], t: i64, body: &str) -> String {
        let mut mac = crate::hmac_sha256(secret);
        mac.update(format!("{t}.{body}").as_bytes());
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        format!("t={t},v1={hex}")
    }

    #[test]
    fn signatures_must_match_the_body_and_be_fresh() {
        let now = 1_800_000_000;
        let good = sign(b"k", now, "{}");
        assert!(verify_signature(b"k", &good, b"{}", now + 10).is_ok());
        assert_eq!(
            verify_signature(b"k", &good, b"{ }", now),
            Err("The signature does not match.")
        );
        assert_eq!(
            verify_signature(b"other", &good, b"{}", now),
            Err("The signature does not match.")
        );
        assert_eq!(
            verify_signature(b"k", &good, b"{}", now + 301),
            Err("The signature has expired.")
        );
        assert_eq!(
            verify_signature(b"k", "v1=00", b"{}", now),
            Err("The signature header is malformed.")
        );
    }

    #[test]
    fn tokens_are_per_owner_and_generation() {
        let a1 = ingest_token(b"s", "a@x.org", 1);
        assert_eq!(a1, ingest_token(b"s", "a@x.org", 1));
        assert_ne!(a1, ingest_token(b"s", "a@x.org", 2));
        assert_ne!(a1, ingest_token(b"s", "b@x.org", 1));
        assert!(a1.starts_with("pst_"));
        assert_eq!(token_hash(&a1).len(), 64);
    }
}
