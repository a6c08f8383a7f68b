//! DynamoDB access. Handlers never build expressions by hand: they call the typed helpers here,
//! which follow every page to the end, retry unprocessed batch keys, stamp the audit attributes
//! on every write and turn SDK failures into a small [`StoreError`].

pub mod activity;
pub mod aggregates;
pub mod email_sync;
pub mod events;
pub mod imports;
pub mod links;
pub mod meta;
pub mod partners;
pub mod records;
pub mod stream;
mod update;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, KeysAndAttributes, Put, PutRequest, TransactWriteItem, WriteRequest,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::tables::{GsiDef, ID, Tables};

pub use update::Update;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// What went wrong talking to DynamoDB, reduced to what callers act on.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A condition expression failed (missing item, duplicate key, stale version).
    #[error("conditional check failed")]
    ConditionFailed,
    /// A transaction was cancelled; one reason code per item (`None` = that item was fine).
    #[error("transaction cancelled: {0:?}")]
    TransactionCanceled(Vec<Option<String>>),
    /// The table does not exist.
    #[error("table missing")]
    TableMissing(#[source] BoxError),
    /// Throttled or a transaction conflict: retryable.
    #[error("throttled or conflicting")]
    Throttled(#[source] BoxError),
    /// Any other SDK failure.
    #[error("dynamodb request failed")]
    Sdk(#[source] BoxError),
    /// An item did not match its Rust shape.
    #[error("item serialization failed")]
    Serde(#[from] serde_dynamo::Error),
    /// Unprocessed keys survived every retry.
    #[error("batch read incomplete after retries")]
    BatchIncomplete,
}

impl StoreError {
    /// Whether a transaction was cancelled only by failed conditions (no conflicts or throttling).
    pub fn is_condition_failure(&self) -> bool {
        match self {
            StoreError::ConditionFailed => true,
            StoreError::TransactionCanceled(reasons) => {
                reasons.iter().flatten().any(|r| r == "ConditionalCheckFailed")
                    && reasons
                        .iter()
                        .flatten()
                        .all(|r| r == "ConditionalCheckFailed" || r == "None")
            }
            _ => false,
        }
    }

    /// Whether retrying the same write later may succeed (throttling, transaction conflicts).
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Throttled(_) => true,
            StoreError::TransactionCanceled(reasons) => reasons.iter().flatten().any(|r| {
                matches!(
                    r.as_str(),
                    "TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded"
                )
            }),
            _ => false,
        }
    }

    /// Whether an optimistic write should re-read and try again: a failed condition (someone
    /// wrote first) or a transient conflict.
    pub fn should_retry(&self) -> bool {
        self.is_condition_failure() || self.is_retryable()
    }

    /// Whether item `index` of a cancelled transaction failed its condition.
    pub fn condition_failed_at(&self, index: usize) -> bool {
        match self {
            StoreError::TransactionCanceled(reasons) => {
                reasons.get(index).and_then(|r| r.as_deref()) == Some("ConditionalCheckFailed")
            }
            StoreError::ConditionFailed => true,
            _ => false,
        }
    }
}

/// Classifies an SDK error by its service error code.
pub(crate) fn classify<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match err.code() {
        Some("ConditionalCheckFailedException") => StoreError::ConditionFailed,
        Some("ResourceNotFoundException") => StoreError::TableMissing(Box::new(err)),
        Some(
            "ProvisionedThroughputExceededException"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "TransactionConflictException"
            | "TransactionInProgressException",
        ) => StoreError::Throttled(Box::new(err)),
        _ => StoreError::Sdk(Box::new(err)),
    }
}

/// DynamoDB's limit on a partition key value, in bytes.
const MAX_KEY_BYTES: usize = 2048;

/// Whether an item could have this id: DynamoDB refuses (as a 400) any key over 2,048 bytes or
/// empty, so such an id is answered as absent without asking.
pub fn key_can_exist(id: &str) -> bool {
    !id.is_empty() && id.len() <= MAX_KEY_BYTES
}

/// The DynamoDB client plus the stage's table names.
#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    tables: Tables,
}

const BATCH_GET_MAX: usize = 100;
const BATCH_RETRIES: u32 = 8;
const TRANSACT_MAX: usize = 100;
const BATCH_WRITE_MAX: usize = 25;

impl Store {
    /// A store over `client` for the given tables.
    pub fn new(client: Client, tables: Tables) -> Self {
        Self { client, tables }
    }

