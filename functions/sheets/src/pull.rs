//! Pull (sheet → CRM) that never loses data (§14.16): every row is read and validated through
//! the same domain rules as the API before anything is written; a refused row is reported with
//! its number and reason and the others go on; blank cells and missing columns change nothing;
//! an unchanged partner is not rewritten; a partner–event pair stays one link whatever the
//! Link ID cell says; an unknown event is reported, not created (unless asked).

use std::collections::HashMap;

use chrono::Utc;
use serde_json::{Value, json};
use shared::ApiResult;
use shared::domain::event::PartnershipEvent;
use shared::domain::link::{LinkChanges, NewLink, PartnerEventLink};
use shared::domain::partner::{Partner, PartnerChanges};
use shared::domain::sheets::{
    RejectedRow, SheetRow, event_year, link_body, named_event, names_event, partner_body, partner_match_key, sheet_rows,
};
use shared::store::partners::partner_update;

use crate::Services;
use crate::google::Sheets;

/// Most warnings an answer lists (§9.4).
const MAX_WARNINGS: usize = 50;

/// What one valid row will write.
#[derive(Debug)]
struct Plan {
    row: usize,
    partner: PartnerTarget,
    link: Option<LinkTarget>,
}

#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // a few per pulled row, never in a hot path
enum PartnerTarget {
    New(Partner),
    Existing { stored: Partner, changes: PartnerChanges },
}

#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // a few per pulled row, never in a hot path
enum LinkTarget {
    New {
        new: NewLink,
        event: PartnershipEvent,
    },
    Existing {
        stored: PartnerEventLink,
        changes: LinkChanges,
        event: PartnershipEvent,
    },
}

fn reject(row: &SheetRow, reason: impl Into<String>) -> RejectedRow {
    RejectedRow {
        row: row.number,
        reason: reason.into(),
    }
}

