//! The activity log: entries by partner or event, newest first, paged by an opaque cursor.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::{IndexQuery, Item, Store, StoreError};
use crate::domain::activity::ChangeRecord;
use crate::tables::{AGGREGATE_KEY, AGGREGATE_PK, AGGREGATE_SK};

/// The range key of an entry: time first (15-digit epoch ms), then the stream sequence number,
/// so a partition reads in time order and a retried batch rewrites the same entry.
fn sort_key(record: &ChangeRecord) -> String {
    format!("{:015}#{}", record.at.max(0), record.sequence)
}

/// The opaque cursor of the entry after `key` in `subject`'s log.
pub fn encode_activity_cursor(key: &Item) -> Option<String> {
    let sk = key.get(AGGREGATE_SK)?.as_s().ok()?;
    let pk = key.get(AGGREGATE_PK)?.as_s().ok()?;
    Some(URL_SAFE_NO_PAD.encode(json!([pk, sk]).to_string()))
}

/// The key a cursor stands for, if it is one of `subject`'s.
pub fn decode_activity_cursor(cursor: &str, subject: &str) -> Option<Item> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).ok()?;
    let [pk, sk]: [String; 2] = serde_json::from_slice(&bytes).ok()?;
    (pk == subject).then(|| {
        Item::from([
            (AGGREGATE_PK.to_string(), super::string_attr(&pk)),
            (AGGREGATE_SK.to_string(), super::string_attr(&sk)),
        ])
    })
}

impl Store {
    /// Writes each change's entry into the log of every subject it belongs to (idempotent: the
    /// same record always makes the same keys).
    pub async fn write_activity_log(&self, records: &[ChangeRecord]) -> Result<(), StoreError> {
        let items: Vec<Map<String, Value>> = records
            .iter()
            .flat_map(|record| {
                record.subjects.iter().map(move |subject| {
                    let mut item = record.to_wire().as_object().cloned().unwrap_or_default();
                    item.insert(AGGREGATE_PK.into(), json!(subject));
                    item.insert(AGGREGATE_SK.into(), json!(sort_key(record)));
                    item
                })
            })
            .collect();
        // One key per batch request: the same entry twice in one batch is refused by DynamoDB.
        let mut seen = std::collections::BTreeSet::new();
        let unique: Vec<&Map<String, Value>> = items
            .iter()
            .filter(|i| seen.insert((i[AGGREGATE_PK].to_string(), i[AGGREGATE_SK].to_string())))
            .collect();
        self.put_all(&self.tables().activity, &unique).await
    }

    /// A page of `subject`'s log, newest first (eventually consistent: a second behind the
    /// stream), and the cursor of the next page.
    pub async fn activity(
        &self,
        subject: &str,
        limit: usize,
        start: Option<Item>,
    ) -> Result<(Vec<Map<String, Value>>, Option<Item>), StoreError> {
        let mut query = IndexQuery::new(&self.tables().activity, AGGREGATE_KEY, subject);
        query.newest_first = true;
        query.limit = Some(limit);
        query.start = start;
        let (mut entries, next): (Vec<Map<String, Value>>, _) = self.query(query).await?;
        for entry in &mut entries {
            entry.remove(AGGREGATE_PK);
            entry.remove(AGGREGATE_SK);
        }
        Ok((entries, next))
    }
}
