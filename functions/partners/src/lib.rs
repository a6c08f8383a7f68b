//! The partners Lambda: directory, create, detail and update (contract §5.1–§5.4), and claim
//! and release (issue 15).
//!
//! Handlers are thin: parse → domain → store → respond. The rules live in
//! `shared::domain::partner`; DynamoDB access in `shared::store`.

use std::collections::{BTreeSet, HashMap};

use chrono::Utc;
use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value, json};
use shared::auth::Caller;
use shared::domain::event::PartnershipEvent;
use shared::domain::link::PartnerEventLink;
use shared::domain::normalize::{is_canonical_status, stored_status, stored_tier};
use shared::domain::ownership::{self, OwnershipMove, OwnershipRefusal, initial_owner};
use shared::domain::partner::{DirectoryQuery, PartnerChanges, status_options};
use shared::domain::records::{Communication, Document, PartnerRecord};
use shared::domain::sort::newest_first;
use shared::http::{
    check_if_match, created, idempotent, json_body, ok, path_param, query_params, route_key, serve, with_etag,
};
use shared::record_routes::hydrated;
use shared::store::Retries;
use shared::store::Update;
use shared::store::partners::{partner_update, with_owner};
use shared::{ApiError, ApiResult, AppContext};

mod import;
mod merge;

const PARTNER: &str = "partner";

/// Serves one API Gateway request, exactly as Lambda calls it.
pub async fn handle(request: Request, ctx: &AppContext) -> Response<Body> {
    let route = route_key(&request);
    serve(&request, &route, async {
        let caller = shared::access::authorize(&request, ctx).await?;
        match route.as_str() {
            "GET /partnerships/partners" => list(&request, ctx, &caller).await,
            "POST /partnerships/partners" => {
                idempotent(&request, ctx, &caller.email, create(&request, ctx, &caller)).await
            }
            "GET /partnerships/partners/{partnerId}" => detail(&path_param(&request, "partnerId")?, ctx).await,
            "GET /partnerships/partners/{partnerId}/activity" => {
                let id = path_param(&request, "partnerId")?;
                let exists = ctx.store.get_partner(&id).await?.is_some();
                shared::record_routes::activity(&request, ctx, &format!("partner#{id}"), exists, PARTNER, &id).await
            }
            "PATCH /partnerships/partners/{partnerId}" => {
                update(&path_param(&request, "partnerId")?, &request, ctx, &caller.email).await
            }
            "POST /partnerships/partners/{partnerId}/claim" => {
                change_owner(
                    &path_param(&request, "partnerId")?,
                    &request,
                    ctx,
                    &caller,
                    OwnerChange::Claim,
                )
                .await
            }
            "GET /partnerships/import" => import::list(ctx).await,
            // A dry run writes nothing (and its answer may be too large to keep): only a run is
            // held to its Idempotency-Key.
            "POST /partnerships/import" if import::is_dry_run(&request) => import::start(&request, ctx, &caller).await,
            "POST /partnerships/import" => {
                idempotent(&request, ctx, &caller.email, import::start(&request, ctx, &caller)).await
            }
            "GET /partnerships/import/{importId}" => import::show(ctx, &path_param(&request, "importId")?).await,
            "POST /partnerships/import/{importId}/resume" => {
                import::resume(&request, ctx, &path_param(&request, "importId")?, &caller).await
            }
            "POST /partnerships/import/{importId}/revert" => {
                import::revert(&request, ctx, &path_param(&request, "importId")?, &caller).await
            }
            "POST /partnerships/partners/{partnerId}/merge" => {
                merge::merge(&path_param(&request, "partnerId")?, &request, ctx, &caller).await
            }
            "POST /partnerships/partners/{partnerId}/release" => {
                change_owner(
                    &path_param(&request, "partnerId")?,
                    &request,
                    ctx,
                    &caller,
                    OwnerChange::Release,
                )
                .await
            }
            _ => Err(ApiError::NoRoute(route.clone())),
        }
    })
    .await
}

/// §5.1: the directory (`shared::directory`), for the caller (`owner=me`).
async fn list(request: &Request, ctx: &AppContext, caller: &Caller) -> ApiResult<Response<Body>> {
    let query = DirectoryQuery::parse(&query_params(request), &caller.email)?;
    ok(&shared::directory::answer(ctx, &query).await?)
}

async fn create(request: &Request, ctx: &AppContext, caller: &Caller) -> ApiResult<Response<Body>> {
    let mut changes = PartnerChanges::parse(&json_body(request)?, true)?;
    changes.owner_email = Some(initial_owner(caller.role, &caller.email, changes.owner_email.take()));
    let partner = changes.into_new_partner(
        uuid::Uuid::new_v4().to_string(),
        Utc::now().timestamp_millis(),
        &caller.email,
    );
    // One conditional put (a fresh uuid); the partner counters follow from the partners stream.
    ctx.store.create_partner(&partner).await?;
    created(&json!({"message": "Partner created successfully.", "partner": partner.to_wire()}))
}