    /// The stage's table names.
    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// The raw client, for the table bootstrap of the local stack.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Strongly consistent GetItem by id.
    pub async fn get<T: DeserializeOwned>(&self, table: &str, id: &str) -> Result<Option<T>, StoreError> {
        if !key_can_exist(id) {
            return Ok(None);
        }
        let out = self
            .client
            .get_item()
            .table_name(table)
            .key(ID, AttributeValue::S(id.to_string()))
            .consistent_read(true)
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(classify)?;
        meter(u64::from(out.item.is_some()));
        meter_read_units(out.consumed_capacity.as_slice());
        out.item
            .map(serde_dynamo::from_item)
            .transpose()
            .map_err(StoreError::from)
    }

    /// PutItem that fails with [`StoreError::ConditionFailed`] if the id exists.
    pub async fn put_new<T: Serialize>(&self, table: &str, value: &T) -> Result<(), StoreError> {
        let item: Item = serde_dynamo::to_item(value)?;
        let out = self
            .client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#id)")
            .expression_attribute_names("#id", ID)
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(classify)?;
        meter_write_units(out.consumed_capacity.as_slice());
        Ok(())
    }

    /// UpdateItem with the audit stamps and conditions of `update`; returns the new item.
    pub async fn update<T: DeserializeOwned>(&self, table: &str, id: &str, update: &Update) -> Result<T, StoreError> {
        if !key_can_exist(id) {
            return Err(StoreError::ConditionFailed);
        }
        let expr = update.expression()?;
        let out = self
            .client
            .update_item()
            .table_name(table)
            .key(ID, AttributeValue::S(id.to_string()))
            .update_expression(expr.update)
            .set_condition_expression(expr.condition)
            .set_expression_attribute_names(Some(expr.names))
            .set_expression_attribute_values(Some(expr.values))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(classify)?;
        meter_write_units(out.consumed_capacity.as_slice());
        Ok(serde_dynamo::from_item(out.attributes.unwrap_or_default())?)
    }

    /// Every item of a GSI partition, following LastEvaluatedKey past the 1 MB page.
    pub async fn query_index<T: DeserializeOwned>(
        &self,
        table: &str,
        index: GsiDef,
        hash: &str,
    ) -> Result<Vec<T>, StoreError> {
        Ok(self.query(IndexQuery::new(table, index, hash)).await?.0)
    }

    /// Runs `query` page by page: to the end, or until its `limit` is reached (then with the
    /// key to continue from). The one Query loop every index read goes through.
    pub async fn query<T: DeserializeOwned>(
        &self,
        query: IndexQuery<'_>,
    ) -> Result<(Vec<T>, Option<Item>), StoreError> {
        let mut items = Vec::new();
        if !key_can_exist(query.hash) {
            return Ok((items, None));
        }
        let mut start = query.start;
        let key_condition = match (query.range_at_least, query.range_at_most) {
            (Some(_), Some(_)) => "#h = :h AND #r BETWEEN :from AND :r",
            (Some(_), None) => "#h = :h AND #r >= :from",
            (None, Some(_)) => "#h = :h AND #r <= :r",
            (None, None) => "#h = :h",
        };
        loop {
            let remaining = query.limit.map(|l| l.saturating_sub(items.len()).min(1000) as i32);
            let mut request = self
                .client
                .query()
                .table_name(query.table)
                // The table's own key (an unnamed "index") is queried without an index name.
                .set_index_name((!query.index.name.is_empty()).then(|| query.index.name.to_string()))
                .key_condition_expression(key_condition)
                .expression_attribute_names("#h", query.index.hash_key)
                .expression_attribute_values(":h", AttributeValue::S(query.hash.to_string()))
                .scan_index_forward(!query.newest_first)
                .set_consistent_read(query.consistent.then_some(true))
                .set_limit(remaining)
                .set_exclusive_start_key(start.take());
            if let Some(bound) = query.range_at_most {
                request = request.expression_attribute_values(":r", AttributeValue::S(bound.to_string()));
            }
            if let Some(bound) = query.range_at_least {
                request = request.expression_attribute_values(":from", AttributeValue::S(bound.to_string()));
            }
            if query.range_at_least.is_some() || query.range_at_most.is_some() {
                request = request.expression_attribute_names("#r", query.index.range_key);
            }
            let out = request
                .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(classify)?;
            read_page(out.scanned_count, out.consumed_capacity.as_ref(), out.items, &mut items)?;
            match (out.last_evaluated_key.filter(|k| !k.is_empty()), query.limit) {
                (None, _) => return Ok((items, None)),
                (Some(key), Some(limit)) if items.len() >= limit => return Ok((items, Some(key))),
                (Some(key), _) => start = Some(key),
            }
        }
    }

