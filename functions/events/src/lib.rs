//! The events Lambda: partnership events list, create, detail, update and delete
//! (contract §5.5–§5.9).

use std::collections::BTreeSet;

use chrono::Utc;
use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value, json};
use shared::domain::aggregates::{EventAggregate, LinkFacts};
use shared::domain::benefits::{BenefitCatalog, benefit_rows};
use shared::domain::event::{EventChanges, EventCounters, PartnershipEvent, compare_events};
use shared::domain::metrics::PipelineAccumulator;
use shared::domain::money::from_cents;
use shared::domain::normalize::stored_tier;
use shared::domain::partner::Partner;
use shared::domain::sort::newest_first;
use shared::domain::utc_date_string;
use shared::http::{check_if_match, created, idempotent, json_body, ok, path_param, route_key, serve, with_etag};
use shared::store::Retries;
use shared::{ApiError, ApiResult, AppContext};

const EVENT: &str = "partnership event";

/// Serves one API Gateway request, exactly as Lambda calls it.
pub async fn handle(request: Request, ctx: &AppContext) -> Response<Body> {
    let route = route_key(&request);
    serve(&request, &route, async {
        let caller = shared::access::authorize(&request, ctx).await?;
        let id = || path_param(&request, "eventId");
        match route.as_str() {
            "GET /partnerships/events" => list(ctx).await,
            "POST /partnerships/events" => {
                idempotent(&request, ctx, &caller.email, create(&request, ctx, &caller.email)).await
            }
            "GET /partnerships/events/{eventId}" => detail(&id()?, ctx).await,
            "GET /partnerships/events/{eventId}/activity" => {
                let id = id()?;
                let exists = ctx.store.get_event(&id).await?.is_some();
                shared::record_routes::activity(&request, ctx, &format!("event#{id}"), exists, "partnership event", &id)
                    .await
            }
            "PATCH /partnerships/events/{eventId}" => update(&id()?, &request, ctx, &caller.email).await,
            "DELETE /partnerships/events/{eventId}" => delete(&id()?, &request, ctx, &caller.email).await,
            _ => Err(ApiError::NoRoute(route.clone())),
        }
    })
    .await
}

/// Every event with its counters and its weighted pipeline: the status totals of the events
/// with links (one summary row each, read at once) weighed by the stage's probabilities.
async fn list(ctx: &AppContext) -> ApiResult<Response<Body>> {
    let (mut events, settings) = futures::try_join!(ctx.store.all_events(), ctx.store.forecast_settings())?;
    events.sort_by(compare_events);
    let linked: Vec<String> = events
        .iter()
        .filter(|e| e.counters.relationship_count > 0)
        .map(|e| e.id.clone())
        .collect();
    let aggregates = ctx.store.event_aggregates(&linked).await?;
    let events: Vec<Map<String, Value>> = events
        .iter()
        .map(|event| {
            let weighted = aggregates
                .get(&event.id)
                .map_or(0, |a| settings.probabilities.weighted_cents(a));
            let mut wire = event.to_wire();
            wire.insert("weightedPipelineAmount".into(), json!(from_cents(weighted)));
            wire
        })
        .collect();
    ok(&json!({"events": events}))
}

async fn create(request: &Request, ctx: &AppContext, actor: &str) -> ApiResult<Response<Body>> {
    let changes = EventChanges::parse(&json_body(request)?, true)?;
    let now = Utc::now().timestamp_millis();
    let blank = PartnershipEvent {
        id: uuid::Uuid::new_v4().to_string(),
        created_at: now,
        updated_at: now,
        updated_by: actor.to_string(),
        version: 1,
        ..Default::default()
    };
    let mut event = changes.apply_to(&blank)?;
    // New events are never archived; `archived` is only validated (§5.7).
    event.archived = false;
    ctx.store.create_event(&event, actor, now).await?;
    created(&json!({"message": "Partnership event created successfully.", "event": event.to_wire()}))
}

