//! The activity log and change events (issue 13): what one stream record of a table says
//! happened — who, when, what, and the before and after of each user-visible field — and whose
//! activity it belongs to. Pure: the stream processor reads the images and writes the entries.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The entities the activity log follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    Partner,
    Event,
    Link,
    Document,
    Communication,
}

impl Entity {
    /// The name in entries and event types (`partnerships.<entity>.<action>`).
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Partner => "partner",
            Entity::Event => "event",
            Entity::Link => "link",
            Entity::Document => "document",
            Entity::Communication => "communication",
        }
    }

    /// The fields a person edits and sees; counters, index keys and audit stamps are not changes.
    fn visible_fields(self) -> &'static [&'static str] {
        match self {
            Entity::Partner => &[
                "company",
                "email",
                "contactName",
                "phone",
                "contactRole",
                "linkedin",
                "tier",
                "notes",
                "tags",
                "isAlumni",
                "archived",
                "ownerEmail",
                "mergedInto",
            ],
            Entity::Event => &[
                "name",
                "year",
                "startDate",
                "endDate",
                "outreachStartDate",
                "sponsorshipGoal",
                "tierConfigs",
                "notes",
                "linkedMainEventId",
                "linkedMainEventYear",
                "archived",
            ],
            Entity::Link => &[
                "partnerId",
                "eventId",
                "eventName",
                "eventYear",
                "status",
                "packageTier",
                "role",
                "notes",
                "amount",
                "followUpDate",
            ],
            Entity::Document => &[
                "title",
                "type",
                "status",
                "url",
                "fileName",
                "notes",
                "eventId",
                "eventName",
                "eventYear",
            ],
            Entity::Communication => &[
                "subject",
                "summary",
                "channel",
                "direction",
                "occurredAt",
                "followUpDate",
                "followUpDone",
                "eventId",
                "eventName",
                "eventYear",
            ],
        }
    }
}

/// What happened to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Created,
    Updated,
    Deleted,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Updated => "updated",
            Action::Deleted => "deleted",
        }
    }
}

/// One change of one record, read from its stream record.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeRecord {
    /// The stream record's sequence number: the entry's identity (a retried batch rewrites it).
    pub sequence: String,
    pub entity: Entity,
    pub entity_id: String,
    pub action: Action,
    /// Who: the record's `updatedBy` (a person's email or a job's name); `null` for a delete,
    /// which records no actor.
    pub actor: Option<String>,
    /// When, epoch ms: the edit's `updatedAt`, or the stream record's time for a delete or a
    /// maintenance write.
    pub at: i64,
    /// Each changed user-visible field: `{field: {from, to}}`.
    pub changes: Map<String, Value>,
    /// A write by the system (counters, summaries, re-keys): `updatedAt` did not move.
    pub maintenance: bool,
    /// Whose activity it belongs to: `partner#<id>`, `event#<id>`.
    pub subjects: Vec<String>,
}

fn text<'a>(image: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    image.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn millis(image: &Map<String, Value>, key: &str) -> i64 {
    image.get(key).and_then(Value::as_i64).unwrap_or(0)
}

/// The change one stream record of `entity` describes, if a person could see it: `None` for a
/// write that moves only counters, index keys or stamps.
pub fn change_record(
    entity: Entity,
    sequence: &str,
    old: Option<&Map<String, Value>>,
    new: Option<&Map<String, Value>>,
    record_time_ms: i64,
) -> Option<ChangeRecord> {
    let (action, current) = match (old, new) {
        (None, Some(new)) => (Action::Created, new),
        (Some(_), Some(new)) => (Action::Updated, new),
        (Some(old), None) => (Action::Deleted, old),
        (None, None) => return None,
    };
    let empty = Map::new();
    let mut changes = Map::new();
    for field in entity.visible_fields() {
        let before = old.unwrap_or(&empty).get(*field).cloned().unwrap_or(Value::Null);
        let after = new.unwrap_or(&empty).get(*field).cloned().unwrap_or(Value::Null);
        if before != after {
            changes.insert((*field).to_string(), json!({"from": before, "to": after}));
        }
    }
    if action == Action::Updated && changes.is_empty() {
        return None;
    }
    let maintenance = match (old, new) {
        (Some(old), Some(new)) => millis(old, "updatedAt") == millis(new, "updatedAt"),
        _ => false,
    };
    let actor = match action {
        Action::Deleted => None,
        _ if maintenance => Some("system".to_string()),
        _ => text(current, "updatedBy").map(str::to_string),
    };
    // A maintenance write comes after the record's own last edit; the stream's time may be
    // coarser (whole seconds), so never place it before that edit.
    let at = match action {
        Action::Deleted => record_time_ms,
        _ if maintenance => record_time_ms.max(millis(current, "updatedAt")),
        _ => Some(millis(current, "updatedAt"))
            .filter(|t| *t > 0)
            .unwrap_or(record_time_ms),
    };
    let entity_id = text(current, "id").unwrap_or_default().to_string();
    let mut subjects = Vec::new();
    match entity {
        Entity::Partner => subjects.push(format!("partner#{entity_id}")),
        Entity::Event => subjects.push(format!("event#{entity_id}")),
        Entity::Link | Entity::Document | Entity::Communication => {
            for image in [old, new].into_iter().flatten() {
                for (key, prefix) in [("partnerId", "partner#"), ("eventId", "event#")] {
                    if let Some(id) = text(image, key) {
                        let subject = format!("{prefix}{id}");
                        if !subjects.contains(&subject) {
                            subjects.push(subject);
                        }
                    }
                }
            }
        }
    }
    Some(ChangeRecord {
        sequence: sequence.to_string(),
        entity,
        entity_id,
        action,
        actor,
        at,
        changes,
        maintenance,
        subjects,
    })
}

