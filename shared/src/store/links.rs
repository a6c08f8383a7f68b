//! Link writes. Each is one transaction over the link and the event's counters, so the events
//! list and the dashboard never drift from the links table. The partner item is not touched: the
//! directory reads the links table itself.

use aws_sdk_dynamodb::types::TransactWriteItem;

use super::{Store, StoreError, Update, delete_versioned_item, put_new_item, put_versioned_item};
use crate::domain::event::{EventCounters, PartnershipEvent};
use crate::domain::link::PartnerEventLink;
use crate::tables::LINKS_BY_EVENT;

/// Position of each item in a link transaction, to read cancellation reasons.
pub mod item {
    /// The link itself.
    pub const LINK: usize = 0;
    /// The event's counters (or, in a re-key, the check of its name).
    pub const EVENT: usize = 1;
}

impl Store {
    /// A link by id.
    pub async fn get_link(&self, id: &str) -> Result<Option<PartnerEventLink>, StoreError> {
        self.get(&self.tables().links, id).await
    }

    /// Every link (a parallel scan): the export's answer is every link.
    pub async fn all_links(&self) -> Result<Vec<PartnerEventLink>, StoreError> {
        self.scan_parallel(&self.tables().links, &[], 4).await
    }

    /// An event's links (`links-by-event`, to the end; an index read is eventually consistent,
    /// as the old service's event-query).
    pub async fn links_of_event(&self, event_id: &str) -> Result<Vec<PartnerEventLink>, StoreError> {
        self.query_index(&self.tables().links, LINKS_BY_EVENT, event_id).await
    }

    /// An event's links as they are now: found by `links-by-event`, then read by id strongly
    /// consistent (an index copy may be older than its item), for a job that decides on them.
    pub async fn current_links_of_event(&self, event_id: &str) -> Result<Vec<PartnerEventLink>, StoreError> {
        let ids: Vec<String> = self.links_of_event(event_id).await?.into_iter().map(|l| l.id).collect();
        Ok(self
            .links_by_ids(&ids)
            .await?
            .into_iter()
            .filter(|l| l.event_id == event_id)
            .collect())
    }

    /// Links by id (strongly consistent).
    pub async fn links_by_ids(&self, ids: &[String]) -> Result<Vec<PartnerEventLink>, StoreError> {
        self.batch_get(&self.tables().links, ids).await
    }

    /// The event's counters moved by `delta`: a maintenance write (the event's own fields, and
    /// so its `updatedAt`, are untouched).
    pub fn counters_update(delta: EventCounters) -> Update {
        delta
            .fields()
            .into_iter()
            .fold(Update::maintenance(), |update, (attr, d)| update.add(attr, d))
    }

    /// Creates a link. The event must still have the name and year the link copies, so a rename
    /// racing the create is never missed. Cancellation at [`item::LINK`] means a duplicate pair.
    pub async fn create_link(&self, link: &PartnerEventLink, event: &PartnershipEvent) -> Result<(), StoreError> {
        let event_update = Self::counters_update(EventCounters::of_link(&link.status, link.amount))
            .expect_equal("name", &event.name)?
            .expect_equal("year", event.year)?
            .into_transact(&self.tables().events, &event.id)?;
        self.transact(vec![put_new_item(&self.tables().links, link)?, event_update])
            .await
    }

    /// Replaces `stored` by `updated` if nobody changed it meanwhile; `event_exists` says whether
    /// there are counters to move (links of a vanished event have none).
    pub async fn update_link(
        &self,
        stored: &PartnerEventLink,
        updated: &PartnerEventLink,
        event_exists: bool,
    ) -> Result<(), StoreError> {
        let mut items = vec![put_versioned_item(&self.tables().links, updated, stored.version)?];
        let delta = EventCounters::of_link(&updated.status, updated.amount)
            .minus(EventCounters::of_link(&stored.status, stored.amount));
        if event_exists && !delta.is_zero() {
            items.push(Self::counters_update(delta).into_transact(&self.tables().events, &stored.event_id)?);
        }
        self.transact(items).await
    }

    /// Moves a link to another partner (a merge): the new pair's link is created and the old
    /// one deleted in one transaction, if the new pair has none and the old is unchanged since
    /// read. The event's counters do not move (the same deal, another partner).
    pub async fn move_link(&self, stored: &PartnerEventLink, moved: &PartnerEventLink) -> Result<(), StoreError> {
        self.transact(vec![
            put_new_item(&self.tables().links, moved)?,
            delete_versioned_item(&self.tables().links, &stored.id, stored.version)?,
        ])
        .await
    }

    /// Deletes `stored` if nobody changed it meanwhile, with its summary and counters.
    pub async fn delete_link(&self, stored: &PartnerEventLink, event_exists: bool) -> Result<(), StoreError> {
        let mut items = vec![delete_versioned_item(&self.tables().links, &stored.id, stored.version)?];
        if event_exists {
            let delta = EventCounters::default().minus(EventCounters::of_link(&stored.status, stored.amount));
            items.push(Self::counters_update(delta).into_transact(&self.tables().events, &stored.event_id)?);
        }
        self.transact(items).await
    }

    /// Re-points a link at the event's name and year, if the link is unchanged since read and
    /// `event_guard` (a check that the event still has that name and year, at
    /// [`item::EVENT`]) holds: a pass for a superseded rename can never write an old name.
    pub async fn rekey_link(
        &self,
        stored: &PartnerEventLink,
        event: &PartnershipEvent,
        event_guard: TransactWriteItem,
    ) -> Result<(), StoreError> {
        // A maintenance write: the link's own `updatedAt`/`updatedBy` stay as they were.
        let updated = PartnerEventLink {
            version: stored.version + 1,
            ..stored.rekeyed_to(event)
        };
        self.transact(vec![
            put_versioned_item(&self.tables().links, &updated, stored.version)?,
            event_guard,
        ])
        .await
    }
}
