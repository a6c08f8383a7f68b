//! The rollup: recomputes every derived summary — event counters, link ids and reference counts,
//! partner link summaries, the partner counters — from the source items, and repairs drift.
//!
//! Safe while writes happen: every repair is conditioned on the version it was computed from
//! (a concurrent write makes it skip; the next run catches up), and it reads links by id with
//! strongly consistent reads, using the GSIs only to discover ids. Resumable: progress (phase
//! and scan position) is checkpointed in the meta table after every page, so a run cut off by
//! its time budget is continued by the next one.

use std::time::{Duration, Instant};

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use shared::AppContext;
use std::collections::{BTreeMap, BTreeSet};

use shared::domain::aggregates::LinkFacts;
use shared::domain::event::{EventCounters, PartnershipEvent};
use shared::domain::link::PartnerEventLink;
use shared::domain::normalize::iso_millis;
use shared::domain::partner::Partner;
use shared::domain::partner::email_index_keys;
use shared::store::aggregates::{row_item, secured_pk};
use shared::store::partners::with_email_index;
use shared::store::{Item, StoreError, Update, put_versioned_item};
use shared::tables::{
    ARCHIVED, ARCHIVED_INDEX_ATTR, EMAIL_DOMAIN_ATTR, EMAIL_KEY_ATTR, ID, PARTNER_COUNTS_ID, ROLLUP_STATUS_ID,
};

/// `updatedBy` of every write the job makes.
pub const JOB: &str = "rollup";
/// Items per scan page between checkpoints.
const PAGE: i32 = 25;

/// What one run did.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RollupReport {
    /// Items read from DynamoDB.
    pub items_read: u64,
    /// Summaries found wrong and rewritten.
    pub summaries_repaired: u64,
    /// Repairs skipped because a concurrent write changed the item (retried next run).
    pub conflicts: u64,
    /// Items the run could not read or repair (a malformed item, a rejected write): skipped,
    /// never a reason to stop, and listed (the first [`SKIPPED_LISTED`]) for an operator.
    pub skipped: u64,
    pub skipped_items: Vec<SkippedItem>,
    /// Whether this run finished a whole pass over the tables.
    pub pass_completed: bool,
    pub duration_ms: u64,
}

/// How many skipped items a report lists.
pub const SKIPPED_LISTED: usize = 20;

/// An item the rollup skipped, and why.
#[derive(Debug, Default, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SkippedItem {
    pub table: String,
    pub id: String,
    pub reason: String,
}

impl RollupReport {
    /// Counts and lists an item the run skipped, and logs it with its cause.
    fn skip(&mut self, table: &str, item: &Item, error: &dyn std::error::Error) {
        let id = item.get(ID).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
        let reason = shared::error::error_chain(error);
        tracing::error!(%table, %id, %reason, "rollup skipped an item it cannot process");
        self.skipped += 1;
        if self.skipped_items.len() < SKIPPED_LISTED {
            self.skipped_items.push(SkippedItem {
                table: table.to_string(),
                id,
                reason,
            });
        }
    }
}

/// Runs one item's repair: a transient failure (throttling) ends the run, to resume from the
/// checkpoint; any other failure skips the item.
async fn each<T: serde::de::DeserializeOwned>(
    table: &str,
    item: Item,
    report: &mut RollupReport,
    repair: impl AsyncFnOnce(T, &mut RollupReport) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let value = match shared::store::parse_item::<T>(item.clone()) {
        Ok(value) => value,
        Err(e) => {
            report.skip(table, &item, &e);
            return Ok(());
        }
    };
    match repair(value, report).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_retryable() => Err(e),
        Err(e) => {
            report.skip(table, &item, &e);
            Ok(())
        }
    }
}

/// The job's status row and checkpoint (`partnerships_rollup_status` in the meta table).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct RollupStatus {
    id: String,
    /// `events`, `partners`, or `idle` between passes.
    phase: String,
    /// Id of the last item processed in the current phase's scan.
    cursor: Option<String>,
    /// Partner counters accumulated by the current pass.
    pass_partner_count: i64,
    pass_archived_count: i64,
    /// Version of the partner counters row when the pass started.
    pass_counts_version: u64,
    /// A mismatch the previous pass saw between the counters and its count, kept to be
    /// confirmed by the next pass before it is repaired.
    counts_mismatch: Option<CountsMismatch>,
    pass_started_at: Option<String>,
    last_run_at: Option<String>,
    last_run_duration_ms: u64,
    last_run_items_read: u64,
    last_run_summaries_repaired: u64,
    last_run_conflicts: u64,
    last_run_skipped: u64,
    last_run_skipped_items: Vec<SkippedItem>,
    last_pass_completed_at: Option<String>,
    updated_at: i64,
    updated_by: String,
    version: u64,
}

