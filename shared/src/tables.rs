//! The one source of truth for the eight tables: base names, keys and GSIs. `template.yaml` must
//! agree; a test in `infra/local` parses the template and fails if it does not.

/// A global secondary index: string hash key, range key, projection ALL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GsiDef {
    /// Index name.
    pub name: &'static str,
    /// String hash key attribute.
    pub hash_key: &'static str,
    /// Range key attribute.
    pub range_key: &'static str,
    /// DynamoDB type of the range key (`S` or `N`).
    pub range_type: &'static str,
}

/// A table: `<base_name><ENV>`, a string hash key (and, for the aggregates, a string range key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableDef {
    /// Logical id of the table resource in `template.yaml`.
    pub logical_id: &'static str,
    /// Name before the `ENV` suffix.
    pub base_name: &'static str,
    /// String hash key attribute.
    pub hash_key: &'static str,
    /// String range key attribute, if any.
    pub range_key: Option<&'static str>,
    /// Its GSIs.
    pub gsis: &'static [GsiDef],
}

/// Hash key of every table.
pub const ID: &str = "id";

/// `partner-query`: a partner's documents or communications, newest first by `updatedAt`.
pub const PARTNER_QUERY: GsiDef = GsiDef {
    name: "partner-query",
    hash_key: "partnerId",
    range_key: "updatedAt",
    range_type: "N",
};

/// `links-by-partner`: a partner's links. Keyed on what never changes (a partner has one link
/// per event), so an edit of a link rewrites its index entry in place instead of deleting and
/// re-adding it under a new `updatedAt`: half the index writes of the old `partner-query`.
pub const LINKS_BY_PARTNER: GsiDef = GsiDef {
    name: "links-by-partner",
    hash_key: "partnerId",
    range_key: "eventId",
    range_type: "S",
};

/// `links-by-event`: an event's links, by the event id (stable across renames and year
/// changes, unlike `eventIdYear`), one entry per partner.
pub const LINKS_BY_EVENT: GsiDef = GsiDef {
    name: "links-by-event",
    hash_key: "eventId",
    range_key: "partnerId",
    range_type: "S",
};

/// `event-ref-query`: documents or communications that reference an event, by `updatedAt`. Sparse:
/// records without an event carry no `eventId` attribute (a GSI key may not be NULL).
pub const EVENT_REF_QUERY: GsiDef = GsiDef {
    name: "event-ref-query",
    hash_key: "eventId",
    range_key: "updatedAt",
    range_type: "N",
};

/// `archived-partners`: the archived partners only. Sparse: `archivedIndex` is present only on
/// an archived partner, so the index is as small as the archive and costs no write for the rest;
/// the dashboard reads it instead of every partner in scope.
pub const ARCHIVED_PARTNERS: GsiDef = GsiDef {
    name: "archived-partners",
    hash_key: "archivedIndex",
    range_key: "id",
    range_type: "S",
};

/// `partners-by-email-domain`: partners by the domain of their email, then the email. Sparse:
/// only a partner with a valid email carries `emailDomain` and `emailKey` (its lower-cased
/// email: a GSI key may not be an empty string, so `email` itself cannot be the key). One index
/// answers both "who has this address" (hash and range) and "who is at this domain" (hash only).
pub const PARTNERS_BY_EMAIL_DOMAIN: GsiDef = GsiDef {
    name: "partners-by-email-domain",
    hash_key: "emailDomain",
    range_key: "emailKey",
    range_type: "S",
};

/// `partners-by-owner`: the partners each team member owns (issue 15). Sparse: an unclaimed
/// partner has no `ownerEmail`, so the index is as small as what is owned, and "my partners"
/// is one query.
pub const PARTNERS_BY_OWNER: GsiDef = GsiDef {
    name: "partners-by-owner",
    hash_key: "ownerEmail",
    range_key: "id",
    range_type: "S",
};

/// The attribute behind [`PARTNERS_BY_OWNER`].
pub const OWNER_EMAIL_ATTR: &str = "ownerEmail";

/// The attributes behind [`PARTNERS_BY_EMAIL_DOMAIN`].
pub const EMAIL_DOMAIN_ATTR: &str = "emailDomain";
pub const EMAIL_KEY_ATTR: &str = "emailKey";

