//! A partner's documents and communications (contract §2.5–§2.6, §5.13–§5.17): link-based
//! document records and the communication timeline, both optionally tied to an event.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::ValidationError;
use super::event::PartnershipEvent;
use super::normalize::{self, Field};

/// The event a record refers to. Absent attributes (not NULL) when there is none, so the sparse
/// `event-ref-query` index only holds records that have an event.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EventRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_year: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_id_year: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event_name: Option<String>,
}

impl EventRef {
    /// A reference to the event as it is now.
    pub fn to(event: &PartnershipEvent) -> Self {
        Self {
            event_id: Some(event.id.clone()),
            event_year: Some(event.year),
            event_id_year: Some(event.event_id_year()),
            event_name: Some(event.name.clone()),
        }
    }

    /// The referenced event id, if any.
    pub fn id(&self) -> Option<&str> {
        self.event_id.as_deref().filter(|id| !id.is_empty())
    }

    fn write_wire(&self, wire: &mut Map<String, Value>) {
        wire.insert("eventId".into(), json!(self.id()));
        wire.insert("eventYear".into(), json!(self.event_year));
        wire.insert("eventIdYear".into(), json!(self.event_id_year));
        wire.insert("eventName".into(), json!(self.event_name));
    }
}

/// What a body says about a record's event (§5.14 event resolution).
#[derive(Debug, Clone, Default, PartialEq)]
pub enum EventTarget {
    /// Neither `eventId` nor `eventYear` sent: keep the stored reference.
    #[default]
    Keep,
    /// An empty `eventId`: clear the reference.
    Clear,
    /// Resolve this event; `year`, when given, must match it.
    Event { id: String, year: Option<i32> },
}

impl EventTarget {
    /// Parses `eventId` / `eventYear`. The stored year is a fallback only for the stored event:
    /// moving a record to another event does not check the old event's year against it.
    pub fn parse(body: &Map<String, Value>, stored: &EventRef) -> Result<Self, ValidationError> {
        if !body.contains_key("eventId") && !body.contains_key("eventYear") {
            return Ok(EventTarget::Keep);
        }
        let id = match normalize::body_text(body.get("eventId"), "eventId", 120)? {
            Field::Set(id) => Some(id),
            Field::Null => Some(String::new()),
            Field::Missing => stored.id().map(str::to_string),
        };
        let year = normalize::year(body.get("eventYear"), "eventYear", false)?.into_option();
        match id {
            None => Ok(EventTarget::Clear),
            Some(id) if id.is_empty() => Ok(EventTarget::Clear),
            Some(id) => {
                let year = year.or_else(|| {
                    if stored.id() == Some(id.as_str()) {
                        stored.event_year
                    } else {
                        None
                    }
                });
                Ok(EventTarget::Event { id, year })
            }
        }
    }

    /// 406 when the given year is not the event's.
    pub fn check_year(&self, event: &PartnershipEvent) -> Result<(), ValidationError> {
        match self {
            EventTarget::Event { year: Some(year), id } if *year != event.year => Err(ValidationError::new(
                "'eventYear' does not match the selected partnerships event year.",
                json!({"eventId": id, "eventYear": year, "expectedYear": event.year}),
            )),
            _ => Ok(()),
        }
    }
}

/// Bookkeeping every record carries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Audit {
    pub created_at: i64,
    pub updated_at: i64,
    pub updated_by: String,
    pub version: u64,
}

/// A stored document reference.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Document {
    pub id: String,
    pub partner_id: String,
    pub title: String,
    #[serde(rename = "type")]
    pub doc_type: String,
    pub status: String,
    pub url: String,
    pub file_name: String,
    pub notes: String,
    #[serde(flatten)]
    pub event: EventRef,
    #[serde(flatten)]
    pub audit: Audit,
}

