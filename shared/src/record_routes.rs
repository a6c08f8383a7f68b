//! The four routes documents and communications share (list, create, update, delete), generic
//! over the record type, so both functions stay one router each.

use std::collections::HashMap;

use chrono::Utc;
use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value, json};

use crate::AppContext;
use crate::domain::event::PartnershipEvent;
use crate::domain::records::{EventRef, EventTarget};
use crate::error::{ApiError, ApiResult};
use crate::http::{check_if_match, created, json_body, ok, query_params};
use crate::store::Retries;
use crate::store::records::{RecordTable, decode_cursor, encode_cursor};

/// Largest page a client may ask for.
pub const MAX_PAGE: usize = 1000;

async fn require_partner(ctx: &AppContext, partner_id: &str) -> ApiResult<()> {
    ctx.store
        .get_partner(partner_id)
        .await?
        .map(|_| ())
        .ok_or_else(|| ApiError::not_found("partner", partner_id))
}

async fn require_event(ctx: &AppContext, id: &str) -> ApiResult<PartnershipEvent> {
    ctx.store
        .get_event(id)
        .await?
        .ok_or_else(|| ApiError::not_found("partnership event", id))
}

/// The event a body points the record at (`None` = no event), resolved and year-checked.
async fn resolve(
    ctx: &AppContext,
    target: &EventTarget,
    stored: &EventRef,
) -> ApiResult<(EventRef, Option<PartnershipEvent>)> {
    match target {
        EventTarget::Keep => Ok((stored.clone(), None)),
        EventTarget::Clear => Ok((EventRef::default(), None)),
        EventTarget::Event { id, .. } => {
            let event = require_event(ctx, id).await?;
            target.check_year(&event)?;
            Ok((EventRef::to(&event), Some(event)))
        }
    }
}

/// `limit` (1–1000) and `cursor` query parameters; both absent = the whole list.
fn page_params(request: &Request, partner_id: &str) -> ApiResult<(Option<usize>, Option<crate::store::Item>)> {
    let params = query_params(request);
    let limit = match params.get("limit").map(|l| l.trim()).filter(|l| !l.is_empty()) {
        None => None,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => Some(n),
            _ => {
                return Err(ApiError::validation(
                    format!("'limit' must be an integer from 1 to {MAX_PAGE}."),
                    json!({"limit": raw}),
                ));
            }
        },
    };
    let cursor = match params.get("cursor").map(|c| c.trim()).filter(|c| !c.is_empty()) {
        None => None,
        Some(raw) => Some(
            decode_cursor(raw, partner_id)
                .ok_or_else(|| ApiError::validation("'cursor' is invalid.", json!({"cursor": raw})))?,
        ),
    };
    Ok((limit, cursor))
}

/// GET `/partnerships/partners/{partnerId}/<records>`: newest first, event names hydrated.
pub async fn list<R: RecordTable>(request: &Request, ctx: &AppContext, partner_id: &str) -> ApiResult<Response<Body>> {
    require_partner(ctx, partner_id).await?;
    let (limit, cursor) = page_params(request, partner_id)?;
    let paged = limit.is_some() || cursor.is_some();
    let (records, next) = ctx.store.list_records::<R>(partner_id, limit, cursor).await?;
    let event_ids: Vec<String> = records
        .iter()
        .filter_map(|r| r.event().id().map(str::to_string))
        .collect();
    let events: HashMap<String, PartnershipEvent> = ctx
        .store
        .batch_get::<PartnershipEvent>(&ctx.store.tables().events, &event_ids)
        .await?
        .into_iter()
        .map(|e| (e.id.clone(), e))
        .collect();
    let rows: Vec<Value> = records.iter().map(|r| Value::Object(hydrated(r, &events))).collect();
    let mut body = Map::new();
    body.insert(R::LIST_KEY.into(), Value::Array(rows));
    if paged {
        body.insert("nextCursor".into(), json!(next.as_ref().map(encode_cursor)));
    }
    ok(&body)
}

/// The record with its event's current name and year (§5.13), falling back to the stored ones:
/// the one shape of a document or communication in every response.
pub fn hydrated<R: RecordTable>(record: &R, events: &HashMap<String, PartnershipEvent>) -> Map<String, Value> {
    let mut wire = record.to_wire();
    if let Some(event) = record.event().id().and_then(|id| events.get(id)) {
        wire.insert("eventName".into(), json!(event.name));
        wire.insert("eventYear".into(), json!(event.year));
    }
    wire
}