    /// One page of a scan (at most `limit` items) and the key to continue from.
    pub async fn scan_page<T: DeserializeOwned>(
        &self,
        table: &str,
        start: Option<Item>,
        limit: i32,
    ) -> Result<(Vec<T>, Option<Item>), StoreError> {
        let (items, next) = self.scan_page_items(table, start, limit).await?;
        let items = items
            .into_iter()
            .map(serde_dynamo::from_item)
            .collect::<Result<Vec<T>, _>>()?;
        Ok((items, next))
    }

    /// [`Store::scan_page`] as raw items, for a job that must read each one on its own (and
    /// skip, not stop at, one it cannot read).
    pub async fn scan_page_items(
        &self,
        table: &str,
        start: Option<Item>,
        limit: i32,
    ) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let out = self
            .client
            .scan()
            .table_name(table)
            .limit(limit)
            .set_exclusive_start_key(start)
            .consistent_read(true)
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(classify)?;
        meter_count(out.scanned_count);
        meter_read_units(out.consumed_capacity.as_slice());
        Ok((
            out.items.unwrap_or_default(),
            out.last_evaluated_key.filter(|k| !k.is_empty()),
        ))
    }

    /// Every item of a table, page by page. Only for jobs and answers that are the whole table.
    pub async fn scan_all<T: DeserializeOwned + Send>(&self, table: &str) -> Result<Vec<T>, StoreError> {
        self.scan_parallel(table, &[], 1).await
    }

    /// Every item of a table, reading only `fields` (all when empty), in `segments` parallel scan
    /// segments, each to the end of its pages. Eventually consistent: a whole-table answer (the
    /// directory, the export, as the old service) at half the read units of a consistent scan.
    pub async fn scan_parallel<T: DeserializeOwned + Send>(
        &self,
        table: &str,
        fields: &[&str],
        segments: i32,
    ) -> Result<Vec<T>, StoreError> {
        let (projection, names) = projection(fields);
        let segment = |index: i32| {
            let (projection, names) = (projection.clone(), names.clone());
            async move {
                let mut items = Vec::new();
                let mut start: Option<Item> = None;
                loop {
                    let out = self
                        .client
                        .scan()
                        .table_name(table)
                        .segment(index)
                        .total_segments(segments)
                        .set_projection_expression(projection.clone())
                        .set_expression_attribute_names(names.clone())
                        .set_exclusive_start_key(start.take())
                        .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
                        .send()
                        .await
                        .map_err(classify)?;
                    read_page(out.scanned_count, out.consumed_capacity.as_ref(), out.items, &mut items)?;
                    match out.last_evaluated_key {
                        Some(key) if !key.is_empty() => start = Some(key),
                        _ => return Ok::<_, StoreError>(items),
                    }
                }
            }
        };
        let parts = futures::future::try_join_all((0..segments.max(1)).map(segment)).await?;
        Ok(parts.into_iter().flatten().collect())
    }

    /// Strongly consistent BatchGetItem by ids (deduplicated), in chunks of 100, retrying
    /// unprocessed keys with exponential backoff. Missing ids are simply absent from the result.
    pub async fn batch_get<T: DeserializeOwned>(&self, table: &str, ids: &[String]) -> Result<Vec<T>, StoreError> {
        self.batch_get_fields(table, ids, &[]).await
    }

    /// [`Store::batch_get`] reading only `fields` (all when empty): less to transfer and parse
    /// when a caller needs a few attributes of large items.
    pub async fn batch_get_fields<T: DeserializeOwned>(
        &self,
        table: &str,
        ids: &[String],
        fields: &[&str],
    ) -> Result<Vec<T>, StoreError> {
        self.batch_get_with(table, ids, fields, true).await
    }

    /// [`Store::batch_get_fields`] eventually consistent, at half the read units: for what is only
    /// shown beside the answer (a partner's name on a sponsorship row), never decided on.
    pub async fn batch_get_cards<T: DeserializeOwned>(
        &self,
        table: &str,
        ids: &[String],
        fields: &[&str],
    ) -> Result<Vec<T>, StoreError> {
        self.batch_get_with(table, ids, fields, false).await
    }

    async fn batch_get_with<T: DeserializeOwned>(
        &self,
        table: &str,
        ids: &[String],
        fields: &[&str],
        consistent: bool,
    ) -> Result<Vec<T>, StoreError> {
        let (projection, names) = projection(fields);
        let mut unique: Vec<&String> = ids.iter().filter(|id| key_can_exist(id)).collect();
        unique.sort();
        unique.dedup();
        // The chunks are read at once: a page of cards is one round trip, not one per 100.
        let chunks = unique.chunks(BATCH_GET_MAX).map(|chunk| {
            let projection = projection.clone();
            let names = names.clone();
            async move {
                let keys: Vec<Item> = chunk
                    .iter()
                    .map(|id| HashMap::from([(ID.to_string(), AttributeValue::S((*id).clone()))]))
                    .collect();
                let mut pending = Some(
                    KeysAndAttributes::builder()
                        .set_keys(Some(keys))
                        .consistent_read(consistent)
                        .set_projection_expression(projection)
                        .set_expression_attribute_names(names)
                        .build()
                        .map_err(|e| StoreError::Sdk(Box::new(e)))?,
                );
                let mut items = Vec::with_capacity(chunk.len());
                let mut attempt = 0;
                while let Some(request) = pending.take() {
                    let out = self
                        .client
                        .batch_get_item()
                        .request_items(table, request)
                        .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
                        .send()
                        .await
                        .map_err(classify)?;
                    meter_read_units(out.consumed_capacity.as_deref().unwrap_or_default());
                    let found = out.responses.and_then(|mut r| r.remove(table)).unwrap_or_default();
                    meter(found.len() as u64);
                    for item in found {
                        items.push(serde_dynamo::from_item(item)?);
                    }
                    pending = out
                        .unprocessed_keys
                        .and_then(|mut u| u.remove(table))
                        .filter(|k| !k.keys.is_empty());
                    if pending.is_some() {
                        attempt += 1;
                        if attempt > BATCH_RETRIES {
                            return Err(StoreError::BatchIncomplete);
                        }
                        backoff(attempt).await;
                    }
                }
                Ok::<Vec<T>, StoreError>(items)
            }
        });
        let pages = futures::future::try_join_all(chunks).await?;
        Ok(pages.into_iter().flatten().collect())
    }

    /// BatchWriteItem of any number of puts and deletes on `table`, 25 a call, retrying
    /// unprocessed items with backoff: the one batch-write loop.
    pub async fn batch_write(&self, table: &str, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        for chunk in requests.chunks(BATCH_WRITE_MAX) {
            let mut pending = chunk.to_vec();
            let mut attempt = 0;
            while !pending.is_empty() {
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(table, pending)
                    .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
                    .send()
                    .await
                    .map_err(classify)?;
                meter_write_units(out.consumed_capacity.as_deref().unwrap_or_default());
                pending = out
                    .unprocessed_items
                    .and_then(|mut u| u.remove(table))
                    .unwrap_or_default();
                if !pending.is_empty() {
                    attempt += 1;
                    if attempt > BATCH_RETRIES {
                        return Err(StoreError::BatchIncomplete);
                    }
                    backoff(attempt).await;
                }
            }
        }
        Ok(())
    }

    /// Puts every value of `items` into `table` (overwriting), in batches.
    pub async fn put_all<T: Serialize>(&self, table: &str, items: &[T]) -> Result<(), StoreError> {
        let requests = items
            .iter()
            .map(|value| {
                let put = PutRequest::builder()
                    .set_item(Some(serde_dynamo::to_item(value)?))
                    .build()
                    .map_err(|e| StoreError::Sdk(Box::new(e)))?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.batch_write(table, requests).await
    }

    /// TransactWriteItems (at most 100 items): all or nothing.
    pub async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        debug_assert!(items.len() <= TRANSACT_MAX);
        let out = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|err| match err.as_service_error() {
                Some(aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(e)) => {
                    StoreError::TransactionCanceled(
                        e.cancellation_reasons().iter().map(|r| r.code().map(str::to_string)).collect(),
                    )
                }
                _ => classify(err),
            })?;
        meter_write_units(out.consumed_capacity.as_deref().unwrap_or_default());
        Ok(())
    }
}

