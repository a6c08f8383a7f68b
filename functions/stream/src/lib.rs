//! The stream processor: one Lambda behind the event source mappings of the tables' DynamoDB
//! Streams (`template.yaml`), keeping the aggregates that may lag a write by seconds — today the
//! partner counters, from the partners stream.
//!
//! A batch holds one shard's records in order. Its effect is computed in memory and written in
//! one transaction together with the batch's mark (`store::stream`), so a retried batch is never
//! applied twice. A failure reports the batch's first unapplied record, as partial-batch
//! responses (`ReportBatchItemFailures`) require, and Lambda retries from there. A record whose
//! image cannot be read is counted as what it can be read as, never a poison pill.

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use shared::AppContext;
use shared::domain::changes::{Change, PartnerPresence, partner_counts_delta, sequence_after};
use shared::store::StoreError;
use shared::store::stream::Batch;

/// Applies one batch and answers which record to retry from, if any.
pub async fn handle(event: Event, ctx: &AppContext) -> DynamoDbEventResponse {
    let mut response = DynamoDbEventResponse::default();
    let Some(first) = event.records.first() else {
        return response;
    };
    if let Err(error) = apply(&event.records, ctx).await {
        tracing::error!(%error, first = %first.event_id, "stream batch failed; Lambda retries it");
        let mut failure = DynamoDbBatchItemFailure::default();
        failure.item_identifier = first.change.sequence_number.clone();
        response.batch_item_failures.push(failure);
    }
    response
}

/// The table a record comes from: `arn:…:table/<name>/stream/<label>`.
fn table_of(record: &EventRecord) -> Option<&str> {
    record.event_source_arn.as_deref()?.split("table/").nth(1)?.split('/').next()
}

fn image<T: serde::de::DeserializeOwned + Default>(item: &serde_dynamo::Item) -> Option<T> {
    if item.is_empty() {
        return None;
    }
    Some(serde_dynamo::from_item(item.clone()).unwrap_or_else(|error| {
        tracing::warn!(%error, "unreadable stream image; read as defaults");
        T::default()
    }))
}

fn change<T: serde::de::DeserializeOwned + Default>(record: &EventRecord) -> Change<T> {
    Change {
        old: image(&record.change.old_image),
        new: image(&record.change.new_image),
    }
}

async fn apply(records: &[EventRecord], ctx: &AppContext) -> Result<(), StoreError> {
    let (Some(first), Some(last)) = (records.first(), records.last()) else {
        return Ok(());
    };
    let Some(through) = last.change.sequence_number.clone() else {
        return Ok(());
    };
    let mark = ctx.store.batch_mark(&first.event_id).await?;
    // What an earlier attempt of this batch applied is skipped.
    let pending: Vec<&EventRecord> = records
        .iter()
        .filter(|r| match (&mark.applied_through, &r.change.sequence_number) {
            (Some(done), Some(seq)) => sequence_after(seq, done),
            _ => true,
        })
        .collect();
    let partners_table = ctx.store.tables().partners.as_str();
    let partner_changes: Vec<Change<PartnerPresence>> = pending
        .iter()
        .filter(|r| table_of(r) == Some(partners_table))
        .map(|r| change(r))
        .collect();
    let delta = partner_counts_delta(&partner_changes);
    if delta.is_zero() {
        return Ok(());
    }
    let batch = Batch {
        first_event_id: first.event_id.clone(),
        previous: mark.applied_through,
        through,
    };
    ctx.store
        .apply_partner_counts(delta, &batch, chrono::Utc::now().timestamp())
        .await
}
