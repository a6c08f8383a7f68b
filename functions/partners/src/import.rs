//! CSV import (issue 16.4): POST `/partnerships/import` plans every row through the API's rules
//! (a dry run answers the plan), then writes it in chunks — each one transaction with its
//! record of what it wrote and the import's cursor, so a chunk is written exactly once and a run
//! cut off by its time budget is resumed where it stopped (`…/resume`). `…/revert` undoes
//! exactly what the import wrote, unless something it wrote was edited since.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::Utc;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{Map, Value, json};
use shared::auth::Caller;
use shared::domain::event::{EventCounters, PartnershipEvent};
use shared::domain::import::{
    IMPORT_KIND, LinkStep, PartnerIndex, PartnerStep, RowPlan, WriteRecord, chunks, csv_rows, import_row_id,
    normalized_company, undo_plan, writes_row_id,
};
use shared::domain::link::{LinkChanges, NewLink, PartnerEventLink};
use shared::domain::normalize::query_boolean;
use shared::domain::partner::{Partner, PartnerChanges};
use shared::domain::records::{Communication, Document};
use shared::domain::sheets::{RejectedRow, SheetRow, event_year, link_body, named_event, names_event, partner_body};
use shared::http::{json_response, ok, query_params};
use shared::store::imports::{ImportCounts, ImportRow, WritesRow};
use shared::store::partners::{partner_item, partner_update};
use shared::store::{Retries, Store, StoreError, Update, delete_versioned_item, put_new_item, put_versioned_item};
use shared::{ApiError, ApiResult, AppContext};

/// How long one request works before it answers 202 and leaves the rest to `…/resume` (or to
/// the next `…/revert`), counted from the request's start: the function's timeout is 20 s, and
/// a chunk or an undo batch in flight when the budget ends still finishes.
const REQUEST_BUDGET: Duration = Duration::from_secs(12);

/// Rejected rows an import's row keeps.
const MAX_REJECTED_KEPT: usize = 200;

/// Undo steps per revert transaction (each a partner or a link, plus its event's counters).
const UNDO_PER_TRANSACTION: usize = 10;

/// The CSV and `dryRun` of a request: a `text/csv` body (with `?dryRun=true`), or JSON
/// `{"csv": "...", "dryRun": true}`.
fn csv_and_dry_run(request: &Request) -> ApiResult<(String, bool)> {
    let raw = match request.body() {
        Body::Text(text) => text.clone(),
        Body::Binary(bytes) => String::from_utf8(bytes.clone())
            .map_err(|_| ApiError::validation("The CSV must be UTF-8 text.", json!({})))?,
        _ => String::new(),
    };
    let query_dry_run = query_boolean(query_params(request).get("dryRun").map(String::as_str)) == Some(true);
    if raw.trim_start().starts_with('{') {
        let body = shared::http::json_body(request)?;
        let csv = body
            .get("csv")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::validation("'csv' must be the CSV text.", json!({})))?;
        let dry_run = shared::domain::normalize::boolean(body.get("dryRun"), "dryRun")?.unwrap_or(query_dry_run);
        return Ok((csv.to_string(), dry_run));
    }
    if raw.trim().is_empty() {
        return Err(ApiError::validation(
            "The request must carry the CSV to import.",
            json!({}),
        ));
    }
    Ok((raw, query_dry_run))
}

/// Whether the request asks for a dry run (an unreadable body is not: the run refuses it).
pub fn is_dry_run(request: &Request) -> bool {
    csv_and_dry_run(request).is_ok_and(|(_, dry_run)| dry_run)
}

fn reject(row: &SheetRow, reason: impl Into<String>) -> RejectedRow {
    RejectedRow {
        row: row.number,
        reason: reason.into(),
    }
}

/// What the tables hold, for planning.
struct Current {
    partners: HashMap<String, Partner>,
    links: HashMap<String, PartnerEventLink>,
    events: Vec<PartnershipEvent>,
}