async fn update(id: &str, request: &Request, ctx: &AppContext, actor: &str) -> ApiResult<Response<Body>> {
    // Body errors come before the 404, as the contract orders them.
    let changes = PartnerChanges::parse(&json_body(request)?, false)?;
    let mut retries = Retries::default();
    loop {
        retries.next().await?;
        let stored = load_partner(ctx, id).await?;
        if changes.is_empty() {
            return Err(ApiError::validation(
                "At least one property must be provided.",
                json!({}),
            ));
        }
        // With If-Match, a partner changed meanwhile is the client's to merge (no lost tag).
        check_if_match(request, stored.version, PARTNER, || json!(stored.to_wire()))?;
        // Every change is written, even one that sets what is stored (the contract's PATCH).
        let update = partner_update(&stored, &changes, actor, Utc::now().timestamp_millis(), false)?
            .ok_or_else(|| ApiError::Internal("no partner update was built".into()))?;
        match ctx.store.update_partner(id, update).await {
            Ok(partner) => {
                return ok(&json!({"message": "Partner updated successfully.", "partner": partner.to_wire()}));
            }
            // Another write got in between (or the partner vanished): re-read and re-merge.
            Err(e) if e.should_retry() => continue,
            Err(other) => return Err(other.into()),
        }
    }
}

/// The partner, strongly consistent, or 404.
async fn load_partner(ctx: &AppContext, id: &str) -> ApiResult<shared::domain::partner::Partner> {
    ctx.store
        .get_partner(id)
        .await?
        .ok_or_else(|| ApiError::not_found(PARTNER, id))
}

/// A claim or a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OwnerChange {
    Claim,
    Release,
}

/// POST `…/claim` and `…/release`: a versioned write of `ownerEmail`, so of two simultaneous
/// claims one writes and the other, re-reading, finds the partner owned (409). Ownership is an
/// edit of the partner by the caller: it moves `updatedAt`/`updatedBy` and the activity log
/// shows it.
async fn change_owner(
    id: &str,
    request: &Request,
    ctx: &AppContext,
    caller: &Caller,
    change: OwnerChange,
) -> ApiResult<Response<Body>> {
    let mut retries = Retries::default();
    loop {
        retries.next().await?;
        let stored = load_partner(ctx, id).await?;
        check_if_match(request, stored.version, PARTNER, || json!(stored.to_wire()))?;
        let owner = stored.owner_email.as_deref();
        let decided = match change {
            OwnerChange::Claim => ownership::claim(caller.role, &caller.email, owner),
            OwnerChange::Release => ownership::release(caller.role, &caller.email, owner),
        };
        let (done, verb) = match change {
            OwnerChange::Claim => ("Partner claimed successfully.", "claimed"),
            OwnerChange::Release => ("Partner released successfully.", "released"),
        };
        let new_owner = match decided {
            Ok(OwnershipMove::Unchanged) => return ok(&json!({"message": done, "partner": stored.to_wire()})),
            Ok(OwnershipMove::SetOwner(new_owner)) => new_owner,
            Err(OwnershipRefusal::OwnedByAnother(other)) => {
                return Err(ApiError::Conflicting(format!(
                    "This partner is already owned by {other}; only an admin may take it over."
                )));
            }
            Err(OwnershipRefusal::NotTheOwner(other)) => {
                return Err(ApiError::ForbiddenBecause(format!(
                    "Forbidden: this partner is owned by {other}; only its owner or an admin may release it."
                )));
            }
        };
        let update = with_owner(
            Update::new(&caller.email, Utc::now().timestamp_millis()).expect_version(stored.version),
            Some(&new_owner),
        )?;
        match ctx.store.update_partner(id, update).await {
            Ok(partner) => {
                tracing::info!(partner = id, by = %caller.email, "partner {verb}");
                return ok(&json!({"message": done, "partner": partner.to_wire()}));
            }
            // Another write got in first (perhaps another claim): decide again on what it wrote.
            Err(e) if e.should_retry() => continue,
            Err(other) => return Err(other.into()),
        }
    }
}

fn touched_at(record: &Map<String, Value>) -> i64 {
    let at = |key: &str| record.get(key).and_then(Value::as_i64).unwrap_or(0);
    if at("updatedAt") != 0 {
        at("updatedAt")
    } else {
        at("createdAt")
    }
}

fn text_of<'a>(record: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    record.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn newest_first_by_touch(records: &mut [Map<String, Value>]) {
    records.sort_by(|a, b| newest_first(touched_at(a), touched_at(b)));
}

async fn detail(id: &str, ctx: &AppContext) -> ApiResult<Response<Body>> {
    let body = detail_body(id, ctx).await?;
    let version = body["partner"]["version"].as_u64().unwrap_or(0);
    Ok(with_etag(ok(&body)?, version))
}