/// What a pass saw: the counters row's version and the pass's own count.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct CountsMismatch {
    version: u64,
    partner_count: i64,
    archived_partner_count: i64,
}

/// The partner counters row as stored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Counts {
    #[serde(deserialize_with = "shared::domain::money::saturating_i64")]
    partner_count: i64,
    #[serde(deserialize_with = "shared::domain::money::saturating_i64")]
    archived_partner_count: i64,
    version: u64,
}

fn start_key(cursor: &Option<String>) -> Option<Item> {
    cursor
        .as_ref()
        .map(|id| Item::from([(ID.to_string(), shared::store::string_attr(id))]))
}

/// Runs the rollup until the pass completes or `budget` is spent.
pub async fn run(ctx: &AppContext, budget: Duration) -> Result<RollupReport, StoreError> {
    let started = Instant::now();
    let store = &ctx.store;
    let meta = store.tables().meta.clone();
    let mut status: RollupStatus = store.get(&meta, ROLLUP_STATUS_ID).await?.unwrap_or_default();
    let mut report = RollupReport::default();
    if status.phase.is_empty() || status.phase == "idle" {
        let counts: Counts = store.get(&meta, PARTNER_COUNTS_ID).await?.unwrap_or_default();
        status.phase = "events".into();
        status.cursor = None;
        status.pass_partner_count = 0;
        status.pass_archived_count = 0;
        status.pass_counts_version = counts.version;
        status.pass_started_at = Some(iso_millis(Utc::now()));
    }
    // At least one page per run, so even a run with almost no budget makes progress.
    loop {
        if status.phase == "events" {
            let table = &store.tables().events;
            let (events, next) = store.scan_page_items(table, start_key(&status.cursor), PAGE).await?;
            report.items_read += events.len() as u64;
            for item in events {
                let legacy = item.contains_key(LEGACY_LINK_IDS);
                each(table, item, &mut report, async |event: PartnershipEvent, report| {
                    repair_event(ctx, event, legacy, report).await
                })
                .await?;
            }
            status.cursor = next.and_then(|k| k.get(ID).and_then(|v| v.as_s().ok()).cloned());
            if status.cursor.is_none() {
                status.phase = "partners".into();
            }
        } else {
            let table = &store.tables().partners;
            let (partners, next) = store.scan_page_items(table, start_key(&status.cursor), PAGE).await?;
            report.items_read += partners.len() as u64;
            for item in partners {
                status.pass_partner_count += 1;
                let archived = item.get("archived").and_then(|v| v.as_bool().ok()).copied() == Some(true);
                status.pass_archived_count += i64::from(archived);
                let legacy = item.contains_key(LEGACY_LINK_SUMMARIES);
                let indexed = item.contains_key(ARCHIVED_INDEX_ATTR);
                let email_keys = (
                    item.get(EMAIL_DOMAIN_ATTR).and_then(|v| v.as_s().ok()).cloned(),
                    item.get(EMAIL_KEY_ATTR).and_then(|v| v.as_s().ok()).cloned(),
                );
                each(table, item, &mut report, async |partner: Partner, report| {
                    let email_indexed = match email_index_keys(&partner.email) {
                        Some((domain, key)) => email_keys == (Some(domain), Some(key)),
                        None => email_keys == (None, None),
                    };
                    tidy_partner(ctx, &partner, legacy, indexed, email_indexed, report).await
                })
                .await?;
            }
            status.cursor = next.and_then(|k| k.get(ID).and_then(|v| v.as_s().ok()).cloned());
            if status.cursor.is_none() {
                repair_counts(ctx, &mut status, &mut report).await?;
                status.phase = "idle".into();
                status.last_pass_completed_at = Some(iso_millis(Utc::now()));
                report.pass_completed = true;
            }
        }
        save(ctx, &mut status, &report, started, false).await?;
        if report.pass_completed || started.elapsed() >= budget {
            break;
        }
    }
    report.duration_ms = started.elapsed().as_millis() as u64;
    save(ctx, &mut status, &report, started, true).await?;
    tracing::info!(?report, phase = %status.phase, "rollup run");
    Ok(report)
}