/// Plans every row: its partner (found as the index says, else new), and its link to the event
/// it names (which must exist). A row with any invalid cell is rejected whole.
fn plan_rows(rows: &[SheetRow], current: &Current, actor: &str, now: i64) -> (Vec<RowPlan>, Vec<RejectedRow>) {
    let mut index = PartnerIndex::default();
    current.partners.values().for_each(|p| index.add(p));
    let mut planned_links: HashSet<String> = HashSet::new();
    let mut planned: HashMap<String, Partner> = HashMap::new();
    let mut plans = Vec::new();
    let mut rejected = Vec::new();
    for row in rows {
        match plan_row(row, current, &index, &planned, &planned_links, actor, now) {
            Ok(plan) => {
                if let PartnerStep::Create { partner } = &plan.partner {
                    index.add(partner);
                    planned.insert(partner.id.clone(), partner.clone());
                }
                if let Some(link) = &plan.link {
                    planned_links.insert(link.link_id().to_string());
                }
                plans.push(plan);
            }
            Err(why) => rejected.push(reject(row, why)),
        }
    }
    (plans, rejected)
}

fn plan_row(
    row: &SheetRow,
    current: &Current,
    index: &PartnerIndex,
    planned: &HashMap<String, Partner>,
    planned_links: &HashSet<String>,
    actor: &str,
    now: i64,
) -> Result<RowPlan, String> {
    let mut body = partner_body(row)?;
    let partner = match index.find(row) {
        Some((id, matched_by)) => {
            // The existing partner, or one an earlier row of this file creates.
            let stored = current
                .partners
                .get(&id)
                .or_else(|| planned.get(&id))
                .cloned()
                .unwrap_or_default();
            // "ACME" for "Acme Inc" names the same company: no rename.
            let same_company = body
                .get("company")
                .and_then(Value::as_str)
                .is_some_and(|c| normalized_company(c) == normalized_company(&stored.company));
            if same_company {
                body.remove("company");
            }
            let changes = PartnerChanges::parse(&body, false).map_err(|e| e.message)?;
            let now_value = serde_json::to_value(&stored).unwrap_or_default();
            let fields: Vec<String> = changes
                .assignments(&stored)
                .into_iter()
                .filter(|(attr, value)| now_value.get(*attr) != Some(value))
                .map(|(attr, _)| attr.to_string())
                .collect();
            if fields.is_empty() {
                PartnerStep::Unchanged { id, matched_by }
            } else {
                PartnerStep::Update {
                    id,
                    body,
                    fields,
                    matched_by,
                }
            }
        }
        None => {
            let changes = PartnerChanges::parse(&body, true)
                .map_err(|e| format!("{} (a new partner needs a company)", e.message))?;
            PartnerStep::Create {
                partner: changes.into_new_partner(uuid::Uuid::new_v4().to_string(), now, actor),
            }
        }
    };
    if !names_event(row) {
        return Ok(RowPlan {
            row: row.number,
            partner,
            link: None,
        });
    }
    let year = event_year(row)?;
    let event = named_event(row, year, &current.events).ok_or_else(|| {
        format!(
            "event {} does not exist (create it first)",
            row.get("eventId").or(row.get("eventName")).unwrap_or_default()
        )
    })?;
    let mut link_fields = link_body(row)?;
    let pair = PartnerEventLink::id_for(partner.partner_id(), &event.id);
    let link = if let Some(stored) = current.links.get(&pair) {
        let changes = LinkChanges::parse_patch(&link_fields).map_err(|e| e.message)?;
        if changes.apply_to(stored, Some(event)) == *stored {
            LinkStep::Unchanged { id: pair }
        } else {
            LinkStep::Update {
                id: pair,
                body: link_fields,
            }
        }
    } else if planned_links.contains(&pair) {
        LinkChanges::parse_patch(&link_fields).map_err(|e| e.message)?;
        LinkStep::Update {
            id: pair,
            body: link_fields,
        }
    } else {
        link_fields.insert("eventId".into(), json!(event.id));
        if let Some(year) = year {
            link_fields.insert("eventYear".into(), json!(year));
        }
        let new = NewLink::parse(&link_fields).map_err(|e| e.message)?;
        new.check_year(event).map_err(|e| e.message)?;
        LinkStep::Create {
            link: new.build(partner.partner_id(), event, now, actor),
        }
    };
    Ok(RowPlan {
        row: row.number,
        partner,
        link: Some(link),
    })
}

