//! The links Lambda: create, update and delete partner–event links (contract §5.10–§5.12).
//! Every write is one transaction with the partner's link summary and the event's counters.

use chrono::Utc;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::domain::link::{LinkChanges, NewLink, PartnerEventLink};
use shared::http::{check_if_match, created, idempotent, json_body, ok, path_param, route_key, serve};
use shared::store::Retries;
use shared::store::links::item;
use shared::{ApiError, ApiResult, AppContext};

const LINK: &str = "partner event";

/// Serves one API Gateway request, exactly as Lambda calls it.
pub async fn handle(request: Request, ctx: &AppContext) -> Response<Body> {
    let route = route_key(&request);
    serve(&request, &route, async {
        let caller = shared::access::authorize(&request, ctx).await?;
        match route.as_str() {
            "POST /partnerships/partners/{partnerId}/events" => {
                let partner_id = path_param(&request, "partnerId")?;
                idempotent(
                    &request,
                    ctx,
                    &caller.email,
                    create(&partner_id, &request, ctx, &caller.email),
                )
                .await
            }
            "PATCH /partnerships/partner-events/{linkId}" => {
                update(&path_param(&request, "linkId")?, &request, ctx, &caller.email).await
            }
            "DELETE /partnerships/partner-events/{linkId}" => {
                delete(&path_param(&request, "linkId")?, &request, ctx).await
            }
            _ => Err(ApiError::NoRoute(route.clone())),
        }
    })
    .await
}

async fn create(partner_id: &str, request: &Request, ctx: &AppContext, actor: &str) -> ApiResult<Response<Body>> {
    // Body (406) → partner and event (404) → year (406) → uniqueness (409), as §5.10 orders them.
    let new = NewLink::parse(&json_body(request)?)?;
    let mut retries = Retries::default();
    loop {
        retries.next().await?;
        let (partner, event) =
            futures::try_join!(ctx.store.get_partner(partner_id), ctx.store.get_event(&new.event_id))?;
        partner.ok_or_else(|| ApiError::not_found("partner", partner_id))?;
        let event = event.ok_or_else(|| ApiError::not_found("partnership event", &new.event_id))?;
        new.check_year(&event)?;
        let link = new.build(partner_id, &event, Utc::now().timestamp_millis(), actor);
        new.changes.check_fulfilment(&link.package_tier, Some(&event))?;
        match ctx.store.create_link(&link, &event).await {
            Ok(()) => {
                return created(
                    &json!({"message": "Partner event association created successfully.", "link": link.to_wire()}),
                );
            }
            Err(e) if e.condition_failed_at(item::LINK) => {
                return Err(ApiError::Conflict {
                    property: "partnerId+eventId",
                    data: json!({"partnerId": partner_id, "eventId": event.id}),
                });
            }
            // The event was renamed or deleted, or another write collided: look again.
            Err(e) if e.should_retry() => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

async fn load(id: &str, ctx: &AppContext) -> ApiResult<PartnerEventLink> {
    ctx.store
        .get_link(id)
        .await?
        .ok_or_else(|| ApiError::not_found(LINK, id))
}

async fn update(id: &str, request: &Request, ctx: &AppContext, actor: &str) -> ApiResult<Response<Body>> {
    // The immutable-key check runs before the 404 (§5.11); other validation after it.
    let body = json_body(request)?;
    LinkChanges::reject_immutable_keys(&body)?;
    load(id, ctx).await?;
    let changes = LinkChanges::parse_patch(&body)?;
    if changes.is_empty() {
        return Err(ApiError::validation(
            "At least one property must be provided.",
            json!({}),
        ));
    }
    let mut retries = Retries::default();
    loop {
        retries.next().await?;
        let stored = load(id, ctx).await?;
        check_if_match(request, stored.version, "link", || json!(stored.to_wire()))?;
        let event = ctx.store.get_event(&stored.event_id).await?;
        let now = Utc::now().timestamp_millis();
        let patched = changes.apply_to(&stored, event.as_ref());
        changes.check_fulfilment(&patched.package_tier, event.as_ref())?;
        let updated = PartnerEventLink {
            updated_at: now,
            updated_by: actor.to_string(),
            version: stored.version + 1,
            ..patched
        };
        match ctx.store.update_link(&stored, &updated, event.is_some()).await {
            Ok(()) => {
                return ok(
                    &json!({"message": "Partner event association updated successfully.", "link": updated.to_wire()}),
                );
            }
            // Changed or deleted meanwhile: re-read (a deletion becomes the 404 above).
            Err(e) if e.should_retry() => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

async fn delete(id: &str, request: &Request, ctx: &AppContext) -> ApiResult<Response<Body>> {
    let mut retries = Retries::default();
    loop {
        retries.next().await?;
        let stored = load(id, ctx).await?;
        check_if_match(request, stored.version, "link", || json!(stored.to_wire()))?;
        let event_exists = ctx.store.get_event(&stored.event_id).await?.is_some();
        match ctx.store.delete_link(&stored, event_exists).await {
            Ok(()) => {
                return ok(&json!({"message": "Partner event association deleted successfully."}));
            }
            Err(e) if e.should_retry() => continue,
            Err(e) => return Err(e.into()),
        }
    }
}