/// Meters a Query or Scan page (items scanned, read units) and parses its items into `into`.
fn read_page<T: DeserializeOwned>(
    scanned: i32,
    capacity: Option<&aws_sdk_dynamodb::types::ConsumedCapacity>,
    items: Option<Vec<Item>>,
    into: &mut Vec<T>,
) -> Result<(), StoreError> {
    meter_count(scanned);
    meter_read_units(capacity.map(std::slice::from_ref).unwrap_or_default());
    for item in items.unwrap_or_default() {
        into.push(serde_dynamo::from_item(item)?);
    }
    Ok(())
}

/// A projection expression over `fields` (none when empty) with its `#pN` names: every field
/// goes through a placeholder, so reserved words (`name`, `status`, `year`) need no care.
fn projection(fields: &[&str]) -> (Option<String>, Option<HashMap<String, String>>) {
    if fields.is_empty() {
        return (None, None);
    }
    let expression = (0..fields.len())
        .map(|i| format!("#p{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    let names = fields
        .iter()
        .enumerate()
        .map(|(i, f)| (format!("#p{i}"), f.to_string()))
        .collect();
    (Some(expression), Some(names))
}

/// How many times an optimistic write re-reads and retries before answering 503.
pub const WRITE_ATTEMPTS: u32 = 16;

/// Waits before retry `attempt` of an optimistic write (see [`crate::retry::Backoff::WRITES`]).
pub async fn backoff(attempt: u32) {
    crate::retry::Backoff::WRITES.wait(attempt).await;
}

/// A Query on a GSI partition: optionally range-bounded (`range <= bound`, string ranges),
/// newest first, limited, resumed from a key.
#[derive(Debug, Clone)]
pub struct IndexQuery<'a> {
    pub table: &'a str,
    pub index: GsiDef,
    pub hash: &'a str,
    pub range_at_most: Option<&'a str>,
    pub range_at_least: Option<&'a str>,
    pub newest_first: bool,
    pub limit: Option<usize>,
    pub start: Option<Item>,
    /// Strongly consistent (a table's own key only: an index cannot be read consistently).
    pub consistent: bool,
}

impl<'a> IndexQuery<'a> {
    /// The whole partition `hash` of `index`, oldest first.
    pub fn new(table: &'a str, index: GsiDef, hash: &'a str) -> Self {
        Self {
            table,
            index,
            hash,
            range_at_most: None,
            range_at_least: None,
            newest_first: false,
            limit: None,
            start: None,
            consistent: false,
        }
    }
}

/// The attempts of one optimistic write: `next` waits out the backoff before each retry and
/// gives up (503, retryable by the client) once [`WRITE_ATTEMPTS`] are spent.
#[derive(Debug, Default)]
pub struct Retries {
    attempt: u32,
}

impl Retries {
    /// Starts the next attempt.
    pub async fn next(&mut self) -> Result<(), crate::ApiError> {
        if self.attempt >= WRITE_ATTEMPTS {
            return Err(crate::ApiError::Unavailable(StoreError::ConditionFailed));
        }
        if self.attempt > 0 {
            backoff(self.attempt).await;
        }
        self.attempt += 1;
        Ok(())
    }

    /// Whether the current attempt is a retry (the data read before may be stale).
    pub fn retrying(&self) -> bool {
        self.attempt > 1
    }
}

/// Transaction item: writes nothing, but cancels the transaction unless item `id` of `table`
/// exists with every attribute of `equals` as given.
pub fn expect_item(table: &str, id: &str, equals: &[(&str, AttributeValue)]) -> Result<TransactWriteItem, StoreError> {
    let mut names = HashMap::from([("#id".to_string(), ID.to_string())]);
    let mut values = HashMap::new();
    let mut condition = vec!["attribute_exists(#id)".to_string()];
    for (i, (attr, value)) in equals.iter().enumerate() {
        names.insert(format!("#c{i}"), attr.to_string());
        values.insert(format!(":c{i}"), value.clone());
        condition.push(format!("#c{i} = :c{i}"));
    }
    let check = aws_sdk_dynamodb::types::ConditionCheck::builder()
        .table_name(table)
        .key(ID, AttributeValue::S(id.to_string()))
        .condition_expression(condition.join(" AND "))
        .set_expression_attribute_names(Some(names))
        .set_expression_attribute_values((!values.is_empty()).then_some(values))
        .build()
        .map_err(|e| StoreError::Sdk(Box::new(e)))?;
    Ok(TransactWriteItem::builder().condition_check(check).build())
}

/// Transaction item: put `value` as a new item (fails if the id exists).
pub fn put_new_item(table: &str, value: &impl Serialize) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(serde_dynamo::to_item(value)?))
        .condition_expression("attribute_not_exists(#id)")
        .expression_attribute_names("#id", ID)
        .build()
        .map_err(|e| StoreError::Sdk(Box::new(e)))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