/// §5.3: the partner with metrics, its hydrated links, documents and communications, options.
async fn detail_body(id: &str, ctx: &AppContext) -> ApiResult<Value> {
    // Everything is read at once; for a partner that does not exist the other reads are wasted,
    // and the answer is still the 404.
    let (partner, links, (documents, _), (communications, _), event_tiers) = futures::try_join!(
        ctx.store.get_partner(id),
        ctx.store.links_of(id),
        ctx.store.list_records::<Document>(id, None, None),
        ctx.store.list_records::<Communication>(id, None, None),
        ctx.store.event_tier_ids(),
    )?;
    let partner = partner.ok_or_else(|| ApiError::not_found(PARTNER, id))?;
    let event_ids: Vec<String> = links
        .iter()
        .map(|l| l.event_id.clone())
        .chain(documents.iter().filter_map(|d| d.event().id().map(str::to_string)))
        .chain(communications.iter().filter_map(|c| c.event().id().map(str::to_string)))
        .collect();
    let events: HashMap<String, PartnershipEvent> = ctx
        .store
        .events_by_ids(&event_ids)
        .await?
        .into_iter()
        .map(|e| (e.id.clone(), e))
        .collect();
    let event_cards: HashMap<String, Map<String, Value>> =
        events.iter().map(|(id, e)| (id.clone(), e.to_wire())).collect();
    let summaries: Vec<_> = links.iter().map(PartnerEventLink::summary).collect();
    let mut links: Vec<Map<String, Value>> = links.iter().map(PartnerEventLink::to_wire).collect();
    // Documents and communications take the list routes' one formatter.
    let mut documents: Vec<Map<String, Value>> = documents.iter().map(|d| hydrated(d, &events)).collect();
    let mut communications: Vec<Map<String, Value>> = communications.iter().map(|c| hydrated(c, &events)).collect();

    let mut custom_statuses = BTreeSet::new();
    let mut tier_options: BTreeSet<String> = event_tiers;
    for link in &mut links {
        hydrate_link(link, &event_cards);
        let status = stored_status(text_of(link, "status"));
        if !is_canonical_status(&status) {
            custom_statuses.insert(status);
        }
        if let Some(tier) = text_of(link, "packageTier") {
            tier_options.insert(tier.to_string());
        }
    }
    newest_first_by_touch(&mut links);
    newest_first_by_touch(&mut documents);
    newest_first_by_touch(&mut communications);
    Ok(json!({
        "partner": partner.to_wire_with_metrics(summaries.iter()),
        "links": links,
        "documents": documents,
        "communications": communications,
        "statusOptions": status_options(custom_statuses),
        "packageTierOptions": tier_options,
    }))
}

fn event_id_year(event: &Map<String, Value>) -> Option<String> {
    Some(format!("{}#{}", text_of(event, "id")?, event.get("year")?.as_i64()?))
}

/// §5.3: the current event name (when the link still points at the event's current year),
/// else the stored snapshot, else the event id; the event's dates; the tier re-normalized.
fn hydrate_link(link: &mut Map<String, Value>, events: &HashMap<String, Map<String, Value>>) {
    let event = text_of(link, "eventId").and_then(|id| events.get(id));
    let current = event.filter(|e| event_id_year(e).as_deref() == text_of(link, "eventIdYear"));
    let name = current
        .and_then(|e| text_of(e, "name"))
        .or_else(|| text_of(link, "eventName"))
        .or_else(|| text_of(link, "eventId"))
        .map(str::to_string);
    let date = |key: &str| event.and_then(|e| e.get(key)).cloned().unwrap_or(Value::Null);
    let (start, end) = (date("startDate"), date("endDate"));
    let tier = stored_tier(text_of(link, "packageTier"));
    link.insert("eventName".into(), json!(name));
    link.insert("eventStartDate".into(), start);
    link.insert("eventEndDate".into(), end);
    link.insert("packageTier".into(), Value::String(tier));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn links_take_the_current_event_name_only_for_the_current_year() {
        let events = HashMap::from([(
            "e1".to_string(),
            map(json!({"id": "e1", "name": "Blueprint", "year": 2026, "startDate": "2026-01-10", "endDate": null})),
        )]);
        let mut current =
            map(json!({"eventId": "e1", "eventIdYear": "e1#2026", "eventName": "Old", "packageTier": "Gold Plus"}));
        hydrate_link(&mut current, &events);
        assert_eq!(current["eventName"], "Blueprint");
        assert_eq!(current["eventStartDate"], "2026-01-10");
        assert_eq!(current["packageTier"], "gold_plus");
        let mut stale = map(json!({"eventId": "e1", "eventIdYear": "e1#2025", "eventName": "Old"}));
        hydrate_link(&mut stale, &events);
        assert_eq!(stale["eventName"], "Old");
        let mut orphan = map(json!({"eventId": "gone", "eventIdYear": "gone#2025"}));
        hydrate_link(&mut orphan, &events);
        assert_eq!(orphan["eventName"], "gone");
        assert_eq!(orphan["eventStartDate"], Value::Null);
        assert_eq!(orphan["packageTier"], "");
    }
}
