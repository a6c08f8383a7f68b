//! Relationship metrics of contract §5.19: per-partner metrics, the directory summary and the
//! pipeline summary. Money is summed in integer cents so totals are exact to the cent.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::normalize::{CANONICAL_STATUSES, is_lost_status, is_secured_status, stored_status, stored_tier};

/// What the directory and the metrics need to know about one link: the projection the
/// directory's scan of the links table reads ([`LinkSummary::FIELDS`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkSummary {
    /// The link id.
    #[serde(default)]
    pub id: String,
    /// The partner it belongs to.
    #[serde(default)]
    pub partner_id: String,
    /// Event the link belongs to.
    #[serde(default)]
    pub event_id: String,
    /// `<eventId>#<year>`, the event-query key.
    #[serde(default)]
    pub event_id_year: String,
    /// The link status as stored (canonical or custom slug).
    #[serde(default)]
    pub status: String,
    /// Package tier slug or `""`.
    #[serde(default)]
    pub package_tier: String,
    /// Deal amount, if any.
    #[serde(default)]
    pub amount: Option<f64>,
    /// `YYYY-MM-DD` follow-up date, if any.
    #[serde(default)]
    pub follow_up_date: Option<String>,
    /// Epoch ms.
    #[serde(default)]
    pub created_at: i64,
    /// Epoch ms.
    #[serde(default)]
    pub updated_at: i64,
}

impl LinkSummary {
    /// The link attributes a summary is read from.
    pub const FIELDS: [&'static str; 10] = [
        "id",
        "partnerId",
        "eventId",
        "eventIdYear",
        "status",
        "packageTier",
        "amount",
        "followUpDate",
        "createdAt",
        "updatedAt",
    ];

    /// `updatedAt || createdAt`, the "newest first" key.
    pub fn touched_at(&self) -> i64 {
        super::touched_at(self.updated_at, self.created_at)
    }

    /// The status re-normalized on read (§3.3).
    pub fn normalized_status(&self) -> String {
        stored_status(Some(&self.status))
    }

    /// The package tier re-normalized on read (§3.4).
    pub fn normalized_tier(&self) -> String {
        stored_tier(Some(&self.package_tier))
    }

    fn cents(&self) -> i64 {
        super::amount_cents(self.amount)
    }
}

pub use super::money::{from_cents, to_cents};

/// One row of `statusBreakdown`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusBreakdown {
    /// Normalized status slug.
    pub status: String,
    /// Links in that status.
    pub count: u64,
    /// Sum of their amounts.
    pub amount: f64,
    /// Newest `updatedAt || createdAt` among them.
    pub last_touched_at: i64,
}

/// Per-partner metrics over a set of links (§5.19).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartnerMetrics {
    pub relationship_count: u64,
    pub confirmed_count: u64,
    pub paid_count: u64,
    /// Every finite amount, any status (wire parity).
    pub total_amount: f64,
    /// Confirmed plus paid.
    pub secured_amount: f64,
    /// Added companion (§14.5): amounts still in play, neither secured nor lost.
    pub open_pipeline_amount: f64,
    pub status_breakdown: Vec<StatusBreakdown>,
    /// Status of the newest link, normalized (the peer returned it raw, §14.11).
    pub latest_status: Option<String>,
    pub latest_event_id_year: Option<String>,
    pub last_touched_at: Option<i64>,
}

/// Computes [`PartnerMetrics`] over the given links.
pub fn partner_metrics<'a>(links: impl IntoIterator<Item = &'a LinkSummary>) -> PartnerMetrics {
    let mut count = 0;
    let (mut confirmed, mut paid) = (0, 0);
    let (mut total, mut secured, mut open) = (0i64, 0i64, 0i64);
    let mut by_status: BTreeMap<String, (u64, i64, i64)> = BTreeMap::new();
    let mut newest: Option<&LinkSummary> = None;
    for link in links {
        count += 1;
        let status = link.normalized_status();
        let cents = link.cents();
        total = total.saturating_add(cents);
        match status.as_str() {
            "confirmed" => confirmed += 1,
            "paid" => paid += 1,
            _ => {}
        }
        if is_secured_status(&status) {
            secured = secured.saturating_add(cents);
        } else if !is_lost_status(&status) {
            open = open.saturating_add(cents);
        }
        let entry = by_status.entry(status).or_insert((0, 0, 0));
        entry.0 += 1;
        entry.1 = entry.1.saturating_add(cents);
        entry.2 = entry.2.max(link.touched_at());
        if newest.is_none_or(|n| link.touched_at() > n.touched_at()) {
            newest = Some(link);
        }
    }
    let mut status_breakdown: Vec<StatusBreakdown> = by_status
        .into_iter()
        .map(|(status, (count, cents, last))| StatusBreakdown {
            status,
            count,
            amount: from_cents(cents),
            last_touched_at: last,
        })
        .collect();
    status_breakdown.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(b.amount.total_cmp(&a.amount))
            .then(b.last_touched_at.cmp(&a.last_touched_at))
            .then(a.status.cmp(&b.status))
    });
    PartnerMetrics {
        relationship_count: count,
        confirmed_count: confirmed,
        paid_count: paid,
        total_amount: from_cents(total),
        secured_amount: from_cents(secured),
        open_pipeline_amount: from_cents(open),
        status_breakdown,
        latest_status: newest.map(LinkSummary::normalized_status),
        latest_event_id_year: newest.map(|l| l.event_id_year.clone()),
        last_touched_at: newest.map(LinkSummary::touched_at),
    }
}

