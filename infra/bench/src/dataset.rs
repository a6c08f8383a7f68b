//! The benchmark dataset, seeded through the public API (so every summary, counter and index is
//! written exactly as in production): 2,000 partners, 20 events with 4 tiers, 3,000 links (150 per
//! event, 1–2 per partner) and 3,000 communications at scale 1.

use chrono::{Duration, Utc};
use futures::StreamExt;
use serde_json::{Value, json};
use shared::domain::normalize::CANONICAL_STATUSES;

use crate::{Api, BoxError};

/// How big a dataset is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub partners: usize,
    pub events: usize,
    pub links: usize,
    pub communications: usize,
    /// Extra events without links, targets of the POST-link benchmark.
    pub link_targets: usize,
}

impl Shape {
    /// The dataset times `scale` (events scale too, so each keeps 150 links).
    pub fn scaled(scale: usize) -> Self {
        Self {
            partners: 2000 * scale,
            events: 20 * scale,
            links: 3000 * scale,
            communications: 3000 * scale,
            link_targets: 10,
        }
    }

    /// A tiny dataset for the harness's smoke test.
    pub fn tiny() -> Self {
        Self {
            partners: 12,
            events: 2,
            links: 18,
            communications: 10,
            link_targets: 1,
        }
    }
}

/// Ids of what was seeded.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    pub partner_ids: Vec<String>,
    pub event_ids: Vec<String>,
    pub link_ids: Vec<String>,
    pub target_event_ids: Vec<String>,
}

const PARALLEL: usize = 16;
const TIERS: [&str; 4] = ["platinum", "gold", "silver", "bronze"];

fn day(offset: i64) -> String {
    (Utc::now().date_naive() + Duration::days(offset))
        .format("%Y-%m-%d")
        .to_string()
}

async fn create_all(
    api: &Api,
    path: impl Fn(usize) -> String,
    bodies: Vec<Value>,
    key: &str,
) -> Result<Vec<String>, BoxError> {
    let results: Vec<Result<(usize, String), BoxError>> = futures::stream::iter(bodies.into_iter().enumerate())
        .map(|(i, body)| {
            let (api, path) = (api.clone(), path(i));
            async move {
                let answer = api.expect("POST", &path, Some(&body)).await?;
                Ok((i, answer.body[key]["id"].as_str().unwrap_or_default().to_string()))
            }
        })
        .buffer_unordered(PARALLEL)
        .collect()
        .await;
    let mut ids = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    ids.sort();
    Ok(ids.into_iter().map(|(_, id)| id).collect())
}

fn event_body(k: usize, with_links: bool) -> Value {
    let year = 2026 - (k % 3) as i64;
    json!({
        "name": if with_links { format!("Event {k:03}") } else { format!("Bench target {k:02}") },
        "year": year,
        "outreachStartDate": format!("{year}-01-10"),
        "startDate": format!("{year}-03-{:02}", 1 + k % 27),
        "endDate": format!("{year}-03-{:02}", 2 + k % 27),
        "sponsorshipGoal": 50_000 + 1000 * (k % 7),
        "tierConfigs": TIERS.iter().enumerate().map(|(t, id)| json!({"id": id, "label": id, "amount": 10_000 / (t + 1)})).collect::<Vec<_>>(),
        "notes": "Seeded by make bench.",
    })
}

/// Seeds `shape` through `api`.
pub async fn seed(api: &Api, shape: Shape) -> Result<Dataset, BoxError> {
    let events = create_all(
        api,
        |_| "/partnerships/events".into(),
        (0..shape.events).map(|k| event_body(k, true)).collect(),
        "event",
    )
    .await?;
    let targets = create_all(
        api,
        |_| "/partnerships/events".into(),
        (0..shape.link_targets).map(|k| event_body(k, false)).collect(),
        "event",
    )
    .await?;
    let partner_bodies = (0..shape.partners)
        .map(|i| {
            json!({
                "company": format!("Company {i:05}"), "contactName": format!("Contact {i}"),
                "email": format!("contact{i}@company{i}.example"), "phone": "+1 604 555 0100",
                "contactRole": "Partnerships lead", "tier": TIERS[i % 4], "notes": "Met at a career fair; interested in AI.",
                "tags": ["tech", format!("cohort-{}", i % 10)], "isAlumni": i % 9 == 0,
            })
        })
        .collect();
    let partners = create_all(api, |_| "/partnerships/partners".into(), partner_bodies, "partner").await?;

    let mut pairs: Vec<(usize, usize)> = (0..shape.partners).map(|i| (i, i % shape.events)).collect();
    let extra = shape.links.saturating_sub(shape.partners);
    pairs.extend((0..extra).map(|i| (i % shape.partners, (i + shape.events / 2) % shape.events)));
    let link_bodies: Vec<Value> = pairs
        .iter()
        .enumerate()
        .map(|(n, (_, e))| {
            let mut body = json!({"eventId": events[*e], "status": CANONICAL_STATUSES[n % CANONICAL_STATUSES.len()], "packageTier": TIERS[n % 4], "role": "Sponsor"});
            if n % 7 != 0 {
                body["amount"] = json!(500 + (n % 20) * 250);
            }
            if n % 5 == 0 {
                body["followUpDate"] = json!(day((n % 40) as i64 - 20));
            }
            body
        })
        .collect();
    let link_paths: Vec<String> = pairs
        .iter()
        .map(|(p, _)| format!("/partnerships/partners/{}/events", partners[*p]))
        .collect();
    let link_ids = create_all(api, |i| link_paths[i].clone(), link_bodies, "link").await?;

    let comm_paths: Vec<String> = (0..shape.communications)
        .map(|j| format!("/partnerships/partners/{}/communications", partners[j % shape.partners]))
        .collect();
    let comm_bodies = (0..shape.communications)
        .map(|j| {
            let mut body = json!({"subject": format!("Touchpoint {j}"), "summary": "Discussed the sponsorship packages and next steps. ".repeat(3), "channel": "email"});
            if j % 10 == 0 {
                body["followUpDate"] = json!(day((j % 30) as i64 - 10));
            }
            if j % 3 == 0 {
                body["eventId"] = json!(events[j % shape.events]);
            }
            body
        })
        .collect();
    create_all(api, |i| comm_paths[i].clone(), comm_bodies, "communication").await?;
    Ok(Dataset {
        partner_ids: partners,
        event_ids: events,
        link_ids,
        target_event_ids: targets,
    })
}
