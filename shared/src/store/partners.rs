//! Partner reads and writes, and the reads the partner detail hydrates from.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Deserialize;

use super::{IndexQuery, Store, StoreError, Update};
use crate::domain::event::PartnershipEvent;
use crate::domain::link::PartnerEventLink;
use crate::domain::metrics::LinkSummary;
use crate::domain::partner::{Partner, PartnerChanges, email_index_keys};
use crate::tables::{
    ARCHIVED, ARCHIVED_INDEX_ATTR, ARCHIVED_PARTNERS, EMAIL_DOMAIN_ATTR, EMAIL_KEY_ATTR, EVENT_TIER_CATALOG_ID,
    LINKS_BY_PARTNER, OWNER_EMAIL_ATTR, PARTNER_COUNTS_ID, PARTNERS_BY_EMAIL_DOMAIN, PARTNERS_BY_OWNER,
};

/// `update` with the partner's email index keys following `email` (set for a valid address,
/// removed otherwise), in the same write.
pub fn with_email_index(update: Update, email: &str) -> Result<Update, StoreError> {
    Ok(match email_index_keys(email) {
        Some((domain, key)) => update.set(EMAIL_DOMAIN_ATTR, domain)?.set(EMAIL_KEY_ATTR, key)?,
        None => update.remove_path(&[EMAIL_DOMAIN_ATTR]).remove_path(&[EMAIL_KEY_ATTR]),
    })
}

/// `update` with the partner's owner set (`Some(Some(_))`), removed (`Some(None)`: unclaimed,
/// absent from the `partners-by-owner` index) or left alone (`None`).
pub fn with_owner(update: Update, owner: Option<&Option<String>>) -> Result<Update, StoreError> {
    Ok(match owner {
        Some(Some(owner)) => update.set(OWNER_EMAIL_ATTR, owner)?,
        Some(None) => update.remove_path(&[OWNER_EMAIL_ATTR]),
        None => update,
    })
}

/// The conditional write that applies `changes` to `stored` by `actor`: only if `stored` is
/// still the current version, with the email and archived indexes following in the same write.
/// With `only_changed`, `None` when the changes would change nothing (a sync does not rewrite
/// an unchanged partner; an explicit PATCH always writes, as the contract's).
pub fn partner_update(
    stored: &Partner,
    changes: &PartnerChanges,
    actor: &str,
    now_ms: i64,
    only_changed: bool,
) -> Result<Option<Update>, StoreError> {
    let current = serde_json::to_value(stored).unwrap_or_default();
    let assignments: Vec<(&str, serde_json::Value)> = changes
        .assignments(stored)
        .into_iter()
        .filter(|(attr, value)| !only_changed || current.get(*attr) != Some(value))
        .collect();
    let owner = changes
        .owner_email
        .as_ref()
        .filter(|owner| !only_changed || **owner != stored.owner_email);
    if only_changed && assignments.is_empty() && owner.is_none() {
        return Ok(None);
    }
    let mut update = Update::new(actor, now_ms).expect_version(stored.version);
    for (attr, value) in &assignments {
        update = update.set(attr, value)?;
    }
    update = with_owner(update, owner)?;
    if let Some(email) = &changes.email {
        update = with_email_index(update, email)?;
    }
    update = match changes.archived {
        Some(true) => update.set(ARCHIVED_INDEX_ATTR, ARCHIVED)?,
        Some(false) => update.remove_path(&[ARCHIVED_INDEX_ATTR]),
        None => update,
    };
    Ok(Some(update))
}

/// A partner as an item: its fields plus the keys of the sparse indexes it belongs in (email
/// domain and address; archived).
pub fn partner_item(partner: &Partner) -> Result<serde_json::Value, StoreError> {
    let mut item = serde_json::to_value(partner).map_err(|e| StoreError::Sdk(Box::new(e)))?;
    if let Some(map) = item.as_object_mut() {
        if let Some((domain, key)) = email_index_keys(&partner.email) {
            map.insert(EMAIL_DOMAIN_ATTR.into(), domain.into());
            map.insert(EMAIL_KEY_ATTR.into(), key.into());
        }
        if partner.archived {
            map.insert(ARCHIVED_INDEX_ATTR.into(), ARCHIVED.into());
        }
    }
    Ok(item)
}

/// A partner the email sync matched: what it needs to choose and to write.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EmailMatch {
    pub id: String,
    pub email_key: String,
    pub archived: bool,
}