/// `pipeline` block: every canonical status pre-seeded, custom statuses appended.
#[derive(Debug, Default)]
pub struct PipelineAccumulator {
    by_status: BTreeMap<String, (u64, i64)>,
    total: i64,
    secured: i64,
    open: i64,
}

impl PipelineAccumulator {
    /// Adds one link.
    pub fn add(&mut self, link: &LinkSummary) {
        let status = link.normalized_status();
        let cents = link.cents();
        self.total = self.total.saturating_add(cents);
        if is_secured_status(&status) {
            self.secured = self.secured.saturating_add(cents);
        } else if !is_lost_status(&status) {
            self.open = self.open.saturating_add(cents);
        }
        let entry = self.by_status.entry(status).or_default();
        entry.0 += 1;
        entry.1 = entry.1.saturating_add(cents);
    }

    /// `{byStatus, pipelineAmount, securedAmount, openPipelineAmount}`: canonical statuses first in
    /// display order, then custom ones by code point.
    pub fn to_json(&self) -> Value {
        let mut by_status = Map::new();
        for status in CANONICAL_STATUSES {
            let (count, cents) = self.by_status.get(status).copied().unwrap_or_default();
            by_status.insert(status.to_string(), json!({"count": count, "amount": from_cents(cents)}));
        }
        for (status, (count, cents)) in &self.by_status {
            if !by_status.contains_key(status) {
                by_status.insert(status.clone(), json!({"count": count, "amount": from_cents(*cents)}));
            }
        }
        json!({
            "byStatus": by_status,
            "pipelineAmount": from_cents(self.total),
            "securedAmount": from_cents(self.secured),
            "openPipelineAmount": from_cents(self.open),
        })
    }
}

/// The directory `summary` over the returned partners and their in-scope links (§5.1, §5.19).
#[derive(Debug, Default)]
pub struct DirectorySummary {
    total_partners: u64,
    archived_partners: u64,
    alumni_partners: u64,
    total_relationships: u64,
    confirmed_relationships: u64,
    paid_relationships: u64,
    upcoming_follow_ups: u64,
    status_counts: BTreeMap<String, u64>,
    package_tier_counts: BTreeMap<String, u64>,
    pipeline: PipelineAccumulator,
}

