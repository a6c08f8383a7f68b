//! Local stand-in for Lambda's event source mappings on DynamoDB Streams: for every `Type:
//! DynamoDB` event in the template, reads the table's stream from DynamoDB Local under the
//! function's role (as the mapping does on AWS), hands each shard's records to the function in
//! order, in batches of at most `BatchSize`, as the documented Lambda event, and on a partial
//! batch failure starts again at the record the function names.

use std::collections::BTreeMap;

use aws_sdk_dynamodbstreams::Client as StreamsClient;
use aws_sdk_dynamodbstreams::error::ProvideErrorMetadata;
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use base64::Engine;
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;

use crate::functions::{Functions, dispatch_stream};
use crate::iam::Stage;
use crate::template::Template;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Consecutive failed attempts of one batch before a drain gives up (the mapping itself retries
/// for as long as the template says; a test wants the failure).
const DRAIN_ATTEMPTS: u32 = 5;

/// One mapping: a function fed by one table's stream.
#[derive(Debug)]
struct Mapping {
    binary: String,
    table: String,
    batch_size: usize,
    stream_arn: Option<String>,
    client: StreamsClient,
    shards: BTreeMap<String, Shard>,
}

/// Where the mapping stands in one shard.
#[derive(Debug, Clone, Default)]
struct Shard {
    /// The next iterator (`None` once a closed shard is read to its end).
    iterator: Option<String>,
    /// The last record delivered, to resume after when an iterator must be renewed.
    delivered_through: Option<String>,
}

/// What the stream processor has done and cost since start: the write units a write causes off
/// its request path, which the benchmark reports beside the request's own.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StreamStats {
    pub invocations: u64,
    pub records: u64,
    pub read_units: f64,
    pub write_units: f64,
}

/// Every event source mapping of the template.
#[derive(Debug)]
pub struct StreamPoller {
    mappings: Mutex<Vec<Mapping>>,
    stats: std::sync::Mutex<StreamStats>,
    functions: Functions,
    admin: aws_sdk_dynamodb::Client,
    stage: Stage,
}

/// Errors after which a shard's iterator is renewed rather than the round failed.
fn renewable(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("TrimmedDataAccessException" | "ExpiredIteratorException" | "ResourceNotFoundException")
    )
}

/// The endpoint DynamoDB Local serves streams on (the DynamoDB one, unless set apart).
fn streams_endpoint() -> Option<String> {
    std::env::var("AWS_ENDPOINT_URL_DYNAMODB_STREAMS")
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL_DYNAMODB"))
        .ok()
}

/// A stream attribute value as the Lambda event writes it (DynamoDB JSON).
fn attribute_json(value: &AttributeValue) -> Value {
    let b64 = |bytes: &[u8]| Value::String(base64::engine::general_purpose::STANDARD.encode(bytes));
    match value {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::B(b) => json!({"B": b64(b.as_ref())}),
        AttributeValue::Ss(items) => json!({"SS": items}),
        AttributeValue::Ns(items) => json!({"NS": items}),
        AttributeValue::Bs(items) => json!({"BS": items.iter().map(|b| b64(b.as_ref())).collect::<Vec<_>>()}),
        AttributeValue::L(items) => json!({"L": items.iter().map(attribute_json).collect::<Vec<_>>()}),
        AttributeValue::M(map) => json!({"M": item_json(map)}),
        _ => json!({"NULL": true}),
    }
}

fn item_json(item: &std::collections::HashMap<String, AttributeValue>) -> Value {
    Value::Object(
        item.iter()
            .map(|(k, v)| (k.clone(), attribute_json(v)))
            .collect::<Map<_, _>>(),
    )
}

/// One record in the shape Lambda delivers (`Records[]` of a DynamoDB stream event).
fn lambda_record(record: &Record, stream_arn: &str, region: &str) -> Value {
    let change = record.dynamodb.as_ref();
    let mut dynamodb = Map::new();
    if let Some(change) = change {
        if let Some(at) = change.approximate_creation_date_time {
            dynamodb.insert("ApproximateCreationDateTime".into(), json!(at.secs()));
        }
        for (key, image) in [
            ("Keys", &change.keys),
            ("NewImage", &change.new_image),
            ("OldImage", &change.old_image),
        ] {
            if let Some(image) = image {
                dynamodb.insert(key.into(), item_json(image));
            }
        }
        dynamodb.insert("SequenceNumber".into(), json!(change.sequence_number));
        dynamodb.insert("SizeBytes".into(), json!(change.size_bytes.unwrap_or(0)));
        dynamodb.insert(
            "StreamViewType".into(),
            json!(change.stream_view_type.as_ref().map(|v| v.as_str())),
        );
    }
    json!({
        "eventID": record.event_id,
        "eventName": record.event_name.as_ref().map(|n| n.as_str()),
        "eventVersion": record.event_version,
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "eventSourceARN": stream_arn,
        "dynamodb": dynamodb,
    })
}

