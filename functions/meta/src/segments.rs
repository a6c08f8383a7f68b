//! `/partnerships/segments` (issue 16.6): saved directory filters, listed by name; a mass
//! email's `segmentId` resolves one to its partners when it is sent (`shared::directory`).

use chrono::Utc;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::directory::segment_partner_ids;
use shared::domain::segment::{SEGMENT_KIND, Segment, SegmentChanges, segment_row_id};
use shared::http::{check_if_match, created, json_body, ok};
use shared::store::Retries;
use shared::{ApiError, ApiResult, AppContext};

const SEGMENT: &str = "segment";

/// GET: every segment, by name.
pub async fn list(ctx: &AppContext) -> ApiResult<Response<Body>> {
    let segments = ctx.store.segments().await?;
    let wire: Vec<_> = segments.iter().map(Segment::to_wire).collect();
    ok(&json!({ "segments": wire }))
}

/// GET one: the segment and the partners it holds now for the caller (as a send would resolve
/// it), so a team sees whom it would email.
pub async fn show(ctx: &AppContext, id: &str, me: &str) -> ApiResult<Response<Body>> {
    let segment = load(ctx, id).await?;
    let partner_ids = segment_partner_ids(ctx, id, me).await?;
    ok(&json!({
        "segment": segment.to_wire(),
        "partnerCount": partner_ids.len(),
        "partnerIds": partner_ids,
    }))
}

async fn load(ctx: &AppContext, id: &str) -> ApiResult<Segment> {
    ctx.store
        .get_segment(id)
        .await?
        .ok_or_else(|| ApiError::not_found(SEGMENT, id))
}

/// POST: 201 with the new segment.
pub async fn create(request: &Request, ctx: &AppContext, actor: &str) -> ApiResult<Response<Body>> {
    let changes = SegmentChanges::parse(&json_body(request)?, true)?;
    let segment_id = uuid::Uuid::new_v4().to_string();
    let name = changes.name.unwrap_or_default();
    let now = Utc::now().timestamp_millis();
    let segment = Segment {
        id: segment_row_id(&segment_id),
        row_kind: SEGMENT_KIND.into(),
        row_order: Segment::order_of(&name, &segment_id),
        segment_id,
        name,
        description: changes.description.unwrap_or_default(),
        query: changes.query.unwrap_or_default(),
        created_at: now,
        created_by: actor.into(),
        updated_at: now,
        updated_by: actor.into(),
        version: 1,
    };
    ctx.store.create_segment(&segment).await?;
    created(&json!({"message": "Segment created successfully.", "segment": segment.to_wire()}))
}

/// PATCH: the fields sent; a versioned write (If-Match honoured).
pub async fn update(request: &Request, ctx: &AppContext, id: &str, actor: &str) -> ApiResult<Response<Body>> {
    let changes = SegmentChanges::parse(&json_body(request)?, false)?;
    let mut retries = Retries::default();
    loop {
        retries.next().await?;
        let stored = load(ctx, id).await?;
        if changes.is_empty() {
            return Err(ApiError::validation(
                "At least one property must be provided.",
                json!({}),
            ));
        }
        check_if_match(request, stored.version, SEGMENT, || stored.to_wire())?;
        let name = changes.name.clone().unwrap_or_else(|| stored.name.clone());
        let updated = Segment {
            row_order: Segment::order_of(&name, &stored.segment_id),
            name,
            description: changes
                .description
                .clone()
                .unwrap_or_else(|| stored.description.clone()),
            query: changes.query.clone().unwrap_or_else(|| stored.query.clone()),
            updated_at: Utc::now().timestamp_millis(),
            updated_by: actor.into(),
            version: stored.version + 1,
            ..stored.clone()
        };
        match ctx.store.replace_segment(&updated, stored.version).await {
            Ok(()) => return ok(&json!({"message": "Segment updated successfully.", "segment": updated.to_wire()})),
            Err(e) if e.should_retry() => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// DELETE: the segment is gone (a saved filter holds no data of its own).
pub async fn delete(request: &Request, ctx: &AppContext, id: &str) -> ApiResult<Response<Body>> {
    let mut retries = Retries::default();
    loop {
        retries.next().await?;
        let stored = load(ctx, id).await?;
        check_if_match(request, stored.version, SEGMENT, || stored.to_wire())?;
        match ctx.store.delete_segment(&stored).await {
            Ok(()) => return ok(&json!({"message": "Segment deleted successfully."})),
            Err(e) if e.should_retry() => continue,
            Err(e) => return Err(e.into()),
        }
    }
}