fn version_condition(expected: u64) -> (String, Option<AttributeValue>) {
    if expected == 0 {
        ("attribute_exists(#id) AND attribute_not_exists(#version)".into(), None)
    } else {
        (
            "attribute_exists(#id) AND #version = :expected".into(),
            Some(AttributeValue::N(expected.to_string())),
        )
    }
}

/// The condition, names and values that require the stored `version` to be `expected`.
type VersionGuard = (String, HashMap<String, String>, Option<HashMap<String, AttributeValue>>);

fn version_guard(expected: u64) -> VersionGuard {
    let (condition, expected_value) = version_condition(expected);
    let names = HashMap::from([
        ("#id".to_string(), ID.to_string()),
        ("#version".to_string(), "version".to_string()),
    ]);
    (
        condition,
        names,
        expected_value.map(|v| HashMap::from([(":expected".to_string(), v)])),
    )
}

/// Transaction item: replace an item whose stored `version` is still `expected`.
pub fn put_versioned_item(table: &str, value: &impl Serialize, expected: u64) -> Result<TransactWriteItem, StoreError> {
    let (condition, names, values) = version_guard(expected);
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(serde_dynamo::to_item(value)?))
        .condition_expression(condition)
        .set_expression_attribute_names(Some(names))
        .set_expression_attribute_values(values)
        .build()
        .map_err(|e| StoreError::Sdk(Box::new(e)))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// Transaction item: delete an item whose stored `version` is still `expected`.