/// A stored communication. Rows written by email sync or mass email carry more attributes
/// (`source`, `sender`, `externalMessageId`…), kept untouched in `extra` through every edit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Communication {
    pub id: String,
    pub partner_id: String,
    pub subject: String,
    pub summary: String,
    pub channel: String,
    pub direction: String,
    pub occurred_at: Option<String>,
    /// Absent rather than NULL when unset: it is the range key of the sparse follow-up index.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow_up_date: Option<String>,
    /// Beyond the peer (§14.8): a follow-up can be marked done and leave the action queue while
    /// its date is kept.
    pub follow_up_done: bool,
    pub follow_up_done_at: Option<String>,
    #[serde(flatten)]
    pub event: EventRef,
    #[serde(flatten)]
    pub audit: Audit,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The key of a sparse index on open follow-ups that rows written before the aggregates table
/// still carry: never shown, dropped by the next edit.
const LEGACY_OPEN_FOLLOW_UP_ATTR: &str = "openFollowUp";

/// What the record flows need from a document or a communication.
pub trait PartnerRecord: Clone + Serialize + serde::de::DeserializeOwned + Send + Sync {
    /// Its validated body.
    type Changes: std::fmt::Debug;
    /// Type name in 404 messages.
    const KIND: &'static str;
    /// Key of the list response.
    const LIST_KEY: &'static str;
    /// Key of the record in write responses.
    const ITEM_KEY: &'static str;
    const CREATED_MESSAGE: &'static str;
    const UPDATED_MESSAGE: &'static str;
    const DELETED_MESSAGE: &'static str;
    /// Attributes stored only when set (index keys) that the wire shows as `null`.
    const NULLABLE_KEYS: &'static [&'static str] = &[];

    fn id(&self) -> &str;
    fn partner_id(&self) -> &str;
    fn event(&self) -> &EventRef;
    fn event_mut(&mut self) -> &mut EventRef;
    fn audit_mut(&mut self) -> &mut Audit;
    fn audit(&self) -> &Audit;
    /// Validates a create body.
    fn parse_create(body: &Map<String, Value>) -> Result<Self::Changes, ValidationError>;
    /// Validates a patch body.
    fn parse_update(body: &Map<String, Value>) -> Result<Self::Changes, ValidationError>;
    /// Whether a patch sent no recognised field (event fields included).
    fn is_empty(changes: &Self::Changes, body: &Map<String, Value>) -> bool;
    /// A new record from a create body (event reference still empty).
    fn create(changes: &Self::Changes, id: String, partner_id: &str, now_ms: i64) -> Self;
    /// The record with a patch applied (event reference untouched).
    fn apply(&self, changes: &Self::Changes, now_ms: i64) -> Self;

    /// The record as the API shows it: every stored attribute, event fields null when absent.
    fn to_wire(&self) -> Map<String, Value> {
        let mut wire = match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        wire.remove(LEGACY_OPEN_FOLLOW_UP_ATTR);
        for key in Self::NULLABLE_KEYS {
            wire.entry(key.to_string()).or_insert(Value::Null);
        }
        self.event().write_wire(&mut wire);
        wire
    }

    /// Recomputes derived attributes before a write.
    fn refresh_derived(&mut self) {}

    /// Stamps the audit attributes of a write.
    fn stamped(mut self, now_ms: i64, actor: &str, version: u64) -> Self {
        self.refresh_derived();
        let audit = self.audit_mut();
        if audit.created_at == 0 {
            audit.created_at = now_ms;
        }
        audit.updated_at = now_ms;
        audit.updated_by = actor.to_string();
        audit.version = version;
        self
    }
}

fn text_field(body: &Map<String, Value>, field: &str, max: usize) -> Result<Option<String>, ValidationError> {
    Ok(match normalize::body_text(body.get(field), field, max)? {
        Field::Missing => None,
        Field::Null => Some(String::new()),
        Field::Set(t) => Some(t),
    })
}