impl DirectorySummary {
    /// Adds one returned partner with its in-scope links; `today` is `YYYY-MM-DD` (UTC).
    pub fn add_partner<'a>(
        &mut self,
        archived: bool,
        is_alumni: bool,
        links: impl IntoIterator<Item = &'a LinkSummary>,
        today: &str,
    ) {
        self.total_partners += 1;
        self.archived_partners += u64::from(archived);
        self.alumni_partners += u64::from(is_alumni);
        for link in links {
            let status = link.normalized_status();
            self.total_relationships += 1;
            self.confirmed_relationships += u64::from(status == "confirmed");
            self.paid_relationships += u64::from(status == "paid");
            if link.follow_up_date.as_deref().is_some_and(|d| d >= today) {
                self.upcoming_follow_ups += 1;
            }
            *self.status_counts.entry(status).or_default() += 1;
            let tier = link.normalized_tier();
            if !tier.is_empty() {
                *self.package_tier_counts.entry(tier).or_default() += 1;
            }
            self.pipeline.add(link);
        }
    }

    /// The wire shape of `summary`.
    pub fn to_json(&self) -> Value {
        json!({
            "totalPartners": self.total_partners,
            "archivedPartners": self.archived_partners,
            "activePartners": self.total_partners - self.archived_partners,
            "alumniPartners": self.alumni_partners,
            "totalRelationships": self.total_relationships,
            "confirmedRelationships": self.confirmed_relationships,
            "paidRelationships": self.paid_relationships,
            "upcomingFollowUps": self.upcoming_follow_ups,
            "statusCounts": self.status_counts,
            "packageTierCounts": self.package_tier_counts,
            "pipeline": self.pipeline.to_json(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(status: &str, amount: Option<f64>, updated_at: i64) -> LinkSummary {
        LinkSummary {
            event_id: format!("e{updated_at}"),
            event_id_year: format!("e{updated_at}#2025"),
            status: status.into(),
            amount,
            updated_at,
            ..Default::default()
        }
    }

    #[test]
    fn partner_metrics_follow_the_contract() {
        let links = [
            link("paid", Some(1000.10), 5),
            link("confirmed", Some(500.20), 9),
            link("Declined", Some(250.0), 3),
            link("pitched", None, 7),
            link("pitched", Some(100.0), 1),
        ];
        let m = partner_metrics(&links);
        assert_eq!(m.relationship_count, 5);
        assert_eq!(m.confirmed_count, 1);
        assert_eq!(m.paid_count, 1);
        assert_eq!(m.total_amount, 1850.30);
        assert_eq!(m.secured_amount, 1500.30);
        assert_eq!(m.open_pipeline_amount, 100.0);
        assert_eq!(m.latest_status.as_deref(), Some("confirmed"));
        assert_eq!(m.latest_event_id_year.as_deref(), Some("e9#2025"));
        assert_eq!(m.last_touched_at, Some(9));
        let order: Vec<&str> = m.status_breakdown.iter().map(|s| s.status.as_str()).collect();
        // count desc, then amount desc
        assert_eq!(order, ["pitched", "paid", "confirmed", "declined"]);
        assert_eq!(m.status_breakdown[0].last_touched_at, 7);
    }

    #[test]
    fn empty_metrics_are_zero_and_null() {
        let m = partner_metrics(&[]);
        assert_eq!(m.relationship_count, 0);
        assert_eq!(m.latest_status, None);
        assert_eq!(m.last_touched_at, None);
        assert!(m.status_breakdown.is_empty());
    }

    #[test]
    fn cents_are_exact() {
        let links: Vec<LinkSummary> = (0..10).map(|i| link("paid", Some(0.1), i)).collect();
        assert_eq!(partner_metrics(&links).total_amount, 1.0);
    }

    #[test]
    fn created_at_is_used_when_never_updated() {
        let l = LinkSummary {
            created_at: 42,
            ..Default::default()
        };
        assert_eq!(l.touched_at(), 42);
    }

    #[test]
    fn directory_summary_counts_and_pipeline() {
        let mut summary = DirectorySummary::default();
        let mut a = link("paid", Some(10.0), 1);
        a.package_tier = "gold".into();
        a.follow_up_date = Some("2025-06-01".into());
        let mut b = link("waiting_on_legal", Some(5.0), 2);
        b.follow_up_date = Some("2025-05-31".into());
        summary.add_partner(false, true, [&a, &b], "2025-06-01");
        summary.add_partner(true, false, [], "2025-06-01");
        let json = summary.to_json();
        assert_eq!(json["totalPartners"], 2);
        assert_eq!(json["archivedPartners"], 1);
        assert_eq!(json["activePartners"], 1);
        assert_eq!(json["alumniPartners"], 1);
        assert_eq!(json["totalRelationships"], 2);
        assert_eq!(json["paidRelationships"], 1);
        assert_eq!(json["upcomingFollowUps"], 1);
        assert_eq!(json["statusCounts"], json!({"paid": 1, "waiting_on_legal": 1}));
        assert_eq!(json["packageTierCounts"], json!({"gold": 1}));
        let by_status = json["pipeline"]["byStatus"].as_object().unwrap();
        let keys: Vec<&String> = by_status.keys().collect();
        assert_eq!(keys.len(), 11);
        assert_eq!(keys[0], "prospecting");
        assert_eq!(keys[10], "waiting_on_legal");
        assert_eq!(json["pipeline"]["pipelineAmount"], 15.0);
        assert_eq!(json["pipeline"]["securedAmount"], 10.0);
        assert_eq!(json["pipeline"]["openPipelineAmount"], 5.0);
    }
}
