//! The stream processor: one Lambda behind the event source mappings of the tables' DynamoDB
//! Streams (`template.yaml`), keeping what may lag a write by seconds:
//! - from the partners stream, the partner counters, and a renamed partner's names on its queue
//!   rows (the dashboard names action items from them);
//! - from the links stream, the dashboard's aggregates (`domain::aggregates`): status totals and
//!   last activity per event, the due and stale rows and their day tallies, the partners per year;
//! - from the communications stream, the open follow-up rows and their day tallies;
//! - from the events stream, the visible-partner counters when an event is archived or restored,
//!   and the deleted events whose communications still count.
//!
//! A batch holds one shard's records in order. Counter moves are written in transactions with
//! the batch's mark (`store::stream`), so a retried batch never moves a counter twice; rows and
//! member sets are written by key and compared before they are counted, so writing them again is
//! harmless. A failure reports the batch's first record, as partial-batch responses
//! (`ReportBatchItemFailures`) require, and Lambda retries from there. A record whose image
//! cannot be read is logged and read as defaults, never a poison pill.

use std::collections::{BTreeMap, BTreeSet};

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use serde::Deserialize;
use shared::AppContext;
use shared::domain::activity::{ChangeRecord, Entity, change_record};
use shared::domain::aggregates::{
    CommFacts, LinkEffects, LinkFacts, Membership, PartnerNames, StatusDelta, TallyDelta, comm_effects, link_effects,
    member_counter_delta, summed_status_deltas, summed_tallies,
};
use shared::domain::changes::{Change, PartnerPresence, partner_counts_delta, sequence_after};
use shared::domain::records::Communication;
use shared::store::aggregates::{MemberChange, Partition, comm_due_pk, due_pk, row_item, secured_pk, stale_pk};
use shared::store::stream::Batch;
use shared::store::{Item, StoreError, WRITE_ATTEMPTS, backoff};

/// Counter rows one transaction moves at most (100 items less the mark).
const COUNTERS_PER_TRANSACTION: usize = 99;

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
    record
        .event_source_arn
        .as_deref()?
        .split("table/")
        .nth(1)?
        .split('/')
        .next()
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

fn sequence(record: &EventRecord) -> String {
    record.change.sequence_number.clone().unwrap_or_default()
}

async fn apply(records: &[EventRecord], ctx: &AppContext) -> Result<(), StoreError> {
    let Some(first) = records.first() else {
        return Ok(());
    };
    let tables = ctx.store.tables();
    let entity = match table_of(first) {
        Some(t) if t == tables.partners => {
            apply_partners(records, ctx).await?;
            Entity::Partner
        }
        Some(t) if t == tables.links => {
            apply_links(records, ctx).await?;
            Entity::Link
        }
        Some(t) if t == tables.events => {
            apply_events(records, ctx).await?;
            Entity::Event
        }
        Some(t) if t == tables.communications => {
            apply_communications(records, ctx).await?;
            Entity::Communication
        }
        Some(t) if t == tables.documents => Entity::Document,
        other => {
            tracing::warn!(table = ?other, "records of a table this processor does not follow; skipped");
            return Ok(());
        }
    };
    log_changes(records, entity, ctx).await
}

/// Change events go to EventBridge at most this many per call.
const EVENTS_PER_PUT: usize = 10;

