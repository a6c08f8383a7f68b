//! An UpdateItem expression builder that always stamps `updatedAt`, `updatedBy` and `version`
//! (the data conventions every table follows) and carries the write's conditions.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update as TransactUpdate};
use serde::Serialize;

use super::StoreError;
use crate::tables::ID;

/// A set of attribute changes plus the conditions under which they apply.
#[derive(Debug, Clone)]
pub struct Update {
    sets: Vec<(Vec<String>, AttributeValue)>,
    removes: Vec<Vec<String>>,
    adds: Vec<(String, AttributeValue)>,
    set_deletes: Vec<(String, AttributeValue)>,
    equals: Vec<(String, AttributeValue)>,
    must_exist: bool,
    must_be_absent: bool,
    expected_version: Option<u64>,
    actor: String,
    now_ms: i64,
    maintenance: bool,
}

/// The rendered expression strings and their placeholders.
#[derive(Debug, Clone, PartialEq)]
pub struct Expression {
    pub update: String,
    pub condition: Option<String>,
    pub names: HashMap<String, String>,
    pub values: HashMap<String, AttributeValue>,
}

impl Update {
    /// An update by `actor` at `now_ms` of an item that must already exist.
    pub fn new(actor: &str, now_ms: i64) -> Self {
        Self {
            sets: Vec::new(),
            removes: Vec::new(),
            adds: Vec::new(),
            set_deletes: Vec::new(),
            equals: Vec::new(),
            must_exist: true,
            must_be_absent: false,
            expected_version: None,
            actor: actor.into(),
            now_ms,
            maintenance: false,
        }
    }

    /// A maintenance write (counters, summaries, re-keys, clean-ups) of an item that must exist:
    /// it bumps `version` only. `updatedAt`/`updatedBy` mean an edit of the item's own fields by
    /// a person or job, so a maintenance write never moves them (nor reorders a list by them).
    pub fn maintenance() -> Self {
        Self {
            maintenance: true,
            ..Self::new("", 0)
        }
    }

    /// Sets a top-level attribute.
    pub fn set(self, attr: &str, value: impl Serialize) -> Result<Self, StoreError> {
        self.set_path(&[attr], value)
    }

    /// Sets a nested map entry, e.g. `["linkSummaries", linkId]`; the parent map must exist.
    pub fn set_path(mut self, path: &[&str], value: impl Serialize) -> Result<Self, StoreError> {
        let value = serde_dynamo::to_attribute_value(value)?;
        self.sets.push((path.iter().map(|s| s.to_string()).collect(), value));
        Ok(self)
    }

    /// Sets a string-set attribute, or removes it when empty (DynamoDB has no empty sets).
    pub fn set_string_set(mut self, attr: &str, members: Vec<String>) -> Self {
        if members.is_empty() {
            return self.remove_path(&[attr]);
        }
        self.sets.push((vec![attr.to_string()], AttributeValue::Ss(members)));
        self
    }

    /// Removes a (possibly nested) attribute.
    pub fn remove_path(mut self, path: &[&str]) -> Self {
        self.removes.push(path.iter().map(|s| s.to_string()).collect());
        self
    }

    /// Lets the update create the item when it does not exist yet (counter rows).
    pub fn allow_missing(mut self) -> Self {
        self.must_exist = false;
        self
    }

    /// Applies only if the item does not exist yet (a first write that must not repeat).
    pub fn expect_absent(mut self) -> Self {
        self.must_exist = false;
        self.must_be_absent = true;
        self
    }

    /// Adds `delta` to a numeric attribute (missing counts as 0): commutative, so concurrent
    /// writers never lose each other's increments.
    pub fn add(mut self, attr: &str, delta: i64) -> Self {
        if delta != 0 {
            self.adds.push((attr.to_string(), AttributeValue::N(delta.to_string())));
        }
        self
    }

    /// Adds strings to a string-set attribute.
    pub fn add_to_set(mut self, attr: &str, members: &[String]) -> Self {
        if !members.is_empty() {
            self.adds.push((attr.to_string(), AttributeValue::Ss(members.to_vec())));
        }
        self
    }