/// Reads the sheet and applies every valid row; the pull's answer (§9.4 plus `rejectedRows`).
pub async fn pull(services: &Services, client: &Sheets, actor: &str, create_missing_events: bool) -> ApiResult<Value> {
    let store = &services.ctx.store;
    let title = &services.settings.sheet_name;
    let session = client.session().await.map_err(crate::upstream)?;
    let grid = session
        .get(&format!("'{}'!A:ZZ", title.replace('\'', "''")))
        .await
        .map_err(crate::upstream)?;
    let rows = sheet_rows(&grid);
    let (partners, mut events, links) =
        futures::try_join!(store.all_partners(), store.all_events(), store.all_links())?;
    let by_id: HashMap<String, Partner> = partners.iter().map(|p| (p.id.clone(), p.clone())).collect();
    let by_details: HashMap<String, Partner> = partners
        .iter()
        .map(|p| (partner_match_key(&p.company, &p.email, &p.contact_name), p.clone()))
        .collect();
    let links_by_id: HashMap<String, PartnerEventLink> = links.into_iter().map(|l| (l.id.clone(), l)).collect();
    let now = Utc::now().timestamp_millis();
    let mut warnings = Vec::new();
    let mut rejected = Vec::new();
    let mut plans = Vec::new();
    let mut links_skipped = 0;
    for row in &rows {
        // Which partner: the Partner ID cell if it names one, else the same details, else new.
        let existing = row
            .get("partnerId")
            .and_then(|id| by_id.get(id))
            .or_else(|| {
                let key = partner_match_key(
                    row.get("company").unwrap_or_default(),
                    row.get("email").unwrap_or_default(),
                    row.get("contactName").unwrap_or_default(),
                );
                by_details.get(&key)
            })
            .cloned();
        let body = match partner_body(row) {
            Ok(body) => body,
            Err(why) => {
                rejected.push(reject(row, why));
                continue;
            }
        };
        let partner = match existing {
            Some(stored) => match PartnerChanges::parse(&body, false) {
                Ok(changes) => PartnerTarget::Existing { stored, changes },
                Err(e) => {
                    rejected.push(reject(row, e.message));
                    continue;
                }
            },
            None => match PartnerChanges::parse(&body, true) {
                Ok(changes) => {
                    PartnerTarget::New(changes.into_new_partner(uuid::Uuid::new_v4().to_string(), now, actor))
                }
                Err(e) => {
                    rejected.push(reject(row, format!("{} (a new partner needs a company)", e.message)));
                    continue;
                }
            },
        };
        let partner_id = match &partner {
            PartnerTarget::New(p) => p.id.clone(),
            PartnerTarget::Existing { stored, .. } => stored.id.clone(),
        };
        if !names_event(row) {
            links_skipped += 1;
            plans.push(Plan {
                row: row.number,
                partner,
                link: None,
            });
            continue;
        }
        let year = match event_year(row) {
            Ok(year) => year,
            Err(why) => {
                rejected.push(reject(row, why));
                continue;
            }
        };
        let found = named_event(row, year, &events).cloned();
        let event = match found {
            Some(event) => event,
            None if create_missing_events && row.get("eventName").is_some() && year.is_some() => {
                let event = PartnershipEvent {
                    id: uuid::Uuid::new_v4().to_string(),
                    name: row.get("eventName").unwrap_or_default().to_string(),
                    year: year.unwrap_or_default(),
                    created_at: now,
                    updated_at: now,
                    updated_by: actor.to_string(),
                    version: 1,
                    ..Default::default()
                };
                store.create_event(&event, actor, now).await?;
                warnings.push(format!(
                    "Row {}: created partnerships event {} ({}).",
                    row.number, event.name, event.year
                ));
                events.push(event.clone());
                event
            }
            None => {
                rejected.push(reject(
                    row,
                    format!(
                        "event {} does not exist (pull with createMissingEvents to create it)",
                        row.get("eventId").or(row.get("eventName")).unwrap_or_default()
                    ),
                ));
                continue;
            }
        };
        let mut body = match link_body(row) {
            Ok(body) => body,
            Err(why) => {
                rejected.push(reject(row, why));
                continue;
            }
        };
        // One link per partner and event, whatever the Link ID cell says.
        let pair = PartnerEventLink::id_for(&partner_id, &event.id);
        if let Some(cell) = row.get("linkId").filter(|c| *c != pair) {
            warnings.push(format!(
                "Row {}: Link ID {cell} ignored; the partner and event decide the link.",
                row.number
            ));
        }
        let link = match links_by_id.get(&pair) {
            Some(stored) => match LinkChanges::parse_patch(&body) {
                Ok(changes) => LinkTarget::Existing {
                    stored: stored.clone(),
                    changes,
                    event,
                },
                Err(e) => {
                    rejected.push(reject(row, e.message));
                    continue;
                }
            },
            None => {
                body.insert("eventId".into(), json!(event.id));
                if let Some(year) = year {
                    body.insert("eventYear".into(), json!(year));
                }
                match NewLink::parse(&body).and_then(|new| new.check_year(&event).map(|_| new)) {
                    Ok(new) => LinkTarget::New { new, event },
                    Err(e) => {
                        rejected.push(reject(row, e.message));
                        continue;
                    }
                }
            }
        };
        plans.push(Plan {
            row: row.number,
            partner,
            link: Some(link),
        });
    }
    // Every row is checked: now write the valid ones, each through the API's store paths.
    let mut counts = HashMap::<&str, u64>::new();
    for plan in plans {
        let partner_id = match plan.partner {
            PartnerTarget::New(partner) => {
                store.create_partner(&partner).await?;
                *counts.entry("partnersCreated").or_default() += 1;
                partner.id
            }
            PartnerTarget::Existing { stored, changes } => {
                if let Some(update) = partner_update(&stored, &changes, actor, now, true)? {
                    match store.update_partner(&stored.id, update).await {
                        Ok(_) => *counts.entry("partnersUpdated").or_default() += 1,
                        Err(e) if e.should_retry() => {
                            warnings.push(format!(
                                "Row {}: partner changed while pulling; left as it is.",
                                plan.row
                            ));
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                stored.id
            }
        };
        match plan.link {
            None => {}
            Some(LinkTarget::New { new, event }) => {
                let link = new.build(&partner_id, &event, now, actor);
                match store.create_link(&link, &event).await {
                    Ok(()) => *counts.entry("linksCreated").or_default() += 1,
                    Err(e) if e.should_retry() => warnings.push(format!(
                        "Row {}: the link exists already or the event changed; skipped.",
                        plan.row
                    )),
                    Err(e) => return Err(e.into()),
                }
            }
            Some(LinkTarget::Existing { stored, changes, event }) => {
                let mut updated = changes.apply_to(&stored, Some(&event));
                if updated == stored {
                    continue;
                }
                updated.updated_at = now;
                updated.updated_by = actor.to_string();
                updated.version = stored.version + 1;
                match store.update_link(&stored, &updated, true).await {
                    Ok(()) => *counts.entry("linksUpdated").or_default() += 1,
                    Err(e) if e.should_retry() => {
                        warnings.push(format!("Row {}: link changed while pulling; left as it is.", plan.row))
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    let processed = rows.len() - rejected.len();
    warnings.extend(rejected.iter().map(|r| format!("Row {}: {}", r.row, r.reason)));
    warnings.truncate(MAX_WARNINGS);
    let count = |k: &str| counts.get(k).copied().unwrap_or(0);
    Ok(json!({
        "processedRows": processed,
        "partnersCreated": count("partnersCreated"),
        "partnersUpdated": count("partnersUpdated"),
        "linksCreated": count("linksCreated"),
        "linksUpdated": count("linksUpdated"),
        "linksSkipped": links_skipped,
        "rejectedRows": rejected.iter().map(RejectedRow::to_wire).collect::<Vec<_>>(),
        "warnings": warnings,
        "pulledAt": shared::domain::normalize::iso_millis(Utc::now()),
        "spreadsheetId": client.spreadsheet_id,
        "sheetName": services.settings.sheet_name,
    }))
}
