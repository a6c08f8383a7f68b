//! Segments (issue 16.6): saved directory filters — a name and the directory's query
//! parameters — that a mass email can take as its recipient list, resolved when it is sent.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::ValidationError;
use super::normalize::{self, Field};
use super::partner::DirectoryQuery;

/// The directory parameters a segment may save (§5.1 and the owner filter).
pub const QUERY_KEYS: [&str; 12] = [
    "search",
    "status",
    "tag",
    "includeArchived",
    "isAlumni",
    "tier",
    "packageTier",
    "partnerTier",
    "eventId",
    "eventYear",
    "eventIdYear",
    "owner",
];

/// `rowKind` of segment rows in the meta table (the `rows-by-kind` index lists them).
pub const SEGMENT_KIND: &str = "segment";

/// The meta row id of segment `id`.
pub fn segment_row_id(id: &str) -> String {
    format!("segment#{id}")
}

/// A stored segment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Segment {
    /// The meta row id (`segment#<segmentId>`).
    pub id: String,
    pub segment_id: String,
    pub name: String,
    pub description: String,
    /// The directory's query parameters, as a query string would carry them.
    pub query: BTreeMap<String, String>,
    /// Index keys: every segment row is of kind `segment`, ordered by name.
    pub row_kind: String,
    pub row_order: String,
    pub created_at: i64,
    pub created_by: String,
    pub updated_at: i64,
    pub updated_by: String,
    pub version: u64,
}

impl Segment {
    /// The segment as the API shows it.
    pub fn to_wire(&self) -> Value {
        json!({
            "id": self.segment_id,
            "name": self.name,
            "description": self.description,
            "query": self.query,
            "createdAt": self.created_at,
            "createdBy": self.created_by,
            "updatedAt": self.updated_at,
            "updatedBy": self.updated_by,
            "version": self.version,
        })
    }

    /// The directory query the segment saves, for the caller `me` (`owner=me` is whoever uses
    /// the segment).
    pub fn directory_query(&self, me: &str) -> Result<DirectoryQuery, ValidationError> {
        let params: HashMap<String, String> = self.query.clone().into_iter().collect();
        DirectoryQuery::parse(&params, me)
    }

    /// The index sort key of a segment named `name`.
    pub fn order_of(name: &str, segment_id: &str) -> String {
        format!("{}#{segment_id}", name.to_lowercase())
    }
}

/// A validated create or patch body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SegmentChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub query: Option<BTreeMap<String, String>>,
}

impl SegmentChanges {
    /// Validates a body: `name` (1–120 characters; required on create), `description` (up to
    /// 500), `query` (an object of the directory's parameters, each a string, number or boolean,
    /// checked as the directory checks them).
    pub fn parse(body: &Map<String, Value>, creating: bool) -> Result<Self, ValidationError> {
        let name = match normalize::body_text(body.get("name"), "name", 120)? {
            Field::Set(name) if !name.is_empty() => Some(name),
            Field::Missing if !creating => None,
            _ => return Err(ValidationError::new("'name' is required.", json!({}))),
        };
        let description = match normalize::body_text(body.get("description"), "description", 500)? {
            Field::Missing => None,
            Field::Null => Some(String::new()),
            Field::Set(text) => Some(text),
        };
        let query = match body.get("query") {
            None if !creating => None,
            None | Some(Value::Null) => Some(BTreeMap::new()),
            Some(Value::Object(map)) => Some(parse_query(map)?),
            Some(_) => {
                return Err(ValidationError::new(
                    "'query' must be an object of directory parameters.",
                    json!({}),
                ));
            }
        };
        Ok(Self {
            name,
            description,
            query,
        })
    }

    /// Whether nothing was sent.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

fn parse_query(map: &Map<String, Value>) -> Result<BTreeMap<String, String>, ValidationError> {
    let mut query = BTreeMap::new();
    for (key, value) in map {
        if !QUERY_KEYS.contains(&key.as_str()) {
            return Err(ValidationError::new(
                format!(
                    "'query' may only hold the directory's parameters: {}.",
                    QUERY_KEYS.join(", ")
                ),
                json!({ "parameter": normalize::truncate_chars(key, 80) }),
            ));
        }
        let text = match value {
            Value::String(text) => text.trim().to_string(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => continue,
            _ => {
                return Err(ValidationError::new(
                    format!("'query.{key}' must be a string, a number or a boolean."),
                    json!({}),
                ));
            }
        };
        if text.chars().count() > 200 {
            return Err(ValidationError::new(
                format!("'query.{key}' cannot exceed 200 characters."),
                json!({}),
            ));
        }
        if !text.is_empty() {
            query.insert(key.clone(), text);
        }
    }
    // Checked as the directory will read it, so a saved segment always resolves.
    let params: HashMap<String, String> = query.clone().into_iter().collect();
    DirectoryQuery::parse(&params, "me@example.org")?;
    Ok(query)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn a_segment_saves_the_directorys_parameters_as_strings() {
        let changes = SegmentChanges::parse(
            &body(json!({"name": " Gold alumni ", "query": {"tier": "Gold", "isAlumni": true, "search": " "}})),
            true,
        )
        .unwrap();
        assert_eq!(changes.name.as_deref(), Some("Gold alumni"));
        let query = changes.query.unwrap();
        assert_eq!(query.get("isAlumni").map(String::as_str), Some("true"));
        assert!(!query.contains_key("search"), "blank parameters are not saved");
    }

    #[test]
    fn a_segment_needs_a_name_and_known_valid_parameters() {
        assert!(SegmentChanges::parse(&body(json!({"query": {}})), true).is_err());
        assert!(SegmentChanges::parse(&body(json!({"name": "x", "query": {"limit": 5}})), true).is_err());
        assert!(SegmentChanges::parse(&body(json!({"name": "x", "query": {"status": "!!"}})), true).is_err());
        assert!(SegmentChanges::parse(&body(json!({"name": "x", "query": {"owner": "nobody"}})), true).is_err());
        assert!(SegmentChanges::parse(&body(json!({"name": "x", "query": [1]})), true).is_err());
    }

    #[test]
    fn owner_me_is_whoever_uses_the_segment() {
        let segment = Segment {
            query: BTreeMap::from([("owner".to_string(), "me".to_string())]),
            ..Default::default()
        };
        let query = segment.directory_query("mia@example.org").unwrap();
        assert_eq!(
            query.owner,
            Some(super::super::ownership::OwnerFilter::Email("mia@example.org".into()))
        );
    }
}
