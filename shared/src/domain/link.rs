//! Partner–event links, the deals of the pipeline (contract §2.4, §5.10–§5.12).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::ValidationError;
use super::benefits::{BenefitCatalog, Fulfilment, parse_fulfilment_patch};
use super::event::PartnershipEvent;
use super::metrics::LinkSummary;
use super::normalize::{self, Field};

/// A stored link.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PartnerEventLink {
    pub id: String,
    pub partner_id: String,
    pub event_id: String,
    pub event_year: i32,
    pub event_id_year: String,
    pub event_name: String,
    pub status: String,
    pub package_tier: String,
    pub role: String,
    pub notes: String,
    pub amount: Option<f64>,
    pub follow_up_date: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub updated_by: String,
    pub version: u64,
    /// Per benefit of its tier, whether it was delivered (issue 16.3); absent when none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fulfilment: BTreeMap<String, Fulfilment>,
}

impl PartnerEventLink {
    /// The deterministic id that makes a partner–event pair unique.
    pub fn id_for(partner_id: &str, event_id: &str) -> String {
        format!("{partner_id}::{event_id}")
    }

    /// The facts the partner directory keeps about this link.
    pub fn summary(&self) -> LinkSummary {
        LinkSummary {
            id: self.id.clone(),
            partner_id: self.partner_id.clone(),
            event_id: self.event_id.clone(),
            event_id_year: self.event_id_year.clone(),
            status: self.status.clone(),
            package_tier: self.package_tier.clone(),
            amount: self.amount,
            follow_up_date: self.follow_up_date.clone(),
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }

    /// The link as the API shows it.
    pub fn to_wire(&self) -> Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        }
    }

    /// Points the link at the event's current name and year.
    pub fn rekeyed_to(&self, event: &PartnershipEvent) -> Self {
        Self {
            event_year: event.year,
            event_id_year: event.event_id_year(),
            event_name: event.name.clone(),
            ..self.clone()
        }
    }
}

/// Validated link fields of a create or patch body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkChanges {
    pub status: Option<String>,
    pub package_tier: Option<String>,
    pub role: Option<String>,
    pub notes: Option<String>,
    pub amount: Field<f64>,
    pub follow_up_date: Field<String>,
    /// Benefit records to set (`Some`) or forget (`None`), by benefit key.
    pub fulfilment: Option<BTreeMap<String, Option<Fulfilment>>>,
}

/// A validated create body.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLink {
    pub event_id: String,
    pub event_year: Option<i32>,
    pub changes: LinkChanges,
}

fn optional_text(body: &Map<String, Value>, field: &str, max: usize) -> Result<Option<String>, ValidationError> {
    Ok(match normalize::body_text(body.get(field), field, max)? {
        Field::Missing => None,
        Field::Null => Some(String::new()),
        Field::Set(t) => Some(t),
    })
}

impl LinkChanges {
    fn parse(body: &Map<String, Value>) -> Result<Self, ValidationError> {
        let status = match optional_text(body, "status", 80)? {
            Some(raw) => Some(normalize::status(Some(&Value::String(raw)))?),
            None => None,
        };
        // `packageTier` wins over its alias `tier` when both are sent.
        let tier_key = if body.contains_key("packageTier") {
            "packageTier"
        } else {
            "tier"
        };
        let package_tier = match optional_text(body, tier_key, 80)? {
            Some(raw) => Some(normalize::tier(Some(&Value::String(raw)), "tier")?),
            None => None,
        };
        Ok(Self {
            status,
            package_tier,
            role: optional_text(body, "role", 80)?,
            notes: optional_text(body, "notes", 3000)?,
            amount: normalize::amount(body.get("amount"), "amount")?,
            follow_up_date: normalize::date(body.get("followUpDate"), "followUpDate")?,
            fulfilment: match body.get("fulfilment") {
                None | Some(Value::Null) => None,
                Some(value) => Some(parse_fulfilment_patch(value)?),
            },
        })
    }

    /// 406 when a PATCH body tries to move the link to another event (§5.11); the route runs
    /// this before looking the link up.
    pub fn reject_immutable_keys(body: &Map<String, Value>) -> Result<(), ValidationError> {
        if body.contains_key("eventId") || body.contains_key("eventYear") {
            let data: Map<String, Value> = ["eventId", "eventYear"]
                .iter()
                .filter_map(|k| Some((k.to_string(), body.get(*k)?.clone())))
                .collect();
            return Err(ValidationError::new(
                "'eventId' and 'eventYear' cannot be changed after the association is created.",
                Value::Object(data),
            ));
        }
        Ok(())
    }

