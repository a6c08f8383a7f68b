//! The aggregates table (`domain::aggregates` says what each row means). Partitions:
//! - `event#<eventId>` / `summary`: `n#<status>` and `c#<status>` (links and cents per status),
//!   `lastActivityAt`;
//! - `due#<eventId>` / `<date>#<linkId>`: the links with a follow-up date, by date;
//! - `stale#<eventId>` / `<touched ms>#<linkId>`: the stale candidates, by last touch;
//! - `members#<year>` and `members#all` / `<partnerId>`: `events`, the partner's events there;
//!   `/ #count`: `partners` (with any) and `visiblePartners` (with one not archived);
//! - `event#<eventId>` and `tally#general` / `m#<YYYY-MM>`: per day of the month, `<t><DD>`
//!   for each [`Tally`] `t` (`ld` links due, `lo` of them open, `st` stale candidates by last
//!   touch, `cd` communications due); `/ y#<YYYY>`: the year's sums, `<t>` (so the dashboard
//!   reads past years as one row each);
//! - `cdue#event#<eventId>` and `cdue#general` / `<date>#<commId>`: open communication
//!   follow-ups, by date;
//! - `orphans` / `<eventId>`: deleted events (`year`), whose communications still count.
//!
//! Counters (status totals, member counts) are moved exactly once per stream record (the batch
//! mark of `store::stream`, or a condition on the member row's version); the rows of links are
//! put and deleted by key, so a replay writes the same state again.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, TransactWriteItem, WriteRequest};
use chrono::{Datelike, NaiveDate};
use serde::Deserialize;

use super::{IndexQuery, Item, Store, StoreError, Update, classify, meter_read_units, meter_write_units};
use crate::domain::aggregates::{
    DayTallies, EventAggregate, LinkFacts, MemberRow, PartnerNames, QueueKey, StatusDelta, StatusTotals, Tally,
    TallyDelta,
};
use crate::tables::{AGGREGATE_KEY, AGGREGATE_PK, AGGREGATE_SK};

const SUMMARY: &str = "summary";
const COUNT: &str = "#count";
const LAST_ACTIVITY: &str = "lastActivityAt";
/// Which partners-per-scope partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Partition {
    Year(i32),
    AllYears,
}

impl Partition {
    /// From a membership's year (`None` = all years).
    pub fn of(year: Option<i32>) -> Self {
        year.map_or(Self::AllYears, Self::Year)
    }

    fn pk(self) -> String {
        match self {
            Self::Year(year) => format!("members#{year}"),
            Self::AllYears => "members#all".into(),
        }
    }
}

/// A row's key.
fn key(pk: &str, sk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (AGGREGATE_PK.to_string(), AttributeValue::S(pk.to_string())),
        (AGGREGATE_SK.to_string(), AttributeValue::S(sk.to_string())),
    ])
}

fn summary_pk(event_id: &str) -> String {
    format!("event#{event_id}")
}

/// The partition of an event's secured (confirmed or paid) deals, by partner: what renewals
/// read, one partition per earlier event.
pub fn secured_pk(event_id: &str) -> String {
    format!("secured#{event_id}")
}

/// The partition of an event's due follow-ups.
pub fn due_pk(event_id: &str) -> String {
    format!("due#{event_id}")
}

/// The partition of an event's stale candidates.
pub fn stale_pk(event_id: &str) -> String {
    format!("stale#{event_id}")
}

/// The partition of a queue's day tallies.
pub fn tally_pk(key: &QueueKey) -> String {
    match key {
        // Beside the event's summary row, so one Query reads both.
        QueueKey::Event(id) => summary_pk(id),
        QueueKey::General => "tally#general".into(),
    }
}

/// The partition of a queue's open communication follow-ups.
pub fn comm_due_pk(key: &QueueKey) -> String {
    match key {
        QueueKey::Event(id) => format!("cdue#event#{id}"),
        QueueKey::General => "cdue#general".into(),
    }
}

const ORPHANS: &str = "orphans";

fn month_sk(day: NaiveDate) -> String {
    format!("m#{:04}-{:02}", day.year(), day.month())
}

fn year_sk(year: i32) -> String {
    format!("y#{year:04}")
}