impl ChangeRecord {
    /// The entry's wire shape (`GET …/activity`).
    pub fn to_wire(&self) -> Value {
        json!({
            "id": self.sequence,
            "at": crate::domain::normalize::iso_from_millis(self.at),
            "actor": self.actor,
            "action": self.action.as_str(),
            "entity": self.entity.as_str(),
            "entityId": self.entity_id,
            "changes": self.changes,
            "maintenance": self.maintenance,
        })
    }

    /// The EventBridge detail-type: `partnerships.<entity>.<action>`.
    pub fn detail_type(&self) -> String {
        format!("partnerships.{}.{}", self.entity.as_str(), self.action.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn an_edit_records_who_when_and_each_visible_field() {
        let old = map(
            json!({"id": "p1", "company": "Acme", "tags": ["a"], "updatedAt": 1, "updatedBy": "x@o.org", "version": 1}),
        );
        let new = map(
            json!({"id": "p1", "company": "Acme Inc", "tags": ["a", "b"], "updatedAt": 5, "updatedBy": "ann@o.org", "version": 2, "emailDomain": "acme.com"}),
        );
        let c = change_record(Entity::Partner, "s1", Some(&old), Some(&new), 9).unwrap();
        assert_eq!(c.action, Action::Updated);
        assert_eq!(c.actor.as_deref(), Some("ann@o.org"));
        assert_eq!(c.at, 5);
        assert!(!c.maintenance);
        assert_eq!(c.changes["company"], json!({"from": "Acme", "to": "Acme Inc"}));
        assert_eq!(c.changes.len(), 2, "index keys and stamps are not changes");
        assert_eq!(c.subjects, vec!["partner#p1"]);
        assert_eq!(c.detail_type(), "partnerships.partner.updated");
    }

    #[test]
    fn counter_writes_are_not_activity_and_re_keys_are_maintenance() {
        let old = map(json!({"id": "e1", "name": "Summit", "relationshipCount": 1, "updatedAt": 3}));
        let counted = map(json!({"id": "e1", "name": "Summit", "relationshipCount": 2, "updatedAt": 3}));
        assert!(change_record(Entity::Event, "s", Some(&old), Some(&counted), 9).is_none());
        let link_old = map(
            json!({"id": "l1", "partnerId": "p1", "eventId": "e1", "eventName": "Old", "updatedAt": 3, "updatedBy": "a@o.org"}),
        );
        let link_new = map(
            json!({"id": "l1", "partnerId": "p1", "eventId": "e1", "eventName": "New", "updatedAt": 3, "updatedBy": "a@o.org"}),
        );
        let rekey = change_record(Entity::Link, "s", Some(&link_old), Some(&link_new), 9).unwrap();
        assert!(rekey.maintenance);
        assert_eq!(rekey.actor.as_deref(), Some("system"));
        assert_eq!(rekey.at, 9);
        assert_eq!(
            rekey.subjects,
            vec!["partner#p1", "event#e1"],
            "a link is on both timelines"
        );
    }

    #[test]
    fn creates_and_deletes() {
        let doc = map(json!({"id": "d1", "partnerId": "p1", "title": "Deck", "updatedAt": 4, "updatedBy": "a@o.org"}));
        let created = change_record(Entity::Document, "s", None, Some(&doc), 9).unwrap();
        assert_eq!((created.action, created.at), (Action::Created, 4));
        assert_eq!(created.changes["title"], json!({"from": null, "to": "Deck"}));
        let deleted = change_record(Entity::Document, "s", Some(&doc), None, 9).unwrap();
        assert_eq!(
            (deleted.action, deleted.at, deleted.actor.clone()),
            (Action::Deleted, 9, None)
        );
        assert_eq!(deleted.subjects, vec!["partner#p1"]);
    }
}
