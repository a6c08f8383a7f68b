//! Partnership events (contract §2.3, §3.5, §5.5–§5.9): the stored record with its denormalized
//! link counters, tier configs in every accepted form, and create/patch validation.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::ValidationError;
use super::benefits::{Benefit, parse_benefits};
use super::money::{from_cents, saturating_i64, to_cents};
use super::normalize::{self, Field, slug_label, slugify, text, truncate_chars};

/// Most tiers an event keeps.
pub const MAX_TIERS: usize = 12;

/// One sponsorship package of an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TierConfig {
    /// Tier slug.
    pub id: String,
    /// Display label (≤ 60).
    pub label: String,
    /// Default deal amount for the tier.
    pub amount: Option<f64>,
    /// What a sponsor of the tier is promised (issue 16.3); absent when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub benefits: Vec<Benefit>,
}

/// Link counters kept on the event item, changed in the same transaction as every link write.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EventCounters {
    #[serde(deserialize_with = "saturating_i64")]
    pub relationship_count: i64,
    #[serde(deserialize_with = "saturating_i64")]
    pub confirmed_count: i64,
    #[serde(deserialize_with = "saturating_i64")]
    pub paid_count: i64,
    /// All amounts, any status.
    #[serde(deserialize_with = "saturating_i64")]
    pub committed_cents: i64,
    /// Confirmed and paid amounts.
    #[serde(deserialize_with = "saturating_i64")]
    pub secured_cents: i64,
    /// Declined and backed-out amounts.
    #[serde(deserialize_with = "saturating_i64")]
    pub lost_cents: i64,
}

impl EventCounters {
    /// What one link in `status` with `amount` contributes.
    pub fn of_link(status: &str, amount: Option<f64>) -> Self {
        let status = normalize::stored_status(Some(status));
        let cents = amount.map(to_cents).unwrap_or(0);
        let secured = normalize::is_secured_status(&status);
        Self {
            relationship_count: 1,
            confirmed_count: i64::from(status == "confirmed"),
            paid_count: i64::from(status == "paid"),
            committed_cents: cents,
            secured_cents: if secured { cents } else { 0 },
            lost_cents: if normalize::is_lost_status(&status) { cents } else { 0 },
        }
    }

    /// `self − other`, field by field.
    pub fn minus(self, other: Self) -> Self {
        Self {
            relationship_count: self.relationship_count.saturating_sub(other.relationship_count),
            confirmed_count: self.confirmed_count.saturating_sub(other.confirmed_count),
            paid_count: self.paid_count.saturating_sub(other.paid_count),
            committed_cents: self.committed_cents.saturating_sub(other.committed_cents),
            secured_cents: self.secured_cents.saturating_sub(other.secured_cents),
            lost_cents: self.lost_cents.saturating_sub(other.lost_cents),
        }
    }

    /// Adds another set of counters.
    pub fn plus(self, other: Self) -> Self {
        Self {
            relationship_count: self.relationship_count.saturating_add(other.relationship_count),
            confirmed_count: self.confirmed_count.saturating_add(other.confirmed_count),
            paid_count: self.paid_count.saturating_add(other.paid_count),
            committed_cents: self.committed_cents.saturating_add(other.committed_cents),
            secured_cents: self.secured_cents.saturating_add(other.secured_cents),
            lost_cents: self.lost_cents.saturating_add(other.lost_cents),
        }
    }

    /// Counter name → value, for an `ADD` update.
    pub fn fields(&self) -> [(&'static str, i64); 6] {
        [
            ("relationshipCount", self.relationship_count),
            ("confirmedCount", self.confirmed_count),
            ("paidCount", self.paid_count),
            ("committedCents", self.committed_cents),
            ("securedCents", self.secured_cents),
            ("lostCents", self.lost_cents),
        ]
    }

    /// Whether every counter is zero (nothing to write).
    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }

    /// The wire metrics of a formatted event (§5.5) plus `openPipelineAmount`.
    pub fn to_json(&self) -> Map<String, Value> {
        let open = self
            .committed_cents
            .saturating_sub(self.secured_cents)
            .saturating_sub(self.lost_cents);
        let value = json!({
            "relationshipCount": self.relationship_count,
            "confirmedCount": self.confirmed_count,
            "paidCount": self.paid_count,
            "committedAmount": from_cents(self.committed_cents),
            "securedAmount": from_cents(self.secured_cents),
            "openPipelineAmount": from_cents(open),
        });
        value.as_object().cloned().unwrap_or_default()
    }
}