/// Writes the checkpoint; a version conflict means another run is active, which is an error for
/// this one (it stops rather than clobber the other's progress).
async fn save(
    ctx: &AppContext,
    status: &mut RollupStatus,
    report: &RollupReport,
    started: Instant,
    last: bool,
) -> Result<(), StoreError> {
    let expected = status.version;
    status.id = ROLLUP_STATUS_ID.into();
    status.updated_at = Utc::now().timestamp_millis();
    status.updated_by = JOB.into();
    status.version = expected + 1;
    if last {
        status.last_run_at = Some(iso_millis(Utc::now()));
        status.last_run_duration_ms = started.elapsed().as_millis() as u64;
        status.last_run_items_read = report.items_read;
        status.last_run_summaries_repaired = report.summaries_repaired;
        status.last_run_conflicts = report.conflicts;
        status.last_run_skipped = report.skipped;
        status.last_run_skipped_items = report.skipped_items.clone();
    }
    let item = if expected == 0 {
        shared::store::put_new_item(&ctx.store.tables().meta, status)?
    } else {
        put_versioned_item(&ctx.store.tables().meta, status, expected)?
    };
    ctx.store.transact(vec![item]).await
}

fn note(result: Result<Map<String, Value>, StoreError>, report: &mut RollupReport) -> Result<(), StoreError> {
    match result {
        Ok(_) => {
            report.summaries_repaired += 1;
            Ok(())
        }
        // Written meanwhile: the next run recomputes it.
        Err(StoreError::ConditionFailed) => {
            report.conflicts += 1;
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// An event's links as they are now, counted in the report.
async fn links_of(
    ctx: &AppContext,
    event: &PartnershipEvent,
    report: &mut RollupReport,
) -> Result<Vec<PartnerEventLink>, StoreError> {
    let links = ctx.store.current_links_of_event(&event.id).await?;
    report.items_read += links.len() as u64;
    Ok(links)
}

/// An event's counters and reference count as its links and records say.
async fn recount(
    ctx: &AppContext,
    event: &PartnershipEvent,
    report: &mut RollupReport,
) -> Result<(EventCounters, i64, bool, Vec<PartnerEventLink>), StoreError> {
    let store = &ctx.store;
    let links = links_of(ctx, event, report).await?;
    let stale_names = links
        .iter()
        .any(|l| l.event_id_year != event.event_id_year() || l.event_name != event.name);
    let counters = links.iter().fold(EventCounters::default(), |c, l| {
        c.plus(EventCounters::of_link(&l.status, l.amount))
    });
    let (documents, communications) = futures::try_join!(
        store.documents_of_event(&event.id),
        store.communications_of_event(&event.id)
    )?;
    // Only ever raised: the index may lag a write, and a too-low count could let an event be
    // deleted while something points at it.
    let reference_count = event
        .reference_count
        .max((documents.len() + communications.len()) as i64);
    Ok((counters, reference_count, stale_names, links))
}

/// Writes the secured-deal rows (what renewals read) of an event's secured links that have
/// none: links secured before those rows existed. Only adds: the stream processor removes a
/// row when its deal falls through, and renewals check each row against its link anyway.
async fn backfill_secured_rows(
    ctx: &AppContext,
    event_id: &str,
    links: &[PartnerEventLink],
    report: &mut RollupReport,
) -> Result<(), StoreError> {
    let secured: Vec<LinkFacts> = links
        .iter()
        .map(LinkFacts::from)
        .filter(|l| l.secured_key().is_some())
        .collect();
    if secured.is_empty() {
        return Ok(());
    }
    let existing: BTreeSet<String> = ctx
        .store
        .secured_deals(&[event_id.to_string()])
        .await?
        .iter()
        .filter_map(LinkFacts::secured_key)
        .collect();
    let mut missing = BTreeMap::new();
    for link in &secured {
        let Some(sort) = link.secured_key().filter(|k| !existing.contains(k)) else {
            continue;
        };
        let pk = secured_pk(event_id);
        let item = row_item(&pk, &sort, link)?;
        missing.insert((pk, sort), Some(item));
    }
    if missing.is_empty() {
        return Ok(());
    }
    report.summaries_repaired += missing.len() as u64;
    ctx.store.write_rows(missing).await
}

/// How long the rollup waits before trusting a disagreement between an event's counters and
/// its indexed links: long enough for an index to catch up with a write it has not shown yet.
const INDEX_SETTLE: Duration = Duration::from_millis(500);

/// Recomputes an event's counters and reference count, finishes a pending re-key (or one an
/// index lag hid from its pass), and drops the legacy `linkIds` copy.
async fn repair_event(
    ctx: &AppContext,
    mut event: PartnershipEvent,
    legacy_link_ids: bool,
    report: &mut RollupReport,
) -> Result<(), StoreError> {
    let store = &ctx.store;
    let (mut counters, mut reference_count, stale_names, links) = recount(ctx, &event, report).await?;
    backfill_secured_rows(ctx, &event.id, &links, report).await?;
    if event.rekey_pending != 0 || stale_names {
        store.rekey_event(&event).await?;
    }
    if event.rekey_pending != 0 || stale_names || counters != event.counters {
        // Re-read, and let the index settle, before calling anything drift.
        tokio::time::sleep(INDEX_SETTLE).await;
        match store.get_event(&event.id).await? {
            Some(fresh) => event = fresh,
            None => return Ok(()),
        }
        (counters, reference_count, _, _) = recount(ctx, &event, report).await?;
    }
    if counters == event.counters && reference_count == event.reference_count && !legacy_link_ids {
        return Ok(());
    }
    tracing::warn!(event = %event.id, stored = ?event.counters, recomputed = ?counters, "repairing event summary");
    let mut update = Update::maintenance().expect_version(event.version);
    for (attr, value) in counters.fields() {
        update = update.set(attr, value)?;
    }
    let update = update
        .remove_path(&[LEGACY_LINK_IDS])
        .set("referenceCount", reference_count)?;
    note(
        store
            .update::<Map<String, Value>>(&store.tables().events, &event.id, &update)
            .await,
        report,
    )
}

/// Attribute in which events once carried the ids of their links (the `links-by-event` index
/// now finds them): removed from items written before.
const LEGACY_LINK_IDS: &str = "linkIds";

/// Attribute in which partners once carried a copy of every link (the directory now reads the
/// links table): removed from items written before, so no partner read pays for it.
const LEGACY_LINK_SUMMARIES: &str = "linkSummaries";

/// Keeps a partner's derived attributes true: its entries in the sparse archived and email
/// indexes follow the flag and the email (items written before the indexes existed), and legacy
/// link copies go. A maintenance write (version only), made only when something is off.
async fn tidy_partner(
    ctx: &AppContext,
    partner: &Partner,
    legacy: bool,
    indexed: bool,
    email_indexed: bool,
    report: &mut RollupReport,
) -> Result<(), StoreError> {
    if !legacy && indexed == partner.archived && email_indexed {
        return Ok(());
    }
    let store = &ctx.store;
    let update = with_email_index(
        Update::maintenance().remove_path(&[LEGACY_LINK_SUMMARIES]),
        &partner.email,
    )?;
    let update = if partner.archived {
        update.set(ARCHIVED_INDEX_ATTR, ARCHIVED)?
    } else {
        update.remove_path(&[ARCHIVED_INDEX_ATTR])
    };
    let update = update.expect_version(partner.version);
    note(
        store
            .update::<Map<String, Value>>(&store.tables().partners, &partner.id, &update)
            .await,
        report,
    )
}

/// Sets the partner counters to the pass's count when two passes in a row found the same
/// mismatch and the counters did not move in between. The stream processor applies partner
/// writes seconds after they happen, so one pass can count a partner the counters do not have
/// yet; a mismatch that outlives a whole pass with no counter write is drift, not lag.
async fn repair_counts(
    ctx: &AppContext,
    status: &mut RollupStatus,
    report: &mut RollupReport,
) -> Result<(), StoreError> {
    let store = &ctx.store;
    let counts: Counts = store
        .get(&store.tables().meta, PARTNER_COUNTS_ID)
        .await?
        .unwrap_or_default();
    if counts.partner_count == status.pass_partner_count && counts.archived_partner_count == status.pass_archived_count
    {
        status.counts_mismatch = None;
        return Ok(());
    }
    let seen = CountsMismatch {
        version: counts.version,
        partner_count: status.pass_partner_count,
        archived_partner_count: status.pass_archived_count,
    };
    if status.counts_mismatch.as_ref() != Some(&seen) || counts.version != status.pass_counts_version {
        // First sighting (or the counters moved since): wait for the next pass to confirm.
        status.counts_mismatch = Some(seen);
        report.conflicts += 1;
        return Ok(());
    }
    status.counts_mismatch = None;
    tracing::warn!(
        stored = counts.partner_count,
        counted = status.pass_partner_count,
        "repairing partner counters"
    );
    let update = Update::maintenance()
        .allow_missing()
        .set("partnerCount", status.pass_partner_count)?
        .set("archivedPartnerCount", status.pass_archived_count)?
        .expect_version(counts.version);
    note(
        store
            .update::<Map<String, Value>>(&store.tables().meta, PARTNER_COUNTS_ID, &update)
            .await,
        report,
    )
}