/// Writes the batch's activity entries and publishes its change events. Both are keyed by the
/// stream record, so a retried batch rewrites the same entries (and consumers dedupe events by
/// their `id`).
async fn log_changes(records: &[EventRecord], entity: Entity, ctx: &AppContext) -> Result<(), StoreError> {
    let json = |item: &serde_dynamo::Item| -> Option<serde_json::Map<String, serde_json::Value>> {
        (!item.is_empty())
            .then(|| serde_dynamo::from_item(item.clone()).ok())
            .flatten()
    };
    let changes: Vec<ChangeRecord> = records
        .iter()
        .filter_map(|r| {
            change_record(
                entity,
                &sequence(r),
                json(&r.change.old_image).as_ref(),
                json(&r.change.new_image).as_ref(),
                r.change.approximate_creation_date_time.timestamp_millis(),
            )
        })
        .collect();
    if changes.is_empty() {
        return Ok(());
    }
    ctx.store.write_activity_log(&changes).await?;
    let Some(bus) = &ctx.config.event_bus else {
        return Ok(());
    };
    for chunk in changes.chunks(EVENTS_PER_PUT) {
        let entries: Vec<_> = chunk
            .iter()
            .map(|c| {
                aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                    .event_bus_name(bus)
                    .source("partnerships")
                    .detail_type(c.detail_type())
                    .detail(c.to_wire().to_string())
                    .build()
            })
            .collect();
        let out = ctx
            .events
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| StoreError::Sdk(Box::new(e)))?;
        if out.failed_entry_count() > 0 {
            return Err(StoreError::Sdk(
                format!("{} change events refused by EventBridge", out.failed_entry_count()).into(),
            ));
        }
    }
    Ok(())
}

/// The records a previous attempt of this batch did not count yet, and the mark it left.
async fn uncounted<'a>(
    records: &'a [EventRecord],
    ctx: &AppContext,
) -> Result<(Vec<&'a EventRecord>, Batch), StoreError> {
    let first = records.first().map(|r| r.event_id.clone()).unwrap_or_default();
    let mark = ctx.store.batch_mark(&first).await?;
    let pending = records
        .iter()
        .filter(|r| match (&mark.applied_through, &r.change.sequence_number) {
            (Some(done), Some(seq)) => sequence_after(seq, done),
            _ => true,
        })
        .collect();
    Ok((
        pending,
        Batch {
            first_event_id: first,
            previous: mark.applied_through,
            through: String::new(),
        },
    ))
}

async fn apply_partners(records: &[EventRecord], ctx: &AppContext) -> Result<(), StoreError> {
    rename_queue_rows(records, ctx).await?;
    let (pending, mut batch) = uncounted(records, ctx).await?;
    let changes: Vec<Change<PartnerPresence>> = pending.iter().map(|r| change(r)).collect();
    let delta = partner_counts_delta(&changes);
    let Some(last) = pending.last() else {
        return Ok(());
    };
    if delta.is_zero() {
        return Ok(());
    }
    batch.through = sequence(last);
    let item = ctx.store.partner_counts_update(delta)?;
    ctx.store.apply_once(&batch, vec![item], now_seconds()).await
}

/// A partner's names as its image has them.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Named {
    id: String,
    company: String,
    contact_name: String,
    version: u64,
}

/// A renamed partner's queue rows take its new names (each row only if it holds older ones, so
/// replays and reordering are harmless).
async fn rename_queue_rows(records: &[EventRecord], ctx: &AppContext) -> Result<(), StoreError> {
    let mut renamed: BTreeMap<String, PartnerNames> = BTreeMap::new();
    for record in records {
        let c: Change<Named> = change(record);
        if let (Some(old), Some(new)) = (c.old, c.new)
            && (old.company != new.company || old.contact_name != new.contact_name)
        {
            let names = PartnerNames {
                company: new.company,
                contact_name: new.contact_name,
                version: new.version.max(1),
            };
            renamed.insert(new.id, names);
        }
    }
    for (partner_id, names) in renamed {
        let (links, (comms, _)) = futures::try_join!(
            ctx.store.links_of(&partner_id),
            ctx.store.list_records::<Communication>(&partner_id, None, None),
        )?;
        let mut rows = Vec::new();
        for link in links.iter().map(LinkFacts::from) {
            rows.extend(link.due_key().map(|sk| (due_pk(&link.event_id), sk)));
            rows.extend(link.stale_key().map(|sk| (stale_pk(&link.event_id), sk)));
            rows.extend(link.secured_key().map(|sk| (secured_pk(&link.event_id), sk)));
        }
        for comm in comms.iter().map(CommFacts::from) {
            rows.extend(comm.due_key().map(|sk| (comm_due_pk(&comm.key()), sk)));
        }
        ctx.store.rename_rows(&rows, &names).await?;
    }
    Ok(())
}

