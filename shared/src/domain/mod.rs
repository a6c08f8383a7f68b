//! Pure business rules: normalization, metrics and ordering. Nothing here touches AWS, so every
//! rule is unit-tested in isolation.

pub mod activity;
pub mod aggregates;
pub mod benefits;
pub mod changes;
pub mod dashboard;
pub mod email_sync;
pub mod event;
pub mod export;
pub mod forecast;
pub mod import;
pub mod link;
pub mod mass_email;
pub mod merge;
pub mod metrics;
pub mod money;
pub mod normalize;
pub mod ownership;
pub mod partner;
pub mod records;
pub mod renewals;
pub mod segment;
pub mod sheets;
pub mod sort;

use serde_json::Value;

/// A rejected input: the contract's message plus the offending field(s) only.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    /// Human-readable message, exactly as the contract words it.
    pub message: String,
    /// The offending field(s) and their values.
    pub data: Value,
}

impl ValidationError {
    /// A validation error with the given message and data.
    pub fn new(message: impl Into<String>, data: Value) -> Self {
        Self {
            message: message.into(),
            data,
        }
    }
}

/// `updatedAt || createdAt`: when a record was last touched, the "newest first" key.
pub fn touched_at(updated_at: i64, created_at: i64) -> i64 {
    if updated_at != 0 { updated_at } else { created_at }
}

/// An optional amount in cents (0 when absent or not finite).
pub fn amount_cents(amount: Option<f64>) -> i64 {
    amount.filter(|a| a.is_finite()).map(money::to_cents).unwrap_or(0)
}

/// Today's date as the `YYYY-MM-DD` string all date comparisons use (UTC midnight granularity).
pub fn utc_date_string(now: chrono::DateTime<chrono::Utc>) -> String {
    now.format("%Y-%m-%d").to_string()
}