impl StreamPoller {
    /// The template's mappings for stage `env`. An unrestricted client from `sdk` finds each
    /// table's stream (deploy-time knowledge on AWS); the functions' own roles read them.
    pub fn new(template: &Template, functions: Functions, sdk: &aws_config::SdkConfig, env: &str) -> Self {
        let region = sdk.region().map_or_else(|| "us-east-1".to_string(), |r| r.to_string());
        let stage = Stage::local(env, &region);
        let admin = aws_sdk_dynamodb::Client::new(sdk);
        let mappings = template
            .functions
            .iter()
            .flat_map(|f| f.stream_sources.iter().map(move |s| (f, s)))
            .filter_map(|(function, source)| {
                let sdk = functions.sdk_config(&function.binary)?;
                let mut config = aws_sdk_dynamodbstreams::config::Builder::from(sdk);
                if let Some(endpoint) = streams_endpoint() {
                    config = config.endpoint_url(endpoint);
                }
                let table = template
                    .tables
                    .iter()
                    .find(|t| t.logical_id == source.table_logical_id)?
                    .name_for(&stage.env);
                Some(Mapping {
                    binary: function.binary.clone(),
                    table,
                    batch_size: source.batch_size.clamp(1, 1000),
                    stream_arn: None,
                    client: StreamsClient::from_conf(config.build()),
                    shards: BTreeMap::new(),
                })
            })
            .collect();
        Self {
            mappings: Mutex::new(mappings),
            stats: std::sync::Mutex::new(StreamStats::default()),
            functions,
            admin,
            stage,
        }
    }

    /// Delivers every record written so far, batch by batch, until the streams are read to
    /// their current end; answers how many records were delivered. Fails when a batch keeps
    /// failing (the mapping would keep retrying it).
    pub async fn drain(&self) -> Result<usize, BoxError> {
        let mut mappings = self.mappings.lock().await;
        let mut delivered = 0;
        for mapping in mappings.iter_mut() {
            delivered += self.drain_mapping(mapping).await?;
        }
        Ok(delivered)
    }

    /// What the processor has done and cost so far.
    pub fn stats(&self) -> StreamStats {
        self.stats.lock().map(|s| *s).unwrap_or_default()
    }