/// A queue row to put, named with its partner's names just before it is written.
#[derive(Debug, Clone)]
enum QueueRow {
    Link(LinkFacts),
    Comm(CommFacts),
}

impl QueueRow {
    fn partner_id(&self) -> &str {
        match self {
            QueueRow::Link(l) => &l.partner_id,
            QueueRow::Comm(c) => &c.partner_id,
        }
    }

    fn item(&self, pk: &str, sk: &str, names: Option<&PartnerNames>) -> Result<Item, StoreError> {
        let names = names.cloned().unwrap_or_default();
        match self {
            QueueRow::Link(l) => row_item(
                pk,
                sk,
                &LinkFacts {
                    partner: names,
                    ..l.clone()
                },
            ),
            QueueRow::Comm(c) => row_item(
                pk,
                sk,
                &CommFacts {
                    partner: names,
                    ..c.clone()
                },
            ),
        }
    }
}

/// Puts and deletes queue rows, the puts carrying their partner's names. A rename committed
/// after the names were read may have been applied to the partner's rows before these existed,
/// so the names are read again after the write and the rows of a partner that moved on are
/// written again.
async fn write_queue_rows(
    ctx: &AppContext,
    mut rows: BTreeMap<(String, String), Option<QueueRow>>,
) -> Result<(), StoreError> {
    let mut partner_ids: Vec<String> = rows
        .values()
        .flatten()
        .map(|r| r.partner_id().to_string())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut names = ctx.store.partner_names(&partner_ids).await?;
    for _ in 0..WRITE_ATTEMPTS {
        let items = rows
            .iter()
            .map(|((pk, sk), row)| {
                let item = row
                    .as_ref()
                    .map(|r| r.item(pk, sk, names.get(r.partner_id())))
                    .transpose()?;
                Ok(((pk.clone(), sk.clone()), item))
            })
            .collect::<Result<BTreeMap<_, _>, StoreError>>()?;
        ctx.store.write_rows(items).await?;
        if partner_ids.is_empty() {
            return Ok(());
        }
        let now = ctx.store.partner_names(&partner_ids).await?;
        let moved: BTreeSet<String> = partner_ids
            .iter()
            .filter(|id| now.get(*id).map(|n| n.version) != names.get(*id).map(|n| n.version))
            .cloned()
            .collect();
        if moved.is_empty() {
            return Ok(());
        }
        rows.retain(|_, row| row.as_ref().is_some_and(|r| moved.contains(r.partner_id())));
        partner_ids = moved.into_iter().collect();
        names = now;
    }
    Ok(())
}

fn now_seconds() -> i64 {
    chrono::Utc::now().timestamp()
}

fn link_change(record: &EventRecord) -> Change<LinkFacts> {
    change(record)
}

