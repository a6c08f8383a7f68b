//! Mass-email templates (§8.3): list, create, edit, archive and restore. The cap counts active
//! templates only, kept by a counter in the same transaction as the write (§14.15, §14.19).

use chrono::Utc;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::domain::mass_email::{EmailTemplate, MAX_TEMPLATES, TemplateChanges};
use shared::domain::normalize::query_boolean;
use shared::http::{check_if_match, created, json_body, ok, query_params};
use shared::store::Retries;
use shared::store::meta::TemplateWriteError;
use shared::{ApiError, ApiResult};

use crate::Services;

const KIND: &str = "partnerships mass-email template";

fn cap_reached() -> ApiError {
    ApiError::validation(
        format!("Template limit reached ({MAX_TEMPLATES}). Archive unused templates before creating more."),
        json!({"maxTemplates": MAX_TEMPLATES}),
    )
}

/// GET: active templates, newest edit first; `?includeArchived=true` adds the archived ones.
pub async fn list(request: &Request, services: &Services) -> ApiResult<Response<Body>> {
    let include_archived =
        query_boolean(query_params(request).get("includeArchived").map(String::as_str)).unwrap_or(false);
    let templates = services.ctx.store.list_templates(include_archived).await?;
    ok(&json!({"templates": templates.iter().map(EmailTemplate::to_wire).collect::<Vec<_>>()}))
}

/// POST: 201 with the template, or 406 past the active cap.
pub async fn create(request: &Request, services: &Services, actor: &str) -> ApiResult<Response<Body>> {
    let changes = TemplateChanges::parse_create(&json_body(request)?)?;
    let template = EmailTemplate::create(
        &changes,
        uuid::Uuid::new_v4().to_string(),
        actor,
        Utc::now().timestamp_millis(),
    );
    match services.ctx.store.create_template(&template).await {
        Ok(()) => created(&json!({"message": "Mass email template created.", "template": template.to_wire()})),
        Err(TemplateWriteError::CapReached) => Err(cap_reached()),
        Err(TemplateWriteError::Stale) => Err(ApiError::Conflicting(
            "The template could not be created; please retry.".into(),
        )),
        Err(TemplateWriteError::Store(e)) => Err(e.into()),
    }
}

async fn load(services: &Services, id: &str) -> ApiResult<EmailTemplate> {
    services
        .ctx
        .store
        .get_template(id)
        .await?
        .ok_or_else(|| ApiError::not_found(KIND, id))
}

/// Applies `changes` to the stored template, re-reading it when someone wrote in between.
async fn write(
    request: &Request,
    services: &Services,
    id: &str,
    changes: &TemplateChanges,
    actor: &str,
) -> ApiResult<EmailTemplate> {
    let mut retries = Retries::default();
    loop {
        retries.next().await?;
        let stored = load(services, id).await?;
        check_if_match(request, stored.version, "template", || stored.to_wire())?;
        let next = stored.apply(changes, actor, Utc::now().timestamp_millis());
        match services.ctx.store.replace_template(&stored, &next).await {
            Ok(()) => return Ok(next),
            Err(TemplateWriteError::CapReached) => return Err(cap_reached()),
            Err(TemplateWriteError::Stale) => continue,
            Err(TemplateWriteError::Store(e)) => return Err(e.into()),
        }
    }
}

/// PATCH: 404 → validation → write (§8.3); `{"archived": false}` restores an archived one.
pub async fn update(request: &Request, services: &Services, id: &str, actor: &str) -> ApiResult<Response<Body>> {
    load(services, id).await?;
    let changes = TemplateChanges::parse_update(&json_body(request)?)?;
    let template = write(request, services, id, &changes, actor).await?;
    ok(&json!({"message": "Mass email template updated.", "template": template.to_wire()}))
}

/// DELETE: a soft archive, repeatable (§8.3).
pub async fn archive(request: &Request, services: &Services, id: &str, actor: &str) -> ApiResult<Response<Body>> {
    let changes = TemplateChanges {
        archived: Some(true),
        ..Default::default()
    };
    let template = write(request, services, id, &changes, actor).await?;
    ok(&json!({"message": "Mass email template archived.", "template": template.to_wire()}))
}
