//! POST `/partnerships/partners/{partnerId}/merge` (issue 16.5): merges partner `from` into the
//! path's partner. Every write is conditional on what was read, and the plan is made again from
//! fresh reads when one fails, so concurrent edits are never overwritten and a merge cut off
//! half-way is finished by the next call (the merged partner is marked last).

use chrono::Utc;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use shared::auth::Caller;
use shared::domain::link::PartnerEventLink;
use shared::domain::merge::{LinkConflict, plan_links, survivor_changes};
use shared::domain::normalize;
use shared::domain::partner::{Partner, PartnerChanges};
use shared::domain::records::{Communication, Document};
use shared::http::{json_body, ok};
use shared::store::partners::partner_update;
use shared::store::{Retries, StoreError};
use shared::{ApiError, ApiResult, AppContext};

const PARTNER: &str = "partner";

/// A partner's links as they are now: found through `links-by-partner`, read by id strongly
/// consistent (a merge decides on them).
async fn current_links(ctx: &AppContext, partner_id: &str) -> Result<Vec<PartnerEventLink>, StoreError> {
    let ids: Vec<String> = ctx
        .store
        .links_of(partner_id)
        .await?
        .into_iter()
        .map(|l| l.id)
        .collect();
    ctx.store.links_by_ids(&ids).await
}

/// What a merge does, as the answer reports it.
struct Plan {
    survivor: Partner,
    merged: Partner,
    moves: Vec<PartnerEventLink>,
    conflicts: Vec<LinkConflict>,
    documents: Vec<Document>,
    communications: Vec<Communication>,
    changes: PartnerChanges,
    filled: Vec<&'static str>,
}

impl Plan {
    fn report(&self, dry_run: bool, survivor: &Partner, merged: &Partner) -> Value {
        json!({
            "message": if dry_run { "Merge preview: nothing was written." } else { "Partners merged successfully." },
            "dryRun": dry_run,
            "survivor": survivor.to_wire(),
            "merged": merged.to_wire(),
            "moved": {
                "links": self.moves.len(),
                "documents": self.documents.len(),
                "communications": self.communications.len(),
            },
            "conflicts": self.conflicts.iter().map(LinkConflict::to_json).collect::<Vec<_>>(),
            "filledFields": self.filled,
        })
    }
}

async fn plan(ctx: &AppContext, survivor: Partner, merged: Partner) -> ApiResult<Plan> {
    let (survivor_links, merged_links, (documents, _), (communications, _)) = futures::try_join!(
        current_links(ctx, &survivor.id),
        current_links(ctx, &merged.id),
        ctx.store.list_records::<Document>(&merged.id, None, None),
        ctx.store.list_records::<Communication>(&merged.id, None, None),
    )?;
    let links = plan_links(&survivor_links, &merged_links);
    let (changes, filled) = survivor_changes(&survivor, &merged);
    Ok(Plan {
        survivor,
        merged,
        moves: links.moves,
        conflicts: links.conflicts,
        documents,
        communications,
        changes,
        filled,
    })
}

/// Writes the plan in an order a retry resumes from: links, records, the survivor, and last
/// the merged partner (archived, `mergedInto`).
async fn apply(ctx: &AppContext, plan: &Plan, actor: &str) -> Result<(Partner, Partner), StoreError> {
    let store = &ctx.store;
    let now = Utc::now().timestamp_millis();
    for link in &plan.moves {
        let moved = PartnerEventLink {
            id: PartnerEventLink::id_for(&plan.survivor.id, &link.event_id),
            partner_id: plan.survivor.id.clone(),
            version: link.version + 1,
            ..link.clone()
        };
        store.move_link(link, &moved).await?;
    }
    for conflict in &plan.conflicts {
        let event_exists = store.get_event(&conflict.survivor.event_id).await?.is_some();
        if conflict.merged_wins {
            let kept = PartnerEventLink {
                updated_at: now,
                updated_by: actor.to_string(),
                version: conflict.survivor.version + 1,
                ..conflict.kept_link()
            };
            store.update_link(&conflict.survivor, &kept, event_exists).await?;
        }
        store.delete_link(&conflict.merged, event_exists).await?;
    }
    for document in &plan.documents {
        store.repoint_record(document, &plan.survivor.id).await?;
    }
    for communication in &plan.communications {
        store.repoint_record(communication, &plan.survivor.id).await?;
    }
    let survivor = match partner_update(&plan.survivor, &plan.changes, actor, now, true)? {
        Some(update) => store.update_partner(&plan.survivor.id, update).await?,
        None => plan.survivor.clone(),
    };
    let archive = PartnerChanges {
        archived: Some(true),
        ..Default::default()
    };
    let update = partner_update(&plan.merged, &archive, actor, now, false)?
        .ok_or(StoreError::ConditionFailed)?
        .set("mergedInto", &plan.survivor.id)?;
    let merged = store.update_partner(&plan.merged.id, update).await?;
    Ok((survivor, merged))
}

/// The route: body `{"from": "<partnerId>", "dryRun": bool}`.
pub async fn merge(id: &str, request: &Request, ctx: &AppContext, caller: &Caller) -> ApiResult<Response<Body>> {
    let body = json_body(request)?;
    let from = body
        .get("from")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .ok_or_else(|| {
            ApiError::validation(
                "'from' must be the id of the partner to merge into this one.",
                json!({}),
            )
        })?
        .to_string();
    let dry_run = normalize::boolean(body.get("dryRun"), "dryRun")?.unwrap_or(false);
    if from == id {
        return Err(ApiError::validation(
            "A partner cannot be merged into itself.",
            json!({"from": from}),
        ));
    }
    let mut retries = Retries::default();
    loop {
        retries.next().await?;
        let (survivor, merged) = futures::try_join!(ctx.store.get_partner(id), ctx.store.get_partner(&from))?;
        let survivor = survivor.ok_or_else(|| ApiError::not_found(PARTNER, id))?;
        let merged = merged.ok_or_else(|| ApiError::not_found(PARTNER, &from))?;
        if let Some(into) = &survivor.merged_into {
            return Err(ApiError::Conflicting(format!(
                "This partner was merged into {into}; merge into that one instead."
            )));
        }
        match merged.merged_into.as_deref() {
            // Done before (a retried request): the answer again, nothing written.
            Some(into) if into == id => {
                let done = plan(ctx, survivor.clone(), merged.clone()).await?;
                return ok(&done.report(dry_run, &survivor, &merged));
            }
            Some(into) => {
                return Err(ApiError::Conflicting(format!(
                    "Partner {from} was already merged into {into}."
                )));
            }
            None => {}
        }
        let plan = plan(ctx, survivor, merged).await?;
        if dry_run {
            return ok(&plan.report(true, &plan.survivor, &plan.merged));
        }
        match apply(ctx, &plan, &caller.email).await {
            Ok((survivor, merged)) => return ok(&plan.report(false, &survivor, &merged)),
            // Something changed meanwhile (an edit, a concurrent merge): plan again from it.
            Err(e) if e.should_retry() => continue,
            Err(e) => return Err(e.into()),
        }
    }
}