pub fn delete_versioned_item(table: &str, id: &str, expected: u64) -> Result<TransactWriteItem, StoreError> {
    let (condition, names, values) = version_guard(expected);
    let delete = Delete::builder()
        .table_name(table)
        .key(ID, AttributeValue::S(id.to_string()))
        .condition_expression(condition)
        .set_expression_attribute_names(Some(names))
        .set_expression_attribute_values(values)
        .build()
        .map_err(|e| StoreError::Sdk(Box::new(e)))?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

/// A string attribute value.
pub fn string_attr(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_string())
}

/// What one request cost in DynamoDB: items read (returned or scanned) and capacity units as
/// DynamoDB reports them (`ReturnConsumedCapacity: TOTAL` on every call, indexes included).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Metered {
    pub items_read: u64,
    pub read_units: f64,
    pub write_units: f64,
}

tokio::task_local! {
    static METER: std::cell::Cell<Metered>;
}

/// Runs `future`, metering the DynamoDB items and capacity units it uses.
pub async fn metered<F: std::future::Future>(future: F) -> (F::Output, Metered) {
    METER
        .scope(std::cell::Cell::new(Metered::default()), async {
            let output = future.await;
            (output, METER.with(|c| c.get()))
        })
        .await
}

fn record(change: impl FnOnce(&mut Metered)) {
    let _ = METER.try_with(|c| {
        let mut m = c.get();
        change(&mut m);
        c.set(m);
    });
}

fn meter(items: u64) {
    record(|m| m.items_read += items);
}

pub(crate) fn meter_count(count: i32) {
    meter(u64::try_from(count).unwrap_or(0));
}

fn units(capacity: &[aws_sdk_dynamodb::types::ConsumedCapacity]) -> f64 {
    capacity.iter().filter_map(|c| c.capacity_units).sum()
}

/// Records the read units a call consumed.
pub(crate) fn meter_read_units(capacity: &[aws_sdk_dynamodb::types::ConsumedCapacity]) {
    let read = units(capacity);
    record(|m| m.read_units += read);
}

/// Records the write units a call consumed.
pub(crate) fn meter_write_units(capacity: &[aws_sdk_dynamodb::types::ConsumedCapacity]) {
    let written = units(capacity);
    record(|m| m.write_units += written);
}

/// An item read into its Rust shape.
pub fn parse_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    Ok(serde_dynamo::from_item(item)?)
}

/// An item as a JSON object (numbers stay numbers), for records shown as stored.
pub fn item_to_json(item: Item) -> Result<Map<String, Value>, StoreError> {
    Ok(serde_dynamo::from_item(item)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancellation_reasons_classify() {
        let e = StoreError::TransactionCanceled(vec![Some("ConditionalCheckFailed".into()), Some("None".into())]);
        assert!(e.is_condition_failure());
        assert!(e.condition_failed_at(0));
        assert!(!e.condition_failed_at(1));
        let e = StoreError::TransactionCanceled(vec![
            Some("ConditionalCheckFailed".into()),
            Some("TransactionConflict".into()),
        ]);
        assert!(!e.is_condition_failure());
    }
}