fn required(
    body: &Map<String, Value>,
    field: &str,
    max: usize,
    creating: bool,
) -> Result<Option<String>, ValidationError> {
    let value = text_field(body, field, max)?;
    if value.as_deref().map_or(creating, str::is_empty) {
        return Err(ValidationError::new(
            format!("'{field}' is required."),
            normalize::field_data(field, body.get(field)),
        ));
    }
    Ok(value)
}

/// A slug field with its default for empty input; the error names `error_field` (§3.2).
fn slug_field(
    body: &Map<String, Value>,
    key: &str,
    error_field: &str,
    max: usize,
    default: &str,
) -> Result<Option<String>, ValidationError> {
    match text_field(body, key, max.max(80))? {
        None => Ok(None),
        Some(raw) => normalize::slug_or_default(Some(&Value::String(raw)), error_field, max, max, default).map(Some),
    }
}

/// The accessors every record type implements the same way.
macro_rules! record_accessors {
    () => {
        fn id(&self) -> &str {
            &self.id
        }
        fn partner_id(&self) -> &str {
            &self.partner_id
        }
        fn event(&self) -> &EventRef {
            &self.event
        }
        fn event_mut(&mut self) -> &mut EventRef {
            &mut self.event
        }
        fn audit(&self) -> &Audit {
            &self.audit
        }
        fn audit_mut(&mut self) -> &mut Audit {
            &mut self.audit
        }
    };
}

/// A validated document body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DocumentChanges {
    pub title: Option<String>,
    pub doc_type: Option<String>,
    pub status: Option<String>,
    pub url: Option<String>,
    pub file_name: Option<String>,
    pub notes: Option<String>,
}

impl DocumentChanges {
    fn parse(body: &Map<String, Value>, creating: bool) -> Result<Self, ValidationError> {
        Ok(Self {
            title: required(body, "title", 160, creating)?,
            doc_type: slug_field(body, "type", "documentType", 50, "general")?,
            status: slug_field(body, "status", "documentStatus", 50, "draft")?,
            url: text_field(body, "url", 600)?,
            file_name: text_field(body, "fileName", 180)?,
            notes: text_field(body, "notes", 3000)?,
        })
    }
}

fn has_event_keys(body: &Map<String, Value>) -> bool {
    body.contains_key("eventId") || body.contains_key("eventYear")
}

impl PartnerRecord for Document {
    type Changes = DocumentChanges;
    const KIND: &'static str = "partner document";
    const LIST_KEY: &'static str = "documents";
    const ITEM_KEY: &'static str = "document";
    const CREATED_MESSAGE: &'static str = "Document linked successfully.";
    const UPDATED_MESSAGE: &'static str = "Document updated successfully.";
    const DELETED_MESSAGE: &'static str = "Document removed successfully.";

    record_accessors!();
    fn parse_create(body: &Map<String, Value>) -> Result<DocumentChanges, ValidationError> {
        DocumentChanges::parse(body, true)
    }
    fn parse_update(body: &Map<String, Value>) -> Result<DocumentChanges, ValidationError> {
        DocumentChanges::parse(body, false)
    }
    fn is_empty(changes: &DocumentChanges, body: &Map<String, Value>) -> bool {
        *changes == DocumentChanges::default() && !has_event_keys(body)
    }
    fn create(changes: &DocumentChanges, id: String, partner_id: &str, _now_ms: i64) -> Self {
        let base = Document {
            id,
            partner_id: partner_id.to_string(),
            doc_type: "general".into(),
            status: "draft".into(),
            ..Default::default()
        };
        base.apply(changes, _now_ms)
    }
    fn apply(&self, c: &DocumentChanges, _now_ms: i64) -> Self {
        let mut doc = self.clone();
        let pairs = [
            (&mut doc.title, &c.title),
            (&mut doc.doc_type, &c.doc_type),
            (&mut doc.status, &c.status),
            (&mut doc.url, &c.url),
            (&mut doc.file_name, &c.file_name),
            (&mut doc.notes, &c.notes),
        ];
        for (target, value) in pairs {
            if let Some(v) = value {
                *target = v.clone();
            }
        }
        doc
    }
}

