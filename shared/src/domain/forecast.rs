//! The weighted forecast (issue 16.1): a win probability per pipeline status, and the amount
//! the pipeline is worth once each deal is weighted by its status's probability. Goal vs secured
//! vs weighted says whether a goal is still reachable.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::ValidationError;
use super::aggregates::EventAggregate;
use super::normalize::{self, stored_status};

/// The probability of a status no setting and no default names (a team's own statuses).
pub const CUSTOM_STATUS_PROBABILITY: u8 = 25;

/// The default probability (percent) of each canonical status.
pub const DEFAULT_PROBABILITIES: [(&str, u8); 10] = [
    ("prospecting", 10),
    ("pitched", 20),
    ("reached_out", 15),
    ("shortlist", 60),
    ("in_conversation", 40),
    ("followed_up", 30),
    ("confirmed", 90),
    ("paid", 100),
    ("declined", 0),
    ("backed_out", 0),
];

/// A stage's settings: only the statuses whose probability differs from the default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Probabilities {
    pub overrides: BTreeMap<String, u8>,
}

impl Probabilities {
    /// The probability of `status` (any spelling the API accepts), in percent.
    pub fn of(&self, status: &str) -> u8 {
        let status = stored_status(Some(status));
        self.overrides
            .get(&status)
            .copied()
            .or_else(|| {
                DEFAULT_PROBABILITIES
                    .iter()
                    .find(|(s, _)| *s == status)
                    .map(|(_, p)| *p)
            })
            .unwrap_or(CUSTOM_STATUS_PROBABILITY)
    }

    /// The weighted amount of an event's links, in cents: each status's cents × its probability.
    pub fn weighted_cents(&self, aggregate: &EventAggregate) -> i64 {
        aggregate
            .by_status
            .iter()
            .map(|(status, totals)| {
                // i128: cents up to i64::MAX times 100 cannot overflow; the quotient fits back.
                let weighted = i128::from(totals.cents) * i128::from(self.of(status)) / 100;
                i64::try_from(weighted).unwrap_or(i64::MAX)
            })
            .fold(0i64, i64::saturating_add)
    }

    /// The answer of GET `/partnerships/forecast`: every canonical status and every overridden
    /// one with its probability, the defaults, and what a custom status gets.
    pub fn to_wire(&self) -> Value {
        let mut effective: Map<String, Value> = DEFAULT_PROBABILITIES
            .iter()
            .map(|(status, _)| (status.to_string(), json!(self.of(status))))
            .collect();
        for (status, probability) in &self.overrides {
            effective.insert(status.clone(), json!(probability));
        }
        let defaults: Map<String, Value> = DEFAULT_PROBABILITIES
            .iter()
            .map(|(s, p)| (s.to_string(), json!(p)))
            .collect();
        json!({
            "probabilities": effective,
            "defaults": defaults,
            "customStatusProbability": CUSTOM_STATUS_PROBABILITY,
        })
    }

    /// Applies a PUT body `{"probabilities": {"<status>": 0..=100 | null}}`: a number sets the
    /// status's probability, `null` returns it to its default. Statuses are normalized as links
    /// store them; anything else is 406 and nothing is applied.
    pub fn apply(&self, body: &Map<String, Value>) -> Result<Self, ValidationError> {
        let Some(Value::Object(changes)) = body.get("probabilities") else {
            return Err(ValidationError::new(
                "'probabilities' must be an object of status: percent (0-100) or null.",
                json!({}),
            ));
        };
        if changes.len() > 100 {
            return Err(ValidationError::new(
                "'probabilities' cannot name more than 100 statuses.",
                json!({"count": changes.len()}),
            ));
        }
        let mut next = self.clone();
        for (raw, value) in changes {
            let status = normalize::status(Some(&Value::String(raw.clone())))?;
            match value {
                Value::Null => {
                    next.overrides.remove(&status);
                }
                Value::Number(n) => match n.as_u64().filter(|p| *p <= 100) {
                    Some(p) => {
                        next.overrides.insert(status, p as u8);
                    }
                    None => {
                        return Err(ValidationError::new(
                            "A probability must be a whole percent from 0 to 100.",
                            json!({ "status": status, "probability": n }),
                        ));
                    }
                },
                _ => {
                    return Err(ValidationError::new(
                        "A probability must be a whole percent from 0 to 100.",
                        json!({ "status": status }),
                    ));
                }
            }
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::aggregates::StatusTotals;

    fn aggregate(rows: &[(&str, i64)]) -> EventAggregate {
        EventAggregate {
            by_status: rows
                .iter()
                .map(|(s, cents)| {
                    (
                        s.to_string(),
                        StatusTotals {
                            count: 1,
                            cents: *cents,
                        },
                    )
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn canonical_statuses_take_their_defaults_and_custom_ones_25() {
        let p = Probabilities::default();
        assert_eq!(p.of("pitched"), 20);
        assert_eq!(p.of("Paid"), 100);
        assert_eq!(p.of("backed_out"), 0);
        assert_eq!(p.of("verbal_yes"), 25);
    }

    #[test]
    fn the_weighted_amount_weighs_each_status() {
        let p = Probabilities::default();
        let a = aggregate(&[("pitched", 100_000), ("confirmed", 200_000), ("declined", 50_000)]);
        assert_eq!(p.weighted_cents(&a), 20_000 + 180_000);
    }

    #[test]
    fn a_setting_overrides_a_default_and_null_restores_it() {
        let body = |v: Value| v.as_object().unwrap().clone();
        let p = Probabilities::default()
            .apply(&body(json!({"probabilities": {"Pitched": 35, "verbal yes": 70}})))
            .unwrap();
        assert_eq!(p.of("pitched"), 35);
        assert_eq!(p.of("verbal_yes"), 70);
        let p = p.apply(&body(json!({"probabilities": {"pitched": null}}))).unwrap();
        assert_eq!(p.of("pitched"), 20);
        assert_eq!(p.to_wire()["probabilities"]["verbal_yes"], 70);
    }

    #[test]
    fn probabilities_are_whole_percents() {
        let body = |v: Value| v.as_object().unwrap().clone();
        for bad in [json!(101), json!(-1), json!(2.5), json!("50")] {
            assert!(
                Probabilities::default()
                    .apply(&body(json!({"probabilities": {"pitched": bad}})))
                    .is_err()
            );
        }
        assert!(Probabilities::default().apply(&body(json!({}))).is_err());
    }

    #[test]
    fn huge_amounts_saturate_instead_of_overflowing() {
        let p = Probabilities::default();
        let a = aggregate(&[("paid", i64::MAX), ("confirmed", i64::MAX)]);
        assert_eq!(p.weighted_cents(&a), i64::MAX);
    }
}