async fn load(id: &str, ctx: &AppContext) -> ApiResult<PartnershipEvent> {
    ctx.store
        .get_event(id)
        .await?
        .ok_or_else(|| ApiError::not_found(EVENT, id))
}

/// Finishes a pending re-key (a rename's, or one a crash interrupted) before anything reads the
/// links. Its failure is logged, never answered: the mark stays, and the next read, write or
/// rollup finishes the pass.
async fn repaired(event: PartnershipEvent, ctx: &AppContext) -> PartnershipEvent {
    if event.rekey_pending == 0 {
        return event;
    }
    match ctx.store.rekey_event(&event).await {
        Ok(report) => {
            tracing::info!(event = %event.id, ?report, "re-key pass");
            match ctx.store.get_event(&event.id).await {
                Ok(Some(fresh)) => fresh,
                _ => event,
            }
        }
        Err(e) => {
            tracing::warn!(event = %event.id, error = %shared::error::error_chain(&e), "re-key pass left pending");
            event
        }
    }
}

async fn detail(id: &str, ctx: &AppContext) -> ApiResult<Response<Body>> {
    let body = detail_body(id, ctx).await?;
    let version = body["event"]["version"].as_u64().unwrap_or(0);
    Ok(with_etag(ok(&body)?, version))
}

