//! The partner directory read from the tables: the partners route answers it, and a segment
//! (a saved directory query) resolves to its partners through it when a mass email is sent.

use chrono::Utc;
use serde_json::{Value, json};

use crate::AppContext;
use crate::domain::partner::{DirectoryQuery, directory};
use crate::domain::utc_date_string;
use crate::error::{ApiError, ApiResult};

/// §5.1: every partner and every link (projected parallel scans) and the events' tier ids (one
/// meta row), read in parallel, then the directory's rules.
pub async fn answer(ctx: &AppContext, query: &DirectoryQuery) -> ApiResult<Value> {
    let today = utc_date_string(Utc::now());
    let (partners, links, event_tiers) = futures::try_join!(
        ctx.store.all_partners(),
        ctx.store.all_link_summaries(),
        ctx.store.event_tier_ids()
    )?;
    Ok(directory(&partners, &links, &event_tiers, query, &today))
}

/// The ids of the partners segment `segment_id` holds now, in directory order, for the caller
/// `me` (`owner=me` is whoever sends). A segment that does not exist is a 404.
pub async fn segment_partner_ids(ctx: &AppContext, segment_id: &str, me: &str) -> ApiResult<Vec<String>> {
    let segment = ctx
        .store
        .get_segment(segment_id)
        .await?
        .ok_or_else(|| ApiError::not_found("segment", segment_id))?;
    let query = segment.directory_query(me)?;
    let answer = answer(ctx, &query).await?;
    Ok(answer["partners"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["id"].as_str().map(str::to_string))
        .collect())
}

/// A send body with its recipients: `segmentId` resolved into `partnerIds` (the two are
/// exclusive). A body without `segmentId` is returned as it is.
pub async fn with_segment_recipients(
    ctx: &AppContext,
    mut body: serde_json::Map<String, Value>,
    me: &str,
) -> ApiResult<serde_json::Map<String, Value>> {
    let Some(segment) = body.get("segmentId").filter(|v| !v.is_null()).cloned() else {
        return Ok(body);
    };
    let Some(segment_id) = segment.as_str().map(str::trim).filter(|s| !s.is_empty()) else {
        return Err(ApiError::validation("'segmentId' must be a segment id.", json!({})));
    };
    if body.get("partnerIds").is_some_and(|ids| !ids.is_null()) {
        return Err(ApiError::validation(
            "Send to either 'partnerIds' or 'segmentId', not both.",
            json!({}),
        ));
    }
    let ids = segment_partner_ids(ctx, segment_id, me).await?;
    if ids.is_empty() {
        return Err(ApiError::validation(
            "The segment holds no partners now.",
            json!({"segmentId": segment_id}),
        ));
    }
    body.insert("partnerIds".into(), json!(ids));
    Ok(body)
}
