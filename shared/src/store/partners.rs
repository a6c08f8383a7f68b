//! Partner reads and writes, and the reads the partner detail hydrates from.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Deserialize;

use super::{Store, StoreError, Update, put_new_item};
use crate::domain::event::PartnershipEvent;
use crate::domain::link::PartnerEventLink;
use crate::domain::partner::Partner;
use crate::tables::{DATA_VERSION_ID, EVENT_TIER_CATALOG_ID, PARTNER_COUNTS_ID};

const PARTNER_COUNT: &str = "partnerCount";
const ARCHIVED_PARTNER_COUNT: &str = "archivedPartnerCount";

/// The partner counters row.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct PartnerCounts {
    #[serde(deserialize_with = "crate::domain::money::saturating_i64")]
    partner_count: i64,
    #[serde(deserialize_with = "crate::domain::money::saturating_i64")]
    archived_partner_count: i64,
}

/// The meta row listing every event's tier ids.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct EventTierCatalog {
    tiers_by_event: BTreeMap<String, Vec<String>>,
}

impl Store {
    /// Writes a new partner and counts it; fails if the id is taken.
    pub async fn create_partner(&self, partner: &Partner) -> Result<(), StoreError> {
        let counted = Update::new(&partner.updated_by, partner.created_at)
            .allow_missing()
            .add(PARTNER_COUNT, 1)
            .add(ARCHIVED_PARTNER_COUNT, i64::from(partner.archived))
            .into_transact(&self.tables().meta, PARTNER_COUNTS_ID)?;
        self.transact(vec![put_new_item(&self.tables().partners, partner)?, counted])
            .await
    }

    /// The data version (0 before the first write).
    pub async fn data_version(&self) -> Result<u64, StoreError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Row {
            #[serde(default)]
            data_version: u64,
        }
        let row: Option<Row> = self.get(&self.tables().meta, DATA_VERSION_ID).await?;
        Ok(row.map(|r| r.data_version).unwrap_or(0))
    }

    /// Moves the data version on, after a write committed: cached answers read before it are
    /// no longer served. A single atomic ADD, so concurrent writers never lose a bump.
    pub async fn bump_data_version(&self, actor: &str, now_ms: i64) -> Result<(), StoreError> {
        let update = Update::new(actor, now_ms).allow_missing().add("dataVersion", 1);
        self.update::<serde_json::Value>(&self.tables().meta, DATA_VERSION_ID, &update)
            .await
            .map(|_| ())
    }

    /// `(all partners, archived partners)`, from the counters partner writes keep.
    pub async fn partner_counts(&self) -> Result<(i64, i64), StoreError> {
        let row: Option<PartnerCounts> = self.get(&self.tables().meta, PARTNER_COUNTS_ID).await?;
        Ok(row
            .map(|r| (r.partner_count, r.archived_partner_count))
            .unwrap_or_default())
    }

    /// The partner with its link summaries, strongly consistent.
    pub async fn get_partner(&self, id: &str) -> Result<Option<Partner>, StoreError> {
        self.get(&self.tables().partners, id).await
    }

    /// The few partner fields event sponsorship rows and action items show, by id (a projection:
    /// partner items carry their link summaries, which these readers do not need).
    pub async fn partner_cards(&self, ids: &[String]) -> Result<HashMap<String, Partner>, StoreError> {
        const CARD: [&str; 9] = [
            "id",
            "company",
            "contactName",
            "email",
            "phone",
            "contactRole",
            "tier",
            "archived",
            "isAlumni",
        ];
        let partners: Vec<Partner> = self.batch_get_fields(&self.tables().partners, ids, &CARD).await?;
        Ok(partners.into_iter().map(|p| (p.id.clone(), p)).collect())
    }

    /// Every partner: the directory's answer is the whole table, so this is its one read.
    pub async fn all_partners(&self) -> Result<Vec<Partner>, StoreError> {
        self.scan_all(&self.tables().partners).await
    }

    /// Applies `update` to a partner and returns the stored result; an archive or restore
    /// (`archived_delta` ±1) moves the archived counter in the same transaction.
    pub async fn update_partner(
        &self,
        id: &str,
        update: Update,
        archived_delta: i64,
        actor: &str,
        now_ms: i64,
    ) -> Result<Partner, StoreError> {
        if archived_delta == 0 {
            return self.update(&self.tables().partners, id, &update).await;
        }
        let counted = Update::new(actor, now_ms)
            .allow_missing()
            .add(ARCHIVED_PARTNER_COUNT, archived_delta)
            .into_transact(&self.tables().meta, PARTNER_COUNTS_ID)?;
        self.transact(vec![update.into_transact(&self.tables().partners, id)?, counted])
            .await?;
        self.get_partner(id).await?.ok_or(StoreError::ConditionFailed)
    }

    /// The tier ids of every event, from the catalog row event writes maintain.
    pub async fn event_tier_ids(&self) -> Result<BTreeSet<String>, StoreError> {
        let catalog: Option<EventTierCatalog> = self.get(&self.tables().meta, EVENT_TIER_CATALOG_ID).await?;
        Ok(catalog
            .map(|c| c.tiers_by_event.into_values().flatten().collect())
            .unwrap_or_default())
    }

    /// A partner's links, by the ids of its summaries (strongly consistent).
    pub async fn links_of(&self, partner: &Partner) -> Result<Vec<PartnerEventLink>, StoreError> {
        let ids: Vec<String> = partner.link_summaries.keys().cloned().collect();
        self.batch_get(&self.tables().links, &ids).await
    }

    /// Events by id (BatchGetItem).
    pub async fn events_by_ids(&self, ids: &[String]) -> Result<Vec<PartnershipEvent>, StoreError> {
        self.batch_get(&self.tables().events, ids).await
    }
}
