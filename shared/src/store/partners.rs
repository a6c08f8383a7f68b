//! Partner reads and writes, and the reads the partner detail hydrates from.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{Store, StoreError, Update};
use crate::domain::partner::Partner;
use crate::tables::{EVENT_TIER_CATALOG_ID, PARTNER_QUERY};

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
}
