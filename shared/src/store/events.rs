//! Partnership event writes: the event item, the tier catalog row the directory reads, and the
//! re-keying of everything that copies an event's name and year.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem};
use serde_json::{Map, Value};

use super::{Store, StoreError, Update, put_new_item};
use crate::domain::event::PartnershipEvent;
use crate::domain::link::PartnerEventLink;
use crate::tables::{EVENT_REF_QUERY, EVENT_TIER_CATALOG_ID, ID};

const TIERS_BY_EVENT: &str = "tiersByEvent";

/// What a re-key pass changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RekeyReport {
    pub links: usize,
    pub documents: usize,
    pub communications: usize,
    /// The event was renamed again meanwhile: this pass stopped, the newer one owns the work.
    pub superseded: bool,
}

impl Store {
    /// An event by id.
    pub async fn get_event(&self, id: &str) -> Result<Option<PartnershipEvent>, StoreError> {
        self.get(&self.tables().events, id).await
    }

    /// Every event: the events list's answer is the whole (small) table.
    pub async fn all_events(&self) -> Result<Vec<PartnershipEvent>, StoreError> {
        self.scan_all(&self.tables().events).await
    }

    /// Makes sure the catalog row and its map exist, so event writes can set one entry of it
    /// inside a transaction (a nested SET needs its parent map). Idempotent.
    async fn ensure_tier_catalog(&self) -> Result<(), StoreError> {
        let out = self
            .client()
            .update_item()
            .table_name(&self.tables().meta)
            .key(ID, AttributeValue::S(EVENT_TIER_CATALOG_ID.into()))
            .update_expression("SET #m = if_not_exists(#m, :empty)")
            .expression_attribute_names("#m", TIERS_BY_EVENT)
            .expression_attribute_values(":empty", AttributeValue::M(HashMap::new()))
            .return_consumed_capacity(aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(super::classify)?;
        super::meter_write_units(out.consumed_capacity.as_slice());
        Ok(())
    }

    fn catalog_update(
        &self,
        event: &PartnershipEvent,
        actor: &str,
        now_ms: i64,
        remove: bool,
    ) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
        let update = Update::new(actor, now_ms);
        let update = if remove {
            update.remove_path(&[TIERS_BY_EVENT, &event.id])
        } else {
            let ids: Vec<String> = event.tiers().into_iter().map(|t| t.id).collect();
            update.set_path(&[TIERS_BY_EVENT, &event.id], ids)?
        };
        update.into_transact(&self.tables().meta, EVENT_TIER_CATALOG_ID)
    }

    /// Writes a new event and its catalog entry.
    pub async fn create_event(&self, event: &PartnershipEvent, actor: &str, now_ms: i64) -> Result<(), StoreError> {
        self.ensure_tier_catalog().await?;
        self.transact(vec![
            put_new_item(&self.tables().events, event)?,
            self.catalog_update(event, actor, now_ms, false)?,
        ])
        .await
    }

    /// Writes the editable fields of `updated` if the stored version is still `stored.version`;
    /// a rename or year change also marks the event for re-keying. Returns the event as committed
    /// (computed, not re-read: once the write is in, nothing may turn the answer into an error).
    pub async fn update_event(
        &self,
        stored: &PartnershipEvent,
        updated: &PartnershipEvent,
        actor: &str,
        now_ms: i64,
    ) -> Result<PartnershipEvent, StoreError> {
        let mut update = Update::new(actor, now_ms)
            .set("name", &updated.name)?
            .set("year", updated.year)?
            .set("startDate", &updated.start_date)?
            .set("endDate", &updated.end_date)?
            .set("outreachStartDate", &updated.outreach_start_date)?
            .set("sponsorshipGoal", updated.sponsorship_goal)?
            .set("tierConfigs", &updated.tier_configs)?
            .set("packageTiers", &updated.package_tiers)?
            .set("notes", &updated.notes)?
            .set("linkedMainEventId", &updated.linked_main_event_id)?
            .set("linkedMainEventYear", updated.linked_main_event_year)?
            .set("archived", updated.archived)?
            .expect_version(stored.version);
        let mut committed = PartnershipEvent {
            updated_at: now_ms,
            updated_by: actor.to_string(),
            version: stored.version + 1,
            ..updated.clone()
        };
        if updated.name != stored.name || updated.year != stored.year {
            committed.rekey_pending = stored.version + 1;
            update = update.set("rekeyPending", committed.rekey_pending)?;
        }
        self.ensure_tier_catalog().await?;
        let items = vec![
            update.into_transact(&self.tables().events, &stored.id)?,
            self.catalog_update(updated, actor, now_ms, false)?,
        ];
        self.transact(items).await?;
        Ok(committed)
    }