    /// Removes strings from a string-set attribute (DynamoDB drops the set when it empties).
    pub fn delete_from_set(mut self, attr: &str, members: &[String]) -> Self {
        if !members.is_empty() {
            self.set_deletes
                .push((attr.to_string(), AttributeValue::Ss(members.to_vec())));
        }
        self
    }

    /// Applies only if the stored `attr` equals `value`.
    pub fn expect_equal(mut self, attr: &str, value: impl Serialize) -> Result<Self, StoreError> {
        self.equals
            .push((attr.to_string(), serde_dynamo::to_attribute_value(value)?));
        Ok(self)
    }

    /// Applies only if the stored `version` still equals `version` (0 = an item that predates
    /// versioning): optimistic concurrency for read-modify-write.
    pub fn expect_version(mut self, version: u64) -> Self {
        self.expected_version = Some(version);
        self
    }

    /// Renders the expression with `#nN` / `:vN` placeholders.
    pub fn expression(&self) -> Result<Expression, StoreError> {
        let mut names: HashMap<String, String> = HashMap::new();
        let mut values: HashMap<String, AttributeValue> = HashMap::new();
        let name_of = |segment: &str, names: &mut HashMap<String, String>| {
            if let Some((placeholder, _)) = names.iter().find(|(_, v)| v.as_str() == segment) {
                return placeholder.clone();
            }
            let placeholder = format!("#n{}", names.len());
            names.insert(placeholder.clone(), segment.to_string());
            placeholder
        };
        let path_of = |path: &[String], names: &mut HashMap<String, String>| {
            path.iter().map(|s| name_of(s, names)).collect::<Vec<_>>().join(".")
        };
        let mut assignments = Vec::new();
        for (i, (path, value)) in self.sets.iter().enumerate() {
            let placeholder = format!(":v{i}");
            assignments.push(format!("{} = {placeholder}", path_of(path, &mut names)));
            values.insert(placeholder, value.clone());
        }
        if !self.maintenance {
            let updated_at = path_of(&["updatedAt".into()], &mut names);
            let updated_by = path_of(&["updatedBy".into()], &mut names);
            assignments.push(format!("{updated_at} = :now"));
            assignments.push(format!("{updated_by} = :actor"));
            values.insert(":now".into(), AttributeValue::N(self.now_ms.to_string()));
            values.insert(":actor".into(), AttributeValue::S(self.actor.clone()));
        }
        let version = path_of(&["version".into()], &mut names);
        assignments.push(format!("{version} = if_not_exists({version}, :zero) + :one"));
        values.insert(":zero".into(), AttributeValue::N("0".into()));
        values.insert(":one".into(), AttributeValue::N("1".into()));
        let mut update = format!("SET {}", assignments.join(", "));
        let mut clause =
            |keyword: &str, items: &[(String, AttributeValue)], prefix: &str, names: &mut HashMap<String, String>| {
                if items.is_empty() {
                    return String::new();
                }
                let parts: Vec<String> = items
                    .iter()
                    .enumerate()
                    .map(|(i, (attr, value))| {
                        let placeholder = format!(":{prefix}{i}");
                        values.insert(placeholder.clone(), value.clone());
                        format!("{} {placeholder}", path_of(std::slice::from_ref(attr), names))
                    })
                    .collect();
                format!(" {keyword} {}", parts.join(", "))
            };
        update.push_str(&clause("ADD", &self.adds, "a", &mut names));
        update.push_str(&clause("DELETE", &self.set_deletes, "d", &mut names));
        if !self.removes.is_empty() {
            let removed: Vec<String> = self.removes.iter().map(|p| path_of(p, &mut names)).collect();
            update.push_str(&format!(" REMOVE {}", removed.join(", ")));
        }
        let mut conditions = Vec::new();
        if self.must_exist {
            conditions.push(format!("attribute_exists({})", path_of(&[ID.into()], &mut names)));
        }
        if self.must_be_absent {
            conditions.push(format!("attribute_not_exists({})", path_of(&[ID.into()], &mut names)));
        }
        for (i, (attr, value)) in self.equals.iter().enumerate() {
            let placeholder = format!(":e{i}");
            conditions.push(format!(
                "{} = {placeholder}",
                path_of(std::slice::from_ref(attr), &mut names)
            ));
            values.insert(placeholder, value.clone());
        }
        match self.expected_version {
            Some(0) => conditions.push(format!("attribute_not_exists({version})")),
            Some(expected) => {
                conditions.push(format!("{version} = :expected"));
                values.insert(":expected".into(), AttributeValue::N(expected.to_string()));
            }
            None => {}
        }
        let condition = (!conditions.is_empty()).then(|| conditions.join(" AND "));
        Ok(Expression {
            update,
            condition,
            names,
            values,
        })
    }

