//! The error envelope of contract §1.5, in one place: every failure becomes a JSON body with a
//! string `message` and the right status code.

use lambda_http::http::StatusCode;
use serde_json::{Value, json};

use crate::domain::ValidationError;
use crate::store::StoreError;

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 406 with `{message, data}`.
    #[error("{0}")]
    Validation(#[from] ValidationError),
    /// 404 for a record type and id.
    #[error("{kind} with id '{id}' could not be found")]
    NotFound { kind: &'static str, id: String },
    /// 409 for a duplicate of `property`.
    #[error("duplicate {property}")]
    Conflict { property: &'static str, data: Value },
    /// 409 with a message of its own (a request that collides with another in flight).
    #[error("{0}")]
    Conflicting(String),
    /// 409 with a message and what collided (`data`), e.g. the records a revert would undo
    /// that were edited since.
    #[error("{message}")]
    ConflictWith { message: String, data: Value },
    /// 401 with a message of its own (a public route whose credential is missing or wrong).
    #[error("{0}")]
    UnauthorizedBecause(String),
    /// 403 with a message of its own.
    #[error("{0}")]
    ForbiddenBecause(String),
    /// 412: `If-Match` names a version the record no longer has; the body carries the current
    /// record under its key (`partner`, `event`, …) so the client can merge and retry.
    #[error("precondition failed")]
    PreconditionFailed { key: &'static str, current: Value },
    /// 422: an `Idempotency-Key` reused with a different request.
    #[error("{0}")]
    Unprocessable(String),
    /// 502: a provider we call (Google) failed; its message is shown.
    #[error("{0}")]
    Upstream(String),
    /// 409: a feature this deployment has not configured (the request is fine; the stage's state
    /// does not allow it — a client error, so a fuzzer's "no 5xx" holds on any stage).
    #[error("{0}")]
    NotConfigured(String),
    /// 401: no identity reached the function.
    #[error("unauthorized")]
    Unauthorized,
    /// 403: identified, but not a partnerships admin.
    #[error("forbidden")]
    Forbidden,
    /// 404: no such route on this function.
    #[error("no route for {0}")]
    NoRoute(String),
    /// 500: a table is missing (deployment problem).
    #[error("table missing")]
    TableMissing(#[source] StoreError),
    /// 503: DynamoDB throttled us or was unavailable; worth retrying.
    #[error("store unavailable")]
    Unavailable(#[source] StoreError),
    /// 500: anything else; the chain is logged, never sent.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Result of a route.
pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    /// A 406 with the given message and data.
    pub fn validation(message: impl Into<String>, data: Value) -> Self {
        ApiError::Validation(ValidationError::new(message, data))
    }

    /// 404 for a record kind (`partner`, `partnership event`, …).
    pub fn not_found(kind: &'static str, id: impl Into<String>) -> Self {
        ApiError::NotFound { kind, id: id.into() }
    }

    /// Maps a store failure seen while touching a record of `kind`: a failed "must exist"
    /// condition is that record's 404; throttling is 503; a missing table is 500.
    pub fn from_store(err: StoreError, kind: &'static str, id: &str) -> Self {
        match err {
            StoreError::ConditionFailed => ApiError::not_found(kind, id),
            other => other.into(),
        }
    }

    /// The HTTP status code.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Validation(_) => StatusCode::NOT_ACCEPTABLE,
            ApiError::NotFound { .. } | ApiError::NoRoute(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } | ApiError::Conflicting(_) | ApiError::ConflictWith { .. } => {
                StatusCode::CONFLICT
            }
            ApiError::NotConfigured(_) => StatusCode::CONFLICT,
            ApiError::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            ApiError::Upstream(_) => StatusCode::BAD_GATEWAY,
            ApiError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unauthorized | ApiError::UnauthorizedBecause(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden | ApiError::ForbiddenBecause(_) => StatusCode::FORBIDDEN,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TableMissing(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON body; internal details never leave the process.
    pub fn body(&self) -> Value {
        match self {
            ApiError::Validation(v) => json!({"message": v.message, "data": capped(&v.data, 0)}),
            ApiError::NotFound { kind, id } => {
                let id = match capped(&Value::String(id.clone()), 0) {
                    Value::String(id) => id,
                    _ => String::new(),
                };
                json!({
                    "message": format!("{kind} with id '{id}' could not be found. Make sure you have provided the correct id.")
                })
            }
            ApiError::Conflict { property, data } => json!({
                "message": format!("A database entry with the same '{property}' already exists!"),
                "data": capped(data, 0),
            }),
            ApiError::ConflictWith { message, data } => json!({"message": message, "data": capped(data, 0)}),
            ApiError::PreconditionFailed { key, current } => {
                let version = current.get("version").cloned().unwrap_or(Value::Null);
                let mut body = serde_json::Map::new();
                body.insert(
                    "message".into(),
                    json!(format!(
                        "This record changed since you read it (it is at version {version} now). Reload it, apply your change again and retry."
                    )),
                );
                body.insert((*key).into(), current.clone());
                Value::Object(body)
            }
            ApiError::Conflicting(message)
            | ApiError::Upstream(message)
            | ApiError::Unprocessable(message)
            | ApiError::NotConfigured(message)
            | ApiError::UnauthorizedBecause(message)
            | ApiError::ForbiddenBecause(message) => json!({"message": message}),
            ApiError::Unauthorized => json!({"message": "Unauthorized"}),
            ApiError::Forbidden => {
                json!({"message": "Forbidden: partnerships admin access is required."})
            }
            ApiError::NoRoute(route) => json!({"message": format!("No route matches '{route}'.")}),
            ApiError::TableMissing(_) => json!({
                "message": "Required partnerships table is missing in DynamoDB. Deploy the stack (or run 'make run' locally) to create it."
            }),
            ApiError::Unavailable(_) => json!({"message": "The database is busy. Please retry."}),
            ApiError::Internal(_) => json!({"message": "Request failed."}),
        }
    }

    /// Whether this is a server-side failure worth an error log with its chain.
    pub fn is_server_error(&self) -> bool {
        self.status().is_server_error()
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::TableMissing(_) => ApiError::TableMissing(err),
            ref retryable if retryable.is_retryable() => ApiError::Unavailable(err),
            other => ApiError::Internal(Box::new(other)),
        }
    }
}

/// Longest echoed string, in characters.
const ECHO_CHARS: usize = 200;
/// Most echoed array items or object entries.
const ECHO_ITEMS: usize = 20;
/// Deepest echoed nesting.
const ECHO_DEPTH: usize = 4;

/// An offending value as a 406 echoes it: strings, lists and objects cut to a size worth
/// reading, each cut marked, so a megabyte sent is never a megabyte answered.
pub fn capped(value: &Value, depth: usize) -> Value {
    if depth >= ECHO_DEPTH && (value.is_array() || value.is_object()) {
        return Value::String("[cut: nested too deep]".into());
    }
    match value {
        Value::String(text) => {
            let total = text.chars().count();
            if total <= ECHO_CHARS {
                value.clone()
            } else {
                let kept: String = text.chars().take(ECHO_CHARS).collect();
                Value::String(format!("{kept}… [cut: {total} characters]"))
            }
        }
        Value::Array(items) => {
            let mut out: Vec<Value> = items.iter().take(ECHO_ITEMS).map(|v| capped(v, depth + 1)).collect();
            if items.len() > ECHO_ITEMS {
                out.push(Value::String(format!("[cut: {} more items]", items.len() - ECHO_ITEMS)));
            }
            Value::Array(out)
        }
        Value::Object(map) => {
            let mut out: serde_json::Map<String, Value> = map
                .iter()
                .take(ECHO_ITEMS)
                .map(|(k, v)| (capped_key(k), capped(v, depth + 1)))
                .collect();
            if map.len() > ECHO_ITEMS {
                out.insert(
                    "…".into(),
                    Value::String(format!("[cut: {} more entries]", map.len() - ECHO_ITEMS)),
                );
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

fn capped_key(key: &str) -> String {
    match capped(&Value::String(key.to_string()), 0) {
        Value::String(k) => k,
        _ => key.to_string(),
    }
}

/// Renders an error and its `source()` chain on one line for the logs.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_always_carry_a_message() {
        let cases = [
            ApiError::validation("'company' is required.", json!({"company": null})),
            ApiError::not_found("partner", "p1"),
            ApiError::Conflict {
                property: "partnerId+eventId",
                data: json!({}),
            },
            ApiError::Unauthorized,
            ApiError::Forbidden,
            ApiError::NoRoute("GET /x".into()),
            ApiError::Internal("boom: secret detail".into()),
        ];
        for err in cases {
            assert!(err.body()["message"].is_string(), "{err:?}");
        }
    }

    #[test]
    fn echoed_values_are_cut_and_marked() {
        let huge = "x".repeat(1_000_000);
        let err = ApiError::validation("'notes' is too long.", json!({"notes": huge}));
        let echoed = err.body()["data"]["notes"].as_str().unwrap().to_string();
        assert!(
            echoed.len() < 300 && echoed.ends_with("[cut: 1000000 characters]"),
            "{echoed}"
        );
        let tags: Vec<Value> = (0..200_000).map(|i| json!(format!("t{i}"))).collect();
        let err = ApiError::validation("too many", json!({"tags": tags}));
        let echoed = err.body()["data"]["tags"].as_array().unwrap().clone();
        assert_eq!(echoed.len(), 21);
        assert_eq!(echoed[20], "[cut: 199980 more items]");
        let short = ApiError::validation("m", json!({"amount": -1}));
        assert_eq!(
            short.body()["data"],
            json!({"amount": -1}),
            "small values are echoed whole"
        );
    }

    #[test]
    fn statuses_and_messages_match_the_contract() {
        let nf = ApiError::not_found("partner", "p1");
        assert_eq!(nf.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            nf.body()["message"],
            "partner with id 'p1' could not be found. Make sure you have provided the correct id."
        );
        let dup = ApiError::Conflict {
            property: "partnerId+eventId",
            data: json!({"partnerId": "p"}),
        };
        assert_eq!(dup.status(), StatusCode::CONFLICT);
        assert_eq!(
            dup.body()["message"],
            "A database entry with the same 'partnerId+eventId' already exists!"
        );
        let internal = ApiError::Internal("secret".into());
        assert_eq!(internal.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!internal.body().to_string().contains("secret"));
        assert_eq!(ApiError::validation("m", json!({})).status().as_u16(), 406);
        assert_eq!(
            ApiError::from_store(StoreError::ConditionFailed, "partner", "x").status(),
            StatusCode::NOT_FOUND
        );
    }
}