/// The dry run's answer: what a run would do, row by row.
fn diff(total: usize, plans: &[RowPlan], rejected: &[RejectedRow], current: &Current) -> Value {
    let planned: HashMap<&str, &str> = plans
        .iter()
        .filter_map(|p| match &p.partner {
            PartnerStep::Create { partner } => Some((partner.id.as_str(), partner.company.as_str())),
            _ => None,
        })
        .collect();
    let company = |step: &PartnerStep| match step {
        PartnerStep::Create { partner } => partner.company.clone(),
        PartnerStep::Update { id, .. } | PartnerStep::Unchanged { id, .. } => current
            .partners
            .get(id)
            .map(|p| p.company.clone())
            .or_else(|| planned.get(id.as_str()).map(|c| c.to_string()))
            .unwrap_or_default(),
    };
    let (mut create, mut update, mut unchanged) = (Vec::new(), Vec::new(), Vec::new());
    let (mut link_create, mut link_update, mut link_unchanged) = (Vec::new(), Vec::new(), 0);
    for plan in plans {
        match &plan.partner {
            PartnerStep::Create { partner } => {
                create.push(json!({"row": plan.row, "partnerId": partner.id, "company": partner.company}))
            }
            PartnerStep::Update {
                id, fields, matched_by, ..
            } => update.push(json!({"row": plan.row, "partnerId": id, "company": company(&plan.partner), "fields": fields, "matchedBy": matched_by})),
            PartnerStep::Unchanged { id, matched_by } => unchanged.push(json!({"row": plan.row, "partnerId": id, "company": company(&plan.partner), "matchedBy": matched_by})),
        }
        match &plan.link {
            Some(LinkStep::Create { link }) => link_create.push(json!({"row": plan.row, "linkId": link.id, "partnerId": link.partner_id, "eventId": link.event_id, "status": link.status, "amount": link.amount})),
            Some(LinkStep::Update { id, body }) => link_update.push(json!({"row": plan.row, "linkId": id, "fields": body.keys().collect::<Vec<_>>()})),
            Some(LinkStep::Unchanged { .. }) => link_unchanged += 1,
            None => {}
        }
    }
    json!({
        "dryRun": true,
        "message": "Import preview: nothing was written.",
        "totalRows": total,
        "validRows": plans.len(),
        "partners": {"create": create, "update": update, "unchanged": unchanged},
        "links": {"create": link_create, "update": link_update, "unchanged": link_unchanged},
        "rejectedRows": rejected.iter().map(RejectedRow::to_wire).collect::<Vec<_>>(),
    })
}

/// POST `/partnerships/import`.
pub async fn start(request: &Request, ctx: &AppContext, caller: &Caller) -> ApiResult<Response<Body>> {
    let started = Instant::now();
    let (csv, dry_run) = csv_and_dry_run(request)?;
    let rows = csv_rows(&csv)?;
    let store = &ctx.store;
    let (partners, links, events) = futures::try_join!(store.all_partners(), store.all_links(), store.all_events())?;
    let current = Current {
        partners: partners.into_iter().map(|p| (p.id.clone(), p)).collect(),
        links: links.into_iter().map(|l| (l.id.clone(), l)).collect(),
        events,
    };
    let now = Utc::now().timestamp_millis();
    let (plans, rejected) = plan_rows(&rows, &current, &caller.email, now);
    if dry_run {
        return ok(&diff(rows.len(), &plans, &rejected, &current));
    }
    let import_id = uuid::Uuid::new_v4().to_string();
    let chunks = chunks(&plans);
    let import = ImportRow {
        id: import_row_id(&import_id),
        import_id: import_id.clone(),
        row_kind: IMPORT_KIND.into(),
        row_order: format!("{now:015}#{import_id}"),
        status: "running".into(),
        total_rows: rows.len(),
        valid_rows: plans.len(),
        chunk_count: chunks.len(),
        cursor: 0,
        counts: ImportCounts::default(),
        // The first ones only: the import's row must stay well under DynamoDB's 400 KB (the dry
        // run lists them all).
        rejected_rows: rejected
            .iter()
            .take(MAX_REJECTED_KEPT)
            .map(RejectedRow::to_wire)
            .collect(),
        rejected_count: rejected.len(),
        created_at: now,
        created_by: caller.email.clone(),
        updated_at: now,
        updated_by: caller.email.clone(),
        version: 1,
    };
    store.create_import(&import, &chunks).await?;
    let import = run(ctx, &import_id, &caller.email, started, budget(request)).await?;
    answer(&import)
}