/// A validated communication body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommunicationChanges {
    pub subject: Option<String>,
    pub summary: Option<String>,
    pub channel: Option<String>,
    pub direction: Option<String>,
    pub occurred_at: Field<String>,
    pub follow_up_date: Field<String>,
    pub follow_up_done: Option<bool>,
}

impl CommunicationChanges {
    fn parse(body: &Map<String, Value>, creating: bool) -> Result<Self, ValidationError> {
        let direction = match text_field(body, "direction", 80)? {
            None => None,
            Some(raw) if raw.is_empty() => Some("outbound".to_string()),
            Some(raw) => {
                let slug = normalize::slug_field(Some(&Value::String(raw)), "direction", 40, 40)?;
                if slug != "inbound" && slug != "outbound" {
                    return Err(ValidationError::new(
                        "'direction' must be 'inbound' or 'outbound'.",
                        normalize::field_data("direction", body.get("direction")),
                    ));
                }
                Some(slug)
            }
        };
        Ok(Self {
            subject: text_field(body, "subject", 180)?,
            summary: required(body, "summary", 3000, creating)?,
            channel: slug_field(body, "channel", "channel", 40, "email")?,
            direction,
            occurred_at: normalize::date_time(body.get("occurredAt"), "occurredAt")?,
            follow_up_date: normalize::date(body.get("followUpDate"), "followUpDate")?,
            follow_up_done: normalize::boolean(body.get("followUpDone"), "followUpDone")?,
        })
    }
}

fn iso_from_ms(now_ms: i64) -> String {
    normalize::iso_from_millis(now_ms)
}