async fn apply_links(records: &[EventRecord], ctx: &AppContext) -> Result<(), StoreError> {
    let effects: Vec<LinkEffects> = records
        .iter()
        .map(|r| {
            let c = link_change(r);
            link_effects(c.old.as_ref(), c.new.as_ref())
        })
        .collect();
    // Rows and member sets: final state per key, for every record (writing them again is harmless).
    let mut rows: BTreeMap<(String, String), Option<QueueRow>> = BTreeMap::new();
    let mut activity: BTreeMap<String, i64> = BTreeMap::new();
    let mut members: BTreeMap<(Partition, String), Vec<(String, bool)>> = BTreeMap::new();
    for e in &effects {
        for (removed, pk) in [
            (&e.due_remove, due_pk as fn(&str) -> String),
            (&e.stale_remove, stale_pk),
            (&e.secured_remove, secured_pk),
        ] {
            if let Some(key) = removed {
                rows.insert((pk(&key.event_id), key.sort.clone()), None);
            }
        }
        for (put, pk) in [
            (&e.due_put, due_pk as fn(&str) -> String),
            (&e.stale_put, stale_pk),
            (&e.secured_put, secured_pk),
        ] {
            if let Some((key, facts)) = put {
                rows.insert(
                    (pk(&key.event_id), key.sort.clone()),
                    Some(QueueRow::Link(facts.clone())),
                );
            }
        }
        if let Some((event_id, at)) = &e.activity {
            let newest = activity.entry(event_id.clone()).or_default();
            *newest = (*newest).max(*at);
        }
        let member_ops = e
            .memberships_removed
            .iter()
            .map(|m| (m, false))
            .chain(e.memberships_added.iter().map(|m| (m, true)));
        for (
            Membership {
                year,
                partner_id,
                event_id,
            },
            added,
        ) in member_ops
        {
            members
                .entry((Partition::of(*year), partner_id.clone()))
                .or_default()
                .push((event_id.clone(), added));
        }
    }
    count_once(records, ctx, |record| {
        let c = link_change(record);
        let effects = link_effects(c.old.as_ref(), c.new.as_ref());
        (effects.status_deltas, effects.tallies)
    })
    .await?;
    write_queue_rows(ctx, rows).await?;
    for (event_id, at) in activity {
        ctx.store.record_activity(&event_id, at).await?;
    }
    save_members(ctx, members).await
}

/// A member set after the batch's adds (`true`) and removes, in record order.
fn applied(events: &BTreeSet<String>, ops: &[(String, bool)]) -> BTreeSet<String> {
    let mut after = events.clone();
    for (event_id, added) in ops {
        if *added {
            after.insert(event_id.clone());
        } else {
            after.remove(event_id);
        }
    }
    after
}

/// Rows written together in one transaction at most (each with up to two events to check).
const MEMBER_ROWS_PER_TRANSACTION: usize = 25;

/// Applies the batch's membership changes: every row read at once, the rows that move no counter
/// written one by one in parallel, the others in transactions of [`MEMBER_ROWS_PER_TRANSACTION`]
/// with their partitions' counters and checks of the archived flags read once for the batch.
/// A write that finds its row (or a flag) moved wrote nothing; that row is redone by
/// [`save_member`] (re-read, retry).
async fn save_members(
    ctx: &AppContext,
    members: BTreeMap<(Partition, String), Vec<(String, bool)>>,
) -> Result<(), StoreError> {
    let members: Vec<_> = members.into_iter().collect();
    let befores =
        futures::future::try_join_all(members.iter().map(|((p, id), _)| ctx.store.member_row(*p, id))).await?;
    let involved: BTreeSet<String> = members
        .iter()
        .flat_map(|(_, ops)| ops.iter().map(|(e, _)| e.clone()))
        .chain(befores.iter().flat_map(|b| b.events.iter().cloned()))
        .collect();
    let archived = archived_among(ctx, &involved.into_iter().collect::<Vec<_>>()).await?;
    let mut quiet = Vec::new();
    let mut counting = Vec::new();
    for (((partition, partner_id), ops), before) in members.iter().zip(befores) {
        let after = applied(&before.events, ops);
        if after == before.events {
            continue;
        }
        let counted = member_counter_delta(&before.events, &after, &archived);
        let change = MemberChange {
            partition: *partition,
            partner_id: partner_id.clone(),
            before,
            after,
            counted,
        };
        if counted == (0, 0) {
            quiet.push((change, ops));
        } else {
            counting.push((change, ops));
        }
    }
    let written = futures::future::join_all(
        quiet
            .iter()
            .map(|(c, _)| ctx.store.save_member_rows(std::slice::from_ref(c), &[])),
    )
    .await;
    let mut redo = Vec::new();
    for ((change, ops), result) in quiet.iter().zip(written) {
        match result {
            Ok(()) => {}
            Err(e) if e.should_retry() => redo.push((change, *ops)),
            Err(e) => return Err(e),
        }
    }
    for chunk in counting.chunks(MEMBER_ROWS_PER_TRANSACTION) {
        let changes: Vec<MemberChange> = chunk.iter().map(|(c, _)| c.clone()).collect();
        let checks: Vec<(String, bool)> = changes
            .iter()
            .flat_map(|c| c.before.events.union(&c.after).cloned().collect::<Vec<_>>())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|e| {
                let flag = archived.contains(&e);
                (e, flag)
            })
            .collect();
        match ctx.store.save_member_rows(&changes, &checks).await {
            Ok(()) => {}
            Err(e) if e.should_retry() => redo.extend(chunk.iter().map(|(c, ops)| (c, *ops))),
            Err(e) => return Err(e),
        }
    }
    for (change, ops) in redo {
        save_member(ctx, change.partition, &change.partner_id, ops).await?;
    }
    Ok(())
}