/// `?budgetMs=` lowers the request's writing time (at least one chunk is always written).
fn budget(request: &Request) -> Duration {
    query_params(request)
        .get("budgetMs")
        .and_then(|b| b.trim().parse::<u64>().ok())
        .map_or(REQUEST_BUDGET, |ms| Duration::from_millis(ms).min(REQUEST_BUDGET))
}

fn answer(import: &ImportRow) -> ApiResult<Response<Body>> {
    let status = match import.status.as_str() {
        "running" => StatusCode::ACCEPTED,
        _ => StatusCode::OK,
    };
    Ok(json_response(status, &answer_body(import)))
}

fn answer_body(import: &ImportRow) -> Value {
    let message = match import.status.as_str() {
        "running" => format!(
            "Import continues: POST /partnerships/import/{}/resume to write the rest.",
            import.import_id
        ),
        "completed" => "Import completed.".to_string(),
        "reverted" => "Import reverted.".to_string(),
        other => format!("Import {other}."),
    };
    json!({
        "message": message,
        "importId": import.import_id,
        "status": import.status,
        "dryRun": false,
        "totalRows": import.total_rows,
        "validRows": import.valid_rows,
        "chunkCount": import.chunk_count,
        "chunksWritten": import.cursor,
        "counts": import.counts,
        "rejectedRows": import.rejected_rows,
        "rejectedCount": import.rejected_count,
        "createdAt": import.created_at,
        "createdBy": import.created_by,
    })
}

async fn load(ctx: &AppContext, id: &str) -> ApiResult<ImportRow> {
    ctx.store
        .get_import(id)
        .await?
        .ok_or_else(|| ApiError::not_found("import", id))
}

/// GET `/partnerships/import/{importId}`.
pub async fn show(ctx: &AppContext, id: &str) -> ApiResult<Response<Body>> {
    answer(&load(ctx, id).await?)
}

/// GET `/partnerships/import`: every import, newest first.
pub async fn list(ctx: &AppContext) -> ApiResult<Response<Body>> {
    let mut imports = ctx.store.imports().await?;
    imports.reverse();
    let wire: Vec<Value> = imports
        .iter()
        .map(|i| json!({"importId": i.import_id, "status": i.status, "totalRows": i.total_rows, "counts": i.counts, "createdAt": i.created_at, "createdBy": i.created_by}))
        .collect();
    ok(&json!({"imports": wire}))
}

/// POST `/partnerships/import/{importId}/resume`: writes what is left (nothing, for a finished
/// import: asking again is harmless).
pub async fn resume(request: &Request, ctx: &AppContext, id: &str, caller: &Caller) -> ApiResult<Response<Body>> {
    load(ctx, id).await?;
    let import = run(ctx, id, &caller.email, Instant::now(), budget(request)).await?;
    answer(&import)
}