/// Parallel segments of a whole-table scan: enough to keep DynamoDB's partitions (and
/// DynamoDB Local's threads) busy without flooding a small table with requests.
const SCAN_SEGMENTS: i32 = 4;

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
    /// Writes a new partner; fails if the id is taken. One conditional put: the partner counters
    /// follow from the partners stream (see `store::stream`).
    pub async fn create_partner(&self, partner: &Partner) -> Result<(), StoreError> {
        self.put_new(&self.tables().partners, &partner_item(partner)?).await
    }

    /// Partners whose email is `address` (hash and range), or at `domain` when `address` is
    /// `None`: the email sync's matcher. An index read, eventually consistent.
    pub async fn partners_by_email(&self, domain: &str, address: Option<&str>) -> Result<Vec<EmailMatch>, StoreError> {
        let mut query = IndexQuery::new(&self.tables().partners, PARTNERS_BY_EMAIL_DOMAIN, domain);
        query.range_at_least = address;
        query.range_at_most = address;
        Ok(self.query(query).await?.0)
    }

    /// The partners `owner` owns (`partners-by-owner`, to the end; an index read, eventually
    /// consistent): what a dashboard scoped to an owner starts from.
    pub async fn partners_owned_by(&self, owner: &str) -> Result<Vec<Partner>, StoreError> {
        self.query_index(&self.tables().partners, PARTNERS_BY_OWNER, owner)
            .await
    }

    /// `(all partners, archived partners)`, from the counters the stream processor keeps.
    pub async fn partner_counts(&self) -> Result<(i64, i64), StoreError> {
        let row: Option<PartnerCounts> = self.get(&self.tables().meta, PARTNER_COUNTS_ID).await?;
        Ok(row
            .map(|r| (r.partner_count, r.archived_partner_count))
            .unwrap_or_default())
    }

    /// The partner, strongly consistent (a partner just written is seen at once).
    pub async fn get_partner(&self, id: &str) -> Result<Option<Partner>, StoreError> {
        self.get(&self.tables().partners, id).await
    }

    /// The few partner fields event sponsorship rows and action items show, by id (a projection:
    /// less to transfer and parse than whole partners with their notes).
    pub async fn partner_cards(&self, ids: &[String]) -> Result<HashMap<String, Partner>, StoreError> {
        const CARD: [&str; 10] = [
            "id",
            "company",
            "contactName",
            "email",
            "phone",
            "contactRole",
            "tier",
            "archived",
            "isAlumni",
            "ownerEmail",
        ];
        let partners: Vec<Partner> = self.batch_get_cards(&self.tables().partners, ids, &CARD).await?;
        Ok(partners.into_iter().map(|p| (p.id.clone(), p)).collect())
    }

    /// Every partner: the directory's answer is the whole table, so this is its one read.
    pub async fn all_partners(&self) -> Result<Vec<Partner>, StoreError> {
        self.scan_parallel(&self.tables().partners, &Partner::FIELDS, SCAN_SEGMENTS)
            .await
    }

    /// Applies `update` to a partner and returns the stored result (an archive or restore moves
    /// the archived counter through the partners stream).
    pub async fn update_partner(&self, id: &str, update: Update) -> Result<Partner, StoreError> {
        self.update(&self.tables().partners, id, &update).await
    }

    /// The tier ids of every event, from the catalog row event writes maintain.
    pub async fn event_tier_ids(&self) -> Result<BTreeSet<String>, StoreError> {
        let catalog: Option<EventTierCatalog> = self.get(&self.tables().meta, EVENT_TIER_CATALOG_ID).await?;
        Ok(catalog
            .map(|c| c.tiers_by_event.into_values().flatten().collect())
            .unwrap_or_default())
    }

    /// The ids of the archived partners (`archived-partners`, a sparse index as small as the
    /// archive; eventually consistent).
    pub async fn archived_partner_ids(&self) -> Result<HashSet<String>, StoreError> {
        #[derive(Deserialize)]
        struct Id {
            id: String,
        }
        let ids: Vec<Id> = self
            .query_index(&self.tables().partners, ARCHIVED_PARTNERS, ARCHIVED)
            .await?;
        Ok(ids.into_iter().map(|i| i.id).collect())
    }

    /// A partner's links (`links-by-partner`, to the end; an index read is eventually
    /// consistent, as the old service's partner-query).
    pub async fn links_of(&self, partner_id: &str) -> Result<Vec<PartnerEventLink>, StoreError> {
        self.query_index(&self.tables().links, LINKS_BY_PARTNER, partner_id)
            .await
    }

    /// The summary of every link (a projected parallel scan): the directory's view of the links.
    pub async fn all_link_summaries(&self) -> Result<Vec<LinkSummary>, StoreError> {
        self.scan_parallel(&self.tables().links, &LinkSummary::FIELDS, SCAN_SEGMENTS)
            .await
    }

    /// Events by id (BatchGetItem).
    pub async fn events_by_ids(&self, ids: &[String]) -> Result<Vec<PartnershipEvent>, StoreError> {
        self.batch_get(&self.tables().events, ids).await
    }
}
