//! Pure business rules: normalization, metrics and ordering. Nothing here touches AWS, so every
//! rule is unit-tested in isolation.

pub mod aggregates;
pub mod changes;
pub mod dashboard;
pub mod event;
pub mod export;
pub mod link;
pub mod metrics;
pub mod money;
pub mod normalize;
pub mod partner;
pub mod records;
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

/// Today's date as the `YYYY-MM-DD` string all date comparisons use (UTC midnight granularity).
pub fn utc_date_string(now: chrono::DateTime<chrono::Utc>) -> String {
    now.format("%Y-%m-%d").to_string()
}