/// §5.6: the event with metrics from its links, sponsorships with partner cards, the pipeline.
async fn detail_body(id: &str, ctx: &AppContext) -> ApiResult<Value> {
    // The event and its links are read at once; a 404 wastes the links query, a re-key pass
    // rewrites them, so they are read again after one.
    let (stored, links, settings) = futures::try_join!(
        load(id, ctx),
        async { Ok(ctx.store.links_of_event(id).await?) },
        async { Ok(ctx.store.forecast_settings().await?) }
    )?;
    let rekeyed = stored.rekey_pending != 0;
    let event = repaired(stored, ctx).await;
    let mut links = if rekeyed {
        ctx.store.links_of_event(&event.id).await?
    } else {
        links
    };
    links.sort_by(|a, b| newest_first(touch(a.updated_at, a.created_at), touch(b.updated_at, b.created_at)));
    let partner_ids: Vec<String> = links
        .iter()
        .map(|l| l.partner_id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let partners = ctx.store.partner_cards(&partner_ids).await?;

    let today = utc_date_string(Utc::now());
    let mut counters = EventCounters::default();
    let mut pipeline = PipelineAccumulator::default();
    let mut upcoming = 0;
    let catalog = BenefitCatalog::of([&event]);
    let mut outstanding_total = 0;
    let sponsorships: Vec<Value> = links
        .iter()
        .map(|link| {
            counters = counters.plus(EventCounters::of_link(&link.status, link.amount));
            pipeline.add(&link.summary());
            upcoming += usize::from(link.follow_up_date.as_deref().is_some_and(|d| d >= today.as_str()));
            let mut row = link.to_wire();
            row.insert(
                "packageTier".into(),
                Value::String(stored_tier(Some(&link.package_tier))),
            );
            row.insert(
                "partner".into(),
                partners.get(&link.partner_id).map(partner_card).unwrap_or(Value::Null),
            );
            // What the tier promised, each with its record, and how many a secured deal still owes.
            let promised = catalog.promised(&event.id, &link.package_tier);
            let owed = catalog
                .outstanding(&event.id, &link.package_tier, &link.status, &link.fulfilment)
                .len();
            outstanding_total += owed;
            row.insert("benefits".into(), json!(benefit_rows(promised, &link.fulfilment)));
            row.insert("benefitsOutstanding".into(), json!(owed));
            Value::Object(row)
        })
        .collect();
    let mut event_json = event.to_wire_with(&counters);
    // Computed and dropped by the peer (§14.11); returned here as an added field.
    event_json.insert("upcomingFollowUps".into(), json!(upcoming));
    let facts: Vec<LinkFacts> = links.iter().map(LinkFacts::from).collect();
    let weighted = settings.probabilities.weighted_cents(&EventAggregate::of_links(&facts));
    event_json.insert("weightedPipelineAmount".into(), json!(from_cents(weighted)));
    event_json.insert("benefitsOutstanding".into(), json!(outstanding_total));
    let mut pipeline_json = pipeline.to_json();
    if let Some(map) = pipeline_json.as_object_mut() {
        map.remove("openPipelineAmount");
    }
    Ok(json!({"event": event_json, "sponsorships": sponsorships, "pipeline": pipeline_json}))
}

fn touch(updated_at: i64, created_at: i64) -> i64 {
    if updated_at != 0 { updated_at } else { created_at }
}

/// The partner summary shown on each sponsorship (§5.6).
fn partner_card(partner: &Partner) -> Value {
    json!({
        "id": partner.id,
        "company": partner.company,
        "contactName": partner.contact_name,
        "email": partner.email,
        "phone": partner.phone,
        "contactRole": partner.contact_role,
        "tier": stored_tier(Some(&partner.tier)),
        "archived": partner.archived,
        "isAlumni": partner.is_alumni,
    })
}

async fn update(id: &str, request: &Request, ctx: &AppContext, actor: &str) -> ApiResult<Response<Body>> {
    // 404 first, then validation, then the empty-body check (§5.8).
    let mut stored = load(id, ctx).await?;
    let changes = EventChanges::parse(&json_body(request)?, false)?;
    if changes.is_empty() {
        return Err(ApiError::validation(
            "At least one property must be provided.",
            json!({}),
        ));
    }
    let mut retries = Retries::default();
    loop {
        retries.next().await?;
        if retries.retrying() {
            stored = load(id, ctx).await?;
        }
        // With If-Match, a record changed meanwhile is the client's to merge, not ours.
        check_if_match(request, stored.version, "event", || json!(stored.to_wire()))?;
        let updated = changes.apply_to(&stored)?;
        match ctx
            .store
            .update_event(&stored, &updated, actor, Utc::now().timestamp_millis())
            .await
        {
            Ok(saved) => {
                let saved = repaired(saved, ctx).await;
                return ok(&json!({"message": "Partnership event updated successfully.", "event": saved.to_wire()}));
            }
            // A link write or another edit got in between: re-read and re-apply.
            Err(e) if e.should_retry() => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

async fn delete(id: &str, request: &Request, ctx: &AppContext, actor: &str) -> ApiResult<Response<Body>> {
    let mut retries = Retries::default();
    loop {
        retries.next().await?;
        let event = load(id, ctx).await?;
        check_if_match(request, event.version, "event", || json!(event.to_wire()))?;
        if event.counters.relationship_count > 0 {
            return Err(ApiError::validation(
                "Cannot delete this partnerships event while sponsor associations exist. Archive it instead.",
                json!({"eventId": event.id, "eventName": event.name, "linkedSponsors": event.counters.relationship_count}),
            ));
        }
        let (documents, communications) =
            futures::try_join!(ctx.store.documents_of_event(id), ctx.store.communications_of_event(id))?;
        if event.reference_count > 0 || !documents.is_empty() || !communications.is_empty() {
            return Err(ApiError::validation(
                "Cannot delete this partnerships event while documents or communications reference it. Archive it instead.",
                json!({"eventId": event.id, "eventName": event.name, "linkedDocuments": documents.len(), "linkedCommunications": communications.len()}),
            ));
        }
        match ctx
            .store
            .delete_event(&event, actor, Utc::now().timestamp_millis())
            .await
        {
            Ok(()) => return ok(&json!({"message": "Partnership event deleted successfully."})),
            // A link or reference arrived, or it was deleted: look again.
            Err(e) if e.should_retry() => continue,
            Err(e) => return Err(e.into()),
        }
    }
}