/// POST `/partnerships/partners/{partnerId}/<records>`: the partner's 404 comes first (§5.14).
pub async fn create<R: RecordTable>(
    request: &Request,
    ctx: &AppContext,
    partner_id: &str,
    actor: &str,
) -> ApiResult<Response<Body>> {
    require_partner(ctx, partner_id).await?;
    let body = json_body(request)?;
    let changes = R::parse_create(&body)?;
    let target = EventTarget::parse(&body, &EventRef::default())?;
    let id = uuid::Uuid::new_v4().to_string();
    let mut retries = Retries::default();
    loop {
        retries.next().await?;
        let (event_ref, event) = resolve(ctx, &target, &EventRef::default()).await?;
        let now = Utc::now().timestamp_millis();
        let mut record = R::create(&changes, id.clone(), partner_id, now).stamped(now, actor, 1);
        *record.event_mut() = event_ref;
        match ctx.store.create_record(&record, event.as_ref()).await {
            Ok(()) => {
                return created(&json!({"message": R::CREATED_MESSAGE, R::ITEM_KEY: record.to_wire()}));
            }
            // The event was renamed or deleted meanwhile: resolve it again.
            Err(e) if e.should_retry() => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

async fn load<R: RecordTable>(ctx: &AppContext, id: &str) -> ApiResult<R> {
    ctx.store
        .get_record::<R>(id)
        .await?
        .ok_or_else(|| ApiError::not_found(R::KIND, id))
}

async fn event_exists(ctx: &AppContext, reference: &EventRef) -> ApiResult<bool> {
    Ok(match reference.id() {
        Some(id) => ctx.store.get_event(id).await?.is_some(),
        None => false,
    })
}

/// PATCH: 404 → validation → empty check → event resolution (§5.15); extra attributes kept.
pub async fn update<R: RecordTable>(
    request: &Request,
    ctx: &AppContext,
    id: &str,
    actor: &str,
) -> ApiResult<Response<Body>> {
    load::<R>(ctx, id).await?;
    let body = json_body(request)?;
    let changes = R::parse_update(&body)?;
    if R::is_empty(&changes, &body) {
        return Err(ApiError::validation(
            "At least one property must be provided.",
            json!({}),
        ));
    }
    let mut retries = Retries::default();
    loop {
        retries.next().await?;
        // A record deleted meanwhile is a 404 here, never a 5xx.
        let stored = load::<R>(ctx, id).await?;
        check_if_match(request, stored.audit().version, R::ITEM_KEY, || {
            Value::Object(stored.to_wire())
        })?;
        let target = EventTarget::parse(&body, stored.event())?;
        let (event_ref, event) = resolve(ctx, &target, stored.event()).await?;
        let old_event_exists = event_exists(ctx, stored.event()).await?;
        let now = Utc::now().timestamp_millis();
        let mut updated = stored
            .apply(&changes, now)
            .stamped(now, actor, stored.audit().version + 1);
        *updated.event_mut() = event_ref;
        match ctx
            .store
            .replace_record(&stored, &updated, event.as_ref(), old_event_exists)
            .await
        {
            Ok(()) => {
                return ok(&json!({"message": R::UPDATED_MESSAGE, R::ITEM_KEY: updated.to_wire()}));
            }
            Err(e) if e.should_retry() => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// DELETE: 404 or a hard delete (§5.16); 412 when `If-Match` names another version.
pub async fn delete<R: RecordTable>(request: &Request, ctx: &AppContext, id: &str) -> ApiResult<Response<Body>> {
    let mut retries = Retries::default();
    loop {
        retries.next().await?;
        let stored = load::<R>(ctx, id).await?;
        check_if_match(request, stored.audit().version, R::ITEM_KEY, || {
            Value::Object(stored.to_wire())
        })?;
        let exists = event_exists(ctx, stored.event()).await?;
        match ctx.store.delete_record(&stored, exists).await {
            Ok(()) => return ok(&json!({"message": R::DELETED_MESSAGE})),
            Err(e) if e.should_retry() => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Default page of an activity log.
const ACTIVITY_PAGE: usize = 50;

/// GET `/partnerships/partners/{id}/activity` and `/partnerships/events/{id}/activity`: the
/// subject's activity, newest first, `?limit=` (1–1000, default 50) and the opaque `cursor` of
/// the previous page's `nextCursor`. A record deleted since still shows its log (its deletion
/// first); a record that never existed is a 404.
pub async fn activity(
    request: &Request,
    ctx: &AppContext,
    subject: &str,
    exists: bool,
    kind: &'static str,
    id: &str,
) -> ApiResult<Response<Body>> {
    use crate::store::activity::{decode_activity_cursor, encode_activity_cursor};
    let params = query_params(request);
    let limit = match params.get("limit").map(|l| l.trim()).filter(|l| !l.is_empty()) {
        None => ACTIVITY_PAGE,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => n,
            _ => {
                return Err(ApiError::validation(
                    format!("'limit' must be an integer from 1 to {MAX_PAGE}."),
                    json!({"limit": raw}),
                ));
            }
        },
    };
    let start = match params.get("cursor").map(|c| c.trim()).filter(|c| !c.is_empty()) {
        None => None,
        Some(raw) => Some(
            decode_activity_cursor(raw, subject)
                .ok_or_else(|| ApiError::validation("'cursor' is invalid.", json!({"cursor": raw})))?,
        ),
    };
    let (entries, next) = ctx.store.activity(subject, limit, start).await?;
    if entries.is_empty() && !exists {
        return Err(ApiError::not_found(kind, id));
    }
    ok(&json!({
        "activity": entries,
        "nextCursor": next.as_ref().and_then(encode_activity_cursor),
    }))
}