/// Moves the counters (status totals, day tallies) by the records not counted yet, in
/// transactions of at most [`COUNTERS_PER_TRANSACTION`] counter rows, each advancing the batch's
/// mark.
async fn count_once(
    records: &[EventRecord],
    ctx: &AppContext,
    deltas_of: impl Fn(&EventRecord) -> (Vec<StatusDelta>, Vec<TallyDelta>),
) -> Result<(), StoreError> {
    let (pending, mut batch) = uncounted(records, ctx).await?;
    let counter_items = |status: &[StatusDelta], tallies: &[TallyDelta]| {
        let mut items = ctx.store.status_total_updates(&summed_status_deltas(status))?;
        items.extend(ctx.store.tally_updates(&summed_tallies(tallies))?);
        Ok::<_, StoreError>(items)
    };
    let mut start = 0;
    while start < pending.len() {
        let (mut status, mut tallies) = (Vec::new(), Vec::new());
        let mut items = Vec::new();
        let mut end = start;
        while end < pending.len() {
            let (more_status, more_tallies) = deltas_of(pending[end]);
            let grown_status: Vec<StatusDelta> = status.iter().chain(&more_status).cloned().collect();
            let grown_tallies: Vec<TallyDelta> = tallies.iter().chain(&more_tallies).cloned().collect();
            let grown = counter_items(&grown_status, &grown_tallies)?;
            if grown.len() > COUNTERS_PER_TRANSACTION && end > start {
                break;
            }
            (status, tallies, items) = (grown_status, grown_tallies, grown);
            end += 1;
        }
        if !items.is_empty() {
            batch.through = sequence(pending[end - 1]);
            ctx.store.apply_once(&batch, items, now_seconds()).await?;
            batch.previous = Some(batch.through.clone());
        }
        start = end;
    }
    Ok(())
}

/// Open communication follow-ups: their rows by key, their day tallies exactly once.
async fn apply_communications(records: &[EventRecord], ctx: &AppContext) -> Result<(), StoreError> {
    let comm_change = |record: &EventRecord| {
        let c: Change<CommFacts> = change(record);
        comm_effects(c.old.as_ref(), c.new.as_ref())
    };
    let mut rows: BTreeMap<(String, String), Option<QueueRow>> = BTreeMap::new();
    for effects in records.iter().map(comm_change) {
        if let Some((key, sort)) = effects.due_remove {
            rows.insert((comm_due_pk(&key), sort), None);
        }
        if let Some((key, sort, facts)) = effects.due_put {
            rows.insert((comm_due_pk(&key), sort), Some(QueueRow::Comm(facts)));
        }
    }
    count_once(records, ctx, |record| (Vec::new(), comm_change(record).tallies)).await?;
    write_queue_rows(ctx, rows).await?;
    record_orphans(records, ctx).await
}

