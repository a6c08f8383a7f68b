//! Benefits and fulfilment (issue 16.3): what each tier of an event promises its sponsors
//! (logo on site, booth, tickets, a social post…) and, per secured deal, whether each promise
//! was kept. A deal's outstanding benefits are its tier's benefits not yet `done` nor `n_a`.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::ValidationError;
use super::event::PartnershipEvent;
use super::normalize::{
    self, is_calendar_date, is_secured_status, slug_label, slugify, stored_status, stored_tier, text, truncate_chars,
};

/// Most benefits a tier lists.
pub const MAX_BENEFITS: usize = 20;

/// One promise of a tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Benefit {
    /// Slug (≤ 50), the key a deal's fulfilment is recorded under.
    pub key: String,
    /// Display label (≤ 80).
    pub label: String,
}

/// A tier's `benefits` input: a list of strings (labels) or `{key, label}` objects; blank
/// entries are skipped, duplicate keys dropped (first wins), at most [`MAX_BENEFITS`].
pub fn parse_benefits(value: Option<&Value>) -> Result<Vec<Benefit>, ValidationError> {
    let items = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(ValidationError::new(
                "A tier's 'benefits' must be a list of labels or {key, label} objects.",
                json!({}),
            ));
        }
    };
    if items.len() > MAX_BENEFITS {
        return Err(ValidationError::new(
            format!("A tier lists at most {MAX_BENEFITS} benefits."),
            json!({"count": items.len()}),
        ));
    }
    let mut benefits: Vec<Benefit> = Vec::new();
    for item in items {
        let (key, label) = match item {
            Value::String(label) => (label.clone(), label.clone()),
            Value::Object(map) => {
                let label = text(map.get("label"), 80);
                let key = text(map.get("key"), 80);
                (if key.is_empty() { label.clone() } else { key }, label)
            }
            _ => {
                return Err(ValidationError::new(
                    "A tier's 'benefits' must be a list of labels or {key, label} objects.",
                    json!({}),
                ));
            }
        };
        let key = slugify(&key, 80, 50);
        if key.is_empty() {
            continue;
        }
        let label = match truncate_chars(label.trim(), 80) {
            "" => slug_label(&key),
            label => label.to_string(),
        };
        if !benefits.iter().any(|b| b.key == key) {
            benefits.push(Benefit { key, label });
        }
    }
    Ok(benefits)
}

/// Where a promise stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FulfilmentStatus {
    #[default]
    Pending,
    Done,
    /// Not applicable to this sponsor.
    #[serde(rename = "n_a")]
    NotApplicable,
}

impl FulfilmentStatus {
    fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_lowercase().as_str() {
            "pending" => Some(Self::Pending),
            "done" => Some(Self::Done),
            "n_a" | "n/a" | "na" => Some(Self::NotApplicable),
            _ => None,
        }
    }

    /// Whether the promise still needs work.
    pub fn outstanding(self) -> bool {
        self == Self::Pending
    }
}

/// A deal's record of one benefit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Fulfilment {
    pub status: FulfilmentStatus,
    /// When it was delivered (or is planned), `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// A link PATCH's `fulfilment`: `{"<benefitKey>": {status, date?, note?} | null}` — `null`
/// forgets the record (the benefit is pending again).
pub fn parse_fulfilment_patch(value: &Value) -> Result<BTreeMap<String, Option<Fulfilment>>, ValidationError> {
    let invalid = |message: String| ValidationError::new(message, json!({}));
    let Value::Object(entries) = value else {
        return Err(invalid(
            "'fulfilment' must be an object of benefit key: {status, date, note} or null.".into(),
        ));
    };
    if entries.len() > MAX_BENEFITS {
        return Err(invalid(format!("'fulfilment' names at most {MAX_BENEFITS} benefits.")));
    }
    let mut patch = BTreeMap::new();
    for (raw_key, entry) in entries {
        let key = slugify(raw_key, 80, 50);
        if key.is_empty() {
            return Err(invalid("'fulfilment' keys must be benefit keys.".into()));
        }
        let record = match entry {
            Value::Null => None,
            Value::Object(fields) => Some(parse_record(&key, fields)?),
            _ => return Err(invalid(format!("'fulfilment.{key}' must be an object or null."))),
        };
        patch.insert(key, record);
    }
    Ok(patch)
}

fn parse_record(key: &str, fields: &Map<String, Value>) -> Result<Fulfilment, ValidationError> {
    let status = match fields.get("status") {
        None | Some(Value::Null) => FulfilmentStatus::Pending,
        Some(Value::String(raw)) => FulfilmentStatus::parse(raw).ok_or_else(|| {
            ValidationError::new(
                format!("'fulfilment.{key}.status' must be pending, done or n_a."),
                json!({}),
            )
        })?,
        Some(_) => {
            return Err(ValidationError::new(
                format!("'fulfilment.{key}.status' must be pending, done or n_a."),
                json!({}),
            ));
        }
    };
    let date = match fields.get("date") {
        None | Some(Value::Null) => None,
        Some(Value::String(d)) if d.trim().is_empty() => None,
        Some(Value::String(d)) if is_calendar_date(d.trim()) => Some(d.trim().to_string()),
        Some(_) => {
            return Err(ValidationError::new(
                format!("'fulfilment.{key}.date' must be a date (YYYY-MM-DD)."),
                json!({}),
            ));
        }
    };
    let note = match normalize::body_text(fields.get("note"), "note", 500)? {
        normalize::Field::Set(note) => note,
        _ => String::new(),
    };
    Ok(Fulfilment { status, date, note })
}

