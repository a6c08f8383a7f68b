//! Auto-push off the request path (§14.17): a change event (`partnerships.<entity>.*`, from the
//! stream processor through EventBridge) only marks a push due a minute later (a burst of
//! changes is one push); a one-minute schedule pushes what is due, one push at a time (a lease
//! row), and a failure is recorded in the status row and retried, never shown to whoever made the
//! edit.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::Utc;
use serde_json::{Value, json};
use shared::tables::ID;

use crate::{Services, run_sync};

/// Meta row: a push is due at `dueAt` (epoch ms).
pub const DUE_ROW_ID: &str = "google_sheets_push_due";
/// Meta row: who pushes now, until when (epoch ms).
pub const LEASE_ROW_ID: &str = "google_sheets_push_lease";
/// The debounce: at most one push a minute.
const DEBOUNCE_MS: i64 = 60_000;
/// A lease outlives a stuck push by this much.
const LEASE_MS: i64 = 5 * 60_000;

/// Handles one event Lambda delivers: a change event marks a push due; the schedule pushes.
pub async fn handle(event: &Value, services: &Services) -> Result<Value, String> {
    let detail_type = event["detail-type"].as_str().unwrap_or_default();
    if detail_type.starts_with("partnerships.") {
        return Ok(json!({"marked": mark_due(services, Utc::now().timestamp_millis() + DEBOUNCE_MS).await?}));
    }
    push_if_due(services, Utc::now().timestamp_millis()).await
}

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_string())
}

fn n(number: i64) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

/// Marks a push due at `due_at` unless one is due already (coalescing a burst).
pub async fn mark_due(services: &Services, due_at: i64) -> Result<bool, String> {
    if !services.settings.auto_sync {
        return Ok(false);
    }
    let ctx = &services.ctx;
    let out = ctx
        .store
        .client()
        .put_item()
        .table_name(&ctx.config.tables.meta)
        .item(ID, s(DUE_ROW_ID))
        .item("dueAt", n(due_at))
        .condition_expression("attribute_not_exists(#id)")
        .expression_attribute_names("#id", ID)
        .send()
        .await;
    match out {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(shared::error::error_chain(&e)),
    }
}

/// Pushes when a push is due at `now` and no one else is pushing.
pub async fn push_if_due(services: &Services, now: i64) -> Result<Value, String> {
    let ctx = &services.ctx;
    let (true, Some(client)) = (services.settings.auto_sync, services.settings.client()) else {
        return Ok(json!({"pushed": false, "reason": "auto-sync off or not configured"}));
    };
    let table = &ctx.config.tables.meta;
    let due: Option<Value> = ctx.store.get(table, DUE_ROW_ID).await.map_err(|e| e.to_string())?;
    let Some(due_at) = due.and_then(|d| d["dueAt"].as_i64()) else {
        return Ok(json!({"pushed": false, "reason": "nothing due"}));
    };
    if due_at > now {
        return Ok(json!({"pushed": false, "reason": "debouncing"}));
    }
    let holder = uuid::Uuid::new_v4().to_string();
    let leased = ctx
        .store
        .client()
        .put_item()
        .table_name(table)
        .item(ID, s(LEASE_ROW_ID))
        .item("holder", s(&holder))
        .item("until", n(now + LEASE_MS))
        .condition_expression("attribute_not_exists(#id) OR #until < :now")
        .expression_attribute_names("#id", ID)
        .expression_attribute_names("#until", "until")
        .expression_attribute_values(":now", n(now))
        .send()
        .await;
    match leased {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
        {
            return Ok(json!({"pushed": false, "reason": "another push is running"}));
        }
        Err(e) => return Err(shared::error::error_chain(&e)),
    }
    // Changes from now on mark a new push due.
    let _ = ctx
        .store
        .client()
        .delete_item()
        .table_name(table)
        .key(ID, s(DUE_ROW_ID))
        .send()
        .await;
    let outcome = run_sync(services, &client, "push", "google_sheets_auto_sync", false).await;
    if outcome.is_err() {
        // Retried a minute later; the status row says why it failed.
        mark_due(services, now + DEBOUNCE_MS).await?;
    }
    let _ = ctx
        .store
        .client()
        .delete_item()
        .table_name(table)
        .key(ID, s(LEASE_ROW_ID))
        .condition_expression("holder = :me")
        .expression_attribute_values(":me", s(&holder))
        .send()
        .await;
    Ok(json!({"pushed": outcome.is_ok()}))
}