/// A stored partnership event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PartnershipEvent {
    pub id: String,
    pub name: String,
    pub year: i32,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub outreach_start_date: Option<String>,
    pub sponsorship_goal: Option<f64>,
    pub tier_configs: Vec<TierConfig>,
    pub package_tiers: Vec<String>,
    pub notes: String,
    pub linked_main_event_id: String,
    pub linked_main_event_year: Option<i32>,
    pub archived: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub updated_by: String,
    pub version: u64,
    #[serde(flatten)]
    pub counters: EventCounters,
    /// Documents and communications that reference the event.
    #[serde(deserialize_with = "saturating_i64")]
    pub reference_count: i64,
    /// Set with a rename or year change, cleared once every link, document and communication
    /// carries the new name and key; a crash in between is finished by the next touch.
    pub rekey_pending: u64,
}

impl PartnershipEvent {
    /// `<id>#<year>`, the event-query key of its links.
    pub fn event_id_year(&self) -> String {
        format!("{}#{}", self.id, self.year)
    }

    /// The tier configs as read (§3.5): stored configs, then any legacy `packageTiers` not present.
    pub fn tiers(&self) -> Vec<TierConfig> {
        let mut tiers: Vec<TierConfig> = Vec::new();
        for tier in &self.tier_configs {
            let id = slugify(&tier.id, 80, 50);
            if !id.is_empty() && !tiers.iter().any(|t| t.id == id) {
                let label = if tier.label.trim().is_empty() {
                    slug_label(&id)
                } else {
                    tier.label.clone()
                };
                tiers.push(TierConfig {
                    id,
                    label,
                    amount: tier.amount.filter(|a| a.is_finite()),
                    benefits: tier.benefits.clone(),
                });
            }
        }
        for raw in &self.package_tiers {
            let id = slugify(raw, 80, 50);
            if !id.is_empty() && !tiers.iter().any(|t| t.id == id) {
                tiers.push(TierConfig {
                    label: slug_label(&id),
                    id,
                    amount: None,
                    benefits: Vec::new(),
                });
            }
        }
        tiers
    }

    /// The default amount of a tier (§3.5), if the event has one for it.
    pub fn tier_default_amount(&self, tier: &str) -> Option<f64> {
        if tier.is_empty() {
            return None;
        }
        self.tiers().into_iter().find(|t| t.id == tier).and_then(|t| t.amount)
    }

    /// The formatted event of §5.5 with the given metrics, in the contract's key order; the
    /// denormalized bookkeeping (link ids, cents, re-key mark) stays internal.
    pub fn to_wire_with(&self, counters: &EventCounters) -> Map<String, Value> {
        let tiers = self.tiers();
        let mut wire = json!({
            "id": self.id,
            "name": self.name,
            "year": self.year,
            "startDate": self.start_date,
            "endDate": self.end_date,
            "outreachStartDate": self.outreach_start_date,
            "sponsorshipGoal": self.sponsorship_goal,
            "tierConfigs": tiers,
            "packageTiers": tiers.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
            "notes": self.notes,
            "linkedMainEventId": self.linked_main_event_id,
            "linkedMainEventYear": self.linked_main_event_year,
            "archived": self.archived,
        })
        .as_object()
        .cloned()
        .unwrap_or_default();
        wire.extend(counters.to_json());
        wire.insert("createdAt".into(), json!(self.created_at));
        wire.insert("updatedAt".into(), json!(self.updated_at));
        wire.insert("updatedBy".into(), json!(self.updated_by));
        wire.insert("version".into(), json!(self.version));
        wire
    }

    /// The formatted event with its stored counters.
    pub fn to_wire(&self) -> Map<String, Value> {
        self.to_wire_with(&self.counters)
    }
}

/// Events list order (§3.8): year descending, start date descending (missing last), name ascending.
pub fn compare_events(a: &PartnershipEvent, b: &PartnershipEvent) -> std::cmp::Ordering {
    b.year
        .cmp(&a.year)
        .then_with(|| {
            b.start_date
                .as_deref()
                .unwrap_or("")
                .cmp(a.start_date.as_deref().unwrap_or(""))
        })
        .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
        .then_with(|| a.name.cmp(&b.name))
}

