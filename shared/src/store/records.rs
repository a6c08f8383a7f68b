//! Document and communication storage: writes that keep the referenced event's
//! `referenceCount` exact (so an event delete can refuse atomically), and newest-first pages.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use base64::Engine;
use serde_json::{Map, Value};

use super::{IndexQuery, Item, Store, StoreError, Update, delete_versioned_item, put_new_item, put_versioned_item};
use crate::domain::event::PartnershipEvent;
use crate::domain::normalize::dynamo_number_ok;
use crate::domain::records::{Communication, Document, PartnerRecord};
use crate::tables::{ID, PARTNER_QUERY, Tables};

/// Where a record type lives.
pub trait RecordTable: PartnerRecord {
    /// Its table for this stage.
    fn table(tables: &Tables) -> &str;
}

impl RecordTable for Document {
    fn table(tables: &Tables) -> &str {
        &tables.documents
    }
}

impl RecordTable for Communication {
    fn table(tables: &Tables) -> &str {
        &tables.communications
    }
}

const REFERENCE_COUNT: &str = "referenceCount";

/// Opaque page cursor: the GSI's LastEvaluatedKey, base64url-encoded JSON.
pub fn encode_cursor(key: &Item) -> String {
    let mut map = Map::new();
    for (name, value) in key {
        match value {
            AttributeValue::S(s) => map.insert(name.clone(), Value::String(s.clone())),
            AttributeValue::N(n) => map.insert(name.clone(), Value::String(format!("#{n}"))),
            _ => None,
        };
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Value::Object(map).to_string())
}

/// Decodes a cursor made by [`encode_cursor`] for `partner_id`'s list; `None` if it is not one.
pub fn decode_cursor(cursor: &str, partner_id: &str) -> Option<Item> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .ok()?;
    let map: Map<String, Value> = serde_json::from_slice(&bytes).ok()?;
    let mut key = HashMap::new();
    for (name, value) in map {
        let text = value.as_str()?;
        let attr = match text.strip_prefix('#') {
            Some(n) if dynamo_number_ok(n) => AttributeValue::N(n.to_string()),
            Some(_) => return None,
            None => AttributeValue::S(text.to_string()),
        };
        key.insert(name, attr);
    }
    // Exactly the partner-query key of this partner's list, each part a value DynamoDB takes:
    // anything else is a forgery, refused here rather than by DynamoDB as a 500.
    let belongs = key.get(PARTNER_QUERY.hash_key) == Some(&AttributeValue::S(partner_id.to_string()));
    let id_ok = key
        .get(ID)
        .and_then(|v| v.as_s().ok())
        .is_some_and(|id| super::key_can_exist(id));
    let range_ok = key
        .get(PARTNER_QUERY.range_key)
        .and_then(|v| v.as_n().ok())
        .is_some_and(|n| dynamo_number_ok(n));
    (belongs && id_ok && range_ok && key.len() == 3).then_some(key)
}

impl Store {
    /// A record by id.
    pub async fn get_record<R: RecordTable>(&self, id: &str) -> Result<Option<R>, StoreError> {
        self.get(R::table(self.tables()), id).await
    }

    fn reference_update(
        &self,
        event_id: &str,
        delta: i64,
        guard: Option<&PartnershipEvent>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut update = Update::maintenance().add(REFERENCE_COUNT, delta);
        if let Some(event) = guard {
            // The copied name and year must still be current, so a rename is never missed.
            update = update
                .expect_equal("name", &event.name)?
                .expect_equal("year", event.year)?;
        }
        update.into_transact(&self.tables().events, event_id)
    }

    /// Writes a new record; `event` is the event it references, if any.
    pub async fn create_record<R: RecordTable>(
        &self,
        record: &R,
        event: Option<&PartnershipEvent>,
    ) -> Result<(), StoreError> {
        let mut items = vec![put_new_item(R::table(self.tables()), record)?];
        if let Some(event) = event {
            items.push(self.reference_update(&event.id, 1, Some(event))?);
        }
        self.transact(items).await
    }