    /// Deletes an event that has no links and no references, with its catalog entry. Its link
    /// and reference counters move in the same transactions as every link and reference write,
    /// so one written concurrently makes the condition fail and nothing is left dangling.
    pub async fn delete_event(&self, event: &PartnershipEvent, actor: &str, now_ms: i64) -> Result<(), StoreError> {
        let delete = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(&self.tables().events)
            .key(ID, AttributeValue::S(event.id.clone()))
            .condition_expression(
                "attribute_exists(#id) AND (attribute_not_exists(#links) OR #links = :zero) \
                 AND (attribute_not_exists(#refs) OR #refs = :zero)",
            )
            .expression_attribute_names("#id", ID)
            .expression_attribute_names("#links", "relationshipCount")
            .expression_attribute_names("#refs", "referenceCount")
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .build()
            .map_err(|e| StoreError::Sdk(Box::new(e)))?;
        self.ensure_tier_catalog().await?;
        let items = vec![
            aws_sdk_dynamodb::types::TransactWriteItem::builder()
                .delete(delete)
                .build(),
            self.catalog_update(event, actor, now_ms, true)?,
        ];
        self.transact(items).await
    }

    /// Documents referencing an event (event-ref-query GSI, all pages).
    pub async fn documents_of_event(&self, event_id: &str) -> Result<Vec<Map<String, Value>>, StoreError> {
        self.query_index(&self.tables().documents, EVENT_REF_QUERY, event_id)
            .await
    }

    /// Communications referencing an event (event-ref-query GSI, all pages).
    pub async fn communications_of_event(&self, event_id: &str) -> Result<Vec<Map<String, Value>>, StoreError> {
        self.query_index(&self.tables().communications, EVENT_REF_QUERY, event_id)
            .await
    }

    /// A transaction item that holds only while the event still has `event`'s name and year.
    fn name_guard(&self, event: &PartnershipEvent) -> Result<TransactWriteItem, StoreError> {
        super::expect_item(
            &self.tables().events,
            &event.id,
            &[
                ("name", AttributeValue::S(event.name.clone())),
                ("year", serde_dynamo::to_attribute_value(event.year)?),
            ],
        )
    }

    /// Brings every link, document and communication of `event` in line with its name and year,
    /// then clears the pending mark. Every re-key write is a transaction that also checks the
    /// event still has that name and year, so a pass for a rename that a newer one superseded
    /// stops (`superseded`) instead of writing the old name after the newer pass: whatever the
    /// interleaving, what is left is the final name or the newer pass's pending mark. Idempotent:
    /// a pass interrupted half-way is finished by the next one.
    pub async fn rekey_event(&self, event: &PartnershipEvent) -> Result<RekeyReport, StoreError> {
        let mut report = RekeyReport::default();
        let key = event.event_id_year();
        for attempt in 0..5 {
            let stale: Vec<PartnerEventLink> = self
                .current_links_of_event(&event.id)
                .await?
                .into_iter()
                .filter(|l| l.event_id_year != key || l.event_name != event.name || l.event_year != event.year)
                .collect();
            if stale.is_empty() {
                break;
            }
            let mut conflicts = 0;
            for link in &stale {
                match self.rekey_link(link, event, self.name_guard(event)?).await {
                    Ok(()) => report.links += 1,
                    Err(e) if e.condition_failed_at(super::links::item::EVENT) => {
                        report.superseded = true;
                        return Ok(report);
                    }
                    // Edited meanwhile: re-read it on the next round.
                    Err(e) if e.should_retry() => conflicts += 1,
                    Err(e) => return Err(e),
                }
            }
            if conflicts == 0 {
                break;
            }
            if attempt == 4 {
                return Err(StoreError::ConditionFailed);
            }
        }
        let (documents, communications) = (self.tables().documents.clone(), self.tables().communications.clone());
        for (table, records) in [
            (&documents, self.documents_of_event(&event.id).await?),
            (&communications, self.communications_of_event(&event.id).await?),
        ] {
            for record in records {
                // Every record the index lists is rewritten, current-looking or not: the index
                // may lag the item, and a rename is rare enough to pay for the certainty.
                let Some(id) = record.get(ID).and_then(Value::as_str) else {
                    continue;
                };
                // A maintenance write: the record's `updatedAt` (its list order) stays.
                let update = Update::maintenance()
                    .set("eventYear", event.year)?
                    .set("eventIdYear", &key)?
                    .set("eventName", &event.name)?
                    .expect_equal("eventId", &event.id)?
                    .into_transact(table, id)?;
                match self.transact(vec![self.name_guard(event)?, update]).await {
                    Ok(()) => {
                        if *table == documents {
                            report.documents += 1
                        } else {
                            report.communications += 1
                        }
                    }
                    Err(e) if e.condition_failed_at(0) => {
                        report.superseded = true;
                        return Ok(report);
                    }
                    // Deleted or moved to another event meanwhile: nothing to re-key.
                    Err(e) if e.condition_failed_at(1) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        if event.rekey_pending != 0 {
            let clear = Update::maintenance()
                .set("rekeyPending", 0)?
                .expect_equal("rekeyPending", event.rekey_pending)?;
            match self
                .update::<Map<String, Value>>(&self.tables().events, &event.id, &clear)
                .await
            {
                // A newer rename is pending: its own pass will clear it.
                Ok(_) | Err(StoreError::ConditionFailed) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(report)
    }
}