    /// Drains every `every` until the process ends (the mapping's polling).
    pub fn spawn(self: std::sync::Arc<Self>, every: std::time::Duration) {
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(every);
            loop {
                ticker.tick().await;
                if let Err(error) = self.drain().await {
                    tracing::error!(error = ?error, "stream delivery failed; retrying");
                }
            }
        });
    }

    async fn drain_mapping(&self, mapping: &mut Mapping) -> Result<usize, BoxError> {
        let Some(stream_arn) = self.stream_arn(mapping).await? else {
            return Ok(0);
        };
        self.discover_shards(mapping, &stream_arn).await?;
        let mut delivered = 0;
        let shard_ids: Vec<String> = mapping.shards.keys().cloned().collect();
        for shard_id in shard_ids {
            let mut failures = 0;
            let mut renewed = false;
            while let Some(shard) = mapping.shards.get(&shard_id).cloned() {
                let Some(iterator) = shard.iterator else { break };
                let out = match mapping
                    .client
                    .get_records()
                    .shard_iterator(iterator)
                    .limit(mapping.batch_size as i32)
                    .send()
                    .await
                {
                    Ok(out) => out,
                    // DynamoDB Local may call an iterator taken on an empty shard trimmed (a known
                    // fault of it), and any iterator expires: renew it once from what was delivered.
                    Err(e) if !renewed && renewable(e.code()) => {
                        renewed = true;
                        let iterator = self
                            .iterator_after(mapping, &stream_arn, &shard_id, shard.delivered_through.as_deref())
                            .await?;
                        if let Some(state) = mapping.shards.get_mut(&shard_id) {
                            state.iterator = iterator;
                        }
                        continue;
                    }
                    Err(e) => {
                        tracing::warn!(table = %mapping.table, shard = %shard_id, renewed, through = ?shard.delivered_through, code = ?e.code(), "GetRecords failed");
                        return Err(e.into());
                    }
                };
                renewed = false;
                let records = out.records.unwrap_or_default();
                if records.is_empty() {
                    // Read to the current end (an open shard keeps its iterator for later).
                    if let Some(state) = mapping.shards.get_mut(&shard_id) {
                        state.iterator = out.next_shard_iterator;
                    }
                    break;
                }
                match self.deliver(mapping, &stream_arn, &records).await? {
                    None => {
                        delivered += records.len();
                        failures = 0;
                        if let Some(state) = mapping.shards.get_mut(&shard_id) {
                            state.iterator = out.next_shard_iterator;
                            state.delivered_through = records
                                .last()
                                .and_then(|r| r.dynamodb.as_ref())
                                .and_then(|d| d.sequence_number.clone());
                        }
                    }
                    Some(sequence) => {
                        failures += 1;
                        if failures >= DRAIN_ATTEMPTS {
                            return Err(format!(
                                "{}: the batch at {sequence} of {} failed {failures} times",
                                mapping.binary, mapping.table
                            )
                            .into());
                        }
                        let again = mapping
                            .client
                            .get_shard_iterator()
                            .stream_arn(&stream_arn)
                            .shard_id(&shard_id)
                            .shard_iterator_type(ShardIteratorType::AtSequenceNumber)
                            .sequence_number(sequence)
                            .send()
                            .await?;
                        if let Some(state) = mapping.shards.get_mut(&shard_id) {
                            state.iterator = again.shard_iterator;
                        }
                        tokio::time::sleep(std::time::Duration::from_millis(20 << failures)).await;
                    }
                }
            }
        }
        Ok(delivered)
    }

    /// A fresh iterator just after `through` (the shard's start when nothing was delivered).
    async fn iterator_after(
        &self,
        mapping: &Mapping,
        stream_arn: &str,
        shard_id: &str,
        through: Option<&str>,
    ) -> Result<Option<String>, BoxError> {
        let request = mapping
            .client
            .get_shard_iterator()
            .stream_arn(stream_arn)
            .shard_id(shard_id);
        let request = match through {
            Some(sequence) => request
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(sequence),
            None => request.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        Ok(request.send().await?.shard_iterator)
    }

    /// Calls the function with one batch; answers the sequence number to resume at on failure.
    async fn deliver(
        &self,
        mapping: &Mapping,
        stream_arn: &str,
        records: &[Record],
    ) -> Result<Option<String>, BoxError> {
        let homed = self
            .stage
            .table_arn(stream_arn.split_once(":table/").map_or(stream_arn, |(_, rest)| rest));
        let event = json!({"Records": records.iter().map(|r| lambda_record(r, &homed, &self.stage.region)).collect::<Vec<_>>()});
        let event = serde_json::from_value(event)?;
        let ctx = self
            .functions
            .context(&mapping.binary)
            .ok_or_else(|| format!("no function {}", mapping.binary))?;
        let (response, cost) = shared::store::metered(dispatch_stream(&mapping.binary, event, ctx)).await;
        let response = response.ok_or_else(|| format!("{} has no stream handler", mapping.binary))?;
        if let Ok(mut stats) = self.stats.lock() {
            stats.invocations += 1;
            stats.records += records.len() as u64;
            stats.read_units += cost.read_units;
            stats.write_units += cost.write_units;
        }
        Ok(response.batch_item_failures.into_iter().find_map(|f| f.item_identifier))
    }

    async fn stream_arn(&self, mapping: &mut Mapping) -> Result<Option<String>, BoxError> {
        if mapping.stream_arn.is_none() {
            let described = self.admin.describe_table().table_name(&mapping.table).send().await?;
            mapping.stream_arn = described.table.and_then(|t| t.latest_stream_arn);
        }
        Ok(mapping.stream_arn.clone())
    }

    /// Adds shards the mapping has not seen, each read from its start (`TRIM_HORIZON`).
    async fn discover_shards(&self, mapping: &mut Mapping, stream_arn: &str) -> Result<(), BoxError> {
        let mut start: Option<String> = None;
        loop {
            let out = mapping
                .client
                .describe_stream()
                .stream_arn(stream_arn)
                .set_exclusive_start_shard_id(start.take())
                .send()
                .await?;
            let description = out.stream_description;
            let shards = description.as_ref().and_then(|d| d.shards.clone()).unwrap_or_default();
            for shard in shards {
                let Some(id) = shard.shard_id else { continue };
                if mapping.shards.contains_key(&id) {
                    continue;
                }
                let iterator = self.iterator_after(mapping, stream_arn, &id, None).await?;
                mapping.shards.insert(
                    id,
                    Shard {
                        iterator,
                        delivered_through: None,
                    },
                );
            }
            match description.and_then(|d| d.last_evaluated_shard_id) {
                Some(last) => start = Some(last),
                None => return Ok(()),
            }
        }
    }
}