    /// Validates a PATCH body, immutable keys included.
    pub fn parse_patch(body: &Map<String, Value>) -> Result<Self, ValidationError> {
        Self::reject_immutable_keys(body)?;
        Self::parse(body)
    }

    /// Whether no recognised field was sent.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The link after this patch. A *changed* tier without an amount takes the tier's default
    /// (parity); an unchanged tier keeps the stored amount (the client resends the tier on every
    /// edit, and the peer wiped custom amounts, §14.9).
    pub fn apply_to(&self, stored: &PartnerEventLink, event: Option<&PartnershipEvent>) -> PartnerEventLink {
        let mut link = stored.clone();
        if let Some(status) = &self.status {
            link.status = status.clone();
        }
        if let Some(role) = &self.role {
            link.role = role.clone();
        }
        if let Some(notes) = &self.notes {
            link.notes = notes.clone();
        }
        let tier_changed = self
            .package_tier
            .as_ref()
            .is_some_and(|t| *t != normalize::stored_tier(Some(&stored.package_tier)));
        if let Some(tier) = &self.package_tier {
            link.package_tier = tier.clone();
        }
        link.amount = match &self.amount {
            Field::Set(amount) => Some(*amount),
            Field::Null => None,
            Field::Missing if tier_changed => event.and_then(|e| e.tier_default_amount(&link.package_tier)),
            Field::Missing => stored.amount,
        };
        match &self.follow_up_date {
            Field::Set(date) => link.follow_up_date = Some(date.clone()),
            Field::Null => link.follow_up_date = None,
            Field::Missing => {}
        }
        for (key, record) in self.fulfilment.iter().flatten() {
            match record {
                Some(record) => link.fulfilment.insert(key.clone(), record.clone()),
                None => link.fulfilment.remove(key),
            };
        }
        link
    }

    /// 406 unless every benefit the patch records is one the link's tier promises at `event`
    /// (the tier after the patch).
    pub fn check_fulfilment(&self, tier: &str, event: Option<&PartnershipEvent>) -> Result<(), ValidationError> {
        let Some(patch) = &self.fulfilment else {
            return Ok(());
        };
        let catalog = BenefitCatalog::of(event);
        let promised = event.map_or(&[][..], |e| catalog.promised(&e.id, tier));
        let unknown: Vec<&str> = patch
            .keys()
            .filter(|k| !promised.iter().any(|b| &b.key == *k))
            .map(String::as_str)
            .collect();
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(ValidationError::new(
                format!(
                    "'fulfilment' names benefits the link's tier does not promise: {}.",
                    unknown.join(", ")
                ),
                json!({"packageTier": tier}),
            ))
        }
    }
}

impl NewLink {
    /// Validates a create body.
    pub fn parse(body: &Map<String, Value>) -> Result<Self, ValidationError> {
        let event_id = match normalize::body_text(body.get("eventId"), "eventId", 120)? {
            Field::Set(id) if !id.is_empty() => id,
            _ => {
                return Err(ValidationError::new(
                    "'eventId' is required.",
                    normalize::field_data("eventId", body.get("eventId")),
                ));
            }
        };
        let event_year = normalize::year(body.get("eventYear"), "eventYear", false)?.into_option();
        Ok(Self {
            event_id,
            event_year,
            changes: LinkChanges::parse(body)?,
        })
    }

    /// 406 when a given `eventYear` differs from the event's.
    pub fn check_year(&self, event: &PartnershipEvent) -> Result<(), ValidationError> {
        match self.event_year {
            Some(year) if year != event.year => Err(ValidationError::new(
                "'eventYear' does not match the selected partnerships event year.",
                json!({"eventId": self.event_id, "eventYear": year, "expectedYear": event.year}),
            )),
            _ => Ok(()),
        }
    }

