//! GET and PUT `/partnerships/forecast` (issue 16.1): the stage's win probability per pipeline
//! status, which the dashboard and the events weigh their pipelines by.

use chrono::Utc;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::http::{json_body, ok};
use shared::store::Retries;
use shared::{ApiResult, AppContext};

/// GET: every canonical status's probability (and each overridden custom one), the defaults,
/// and what any other status gets.
pub async fn show(ctx: &AppContext) -> ApiResult<Response<Body>> {
    let settings = ctx.store.forecast_settings().await?;
    let mut body = settings.probabilities.to_wire();
    body["updatedAt"] = json!(settings.updated_at);
    body["updatedBy"] = json!(settings.updated_by);
    body["version"] = json!(settings.version);
    ok(&body)
}

/// PUT `{"probabilities": {"<status>": percent | null}}`: sets (or, with `null`, resets) the
/// named statuses and keeps the others.
pub async fn update(request: &Request, ctx: &AppContext, actor: &str) -> ApiResult<Response<Body>> {
    let body = json_body(request)?;
    let mut retries = Retries::default();
    loop {
        retries.next().await?;
        let stored = ctx.store.forecast_settings().await?;
        let next = stored.probabilities.apply(&body)?;
        match ctx
            .store
            .save_forecast_settings(&next, stored.version, actor, Utc::now().timestamp_millis())
            .await
        {
            Ok(_) => return show(ctx).await,
            // Another admin saved meanwhile: apply this change over theirs.
            Err(e) if e.should_retry() => continue,
            Err(e) => return Err(e.into()),
        }
    }
}