/// The attribute behind [`ARCHIVED_PARTNERS`] and its only value.
pub const ARCHIVED_INDEX_ATTR: &str = "archivedIndex";
/// See [`ARCHIVED_INDEX_ATTR`].
pub const ARCHIVED: &str = "archived";

/// `templates-by-state`: the mass-email templates, `active` or `archived`, newest edit first.
/// Sparse: only template rows carry `templateState`, so listing them reads no other meta row.
pub const TEMPLATES_BY_STATE: GsiDef = GsiDef {
    name: "templates-by-state",
    hash_key: "templateState",
    range_key: "updatedAt",
    range_type: "N",
};

/// `rows-by-kind`: the meta rows of a kind that are listed (segments, imports), in their own
/// order. Sparse: only such rows carry `rowKind` and `rowOrder`, so a list reads no other row.
pub const ROWS_BY_KIND: GsiDef = GsiDef {
    name: "rows-by-kind",
    hash_key: "rowKind",
    range_key: "rowOrder",
    range_type: "S",
};

/// `biztechPartners`.
pub const PARTNERS: TableDef = TableDef {
    logical_id: "PartnersTable",
    base_name: "biztechPartners",
    hash_key: ID,
    range_key: None,
    gsis: &[ARCHIVED_PARTNERS, PARTNERS_BY_EMAIL_DOMAIN, PARTNERS_BY_OWNER],
};
/// `biztechPartnershipEvents`.
pub const EVENTS: TableDef = TableDef {
    logical_id: "PartnershipEventsTable",
    base_name: "biztechPartnershipEvents",
    hash_key: ID,
    range_key: None,
    gsis: &[],
};
/// `biztechPartnerEventLinks`.
pub const LINKS: TableDef = TableDef {
    logical_id: "PartnerEventLinksTable",
    base_name: "biztechPartnerEventLinks",
    hash_key: ID,
    range_key: None,
    gsis: &[LINKS_BY_PARTNER, LINKS_BY_EVENT],
};
/// `biztechPartnerDocuments`.
pub const DOCUMENTS: TableDef = TableDef {
    logical_id: "PartnerDocumentsTable",
    base_name: "biztechPartnerDocuments",
    hash_key: ID,
    range_key: None,
    gsis: &[PARTNER_QUERY, EVENT_REF_QUERY],
};
/// `biztechPartnerCommunications`.
pub const COMMUNICATIONS: TableDef = TableDef {
    logical_id: "PartnerCommunicationsTable",
    base_name: "biztechPartnerCommunications",
    hash_key: ID,
    range_key: None,
    gsis: &[PARTNER_QUERY, EVENT_REF_QUERY],
};
/// `biztechPartnershipsMeta`.
pub const META: TableDef = TableDef {
    logical_id: "PartnershipsMetaTable",
    base_name: "biztechPartnershipsMeta",
    hash_key: ID,
    range_key: None,
    gsis: &[TEMPLATES_BY_STATE, ROWS_BY_KIND],
};

/// `biztechPartnershipsAggregates`: what the stream processor derives from the links for the
/// dashboard, partitioned by what one read needs (`pk`) and ordered within it (`sk`); see
/// `store::aggregates` for the partitions.
pub const AGGREGATES: TableDef = TableDef {
    logical_id: "PartnershipsAggregatesTable",
    base_name: "biztechPartnershipsAggregates",
    hash_key: AGGREGATE_PK,
    range_key: Some(AGGREGATE_SK),
    gsis: &[],
};

/// `biztechPartnershipsActivity`: the activity log the stream processor writes, one partition
/// per partner or event (`pk` = `partner#<id>` / `event#<id>`), newest last by `sk` =
/// `<epoch ms, 15 digits>#<stream sequence number>` (a retried batch rewrites the same entries).
pub const ACTIVITY: TableDef = TableDef {
    logical_id: "PartnershipsActivityTable",
    base_name: "biztechPartnershipsActivity",
    hash_key: AGGREGATE_PK,
    range_key: Some(AGGREGATE_SK),
    gsis: &[],
};

/// Hash key of the aggregates table.
pub const AGGREGATE_PK: &str = "pk";
/// Range key of the aggregates table.
pub const AGGREGATE_SK: &str = "sk";