    /// The new link: status defaults to `reached_out`; an absent amount takes the tier's default.
    pub fn build(&self, partner_id: &str, event: &PartnershipEvent, now_ms: i64, actor: &str) -> PartnerEventLink {
        let c = &self.changes;
        let package_tier = c.package_tier.clone().unwrap_or_default();
        let amount = match &c.amount {
            Field::Set(a) => Some(*a),
            Field::Null => None,
            Field::Missing => event.tier_default_amount(&package_tier),
        };
        PartnerEventLink {
            id: PartnerEventLink::id_for(partner_id, &event.id),
            partner_id: partner_id.to_string(),
            event_id: event.id.clone(),
            event_year: event.year,
            event_id_year: event.event_id_year(),
            event_name: event.name.clone(),
            status: c
                .status
                .clone()
                .unwrap_or_else(|| normalize::DEFAULT_STATUS.to_string()),
            package_tier,
            role: c.role.clone().unwrap_or_default(),
            notes: c.notes.clone().unwrap_or_default(),
            amount,
            follow_up_date: c.follow_up_date.clone().into_option(),
            created_at: now_ms,
            updated_at: now_ms,
            updated_by: actor.to_string(),
            version: 1,
            fulfilment: c
                .fulfilment
                .iter()
                .flatten()
                .filter_map(|(key, record)| Some((key.clone(), record.clone()?)))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::TierConfig;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn event() -> PartnershipEvent {
        PartnershipEvent {
            id: "e1".into(),
            name: "Blueprint".into(),
            year: 2026,
            tier_configs: vec![
                TierConfig {
                    id: "gold".into(),
                    label: "Gold".into(),
                    amount: Some(5000.0),
                    benefits: Vec::new(),
                },
                TierConfig {
                    id: "silver".into(),
                    label: "Silver".into(),
                    amount: None,
                    benefits: Vec::new(),
                },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn create_defaults_and_tier_amounts() {
        let new = NewLink::parse(&body(json!({"eventId": "e1", "tier": "Gold"}))).unwrap();
        let link = new.build("p1", &event(), 7, "me");
        assert_eq!(link.id, "p1::e1");
        assert_eq!(link.event_id_year, "e1#2026");
        assert_eq!(link.status, "reached_out");
        assert_eq!(link.amount, Some(5000.0));
        let explicit_null = NewLink::parse(&body(
            json!({"eventId": "e1", "packageTier": "gold", "tier": "silver", "amount": null}),
        ))
        .unwrap();
        let link = explicit_null.build("p1", &event(), 7, "me");
        assert_eq!((link.package_tier.as_str(), link.amount), ("gold", None));
        let custom = NewLink::parse(&body(
            json!({"eventId": "e1", "status": "Waiting on Legal", "amount": "12.35"}),
        ))
        .unwrap();
        let link = custom.build("p1", &event(), 7, "me");
        assert_eq!((link.status.as_str(), link.amount), ("waiting_on_legal", Some(12.35)));
    }

    #[test]
    fn create_validation() {
        assert_eq!(
            NewLink::parse(&body(json!({"eventId": 5}))).unwrap_err().message,
            "'eventId' must be a string."
        );
        assert_eq!(
            NewLink::parse(&body(json!({}))).unwrap_err().message,
            "'eventId' is required."
        );
        assert_eq!(
            NewLink::parse(&body(json!({"eventId": "e", "amount": -1})))
                .unwrap_err()
                .message,
            "'amount' must be a non-negative number."
        );
        let mismatch = NewLink::parse(&body(json!({"eventId": "e1", "eventYear": "2025"}))).unwrap();
        let err = mismatch.check_year(&event()).unwrap_err();
        assert_eq!(
            err.message,
            "'eventYear' does not match the selected partnerships event year."
        );
        assert_eq!(
            err.data,
            json!({"eventId": "e1", "eventYear": 2025, "expectedYear": 2026})
        );
    }

    #[test]
    fn patch_rules() {
        let err = LinkChanges::parse_patch(&body(json!({"eventId": "x", "notes": "secret"}))).unwrap_err();
        assert_eq!(
            err.message,
            "'eventId' and 'eventYear' cannot be changed after the association is created."
        );
        assert_eq!(err.data, json!({"eventId": "x"}));
        let stored = PartnerEventLink {
            package_tier: "silver".into(),
            amount: Some(1234.0),
            status: "paid".into(),
            ..Default::default()
        };
        let same_tier = LinkChanges::parse_patch(&body(json!({"packageTier": "Silver", "role": "Judge"}))).unwrap();
        assert_eq!(
            same_tier.apply_to(&stored, Some(&event())).amount,
            Some(1234.0),
            "unchanged tier keeps a custom amount"
        );
        let new_tier = LinkChanges::parse_patch(&body(json!({"tier": "gold"}))).unwrap();
        assert_eq!(new_tier.apply_to(&stored, Some(&event())).amount, Some(5000.0));
        let reset =
            LinkChanges::parse_patch(&body(json!({"status": "", "amount": null, "followUpDate": null}))).unwrap();
        let link = reset.apply_to(
            &PartnerEventLink {
                follow_up_date: Some("2025-01-01".into()),
                ..stored.clone()
            },
            None,
        );
        assert_eq!(
            (link.status.as_str(), link.amount, link.follow_up_date),
            ("reached_out", None, None)
        );
        assert!(LinkChanges::parse_patch(&body(json!({"x": 1}))).unwrap().is_empty());
    }
}