/// Writes chunks from the cursor until done or the budget is spent (at least one).
async fn run(ctx: &AppContext, id: &str, actor: &str, started: Instant, budget: Duration) -> ApiResult<ImportRow> {
    let events = ctx.store.all_events().await?;
    let mut retries = Retries::default();
    let mut wrote = false;
    loop {
        let import = load(ctx, id).await?;
        if import.status != "running" {
            return Ok(import);
        }
        if import.cursor >= import.chunk_count {
            let done = Update::new(actor, Utc::now().timestamp_millis())
                .expect_version(import.version)
                .set("status", "completed")?;
            match ctx
                .store
                .update::<ImportRow>(&ctx.config.tables.meta, &import.id, &done)
                .await
            {
                Ok(finished) => return Ok(finished),
                Err(e) if e.should_retry() => continue,
                Err(e) => return Err(e.into()),
            }
        }
        if wrote && started.elapsed() >= budget {
            return Ok(import);
        }
        let rows = ctx.store.import_chunk(id, import.cursor).await?;
        match write_chunk(ctx, &import, &rows, &events, actor).await {
            Ok(()) => {
                wrote = true;
                retries = Retries::default();
            }
            // A record changed between read and write, or another run wrote this chunk: look again.
            Err(e) if e.should_retry() => retries.next().await?,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Writes one chunk in one transaction: its rows' partners and links (read again now, strongly
/// consistent, and changed only where the row changes them), their events' counters, the record
/// of what it wrote, and the import's cursor.
async fn write_chunk(
    ctx: &AppContext,
    import: &ImportRow,
    rows: &[RowPlan],
    events: &[PartnershipEvent],
    actor: &str,
) -> Result<(), StoreError> {
    let store = &ctx.store;
    let tables = &ctx.config.tables;
    let now = Utc::now().timestamp_millis();
    let partner_ids: Vec<String> = rows.iter().map(|r| r.partner.partner_id().to_string()).collect();
    let link_ids: Vec<String> = rows
        .iter()
        .filter_map(|r| Some(r.link.as_ref()?.link_id().to_string()))
        .collect();
    let (partners, links) = futures::try_join!(
        store.batch_get::<Partner>(&tables.partners, &partner_ids),
        store.links_by_ids(&link_ids)
    )?;
    let partners: HashMap<String, Partner> = partners.into_iter().map(|p| (p.id.clone(), p)).collect();
    let links: HashMap<String, PartnerEventLink> = links.into_iter().map(|l| (l.id.clone(), l)).collect();
    let mut items = Vec::new();
    let mut records = Vec::new();
    let mut counts = ImportCounts::default();
    let mut deltas: BTreeMap<String, EventCounters> = BTreeMap::new();
    for row in rows {
        match &row.partner {
            // Already there: a resumed run after this chunk's partner was written some other way.
            PartnerStep::Create { partner } if partners.contains_key(&partner.id) => {}
            PartnerStep::Create { partner } => {
                items.push(put_new_item(&tables.partners, &partner_item(partner)?)?);
                records.push(record("partner", &partner.id, "created", None, 1));
                counts.partners_created += 1;
            }
            PartnerStep::Update { id, body, .. } => {
                let (Some(stored), Ok(changes)) = (partners.get(id), PartnerChanges::parse(body, false)) else {
                    continue;
                };
                if let Some(update) = partner_update(stored, &changes, actor, now, true)? {
                    items.push(update.into_transact(&tables.partners, id)?);
                    records.push(record(
                        "partner",
                        id,
                        "updated",
                        Some(json!(stored)),
                        stored.version + 1,
                    ));
                    counts.partners_updated += 1;
                }
            }
            PartnerStep::Unchanged { .. } => {}
        }
        match &row.link {
            Some(LinkStep::Create { link }) if !links.contains_key(&link.id) => {
                items.push(put_new_item(&tables.links, link)?);
                let delta = deltas.entry(link.event_id.clone()).or_default();
                *delta = delta.plus(EventCounters::of_link(&link.status, link.amount));
                records.push(record("link", &link.id, "created", None, 1));
                counts.links_created += 1;
            }
            Some(LinkStep::Update { id, body }) => {
                let (Some(stored), Ok(changes)) = (links.get(id), LinkChanges::parse_patch(body)) else {
                    continue;
                };
                let event = events.iter().find(|e| e.id == stored.event_id);
                let patched = changes.apply_to(stored, event);
                if patched == *stored {
                    continue;
                }
                let updated = PartnerEventLink {
                    updated_at: now,
                    updated_by: actor.to_string(),
                    version: stored.version + 1,
                    ..patched
                };
                items.push(put_versioned_item(&tables.links, &updated, stored.version)?);
                let delta = deltas.entry(stored.event_id.clone()).or_default();
                *delta = delta
                    .plus(EventCounters::of_link(&updated.status, updated.amount))
                    .minus(EventCounters::of_link(&stored.status, stored.amount));
                records.push(record("link", id, "updated", Some(json!(stored)), updated.version));
                counts.links_updated += 1;
            }
            _ => {}
        }
    }
    for (event_id, delta) in deltas.into_iter().filter(|(_, d)| !d.is_zero()) {
        items.push(Store::counters_update(delta).into_transact(&tables.events, &event_id)?);
    }
    let writes = WritesRow {
        id: writes_row_id(&import.import_id, import.cursor),
        writes: serde_json::to_string(&records).map_err(|e| StoreError::Sdk(Box::new(e)))?,
    };
    items.push(put_new_item(&tables.meta, &writes)?);
    let cursor = Update::maintenance()
        .expect_equal("cursor", import.cursor)?
        .expect_equal("status", "running")?
        .set("cursor", import.cursor + 1)?
        .add("partnersCreated", counts.partners_created as i64)
        .add("partnersUpdated", counts.partners_updated as i64)
        .add("linksCreated", counts.links_created as i64)
        .add("linksUpdated", counts.links_updated as i64);
    items.push(cursor.into_transact(&tables.meta, &import.id)?);
    store.transact(items).await
}

fn record(kind: &str, id: &str, action: &str, before: Option<Value>, version: u64) -> WriteRecord {
    WriteRecord {
        kind: kind.into(),
        id: id.into(),
        action: action.into(),
        before,
        version,
    }
}

/// POST `/partnerships/import/{importId}/revert`: undoes every write of the import — created
/// links and partners deleted, updated ones restored — if none was edited since (else 409 with
/// what was, and nothing undone). Undone in transactions with the events' counters, for up to
/// the request's budget: a large revert answers 202 and goes on when asked again.
pub async fn revert(request: &Request, ctx: &AppContext, id: &str, caller: &Caller) -> ApiResult<Response<Body>> {
    let started = Instant::now();
    let budget = budget(request);
    let store = &ctx.store;
    let tables = &ctx.config.tables;
    let import = load(ctx, id).await?;
    if import.status == "reverted" {
        return answer(&import);
    }
    // The first call checks everything; a later one (a revert that ran out of time) goes on.
    let first_call = import.status != "reverting";
    // Stop the writing first: a resume never writes into a revert.
    let import = if first_call {
        let stop = Update::new(&caller.email, Utc::now().timestamp_millis())
            .expect_version(import.version)
            .set("status", "reverting")?;
        store
            .update::<ImportRow>(&tables.meta, &import.id, &stop)
            .await
            .map_err(|e| match e.is_condition_failure() {
                true => ApiError::Conflicting("The import changed meanwhile; ask again.".into()),
                false => e.into(),
            })?
    } else {
        import
    };
    let (records, events) = futures::try_join!(store.import_writes(id, import.cursor), store.all_events())?;
    let events: HashSet<String> = events.into_iter().map(|e| e.id).collect();
    let undo = undo_plan(&records);
    let of_kind = |kind: &str| -> Vec<String> {
        undo.iter()
            .filter(|(r, _)| r.kind == kind)
            .map(|(r, _)| r.id.clone())
            .collect()
    };
    let (partner_ids, link_ids) = (of_kind("partner"), of_kind("link"));
    let (partners, links) = futures::try_join!(
        store.batch_get::<Partner>(&tables.partners, &partner_ids),
        store.links_by_ids(&link_ids)
    )?;
    let partners: HashMap<String, Partner> = partners.into_iter().map(|p| (p.id.clone(), p)).collect();
    let links: HashMap<String, PartnerEventLink> = links.into_iter().map(|l| (l.id.clone(), l)).collect();
    let ours: BTreeSet<&str> = link_ids.iter().map(String::as_str).collect();
    let mut conflicts = Vec::new();
    let mut steps = Vec::new();
    let mut created_partners = Vec::new();
    for (first, last_version) in &undo {
        let version = match first.kind.as_str() {
            "partner" => partners.get(&first.id).map(|p| p.version),
            _ => links.get(&first.id).map(|l| l.version),
        };
        // Undone by an earlier call of an interrupted revert.
        let done = match (first.action.as_str(), version) {
            ("created", None) => !first_call,
            ("updated", Some(v)) => !first_call && v == last_version + 1 && is_restored(first, &partners, &links),
            _ => false,
        };
        if done {
            continue;
        }
        if version != Some(*last_version) {
            conflicts.push(
                json!({"kind": first.kind, "id": first.id, "reason": "edited or deleted since the import wrote it"}),
            );
            continue;
        }
        if first.kind == "partner" && first.action == "created" {
            created_partners.push(first.id.clone());
        }
        steps.push((first.clone(), *last_version));
    }
    if first_call {
        // A created partner is deleted only if nobody has added anything to it since.
        let checked = added_to(store, &created_partners, &ours).await?;
        for (partner, _) in checked.into_iter().filter(|(_, added)| *added) {
            conflicts.push(
                json!({"kind": "partner", "id": partner, "reason": "has links, documents or communications added since"}),
            );
        }
    }
    if !conflicts.is_empty() {
        if first_call {
            let back = Update::new(&caller.email, Utc::now().timestamp_millis())
                .expect_version(import.version)
                .set(
                    "status",
                    if import.cursor >= import.chunk_count {
                        "completed"
                    } else {
                        "running"
                    },
                )?;
            store.update::<ImportRow>(&tables.meta, &import.id, &back).await?;
            return Err(ApiError::ConflictWith {
                message: "The import cannot be reverted: records it wrote were edited since. Nothing was undone."
                    .into(),
                data: json!({"conflicts": conflicts}),
            });
        }
        return Err(ApiError::ConflictWith {
            message: "Records this import wrote were edited while it was being reverted; the rest was not undone."
                .into(),
            data: json!({"conflicts": conflicts}),
        });
    }
    let now = Utc::now().timestamp_millis();
    for (n, batch) in steps.chunks(UNDO_PER_TRANSACTION).enumerate() {
        // At least one batch per call, so every call makes progress.
        if n > 0 && started.elapsed() >= budget {
            let mut body = answer_body(&import);
            body["message"] = json!(format!(
                "Revert continues: POST /partnerships/import/{id}/revert again to undo the rest."
            ));
            return Ok(json_response(StatusCode::ACCEPTED, &body));
        }
        let mut items = Vec::new();
        let mut deltas: BTreeMap<String, EventCounters> = BTreeMap::new();
        for (first, version) in batch {
            match (first.kind.as_str(), first.action.as_str()) {
                ("link", action) => {
                    let Some(current) = links.get(&first.id) else { continue };
                    let delta = deltas.entry(current.event_id.clone()).or_default();
                    *delta = delta.minus(EventCounters::of_link(&current.status, current.amount));
                    if action == "created" {
                        items.push(delete_versioned_item(&tables.links, &first.id, *version)?);
                    } else {
                        let before: PartnerEventLink = before_image(first)?;
                        *delta = delta.plus(EventCounters::of_link(&before.status, before.amount));
                        let restored = PartnerEventLink {
                            version: version + 1,
                            updated_at: now,
                            updated_by: caller.email.clone(),
                            ..before
                        };
                        items.push(put_versioned_item(&tables.links, &restored, *version)?);
                    }
                }
                (_, "created") => items.push(delete_versioned_item(&tables.partners, &first.id, *version)?),
                _ => {
                    let before: Partner = before_image(first)?;
                    let restored = Partner {
                        version: version + 1,
                        updated_at: now,
                        updated_by: caller.email.clone(),
                        ..before
                    };
                    items.push(put_versioned_item(
                        &tables.partners,
                        &partner_item(&restored)?,
                        *version,
                    )?);
                }
            }
        }
        for (event_id, delta) in deltas.into_iter().filter(|(_, d)| !d.is_zero()) {
            if events.contains(&event_id) {
                items.push(Store::counters_update(delta).into_transact(&tables.events, &event_id)?);
            }
        }
        store
            .transact(items)
            .await
            .map_err(|e| match e.is_condition_failure() {
                true => ApiError::ConflictWith {
                    message: "A record changed while the import was being reverted; ask again to finish.".into(),
                    data: json!({}),
                },
                false => e.into(),
            })?;
    }
    let done = Update::new(&caller.email, Utc::now().timestamp_millis())
        .expect_version(import.version)
        .set("status", "reverted")?;
    let reverted = store.update::<ImportRow>(&tables.meta, &import.id, &done).await?;
    answer(&reverted)
}

/// Created partners checked one by one before a revert; more are checked with one projected
/// scan of the links, documents and communications instead (billed by bytes, it is cheaper than
/// three queries per partner once there are many).
const CHECKED_ONE_BY_ONE: usize = 50;

/// For each of `partners`, whether anyone added a link (not one of `ours`), a document or a
/// communication to it.
async fn added_to(
    store: &Store,
    partners: &[String],
    ours: &BTreeSet<&str>,
) -> Result<Vec<(String, bool)>, StoreError> {
    if partners.len() <= CHECKED_ONE_BY_ONE {
        let added = futures::future::try_join_all(partners.iter().map(|p| added_since(store, p, ours))).await?;
        return Ok(partners.iter().cloned().zip(added).collect());
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Owner {
        partner_id: String,
    }
    let tables = store.tables();
    let (links, documents, communications) = futures::try_join!(
        store.all_link_summaries(),
        store.scan_parallel::<Owner>(&tables.documents, &["partnerId"], 4),
        store.scan_parallel::<Owner>(&tables.communications, &["partnerId"], 4),
    )?;
    let touched: HashSet<&str> = links
        .iter()
        .filter(|l| !ours.contains(l.id.as_str()))
        .map(|l| l.partner_id.as_str())
        .chain(documents.iter().chain(&communications).map(|r| r.partner_id.as_str()))
        .collect();
    Ok(partners
        .iter()
        .map(|p| (p.clone(), touched.contains(p.as_str())))
        .collect())
}

/// Whether anyone added a link (not one of `ours`), a document or a communication to a partner.
async fn added_since(store: &Store, partner: &str, ours: &BTreeSet<&str>) -> Result<bool, StoreError> {
    let (others, (documents, _), (communications, _)) = futures::try_join!(
        store.links_of(partner),
        store.list_records::<Document>(partner, Some(1), None),
        store.list_records::<Communication>(partner, Some(1), None),
    )?;
    Ok(others.iter().any(|l| !ours.contains(l.id.as_str())) || !documents.is_empty() || !communications.is_empty())
}

/// The item as it was before the import updated it.
fn before_image<T: serde::de::DeserializeOwned>(record: &WriteRecord) -> ApiResult<T> {
    serde_json::from_value(record.before.clone().unwrap_or_default()).map_err(|e| ApiError::Internal(Box::new(e)))
}

/// Whether an updated record stands as it was before the import (an interrupted revert that
/// restored it already).
fn is_restored(
    first: &WriteRecord,
    partners: &HashMap<String, Partner>,
    links: &HashMap<String, PartnerEventLink>,
) -> bool {
    let current = match first.kind.as_str() {
        "partner" => partners.get(&first.id).and_then(|p| serde_json::to_value(p).ok()),
        _ => links.get(&first.id).and_then(|l| serde_json::to_value(l).ok()),
    };
    let strip = |v: Value| -> Map<String, Value> {
        let mut map = v.as_object().cloned().unwrap_or_default();
        for key in ["version", "updatedAt", "updatedBy"] {
            map.remove(key);
        }
        map
    };
    matches!((current, &first.before), (Some(c), Some(b)) if strip(c.clone()) == strip(b.clone()))
}