fn tier_item(item: &Value) -> Result<Option<TierConfig>, ValidationError> {
    match item {
        Value::String(raw) => {
            let trimmed = raw.trim();
            if trimmed.is_empty() {
                return Ok(None);
            }
            let id = normalize::slug_field(Some(item), "tier", 80, 50)?;
            let label = truncate_chars(trimmed, 60).to_string();
            Ok(Some(TierConfig {
                id,
                label,
                amount: None,
                benefits: Vec::new(),
            }))
        }
        Value::Object(map) => {
            let first_text = |keys: &[&str], max: usize| {
                keys.iter()
                    .map(|k| text(map.get(*k), max))
                    .find(|t| !t.is_empty())
                    .unwrap_or_default()
            };
            let label_candidate = first_text(&["label", "name", "title"], 60);
            let key = first_text(&["id", "key", "tier", "name"], 80);
            let key = if key.is_empty() { label_candidate.clone() } else { key };
            let id = normalize::slug_field(Some(&Value::String(key)), "tier", 80, 50)?;
            let label = if label_candidate.is_empty() {
                slug_label(&id)
            } else {
                label_candidate
            };
            let raw_amount = ["amount", "defaultAmount", "price"]
                .iter()
                .find_map(|k| map.get(*k).filter(|v| !v.is_null()));
            let amount = match normalize::amount(raw_amount, "tier.amount")? {
                Field::Set(a) => Some(a),
                _ => None,
            };
            Ok(Some(TierConfig {
                id,
                label,
                amount,
                benefits: parse_benefits(map.get("benefits"))?,
            }))
        }
        other => Err(ValidationError::new(
            "'tierConfigs' items must be strings or objects.",
            json!({"tierConfig": other}),
        )),
    }
}

fn list_items(value: &Value) -> Option<Vec<Value>> {
    match value {
        Value::Array(items) => Some(items.clone()),
        Value::String(s) => Some(s.split(',').map(|p| Value::String(p.to_string())).collect()),
        _ => None,
    }
}

/// `tierConfigs` input (§3.5): an array or comma-separated string of strings or objects; the
/// first 12 entries, duplicate ids dropped (first wins).
pub fn parse_tier_configs(value: &Value) -> Result<Vec<TierConfig>, ValidationError> {
    if value.is_null() {
        return Ok(Vec::new());
    }
    let items = list_items(value).ok_or_else(|| {
        ValidationError::new(
            "'tierConfigs' must be a list of tiers or a comma-separated string.",
            json!({"tierConfigs": value}),
        )
    })?;
    let mut tiers: Vec<TierConfig> = Vec::new();
    for item in items.iter().take(MAX_TIERS) {
        if let Some(tier) = tier_item(item)?
            && !tiers.iter().any(|t| t.id == tier.id)
        {
            tiers.push(tier);
        }
    }
    Ok(tiers)
}

/// Legacy `packageTiers` input (§3.5): strings (≤ 50), deduplicated case-insensitively, slugged,
/// with derived labels and no amounts.
pub fn parse_package_tiers(value: &Value) -> Result<Vec<TierConfig>, ValidationError> {
    if value.is_null() {
        return Ok(Vec::new());
    }
    let items = list_items(value).ok_or_else(|| {
        ValidationError::new(
            "'packageTiers' must be a list of strings or a comma-separated string.",
            json!({"packageTiers": value}),
        )
    })?;
    let mut seen = HashSet::new();
    let mut tiers: Vec<TierConfig> = Vec::new();
    for item in &items {
        let raw = text(Some(item), 50);
        if raw.is_empty() || !seen.insert(raw.to_lowercase()) {
            continue;
        }
        let id = normalize::slug_field(Some(&Value::String(raw)), "tier", 80, 50)?;
        if !tiers.iter().any(|t| t.id == id) {
            tiers.push(TierConfig {
                label: slug_label(&id),
                id,
                amount: None,
                benefits: Vec::new(),
            });
        }
        if tiers.len() == MAX_TIERS {
            break;
        }
    }
    Ok(tiers)
}

/// A validated create or patch body of an event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventChanges {
    pub name: Option<String>,
    pub year: Option<i32>,
    pub start_date: Field<String>,
    pub end_date: Field<String>,
    pub outreach_start_date: Field<String>,
    pub sponsorship_goal: Field<f64>,
    pub tier_configs: Option<Vec<TierConfig>>,
    /// True when only the legacy `packageTiers` form was sent.
    pub tiers_from_legacy_list: bool,
    pub notes: Option<String>,
    pub linked_main_event_id: Option<String>,
    pub linked_main_event_year: Field<i32>,
    pub archived: Option<bool>,
}

