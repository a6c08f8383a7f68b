//! What the stream processor writes: aggregates moved by a batch of changes, exactly once.
//!
//! Lambda hands a shard's records over in order and retries a batch from its first record when
//! an invocation fails, possibly with more records appended. Each batch's writes therefore go in
//! one transaction with a mark keyed by the batch's first record (its `eventID`) that says up to
//! which sequence number that batch was applied; a retry skips what the mark covers. The mark
//! expires after the stream's 24 h retention (`expiresAt`, the meta table's TTL attribute).

use aws_sdk_dynamodb::types::TransactWriteItem;
use serde::Deserialize;

use super::{Store, StoreError, Update};
use crate::domain::changes::PartnerCountsDelta;
use crate::tables::{PARTNER_COUNTS_ID, STREAM_MARK_PREFIX, TTL_ATTRIBUTE};

/// How long a batch mark is kept: past the stream's 24 h retention, no retry can come.
const MARK_TTL_SECONDS: i64 = 2 * 24 * 3600;

/// Where a batch stands: which records a previous attempt applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BatchMark {
    /// The sequence number of the last record applied, if any.
    pub applied_through: Option<String>,
}

/// A batch being applied: its mark's key and the sequence numbers it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// `eventID` of the batch's first record.
    pub first_event_id: String,
    /// What the mark said before this attempt.
    pub previous: Option<String>,
    /// Sequence number of the batch's last record.
    pub through: String,
}

fn mark_id(first_event_id: &str) -> String {
    format!("{STREAM_MARK_PREFIX}{first_event_id}")
}

impl Store {
    /// The mark of the batch starting with `first_event_id` (strongly consistent).
    pub async fn batch_mark(&self, first_event_id: &str) -> Result<BatchMark, StoreError> {
        Ok(self
            .get(&self.tables().meta, &mark_id(first_event_id))
            .await?
            .unwrap_or_default())
    }

    /// Applies `items` (counter moves) and marks `batch` applied through its last record, in
    /// one transaction; a cancelled transaction means another attempt moved the mark first
    /// (nothing is applied, the caller reads the mark again).
    pub async fn apply_once(
        &self,
        batch: &Batch,
        mut items: Vec<TransactWriteItem>,
        now_seconds: i64,
    ) -> Result<(), StoreError> {
        let mark = Update::maintenance()
            .allow_missing()
            .set("appliedThrough", &batch.through)?
            .set(TTL_ATTRIBUTE, now_seconds + MARK_TTL_SECONDS)?;
        let mark = match &batch.previous {
            Some(previous) => mark.expect_equal("appliedThrough", previous)?,
            None => mark.expect_absent(),
        };
        items.insert(
            0,
            mark.into_transact(&self.tables().meta, &mark_id(&batch.first_event_id))?,
        );
        self.transact(items).await
    }

    /// The transaction item moving the partner counters by `delta`.
    pub fn partner_counts_update(&self, delta: PartnerCountsDelta) -> Result<TransactWriteItem, StoreError> {
        Update::maintenance()
            .allow_missing()
            .add("partnerCount", delta.partners)
            .add("archivedPartnerCount", delta.archived)
            .into_transact(&self.tables().meta, PARTNER_COUNTS_ID)
    }
}