/// A conditional update whose condition found a newer value already there did what it had to.
fn done_unless_failed<R>(
    out: Result<
        aws_sdk_dynamodb::operation::update_item::UpdateItemOutput,
        aws_sdk_dynamodb::error::SdkError<aws_sdk_dynamodb::operation::update_item::UpdateItemError, R>,
    >,
) -> Result<(), StoreError>
where
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match out {
        Ok(out) => {
            meter_write_units(out.consumed_capacity.as_slice());
            Ok(())
        }
        Err(e) => match classify(e) {
            StoreError::ConditionFailed => Ok(()),
            other => Err(other),
        },
    }
}

/// An event's aggregate from its summary row.
fn aggregate_of(row: &HashMap<String, serde_json::Value>) -> EventAggregate {
    let mut aggregate = EventAggregate::default();
    for (attr, value) in row {
        let number = value.as_i64().or_else(|| value.as_f64().map(|f| f as i64)).unwrap_or(0);
        if let Some(status) = attr.strip_prefix("n#") {
            aggregate.by_status.entry(status.to_string()).or_default().count = number;
        } else if let Some(status) = attr.strip_prefix("c#") {
            aggregate.by_status.entry(status.to_string()).or_default().cents = number;
        } else if attr == LAST_ACTIVITY {
            aggregate.last_link_activity_at = number;
        }
    }
    aggregate.by_status.retain(|_, t| *t != StatusTotals::default());
    aggregate
}

/// The member counters row.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct MemberCounts {
    #[serde(deserialize_with = "crate::domain::money::saturating_i64")]
    partners: i64,
    #[serde(deserialize_with = "crate::domain::money::saturating_i64")]
    visible_partners: i64,
    version: u64,
}

/// A member row as stored.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct StoredMember {
    events: BTreeSet<String>,
    version: u64,
}

/// A partner's member row going from `before` to `after`, and how its partition's counters move.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberChange {
    pub partition: Partition,
    pub partner_id: String,
    pub before: MemberRow,
    pub after: BTreeSet<String>,
    pub counted: (i64, i64),
}

/// The write of one member row, conditioned on the version it was read at.
fn member_row_item(table: &str, change: &MemberChange) -> Result<TransactWriteItem, StoreError> {
    let pk = change.partition.pk();
    let (condition, expected) = if change.before.version == 0 {
        ("attribute_not_exists(#v)", None)
    } else {
        (
            "#v = :expected",
            Some(HashMap::from([(
                ":expected".to_string(),
                AttributeValue::N(change.before.version.to_string()),
            )])),
        )
    };
    if change.after.is_empty() {
        let delete = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(table)
            .set_key(Some(key(&pk, &change.partner_id)))
            .condition_expression(condition)
            .expression_attribute_names("#v", "version")
            .set_expression_attribute_values(expected)
            .build()
            .map_err(|e| StoreError::Sdk(Box::new(e)))?;
        return Ok(TransactWriteItem::builder().delete(delete).build());
    }
    let mut item = key(&pk, &change.partner_id);
    item.insert(
        "events".into(),
        AttributeValue::Ss(change.after.iter().cloned().collect()),
    );
    item.insert(
        "version".into(),
        AttributeValue::N((change.before.version + 1).to_string()),
    );
    let put = aws_sdk_dynamodb::types::Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(condition)
        .expression_attribute_names("#v", "version")
        .set_expression_attribute_values(expected)
        .build()
        .map_err(|e| StoreError::Sdk(Box::new(e)))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// What a queue row holds: its facts, under its key.
pub fn row_item(pk: &str, sk: &str, facts: &impl serde::Serialize) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(facts)?;
    item.extend(key(pk, sk));
    Ok(item)
}

impl Store {
    async fn get_row<T: serde::de::DeserializeOwned>(
        &self,
        pk: &str,
        sk: &str,
        consistent: bool,
    ) -> Result<Option<T>, StoreError> {
        let out = self
            .client()
            .get_item()
            .table_name(&self.tables().aggregates)
            .set_key(Some(key(pk, sk)))
            .consistent_read(consistent)
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(classify)?;
        super::meter_count(i32::from(out.item.is_some()));
        meter_read_units(out.consumed_capacity.as_slice());
        Ok(out.item.map(serde_dynamo::from_item).transpose()?)
    }