fn optional_body_text(body: &Map<String, Value>, field: &str, max: usize) -> Result<Option<String>, ValidationError> {
    Ok(match normalize::body_text(body.get(field), field, max)? {
        Field::Missing => None,
        Field::Null => Some(String::new()),
        Field::Set(t) => Some(t),
    })
}

impl EventChanges {
    /// Validates a body; on create `name` and `year` are required.
    pub fn parse(body: &Map<String, Value>, creating: bool) -> Result<Self, ValidationError> {
        let name = optional_body_text(body, "name", 140)?;
        if name.as_deref().map_or(creating, str::is_empty) {
            return Err(ValidationError::new(
                "'name' is required.",
                normalize::field_data("name", body.get("name")),
            ));
        }
        let year = match body.get("year") {
            None if !creating => None,
            value => match normalize::year(value, "year", true)? {
                Field::Set(y) => Some(y),
                _ => None,
            },
        };
        let (tier_configs, tiers_from_legacy_list) = match (body.get("tierConfigs"), body.get("packageTiers")) {
            (Some(configs), _) => (Some(parse_tier_configs(configs)?), false),
            (None, Some(legacy)) => (Some(parse_package_tiers(legacy)?), true),
            (None, None) => (None, false),
        };
        Ok(Self {
            name,
            year,
            start_date: normalize::date(body.get("startDate"), "startDate")?,
            end_date: normalize::date(body.get("endDate"), "endDate")?,
            outreach_start_date: normalize::date(body.get("outreachStartDate"), "outreachStartDate")?,
            sponsorship_goal: normalize::amount(body.get("sponsorshipGoal"), "sponsorshipGoal")?,
            tier_configs,
            tiers_from_legacy_list,
            notes: optional_body_text(body, "notes", 5000)?,
            linked_main_event_id: optional_body_text(body, "linkedMainEventId", 80)?,
            linked_main_event_year: normalize::year(body.get("linkedMainEventYear"), "linkedMainEventYear", false)?,
            archived: normalize::boolean(body.get("archived"), "archived")?,
        })
    }