/// Communications that name an event the events table does not have (data from before this
/// service, which deleted events without looking at them) still count where that event is asked
/// for: the dashboard finds those events in the orphans partition.
async fn record_orphans(records: &[EventRecord], ctx: &AppContext) -> Result<(), StoreError> {
    let named: BTreeMap<String, i32> = records
        .iter()
        .filter_map(|r| change::<CommFacts>(r).new)
        .filter(|c| c.due().is_some())
        .filter_map(|c| Some((c.event.id()?.to_string(), c.event.event_year.unwrap_or(0))))
        .collect();
    if named.is_empty() {
        return Ok(());
    }
    let ids: Vec<String> = named.keys().cloned().collect();
    let existing: BTreeSet<String> = ctx
        .store
        .batch_get_fields::<Archivable>(&ctx.store.tables().events, &ids, &["id", "archived", "year"])
        .await?
        .into_iter()
        .map(|e| e.id)
        .collect();
    for (id, year) in named.iter().filter(|(id, _)| !existing.contains(*id)) {
        ctx.store.put_orphan(id, *year).await?;
    }
    Ok(())
}

/// Applies a partner's membership changes in one partition (adds and removes in record order)
/// and moves the partition's counters if the partner starts or stops counting. Optimistic: the
/// row's version and the archived flags read are conditions of the write.
async fn save_member(
    ctx: &AppContext,
    partition: Partition,
    partner_id: &str,
    ops: &[(String, bool)],
) -> Result<(), StoreError> {
    let mut attempt = 0;
    loop {
        let before = ctx.store.member_row(partition, partner_id).await?;
        let after = applied(&before.events, ops);
        if after == before.events {
            return Ok(());
        }
        let involved: Vec<String> = before.events.union(&after).cloned().collect();
        let archived = archived_among(ctx, &involved).await?;
        let counted = member_counter_delta(&before.events, &after, &archived);
        let checks: Vec<(String, bool)> = involved.iter().map(|e| (e.clone(), archived.contains(e))).collect();
        let change = MemberChange {
            partition,
            partner_id: partner_id.to_string(),
            before,
            after,
            counted,
        };
        match ctx.store.save_member_rows(std::slice::from_ref(&change), &checks).await {
            Ok(()) => return Ok(()),
            Err(e) if e.should_retry() && attempt < WRITE_ATTEMPTS => {
                attempt += 1;
                backoff(attempt).await;
            }
            Err(e) => return Err(e),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Archivable {
    id: String,
    archived: bool,
    year: i32,
}

async fn archived_among(ctx: &AppContext, ids: &[String]) -> Result<BTreeSet<String>, StoreError> {
    let events: Vec<Archivable> = ctx
        .store
        .batch_get_fields(&ctx.store.tables().events, ids, &["id", "archived", "year"])
        .await?;
    Ok(events.into_iter().filter(|e| e.archived).map(|e| e.id).collect())
}

/// An event archived or restored changes which partners are visible in its year and overall:
/// those two partitions' visible counters are recounted.
async fn apply_events(records: &[EventRecord], ctx: &AppContext) -> Result<(), StoreError> {
    let mut partitions = BTreeSet::new();
    for record in records {
        let c: Change<Archivable> = change(record);
        if let (Some(old), None) = (&c.old, &c.new) {
            ctx.store.put_orphan(&old.id, old.year).await?;
        }
        let flipped = match (&c.old, &c.new) {
            (Some(old), Some(new)) => old.archived != new.archived,
            _ => false,
        };
        if let (true, Some(new)) = (flipped, &c.new) {
            partitions.insert(Partition::Year(new.year));
            partitions.insert(Partition::AllYears);
        }
    }
    if partitions.is_empty() {
        return Ok(());
    }
    for partition in partitions {
        let mut attempt = 0;
        loop {
            let all: Vec<Archivable> = ctx.store.scan_all(&ctx.store.tables().events).await?;
            let archived: BTreeSet<String> = all.into_iter().filter(|e| e.archived).map(|e| e.id).collect();
            match ctx.store.recount_visible_members(partition, &archived).await {
                Ok(()) => break,
                Err(e) if e.should_retry() && attempt < WRITE_ATTEMPTS => {
                    attempt += 1;
                    backoff(attempt).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}