/// The benefits of each tier of each event: what a deal at that event and tier was promised.
#[derive(Debug, Clone, Default)]
pub struct BenefitCatalog {
    by_tier: HashMap<(String, String), Vec<Benefit>>,
}

impl BenefitCatalog {
    /// The catalog of `events`.
    pub fn of<'a>(events: impl IntoIterator<Item = &'a PartnershipEvent>) -> Self {
        let mut by_tier = HashMap::new();
        for event in events {
            for tier in event.tiers() {
                if !tier.benefits.is_empty() {
                    by_tier.insert((event.id.clone(), tier.id.clone()), tier.benefits.clone());
                }
            }
        }
        Self { by_tier }
    }

    /// What a deal at `event_id` in `tier` was promised.
    pub fn promised(&self, event_id: &str, tier: &str) -> &[Benefit] {
        self.by_tier
            .get(&(event_id.to_string(), stored_tier(Some(tier))))
            .map_or(&[], Vec::as_slice)
    }

    /// Whether any tier of `event_id` promises anything.
    pub fn event_promises(&self, event_id: &str) -> bool {
        self.by_tier.keys().any(|(event, _)| event == event_id)
    }

    /// The benefits a deal still owes: none unless it is secured; else its tier's benefits not
    /// yet done nor not applicable.
    pub fn outstanding<'a>(
        &'a self,
        event_id: &str,
        tier: &str,
        status: &str,
        fulfilment: &BTreeMap<String, Fulfilment>,
    ) -> Vec<&'a Benefit> {
        if !is_secured_status(&stored_status(Some(status))) {
            return Vec::new();
        }
        self.promised(event_id, tier)
            .iter()
            .filter(|b| fulfilment.get(&b.key).is_none_or(|f| f.status.outstanding()))
            .collect()
    }
}

/// A deal's benefits as the event detail shows them: each promise with its record.
pub fn benefit_rows(promised: &[Benefit], fulfilment: &BTreeMap<String, Fulfilment>) -> Vec<Value> {
    promised
        .iter()
        .map(|b| {
            let record = fulfilment.get(&b.key).cloned().unwrap_or_default();
            json!({"key": b.key, "label": b.label, "status": record.status, "date": record.date, "note": record.note})
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::TierConfig;

    #[test]
    fn benefits_are_labels_or_keyed_objects() {
        let parsed = parse_benefits(Some(
            &json!(["Logo on site", {"key": "booth", "label": "Booth (3x3)"}, " ", "logo on site"]),
        ))
        .unwrap();
        assert_eq!(
            parsed,
            [
                Benefit {
                    key: "logo_on_site".into(),
                    label: "Logo on site".into()
                },
                Benefit {
                    key: "booth".into(),
                    label: "Booth (3x3)".into()
                },
            ]
        );
        assert!(parse_benefits(Some(&json!("logo"))).is_err());
        assert!(parse_benefits(Some(&json!(vec!["x"; 21]))).is_err());
    }

    #[test]
    fn fulfilment_records_a_status_a_date_and_a_note() {
        let patch = parse_fulfilment_patch(
            &json!({"booth": {"status": "done", "date": "2026-03-01", "note": "Hall B"}, "logo": null}),
        )
        .unwrap();
        assert_eq!(patch["booth"].as_ref().unwrap().status, FulfilmentStatus::Done);
        assert_eq!(patch["logo"], None);
        for bad in [
            json!({"booth": {"status": "sent"}}),
            json!({"booth": {"date": "March"}}),
            json!([1]),
        ] {
            assert!(parse_fulfilment_patch(&bad).is_err(), "{bad}");
        }
    }

    fn catalog() -> BenefitCatalog {
        let event = PartnershipEvent {
            id: "e".into(),
            tier_configs: vec![TierConfig {
                id: "gold".into(),
                label: "Gold".into(),
                amount: None,
                benefits: parse_benefits(Some(&json!(["Logo", "Booth", "Tickets"]))).unwrap(),
            }],
            ..Default::default()
        };
        BenefitCatalog::of([&event])
    }

    #[test]
    fn a_secured_deal_owes_what_is_neither_done_nor_not_applicable() {
        let fulfilment = BTreeMap::from([
            (
                "logo".to_string(),
                Fulfilment {
                    status: FulfilmentStatus::Done,
                    ..Default::default()
                },
            ),
            (
                "booth".to_string(),
                Fulfilment {
                    status: FulfilmentStatus::NotApplicable,
                    ..Default::default()
                },
            ),
        ]);
        let catalog = catalog();
        let owed = catalog.outstanding("e", "Gold", "paid", &fulfilment);
        assert_eq!(owed.iter().map(|b| b.key.as_str()).collect::<Vec<_>>(), ["tickets"]);
    }

    #[test]
    fn an_open_deal_owes_nothing_yet() {
        assert!(
            catalog()
                .outstanding("e", "gold", "pitched", &BTreeMap::new())
                .is_empty()
        );
        assert!(
            catalog()
                .outstanding("e", "silver", "paid", &BTreeMap::new())
                .is_empty()
        );
    }
}