    /// The same update as one item of a transaction.
    pub fn into_transact(self, table: &str, id: &str) -> Result<TransactWriteItem, StoreError> {
        self.into_transact_at(
            table,
            HashMap::from([(ID.to_string(), AttributeValue::S(id.to_string()))]),
        )
    }

    /// As [`Update::into_transact`], on an item of a table keyed otherwise (the aggregates).
    /// Its existence check is on the hash key `id`, so use it with [`Update::allow_missing`].
    pub fn into_transact_at(
        self,
        table: &str,
        key: HashMap<String, AttributeValue>,
    ) -> Result<TransactWriteItem, StoreError> {
        let expr = self.expression()?;
        let update = TransactUpdate::builder()
            .table_name(table)
            .set_key(Some(key))
            .update_expression(expr.update)
            .set_condition_expression(expr.condition)
            .set_expression_attribute_names(Some(expr.names))
            .set_expression_attribute_values(Some(expr.values))
            .build()
            .map_err(|e| StoreError::Sdk(Box::new(e)))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maintenance_writes_bump_the_version_only() -> Result<(), StoreError> {
        let expr = Update::maintenance().add("relationshipCount", 1).expression()?;
        assert!(
            !expr.names.values().any(|n| n == "updatedAt" || n == "updatedBy"),
            "{expr:?}"
        );
        assert!(expr.update.contains("if_not_exists"), "{}", expr.update);
        Ok(())
    }

    #[test]
    fn stamps_audit_attributes_and_conditions() -> Result<(), StoreError> {
        let expr = Update::new("me@example.org", 42)
            .set("company", "Acme")?
            .expect_version(3)
            .expression()?;
        assert!(
            expr.update
                .starts_with("SET #n0 = :v0, #n1 = :now, #n2 = :actor, #n3 = if_not_exists(#n3, :zero) + :one")
        );
        assert_eq!(expr.names["#n0"], "company");
        assert_eq!(
            expr.condition.as_deref(),
            Some("attribute_exists(#n4) AND #n3 = :expected")
        );
        assert_eq!(expr.values[":now"], AttributeValue::N("42".into()));
        assert_eq!(expr.values[":actor"], AttributeValue::S("me@example.org".into()));
        Ok(())
    }

    #[test]
    fn counters_sets_and_equality_conditions() -> Result<(), StoreError> {
        let expr = Update::new("job", 1)
            .add("relationshipCount", 1)
            .add("paidCount", 0)
            .add_to_set("linkIds", &["p::e".to_string()])
            .delete_from_set("oldIds", &["x".to_string()])
            .expect_equal("year", 2026)?
            .expression()?;
        assert!(
            expr.update.contains(" ADD #n3 :a0, #n4 :a1 DELETE #n5 :d0"),
            "{}",
            expr.update
        );
        assert_eq!(expr.values[":a0"], AttributeValue::N("1".into()));
        assert!(!expr.values.contains_key(":a2"), "zero deltas are skipped");
        assert_eq!(expr.condition.as_deref(), Some("attribute_exists(#n6) AND #n7 = :e0"));
        Ok(())
    }

    #[test]
    fn nested_paths_share_name_placeholders() -> Result<(), StoreError> {
        let expr = Update::new("job", 1)
            .set_path(&["linkSummaries", "p::e"], serde_json::json!({"status": "paid"}))?
            .remove_path(&["linkSummaries", "p::old"])
            .expect_version(0)
            .expression()?;
        assert!(expr.update.contains("#n0.#n1 = :v0"));
        assert!(expr.update.ends_with("REMOVE #n0.#n5"));
        assert!(
            expr.condition
                .as_deref()
                .is_some_and(|c| c.ends_with("attribute_not_exists(#n4)"))
        );
        Ok(())
    }
}
