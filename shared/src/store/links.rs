//! Link writes. Each is one transaction over the link, the partner's link summary and the
//! event's counters, so the directory and the events list never drift from the links table.

use aws_sdk_dynamodb::types::TransactWriteItem;

use super::{Store, StoreError, Update, delete_versioned_item, put_new_item, put_versioned_item};
use crate::domain::event::{EventCounters, PartnershipEvent};
use crate::domain::link::PartnerEventLink;
use crate::domain::partner::LINK_SUMMARIES_ATTR;

/// Attribute holding an event's link ids.
pub const LINK_IDS_ATTR: &str = "linkIds";

/// Position of each item in a link transaction, to read cancellation reasons.
pub mod item {
    /// The link itself.
    pub const LINK: usize = 0;
    /// The partner's summary.
    pub const PARTNER: usize = 1;
    /// The event's counters.
    pub const EVENT: usize = 2;
}

impl Store {
    /// A link by id.
    pub async fn get_link(&self, id: &str) -> Result<Option<PartnerEventLink>, StoreError> {
        self.get(&self.tables().links, id).await
    }

    /// Links by id (strongly consistent).
    pub async fn links_by_ids(&self, ids: &[String]) -> Result<Vec<PartnerEventLink>, StoreError> {
        self.batch_get(&self.tables().links, ids).await
    }

    fn summary_update(
        &self,
        link: &PartnerEventLink,
        actor: &str,
        now_ms: i64,
    ) -> Result<TransactWriteItem, StoreError> {
        Update::new(actor, now_ms)
            .set_path(&[LINK_SUMMARIES_ATTR, &link.id], link.summary())?
            .into_transact(&self.tables().partners, &link.partner_id)
    }

    fn counters_update(delta: EventCounters, actor: &str, now_ms: i64) -> Update {
        delta
            .fields()
            .into_iter()
            .fold(Update::new(actor, now_ms), |update, (attr, d)| update.add(attr, d))
    }

    /// Creates a link. The event must still have the name and year the link copies, so a rename
    /// racing the create is never missed. Cancellation at [`item::LINK`] means a duplicate pair.
    pub async fn create_link(
        &self,
        link: &PartnerEventLink,
        event: &PartnershipEvent,
        actor: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let event_update = Self::counters_update(EventCounters::of_link(&link.status, link.amount), actor, now_ms)
            .add_to_set(LINK_IDS_ATTR, std::slice::from_ref(&link.id))
            .expect_equal("name", &event.name)?
            .expect_equal("year", event.year)?
            .into_transact(&self.tables().events, &event.id)?;
        self.transact(vec![
            put_new_item(&self.tables().links, link)?,
            self.summary_update(link, actor, now_ms)?,
            event_update,
        ])
        .await
    }

    /// Replaces `stored` by `updated` if nobody changed it meanwhile; `event_exists` says whether
    /// there are counters to move (links of a vanished event have none).
    pub async fn update_link(
        &self,
        stored: &PartnerEventLink,
        updated: &PartnerEventLink,
        event_exists: bool,
        actor: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut items = vec![
            put_versioned_item(&self.tables().links, updated, stored.version)?,
            self.summary_update(updated, actor, now_ms)?,
        ];
        let delta = EventCounters::of_link(&updated.status, updated.amount)
            .minus(EventCounters::of_link(&stored.status, stored.amount));
        if event_exists && !delta.is_zero() {
            items.push(
                Self::counters_update(delta, actor, now_ms).into_transact(&self.tables().events, &stored.event_id)?,
            );
        }
        self.transact(items).await
    }

    /// Deletes `stored` if nobody changed it meanwhile, with its summary and counters.
    pub async fn delete_link(
        &self,
        stored: &PartnerEventLink,
        event_exists: bool,
        actor: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut items = vec![
            delete_versioned_item(&self.tables().links, &stored.id, stored.version)?,
            Update::new(actor, now_ms)
                .remove_path(&[LINK_SUMMARIES_ATTR, &stored.id])
                .into_transact(&self.tables().partners, &stored.partner_id)?,
        ];
        if event_exists {
            let delta = EventCounters::default().minus(EventCounters::of_link(&stored.status, stored.amount));
            items.push(
                Self::counters_update(delta, actor, now_ms)
                    .delete_from_set(LINK_IDS_ATTR, std::slice::from_ref(&stored.id))
                    .into_transact(&self.tables().events, &stored.event_id)?,
            );
        }
        self.transact(items).await
    }

    /// Re-points a link at the event's name and year, with its summary, if the link is unchanged
    /// since read and `event_guard` (a check that the event still has that name and year, at
    /// [`item::EVENT`]) holds: a pass for a superseded rename can never write an old name.
    pub async fn rekey_link(
        &self,
        stored: &PartnerEventLink,
        event: &PartnershipEvent,
        event_guard: TransactWriteItem,
        actor: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let updated = PartnerEventLink {
            updated_at: now_ms,
            updated_by: actor.into(),
            version: stored.version + 1,
            ..stored.rekeyed_to(event)
        };
        self.transact(vec![
            put_versioned_item(&self.tables().links, &updated, stored.version)?,
            self.summary_update(&updated, actor, now_ms)?,
            event_guard,
        ])
        .await
    }
}