    /// Transaction items moving each event's status totals by `deltas` (maintenance writes).
    pub fn status_total_updates(&self, deltas: &[StatusDelta]) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut by_event: BTreeMap<&str, Update> = BTreeMap::new();
        for delta in deltas {
            let update = by_event
                .remove(delta.event_id.as_str())
                .unwrap_or_else(|| Update::maintenance().allow_missing())
                .add(&format!("n#{}", delta.status), delta.count)
                .add(&format!("c#{}", delta.status), delta.cents);
            by_event.insert(&delta.event_id, update);
        }
        by_event
            .into_iter()
            .map(|(event_id, update)| {
                update.into_transact_at(&self.tables().aggregates, key(&summary_pk(event_id), SUMMARY))
            })
            .collect()
    }

    /// Transaction items moving day tallies by `deltas` (maintenance writes): each day's month
    /// row and its year's sum.
    pub fn tally_updates(&self, deltas: &[TallyDelta]) -> Result<Vec<TransactWriteItem>, StoreError> {
        let mut rows: BTreeMap<(String, String), BTreeMap<String, i64>> = BTreeMap::new();
        for delta in deltas {
            let pk = tally_pk(&delta.key);
            let attr = delta.tally.attr();
            *rows
                .entry((pk.clone(), month_sk(delta.day)))
                .or_default()
                .entry(format!("{attr}{:02}", delta.day.day()))
                .or_default() += delta.delta;
            *rows
                .entry((pk, year_sk(delta.day.year())))
                .or_default()
                .entry(attr.to_string())
                .or_default() += delta.delta;
        }
        rows.into_iter()
            .filter(|(_, adds)| adds.values().any(|n| *n != 0))
            .map(|((pk, sk), adds)| {
                let update = adds
                    .iter()
                    .fold(Update::maintenance().allow_missing(), |u, (attr, n)| u.add(attr, *n));
                update.into_transact_at(&self.tables().aggregates, key(&pk, &sk))
            })
            .collect()
    }

    /// The partners' names as queue rows show them, read strongly consistent (the processor
    /// compares their versions with what it wrote).
    pub async fn partner_names(&self, ids: &[String]) -> Result<HashMap<String, PartnerNames>, StoreError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase", default)]
        #[derive(Default)]
        struct Names {
            id: String,
            company: String,
            contact_name: String,
            version: u64,
        }
        let found: Vec<Names> = self
            .batch_get_fields(
                &self.tables().partners,
                ids,
                &["id", "company", "contactName", "version"],
            )
            .await?;
        Ok(found
            .into_iter()
            .map(|n| {
                let names = PartnerNames {
                    company: n.company,
                    contact_name: n.contact_name,
                    version: n.version.max(1),
                };
                (n.id, names)
            })
            .collect())
    }

    /// Writes a partner's new names on its queue rows that exist and carry older ones (a row
    /// deleted meanwhile stays deleted; one written with newer names keeps them).
    pub async fn rename_rows(&self, rows: &[(String, String)], names: &PartnerNames) -> Result<(), StoreError> {
        let updates = rows.iter().map(|(pk, sk)| async move {
            let out = self
                .client()
                .update_item()
                .table_name(&self.tables().aggregates)
                .set_key(Some(key(pk, sk)))
                .update_expression("SET #c = :c, #n = :n, #v = :v")
                .condition_expression("attribute_exists(#pk) AND (attribute_not_exists(#v) OR #v < :v)")
                .expression_attribute_names("#pk", AGGREGATE_PK)
                .expression_attribute_names("#c", "partnerCompany")
                .expression_attribute_names("#n", "partnerContactName")
                .expression_attribute_names("#v", "partnerVersion")
                .expression_attribute_values(":c", AttributeValue::S(names.company.clone()))
                .expression_attribute_values(":n", AttributeValue::S(names.contact_name.clone()))
                .expression_attribute_values(":v", AttributeValue::N(names.version.to_string()))
                .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
                .send()
                .await;
            done_unless_failed(out)
        });
        futures::future::try_join_all(updates).await.map(|_| ())
    }

    /// Raises an event's last link activity to `at` (a maximum: replays and reordering are
    /// harmless, and an older value never overwrites a newer one).
    pub async fn record_activity(&self, event_id: &str, at: i64) -> Result<(), StoreError> {
        let out = self
            .client()
            .update_item()
            .table_name(&self.tables().aggregates)
            .set_key(Some(key(&summary_pk(event_id), SUMMARY)))
            .update_expression("SET #at = :at")
            .condition_expression("attribute_not_exists(#at) OR #at < :at")
            .expression_attribute_names("#at", LAST_ACTIVITY)
            .expression_attribute_values(":at", AttributeValue::N(at.to_string()))
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
            .send()
            .await;
        done_unless_failed(out)
    }

    /// Puts or deletes queue rows (`Some` item = put, see [`row_item`]), the last state per key
    /// winning.
    pub async fn write_rows(&self, rows: BTreeMap<(String, String), Option<Item>>) -> Result<(), StoreError> {
        let requests: Vec<WriteRequest> = rows
            .into_iter()
            .map(|((pk, sk), item)| {
                Ok(match item {
                    Some(item) => WriteRequest::builder()
                        .put_request(
                            PutRequest::builder()
                                .set_item(Some(item))
                                .build()
                                .map_err(|e| StoreError::Sdk(Box::new(e)))?,
                        )
                        .build(),
                    None => WriteRequest::builder()
                        .delete_request(
                            DeleteRequest::builder()
                                .set_key(Some(key(&pk, &sk)))
                                .build()
                                .map_err(|e| StoreError::Sdk(Box::new(e)))?,
                        )
                        .build(),
                })
            })
            .collect::<Result<_, StoreError>>()?;
        self.batch_write(&self.tables().aggregates.clone(), requests).await
    }

    /// A partner's member row in `partition` (strongly consistent: the processor decides on it).
    pub async fn member_row(&self, partition: Partition, partner_id: &str) -> Result<MemberRow, StoreError> {
        let stored: Option<StoredMember> = self.get_row(&partition.pk(), partner_id, true).await?;
        Ok(stored
            .map(|m| MemberRow {
                events: m.events,
                version: m.version,
            })
            .unwrap_or_default())
    }

    /// Writes member rows in one go: each replaces its `before` (read at its version), the
    /// partitions' counters move by the changes' sums, and each event of `checks` must still be
    /// archived or not as the counts assumed — one conditional write when a single row moves no
    /// counter, else one transaction. A condition failure means something moved meanwhile and
    /// nothing was written (the caller reads again).
    pub async fn save_member_rows(
        &self,
        changes: &[MemberChange],
        checks: &[(String, bool)],
    ) -> Result<(), StoreError> {
        let table = self.tables().aggregates.clone();
        let mut items = Vec::new();
        let mut counters: BTreeMap<Partition, (i64, i64)> = BTreeMap::new();
        for change in changes {
            items.push(member_row_item(&table, change)?);
            let sum = counters.entry(change.partition).or_default();
            sum.0 += change.counted.0;
            sum.1 += change.counted.1;
        }
        counters.retain(|_, sum| *sum != (0, 0));
        if counters.is_empty() && items.len() == 1 {
            return self.transact_or_single(items).await;
        }
        for (partition, (partners, visible)) in counters {
            items.push(
                Update::maintenance()
                    .allow_missing()
                    .add("partners", partners)
                    .add("visiblePartners", visible)
                    .into_transact_at(&table, key(&partition.pk(), COUNT))?,
            );
        }
        for (event_id, archived) in checks {
            let condition = if *archived {
                "#a = :yes"
            } else {
                "attribute_not_exists(#a) OR #a <> :yes"
            };
            let check = aws_sdk_dynamodb::types::ConditionCheck::builder()
                .table_name(&self.tables().events)
                .key(crate::tables::ID, AttributeValue::S(event_id.clone()))
                .condition_expression(condition)
                .expression_attribute_names("#a", "archived")
                .expression_attribute_values(":yes", AttributeValue::Bool(true))
                .build()
                .map_err(|e| StoreError::Sdk(Box::new(e)))?;
            items.push(TransactWriteItem::builder().condition_check(check).build());
        }
        self.transact(items).await
    }

    /// Sets a partition's visible-partner counter to a recount, if the counters did not move
    /// since `version` (an event archived or restored changes which partners are visible).
    pub async fn recount_visible_members(
        &self,
        partition: Partition,
        archived: &BTreeSet<String>,
    ) -> Result<(), StoreError> {
        #[derive(Deserialize)]
        struct Row {
            sk: String,
            #[serde(default)]
            events: BTreeSet<String>,
        }
        let pk = partition.pk();
        let counts: MemberCounts = self.get_row(&pk, COUNT, true).await?.unwrap_or_default();
        // Read consistently: a member row written a moment ago decides the count.
        let query = IndexQuery {
            consistent: true,
            ..IndexQuery::new(&self.tables().aggregates, AGGREGATE_KEY, &pk)
        };
        let rows: Vec<Row> = self.query(query).await?.0;
        let visible = rows
            .iter()
            .filter(|r| r.sk != COUNT && r.events.iter().any(|e| !archived.contains(e)))
            .count() as i64;
        if visible == counts.visible_partners {
            return Ok(());
        }
        let update = Update::maintenance()
            .allow_missing()
            .set("visiblePartners", visible)?
            .expect_version(counts.version)
            .into_transact_at(&self.tables().aggregates, key(&pk, COUNT))?;
        self.transact_or_single(vec![update]).await
    }

    /// A one-item "transaction" as a plain conditional write (half the write units).
    async fn transact_or_single(&self, mut items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        if items.len() != 1 {
            return self.transact(items).await;
        }
        let item = items.remove(0);
        let table = self.tables().aggregates.clone();
        let consumed = if let Some(put) = item.put {
            self.client()
                .put_item()
                .table_name(&table)
                .set_item(Some(put.item))
                .set_condition_expression(put.condition_expression)
                .set_expression_attribute_names(put.expression_attribute_names)
                .set_expression_attribute_values(put.expression_attribute_values)
                .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(classify)?
                .consumed_capacity
        } else if let Some(delete) = item.delete {
            self.client()
                .delete_item()
                .table_name(&table)
                .set_key(Some(delete.key))
                .set_condition_expression(delete.condition_expression)
                .set_expression_attribute_names(delete.expression_attribute_names)
                .set_expression_attribute_values(delete.expression_attribute_values)
                .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(classify)?
                .consumed_capacity
        } else if let Some(update) = item.update {
            self.client()
                .update_item()
                .table_name(&table)
                .set_key(Some(update.key))
                .update_expression(update.update_expression)
                .set_condition_expression(update.condition_expression)
                .set_expression_attribute_names(update.expression_attribute_names)
                .set_expression_attribute_values(update.expression_attribute_values)
                .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(classify)?
                .consumed_capacity
        } else {
            return Err(StoreError::ConditionFailed);
        };
        meter_write_units(consumed.as_slice());
        Ok(())
    }

    // ------------------------------------------------------------------ reads (the dashboard)

    /// A queue's figures in one Query: its day tallies, each day from January of `first_day`'s
    /// year on and the years before as sums, and for an event its aggregate (the summary row
    /// sorts between the months and the years). Eventually consistent, as the processor is
    /// seconds behind anyway.
    pub async fn queue_figures(
        &self,
        queue: &QueueKey,
        first_day: NaiveDate,
    ) -> Result<(EventAggregate, DayTallies), StoreError> {
        let pk = tally_pk(queue);
        let from = format!("m#{:04}-01", first_day.year());
        // Lexicographically: the months from that January on, `summary`, the years before it.
        let to = year_sk(first_day.year() - 1);
        let query = IndexQuery {
            range_at_least: Some(&from),
            range_at_most: Some(&to),
            ..IndexQuery::new(&self.tables().aggregates, AGGREGATE_KEY, &pk)
        };
        let rows: Vec<HashMap<String, serde_json::Value>> = self.query(query).await?.0;
        let mut aggregate = EventAggregate::default();
        let mut tallies = DayTallies::default();
        for row in rows {
            let sk = row.get(AGGREGATE_SK).and_then(|v| v.as_str()).unwrap_or_default();
            if sk == SUMMARY {
                aggregate = aggregate_of(&row);
                continue;
            }
            let month = sk
                .strip_prefix("m#")
                .and_then(|m| NaiveDate::parse_from_str(&format!("{m}-01"), "%Y-%m-%d").ok());
            let year_row = sk.starts_with("y#");
            for tally in Tally::ALL {
                for (attr, value) in &row {
                    let Some(rest) = attr.strip_prefix(tally.attr()) else {
                        continue;
                    };
                    let n = value.as_i64().unwrap_or(0);
                    match month {
                        Some(first) => {
                            if let Some(day) = rest.parse::<u32>().ok().and_then(|d| first.with_day(d)) {
                                tallies.add(day, tally, n);
                            }
                        }
                        None if rest.is_empty() && year_row => tallies.earlier.add(tally, n),
                        None => {}
                    }
                }
            }
        }
        Ok((aggregate, tallies))
    }

    /// A queue partition's rows with keys in `[from, to]` (every page).
    pub async fn queue_rows<T: serde::de::DeserializeOwned>(
        &self,
        pk: &str,
        (from, to): (&str, &str),
    ) -> Result<Vec<T>, StoreError> {
        let query = IndexQuery {
            range_at_least: Some(from),
            range_at_most: Some(to),
            ..IndexQuery::new(&self.tables().aggregates, AGGREGATE_KEY, pk)
        };
        Ok(self.query(query).await?.0)
    }

    /// Deleted events whose communications may still count, with their year.
    pub async fn orphan_events(&self) -> Result<Vec<(String, i32)>, StoreError> {
        #[derive(Deserialize)]
        struct Orphan {
            sk: String,
            #[serde(default)]
            year: i32,
        }
        let query = IndexQuery::new(&self.tables().aggregates, AGGREGATE_KEY, ORPHANS);
        let rows: Vec<Orphan> = self.query(query).await?.0;
        Ok(rows.into_iter().map(|o| (o.sk, o.year)).collect())
    }

    /// Records a deleted event (a replay writes the same row again).
    pub async fn put_orphan(&self, event_id: &str, year: i32) -> Result<(), StoreError> {
        let mut item = key(ORPHANS, event_id);
        item.insert("year".into(), AttributeValue::N(year.to_string()));
        self.write_rows(BTreeMap::from([(
            (ORPHANS.to_string(), event_id.to_string()),
            Some(item),
        )]))
        .await
    }

    /// The status totals of each event (its `summary` row; eventually consistent, as the
    /// processor is seconds behind anyway), read at once; an event without links has none.
    pub async fn event_aggregates(&self, ids: &[String]) -> Result<HashMap<String, EventAggregate>, StoreError> {
        let rows = futures::future::try_join_all(ids.iter().map(|id| async move {
            let row: Option<HashMap<String, serde_json::Value>> = self.get_row(&summary_pk(id), SUMMARY, false).await?;
            Ok::<_, StoreError>((id.clone(), row.map(|r| aggregate_of(&r)).unwrap_or_default()))
        }))
        .await?;
        Ok(rows.into_iter().collect())
    }

    /// The secured deals' rows of each event (one Query per event, at once; eventually
    /// consistent).
    pub async fn secured_deals(&self, event_ids: &[String]) -> Result<Vec<LinkFacts>, StoreError> {
        let pages = futures::future::try_join_all(event_ids.iter().map(|id| async move {
            let pk = secured_pk(id);
            let query = IndexQuery::new(&self.tables().aggregates, AGGREGATE_KEY, &pk);
            Ok::<_, StoreError>(self.query::<LinkFacts>(query).await?.0)
        }))
        .await?;
        Ok(pages.into_iter().flatten().collect())
    }

    /// `(partners, visible partners)` of a partition.
    pub async fn member_counts(&self, partition: Partition) -> Result<(i64, i64), StoreError> {
        let counts: MemberCounts = self.get_row(&partition.pk(), COUNT, false).await?.unwrap_or_default();
        Ok((counts.partners, counts.visible_partners))
    }

    /// The events `partner_id` has links to in `partition` (eventually consistent).
    pub async fn member_events(&self, partition: Partition, partner_id: &str) -> Result<BTreeSet<String>, StoreError> {
        let stored: Option<StoredMember> = self.get_row(&partition.pk(), partner_id, false).await?;
        Ok(stored.map(|m| m.events).unwrap_or_default())
    }
}
