//! Partner reads and writes, and the reads the partner detail hydrates from.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Store, StoreError, Update};
use crate::domain::metrics::LinkSummary;
use crate::domain::partner::{LINK_SUMMARIES_ATTR, Partner};
use crate::tables::{EVENT_TIER_CATALOG_ID, ID, PARTNER_QUERY};

/// The meta row listing every event's tier ids.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct EventTierCatalog {
    tiers_by_event: BTreeMap<String, Vec<String>>,
}

impl Store {
    /// Writes a new partner; fails with `ConditionFailed` if the id is taken.
    pub async fn create_partner(&self, partner: &Partner) -> Result<(), StoreError> {
        self.put_new(&self.tables().partners, partner).await
    }

    /// The partner with its link summaries, strongly consistent.
    pub async fn get_partner(&self, id: &str) -> Result<Option<Partner>, StoreError> {
        self.get(&self.tables().partners, id).await
    }

    /// Every partner: the directory's answer is the whole table, so this is its one read.
    pub async fn all_partners(&self) -> Result<Vec<Partner>, StoreError> {
        self.scan_all(&self.tables().partners).await
    }

    /// Applies `update` to a partner and returns the stored result.
    pub async fn update_partner(&self, id: &str, update: &Update) -> Result<Partner, StoreError> {
        self.update(&self.tables().partners, id, update).await
    }

    /// The tier ids of every event, from the catalog row event writes maintain.
    pub async fn event_tier_ids(&self) -> Result<BTreeSet<String>, StoreError> {
        let catalog: Option<EventTierCatalog> =
            self.get(&self.tables().meta, EVENT_TIER_CATALOG_ID).await?;
        Ok(catalog
            .map(|c| c.tiers_by_event.into_values().flatten().collect())
            .unwrap_or_default())
    }

    /// The partner's links, read by the ids in its summaries so a link written a moment ago is
    /// seen (GSIs are only eventually consistent).
    pub async fn links_of(&self, partner: &Partner) -> Result<Vec<Map<String, Value>>, StoreError> {
        let ids: Vec<String> = partner.link_summaries.keys().cloned().collect();
        self.batch_get(&self.tables().links, &ids).await
    }

    /// Every document of a partner (partner-query GSI, all pages).
    pub async fn documents_of(
        &self,
        partner_id: &str,
    ) -> Result<Vec<Map<String, Value>>, StoreError> {
        self.query_index(&self.tables().documents, PARTNER_QUERY, partner_id)
            .await
    }

    /// Every communication of a partner (partner-query GSI, all pages).
    pub async fn communications_of(
        &self,
        partner_id: &str,
    ) -> Result<Vec<Map<String, Value>>, StoreError> {
        self.query_index(&self.tables().communications, PARTNER_QUERY, partner_id)
            .await
    }

    /// Events by id (BatchGetItem), as stored.
    pub async fn events_by_ids(
        &self,
        ids: &[String],
    ) -> Result<Vec<Map<String, Value>>, StoreError> {
        self.batch_get(&self.tables().events, ids).await
    }

    /// Writes a new link and its summary on the partner in one transaction, so the directory's
    /// figures can never disagree with the links table. Fails with a cancelled transaction whose
    /// item 0 is `ConditionalCheckFailed` for a duplicate id, item 1 for a missing partner.
    pub async fn create_link(
        &self,
        link: &Map<String, Value>,
        summary: &LinkSummary,
        actor: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let link_id = link
            .get(ID)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let partner_id = link
            .get("partnerId")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let put = Put::builder()
            .table_name(&self.tables().links)
            .set_item(Some(serde_dynamo::to_item(link)?))
            .condition_expression("attribute_not_exists(#id)")
            .expression_attribute_names("#id", ID)
            .build()
            .map_err(|e| StoreError::Sdk(Box::new(e)))?;
        let summary_update = Update::new(actor, now_ms)
            .set_path(&[LINK_SUMMARIES_ATTR, &link_id], summary)?
            .into_transact(&self.tables().partners, &partner_id)?;
        self.transact(vec![
            TransactWriteItem::builder().put(put).build(),
            summary_update,
        ])
        .await
    }
}