    /// Whether no recognised field was sent.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// `stored` with these changes applied, cross-field checks included. On create pass a
    /// default event. A legacy `packageTiers` list keeps the labels and amounts of tiers that
    /// remain (a deliberate fix of §14.9).
    pub fn apply_to(&self, stored: &PartnershipEvent) -> Result<PartnershipEvent, ValidationError> {
        let mut event = stored.clone();
        let merge = |field: &Field<String>, current: &Option<String>| match field {
            Field::Missing => current.clone(),
            Field::Null => None,
            Field::Set(v) => Some(v.clone()),
        };
        if let Some(name) = &self.name {
            event.name = name.clone();
        }
        if let Some(year) = self.year {
            event.year = year;
        }
        event.start_date = merge(&self.start_date, &stored.start_date);
        event.end_date = merge(&self.end_date, &stored.end_date);
        event.outreach_start_date = merge(&self.outreach_start_date, &stored.outreach_start_date);
        match &self.sponsorship_goal {
            Field::Missing => {}
            Field::Null => event.sponsorship_goal = None,
            Field::Set(goal) => event.sponsorship_goal = Some(*goal),
        }
        if let Some(tiers) = &self.tier_configs {
            let existing = stored.tiers();
            let tiers: Vec<TierConfig> = if self.tiers_from_legacy_list {
                tiers
                    .iter()
                    .map(|t| {
                        existing
                            .iter()
                            .find(|e| e.id == t.id)
                            .cloned()
                            .unwrap_or_else(|| t.clone())
                    })
                    .collect()
            } else {
                tiers.clone()
            };
            event.package_tiers = tiers.iter().map(|t| t.id.clone()).collect();
            event.tier_configs = tiers;
        }
        if let Some(notes) = &self.notes {
            event.notes = notes.clone();
        }
        if let Some(id) = &self.linked_main_event_id {
            event.linked_main_event_id = id.clone();
        }
        match self.linked_main_event_year {
            Field::Missing => {}
            Field::Null => event.linked_main_event_year = None,
            Field::Set(y) => event.linked_main_event_year = Some(y),
        }
        if let Some(archived) = self.archived {
            event.archived = archived;
        }
        if let (Some(start), Some(end)) = (&event.start_date, &event.end_date)
            && start > end
        {
            return Err(ValidationError::new(
                "'startDate' cannot be after 'endDate'.",
                json!({"startDate": start, "endDate": end}),
            ));
        }
        if let (Some(outreach), Some(end)) = (&event.outreach_start_date, &event.end_date)
            && outreach > end
        {
            return Err(ValidationError::new(
                "'outreachStartDate' cannot be after 'endDate'.",
                json!({"outreachStartDate": outreach, "endDate": end}),
            ));
        }
        Ok(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn tier_configs_accept_every_form() {
        let tiers = parse_tier_configs(&json!([
            "Gold Plus",
            {"key": "silver", "title": "Silver Pack", "price": "1500.56"},
            {"name": "Bronze"},
            {"label": "Community Partner", "defaultAmount": 0},
            "gold plus",
            ""
        ]))
        .unwrap();
        assert_eq!(
            tiers[0],
            TierConfig {
                id: "gold_plus".into(),
                label: "Gold Plus".into(),
                amount: None,
                benefits: Vec::new(),
            }
        );
        assert_eq!(
            tiers[1],
            TierConfig {
                id: "silver".into(),
                label: "Silver Pack".into(),
                amount: Some(1500.56),
                benefits: Vec::new(),
            }
        );
        assert_eq!(
            tiers[2],
            TierConfig {
                id: "bronze".into(),
                label: "Bronze".into(),
                amount: None,
                benefits: Vec::new(),
            }
        );
        assert_eq!(
            tiers[3],
            TierConfig {
                id: "community_partner".into(),
                label: "Community Partner".into(),
                amount: Some(0.0),
                benefits: Vec::new(),
            }
        );
        assert_eq!(tiers.len(), 4, "duplicates dropped, first wins");
        assert_eq!(
            parse_tier_configs(&json!("silver, Gold")).unwrap()[0].label,
            "silver",
            "string items keep their text"
        );
        assert_eq!(
            parse_tier_configs(&json!({"id": "x"})).unwrap_err().message,
            "'tierConfigs' must be a list of tiers or a comma-separated string."
        );
        let err = parse_tier_configs(&json!([5])).unwrap_err();
        assert_eq!(err.message, "'tierConfigs' items must be strings or objects.");
        assert_eq!(err.data, json!({"tierConfig": 5}));
        assert_eq!(
            parse_tier_configs(&json!([{"id": "a", "amount": -5}]))
                .unwrap_err()
                .message,
            "'tier.amount' must be a non-negative number."
        );
        assert_eq!(
            parse_tier_configs(&json!(["$$"])).unwrap_err().message,
            "'tier' must include at least one letter or number."
        );
        let many: Vec<String> = (0..20).map(|i| format!("t{i}")).collect();
        assert_eq!(parse_tier_configs(&json!(many)).unwrap().len(), 12);
    }

    #[test]
    fn legacy_package_tiers() {
        let tiers = parse_package_tiers(&json!(["Gold Plus", "gold plus", "Silver"])).unwrap();
        assert_eq!(
            tiers
                .iter()
                .map(|t| (t.id.as_str(), t.label.as_str()))
                .collect::<Vec<_>>(),
            [("gold_plus", "Gold Plus"), ("silver", "Silver")]
        );
    }

    #[test]
    fn create_validation_messages() {
        let cases = [
            (json!({"year": 2025}), "'name' is required."),
            (json!({"name": "X"}), "'year' is required."),
            (json!({"name": "X", "year": 1999}), "'year' must be a valid year."),
            (
                json!({"name": "X", "year": 2025, "startDate": "2025-02-31"}),
                "'startDate' must be in YYYY-MM-DD format.",
            ),
            (
                json!({"name": "X", "year": 2025, "sponsorshipGoal": -1}),
                "'sponsorshipGoal' must be a non-negative number.",
            ),
            (
                json!({"name": "X", "year": 2025, "archived": "no"}),
                "'archived' must be a boolean.",
            ),
            (
                json!({"name": "X", "year": 2025, "linkedMainEventYear": 3000}),
                "'linkedMainEventYear' must be a valid year.",
            ),
        ];
        for (input, message) in cases {
            assert_eq!(
                EventChanges::parse(&body(input.clone()), true).unwrap_err().message,
                message,
                "{input}"
            );
        }
    }

    #[test]
    fn date_order_is_checked_on_the_merged_event() {
        let stored = PartnershipEvent {
            end_date: Some("2025-03-01".into()),
            ..Default::default()
        };
        let changes = EventChanges::parse(&body(json!({"startDate": "2025-03-02"})), false).unwrap();
        let err = changes.apply_to(&stored).unwrap_err();
        assert_eq!(err.message, "'startDate' cannot be after 'endDate'.");
        assert_eq!(err.data, json!({"startDate": "2025-03-02", "endDate": "2025-03-01"}));
        let changes = EventChanges::parse(&body(json!({"outreachStartDate": "2025-04-01"})), false).unwrap();
        assert_eq!(
            changes.apply_to(&stored).unwrap_err().message,
            "'outreachStartDate' cannot be after 'endDate'."
        );
        let changes = EventChanges::parse(
            &body(json!({"outreachStartDate": "2024-01-01", "startDate": "2025-01-01"})),
            false,
        )
        .unwrap();
        assert!(changes.apply_to(&stored).is_ok(), "outreach vs start is not checked");
    }

    #[test]
    fn patch_clears_linked_year_and_legacy_tiers_keep_amounts() {
        let stored = PartnershipEvent {
            linked_main_event_year: Some(2025),
            tier_configs: vec![
                TierConfig {
                    id: "gold".into(),
                    label: "Gold Tier".into(),
                    amount: Some(5000.0),
                    benefits: Vec::new(),
                },
                TierConfig {
                    id: "silver".into(),
                    label: "Silver".into(),
                    amount: Some(2500.0),
                    benefits: Vec::new(),
                },
            ],
            package_tiers: vec!["gold".into(), "silver".into()],
            ..Default::default()
        };
        let changes = EventChanges::parse(
            &body(json!({"linkedMainEventYear": null, "packageTiers": ["Gold", "Bronze"]})),
            false,
        )
        .unwrap();
        let event = changes.apply_to(&stored).unwrap();
        assert_eq!(event.linked_main_event_year, None);
        assert_eq!(
            event.tier_configs[0],
            TierConfig {
                id: "gold".into(),
                label: "Gold Tier".into(),
                amount: Some(5000.0),
                benefits: Vec::new(),
            }
        );
        assert_eq!(
            event.tier_configs[1],
            TierConfig {
                id: "bronze".into(),
                label: "Bronze".into(),
                amount: None,
                benefits: Vec::new(),
            }
        );
        assert_eq!(event.package_tiers, vec!["gold", "bronze"]);
        assert!(EventChanges::parse(&body(json!({"foo": 1})), false).unwrap().is_empty());
    }

    #[test]
    fn tiers_on_read_append_legacy_ids() {
        let event = PartnershipEvent {
            tier_configs: vec![TierConfig {
                id: "gold".into(),
                label: "".into(),
                amount: Some(1.0),
                benefits: Vec::new(),
            }],
            package_tiers: vec!["gold".into(), "Platinum".into()],
            ..Default::default()
        };
        let tiers = event.tiers();
        assert_eq!(tiers[0].label, "Gold");
        assert_eq!(
            tiers[1],
            TierConfig {
                id: "platinum".into(),
                label: "Platinum".into(),
                amount: None,
                benefits: Vec::new(),
            }
        );
        assert_eq!(event.tier_default_amount("gold"), Some(1.0));
        assert_eq!(event.tier_default_amount("platinum"), None);
    }

    #[test]
    fn counters_follow_status_and_amount() {
        let paid = EventCounters::of_link("paid", Some(100.0));
        let declined = EventCounters::of_link("declined", Some(40.0));
        let delta = declined.minus(paid);
        assert_eq!(delta.relationship_count, 0);
        assert_eq!(delta.paid_count, -1);
        assert_eq!(delta.secured_cents, -10000);
        assert_eq!(delta.lost_cents, 4000);
        let total = paid.plus(EventCounters::of_link("pitched", Some(0.5)));
        let json = total.to_json();
        assert_eq!(json["relationshipCount"], 2);
        assert_eq!(json["committedAmount"], 100.5);
        assert_eq!(json["openPipelineAmount"], 0.5);
    }

    #[test]
    fn events_sort_by_year_start_then_name() {
        let e = |name: &str, year, start: Option<&str>| PartnershipEvent {
            name: name.into(),
            year,
            start_date: start.map(str::to_string),
            ..Default::default()
        };
        let mut events = [
            e("b", 2025, None),
            e("a", 2025, None),
            e("z", 2025, Some("2025-05-01")),
            e("y", 2026, None),
        ];
        events.sort_by(compare_events);
        assert_eq!(
            events.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
            ["y", "z", "a", "b"]
        );
    }
}