impl PartnerRecord for Communication {
    type Changes = CommunicationChanges;
    const KIND: &'static str = "partner communication";
    const LIST_KEY: &'static str = "communications";
    const ITEM_KEY: &'static str = "communication";
    const CREATED_MESSAGE: &'static str = "Communication logged successfully.";
    const UPDATED_MESSAGE: &'static str = "Communication log updated successfully.";
    const DELETED_MESSAGE: &'static str = "Communication entry removed successfully.";
    const NULLABLE_KEYS: &'static [&'static str] = &["followUpDate"];

    record_accessors!();
    fn parse_create(body: &Map<String, Value>) -> Result<CommunicationChanges, ValidationError> {
        CommunicationChanges::parse(body, true)
    }
    fn refresh_derived(&mut self) {
        self.extra.remove(LEGACY_OPEN_FOLLOW_UP_ATTR);
    }
    fn parse_update(body: &Map<String, Value>) -> Result<CommunicationChanges, ValidationError> {
        CommunicationChanges::parse(body, false)
    }
    fn is_empty(changes: &CommunicationChanges, body: &Map<String, Value>) -> bool {
        *changes == CommunicationChanges::default() && !has_event_keys(body)
    }
    fn create(changes: &CommunicationChanges, id: String, partner_id: &str, now_ms: i64) -> Self {
        let base = Communication {
            id,
            partner_id: partner_id.to_string(),
            channel: "email".into(),
            direction: "outbound".into(),
            ..Default::default()
        };
        let mut created = base.apply(changes, now_ms);
        // On create a missing or null occurredAt means "now" (§5.17).
        if created.occurred_at.is_none() {
            created.occurred_at = Some(iso_from_ms(now_ms));
        }
        created
    }
    fn apply(&self, c: &CommunicationChanges, now_ms: i64) -> Self {
        let mut comm = self.clone();
        let pairs = [
            (&mut comm.subject, &c.subject),
            (&mut comm.summary, &c.summary),
            (&mut comm.channel, &c.channel),
            (&mut comm.direction, &c.direction),
        ];
        for (target, value) in pairs {
            if let Some(v) = value {
                *target = v.clone();
            }
        }
        match &c.occurred_at {
            Field::Set(t) => comm.occurred_at = Some(t.clone()),
            Field::Null => comm.occurred_at = None,
            Field::Missing => {}
        }
        let new_date = match &c.follow_up_date {
            Field::Set(d) => Some(Some(d.clone())),
            Field::Null => Some(None),
            Field::Missing => None,
        };
        if let Some(date) = new_date
            && date != comm.follow_up_date
        {
            // A new follow-up date is a new follow-up: it is open again unless marked done too.
            comm.follow_up_date = date;
            comm.follow_up_done = false;
            comm.follow_up_done_at = None;
        }
        if let Some(done) = c.follow_up_done
            && done != comm.follow_up_done
        {
            comm.follow_up_done = done;
            comm.follow_up_done_at = done.then(|| iso_from_ms(now_ms));
        }
        comm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn documents_default_and_validate() {
        let changes =
            Document::parse_create(&body(json!({"title": " Deck ", "type": "Pitch Deck", "url": "x"}))).unwrap();
        let doc = Document::create(&changes, "d1".into(), "p1", 1);
        assert_eq!(
            (doc.title.as_str(), doc.doc_type.as_str(), doc.status.as_str()),
            ("Deck", "pitch_deck", "draft")
        );
        let cases = [
            (json!({}), "'title' is required."),
            (
                json!({"title": "x", "type": "!!"}),
                "'documentType' must include at least one letter or number.",
            ),
            (
                json!({"title": "x", "status": "??"}),
                "'documentStatus' must include at least one letter or number.",
            ),
            (
                json!({"title": "x", "url": "u".repeat(601)}),
                "'url' must be at most 600 characters.",
            ),
        ];
        for (input, message) in cases {
            assert_eq!(
                Document::parse_create(&body(input.clone())).unwrap_err().message,
                message,
                "{input}"
            );
        }
        let wire = doc.to_wire();
        assert_eq!(wire["eventId"], Value::Null);
        assert_eq!(wire["type"], "pitch_deck");
        assert!(Document::is_empty(
            &Document::parse_update(&body(json!({"x": 1}))).unwrap(),
            &body(json!({"x": 1}))
        ));
        assert!(!Document::is_empty(
            &DocumentChanges::default(),
            &body(json!({"eventId": null}))
        ));
    }

    #[test]
    fn communications_default_and_validate() {
        let changes = Communication::parse_create(&body(json!({"summary": "Called", "occurredAt": null}))).unwrap();
        let comm = Communication::create(&changes, "c1".into(), "p1", 1_700_000_000_000);
        assert_eq!((comm.channel.as_str(), comm.direction.as_str()), ("email", "outbound"));
        assert_eq!(comm.occurred_at.as_deref(), Some("2023-11-14T22:13:20.000Z"));
        let err = Communication::parse_create(&body(json!({"summary": "x", "direction": "sideways"}))).unwrap_err();
        assert_eq!(err.message, "'direction' must be 'inbound' or 'outbound'.");
        assert_eq!(
            Communication::parse_create(&body(json!({"summary": "x", "direction": "In Bound"})))
                .unwrap_err()
                .message,
            "'direction' must be 'inbound' or 'outbound'."
        );
        assert_eq!(
            Communication::parse_create(&body(json!({"summary": "x", "direction": " INBOUND "}))).map(|c| c.direction),
            Ok(Some("inbound".into()))
        );
        assert_eq!(
            Communication::parse_create(&body(json!({"summary": "x", "channel": "--"})))
                .unwrap_err()
                .message,
            "'channel' must include at least one letter or number."
        );
        assert_eq!(
            Communication::parse_create(&body(json!({"subject": "x"})))
                .unwrap_err()
                .message,
            "'summary' is required."
        );
        let patch = Communication::parse_update(&body(json!({"occurredAt": null}))).unwrap();
        assert_eq!(comm.apply(&patch, 5).occurred_at, None, "PATCH null stores null");
    }

    #[test]
    fn follow_ups_can_be_done_and_reopen_with_a_new_date() {
        let base = Communication {
            follow_up_date: Some("2026-01-05".into()),
            ..Default::default()
        };
        let done = base.apply(
            &Communication::parse_update(&body(json!({"followUpDone": true}))).unwrap(),
            0,
        );
        assert!(done.follow_up_done);
        assert_eq!(done.follow_up_done_at.as_deref(), Some("1970-01-01T00:00:00.000Z"));
        assert_eq!(done.follow_up_date.as_deref(), Some("2026-01-05"), "the date is kept");
        let same_date = done.apply(
            &Communication::parse_update(&body(json!({"followUpDate": "2026-01-05"}))).unwrap(),
            0,
        );
        assert!(same_date.follow_up_done, "resending the same date keeps it done");
        let moved = done.apply(
            &Communication::parse_update(&body(json!({"followUpDate": "2026-02-01"}))).unwrap(),
            0,
        );
        assert!(
            !moved.follow_up_done && moved.follow_up_done_at.is_none(),
            "a new date reopens it"
        );
        assert_eq!(
            Communication::parse_update(&body(json!({"followUpDone": "yes"})))
                .unwrap_err()
                .message,
            "'followUpDone' must be a boolean."
        );
    }

    #[test]
    fn event_targets() {
        let stored = EventRef {
            event_id: Some("e1".into()),
            event_year: Some(2025),
            ..Default::default()
        };
        assert_eq!(
            EventTarget::parse(&body(json!({"title": "x"})), &stored).unwrap(),
            EventTarget::Keep
        );
        assert_eq!(
            EventTarget::parse(&body(json!({"eventId": ""})), &stored).unwrap(),
            EventTarget::Clear
        );
        assert_eq!(
            EventTarget::parse(&body(json!({"eventId": null})), &stored).unwrap(),
            EventTarget::Clear
        );
        assert_eq!(
            EventTarget::parse(&body(json!({"eventYear": 2026})), &stored).unwrap(),
            EventTarget::Event {
                id: "e1".into(),
                year: Some(2026)
            }
        );
        assert_eq!(
            EventTarget::parse(&body(json!({"eventId": "e1"})), &stored).unwrap(),
            EventTarget::Event {
                id: "e1".into(),
                year: Some(2025)
            }
        );
        assert_eq!(
            EventTarget::parse(&body(json!({"eventId": "e2"})), &stored).unwrap(),
            EventTarget::Event {
                id: "e2".into(),
                year: None
            }
        );
        assert_eq!(
            EventTarget::parse(&body(json!({"eventYear": 2026})), &EventRef::default()).unwrap(),
            EventTarget::Clear
        );
        let event = PartnershipEvent {
            id: "e1".into(),
            year: 2026,
            ..Default::default()
        };
        let err = EventTarget::Event {
            id: "e1".into(),
            year: Some(2025),
        }
        .check_year(&event)
        .unwrap_err();
        assert_eq!(
            err.message,
            "'eventYear' does not match the selected partnerships event year."
        );
    }

    #[test]
    fn extra_attributes_survive_a_round_trip() {
        let stored = json!({"id": "sync::gmail::p::abc", "partnerId": "p", "summary": "s", "source": "email_sync",
                            "externalMessageId": "m1", "eventId": null, "createdAt": 1, "updatedAt": 2, "version": 3});
        let comm: Communication = serde_json::from_value(stored).unwrap();
        assert_eq!(comm.extra["source"], "email_sync");
        assert_eq!(comm.audit.version, 3);
        assert_eq!(comm.event.event_id, None);
        let again = serde_json::to_value(&comm).unwrap();
        assert_eq!(again["externalMessageId"], "m1");
        assert!(again.get("eventId").is_none(), "no event: no attribute (sparse index)");
    }
}