/// The aggregates table's own key, queried as an index is (a partition, a range bound).
pub const AGGREGATE_KEY: GsiDef = GsiDef {
    name: "",
    hash_key: AGGREGATE_PK,
    range_key: AGGREGATE_SK,
    range_type: "S",
};

/// All eight tables.
pub const ALL: [TableDef; 8] = [
    PARTNERS,
    EVENTS,
    LINKS,
    DOCUMENTS,
    COMMUNICATIONS,
    META,
    AGGREGATES,
    ACTIVITY,
];

/// Meta row id holding the partner counters (`partnerCount`, `archivedPartnerCount`), kept by
/// the stream processor from the partners table's stream (seconds behind a write, exact).
pub const PARTNER_COUNTS_ID: &str = "partnerships_partner_counts";

/// Prefix of the meta rows marking how far a stream batch was applied (see `store::stream`).
pub const STREAM_MARK_PREFIX: &str = "stream_batch#";

/// Meta attribute DynamoDB's TTL deletes expired rows by (epoch seconds).
pub const TTL_ATTRIBUTE: &str = "expiresAt";

/// Meta row id of the rollup job's status and checkpoint.
pub const ROLLUP_STATUS_ID: &str = "partnerships_rollup_status";

/// Meta row id holding the tier ids of every event (`tiersByEvent: {eventId: [tierId]}`), kept
/// by event writes so the directory need not scan the events table for its tier options.
pub const EVENT_TIER_CATALOG_ID: &str = "partnerships_event_tier_catalog";

/// Meta row of the stage's win probabilities per status (the weighted forecast).
pub const FORECAST_ID: &str = "forecast_probabilities";

/// Meta row id holding how many mass-email templates are active (the cap of §8.3 counts them
/// in the same transaction that creates, archives or restores one).
pub const TEMPLATE_COUNTS_ID: &str = "partnerships_template_counts";

/// Prefix of the meta rows of addresses that must not be emailed (unsubscribed, bounced,
/// complained): `suppressed#<lower-cased address>`.
pub const SUPPRESSED_PREFIX: &str = "suppressed#";

/// Prefix of the meta rows remembering a send's `Idempotency-Key` (expire by TTL).
pub const IDEMPOTENCY_PREFIX: &str = "idempotency#";

/// Prefix of a campaign's meta rows: `campaign#<id>` (the campaign) and
/// `campaign#<id>#<partnerId>` (one per recipient, with its state).
pub const CAMPAIGN_PREFIX: &str = "campaign#";

/// Prefix of the meta rows of ingest tokens, by the SHA-256 of the token:
/// `sync_token#<hex>` → the admin it was issued to.
pub const SYNC_TOKEN_PREFIX: &str = "sync_token#";
/// Prefix of the meta rows holding each admin's current ingest-token generation.
pub const SYNC_TOKEN_OWNER_PREFIX: &str = "sync_token_owner#";
/// Prefix of the per-mailbox email-sync status rows (`email_sync_mailbox#<mailbox>`).
pub const SYNC_MAILBOX_PREFIX: &str = "email_sync_mailbox#";
/// Meta row listing every mailbox that ever synced (a string set, added to atomically).
pub const SYNC_MAILBOXES_ID: &str = "email_sync_mailboxes";

/// Concrete table names for one stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    pub partners: String,
    pub events: String,
    pub links: String,
    pub documents: String,
    pub communications: String,
    pub meta: String,
    pub aggregates: String,
    pub activity: String,
}

impl Tables {
    /// Table names carrying the stage suffix.
    pub fn with_suffix(suffix: &str) -> Self {
        let name = |t: TableDef| format!("{}{suffix}", t.base_name);
        Self {
            partners: name(PARTNERS),
            events: name(EVENTS),
            links: name(LINKS),
            documents: name(DOCUMENTS),
            communications: name(COMMUNICATIONS),
            meta: name(META),
            aggregates: name(AGGREGATES),
            activity: name(ACTIVITY),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_suffix() {
        let t = Tables::with_suffix("dev");
        assert_eq!(t.partners, "biztechPartnersdev");
        assert_eq!(t.meta, "biztechPartnershipsMetadev");
        assert_eq!(ALL.iter().map(|t| t.gsis.len()).sum::<usize>(), 11);
    }
}