    /// Replaces `old` by `new` if unchanged since read, moving the event reference count when the
    /// event changes. `old_event_exists` is false for a reference to an event that is gone.
    pub async fn replace_record<R: RecordTable>(
        &self,
        old: &R,
        new: &R,
        new_event: Option<&PartnershipEvent>,
        old_event_exists: bool,
    ) -> Result<(), StoreError> {
        let mut items = vec![put_versioned_item(R::table(self.tables()), new, old.audit().version)?];
        let (old_id, new_id) = (old.event().id(), new.event().id());
        if old_id != new_id {
            if let Some(id) = old_id.filter(|_| old_event_exists) {
                items.push(self.reference_update(id, -1, None)?);
            }
            if let (Some(id), Some(event)) = (new_id, new_event) {
                items.push(self.reference_update(id, 1, Some(event))?);
            }
        }
        self.transact(items).await
    }

    /// Re-points a record at another partner (a merge): a maintenance write, conditional on the
    /// version read, that leaves its own fields and `updatedAt` alone.
    pub async fn repoint_record<R: RecordTable>(&self, record: &R, partner_id: &str) -> Result<(), StoreError> {
        let update = Update::maintenance()
            .expect_version(record.audit().version)
            .set("partnerId", partner_id)?;
        self.update::<serde_json::Value>(R::table(self.tables()), record.id(), &update)
            .await
            .map(|_| ())
    }

    /// Deletes `old` if unchanged since read, releasing its event reference.
    pub async fn delete_record<R: RecordTable>(&self, old: &R, event_exists: bool) -> Result<(), StoreError> {
        let mut items = vec![delete_versioned_item(
            R::table(self.tables()),
            old.id(),
            old.audit().version,
        )?];
        if let Some(id) = old.event().id().filter(|_| event_exists) {
            items.push(self.reference_update(id, -1, None)?);
        }
        self.transact(items).await
    }

    /// A partner's records newest first (by `updatedAt`), from `start`; every page to the end
    /// when `limit` is `None`, else at most `limit` and the key to continue from.
    pub async fn list_records<R: RecordTable>(
        &self,
        partner_id: &str,
        limit: Option<usize>,
        start: Option<Item>,
    ) -> Result<(Vec<R>, Option<Item>), StoreError> {
        let query = IndexQuery {
            newest_first: true,
            limit,
            start,
            ..IndexQuery::new(R::table(self.tables()), PARTNER_QUERY, partner_id)
        };
        self.query(query).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_forgeries() {
        let key: Item = HashMap::from([
            ("id".to_string(), AttributeValue::S("c1".into())),
            ("partnerId".to_string(), AttributeValue::S("p1".into())),
            ("updatedAt".to_string(), AttributeValue::N("1700".into())),
        ]);
        let cursor = encode_cursor(&key);
        assert_eq!(decode_cursor(&cursor, "p1"), Some(key));
        assert_eq!(decode_cursor(&cursor, "p2"), None, "a cursor is bound to its partner");
        assert_eq!(decode_cursor("not-a-cursor", "p1"), None);
        let forge = |json: &str| decode_cursor(&base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json), "p1");
        assert_eq!(
            forge(r##"{"id":"c1","partnerId":"p1","updatedAt":"x"}"##),
            None,
            "range must be a number"
        );
        assert_eq!(
            forge(r##"{"id":"c1","partnerId":"p1","other":"#1"}"##),
            None,
            "exact key names"
        );
        assert_eq!(forge(r##"{"id":"c1","partnerId":"p1","updatedAt":"#1e400"}"##), None);
        let long_id = format!(r##"{{"id":"{}","partnerId":"p1","updatedAt":"#1"}}"##, "x".repeat(3000));
        assert_eq!(forge(&long_id), None, "an id no key can have");
        assert_eq!(
            decode_cursor(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("{\"id\":\"#x\"}"),
                "p1"
            ),
            None
        );
    }
}
