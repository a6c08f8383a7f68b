//! The one source of truth for the six tables: base names, keys and GSIs. `template.yaml` must
//! agree; a test in `infra/local` parses the template and fails if it does not.

/// A global secondary index: string hash key, range key, projection ALL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GsiDef {
    /// Index name.
    pub name: &'static str,
    /// String hash key attribute.
    pub hash_key: &'static str,
    /// Range key attribute (numeric `updatedAt`, or the string `followUpDate`).
    pub range_key: &'static str,
}

impl GsiDef {
    /// DynamoDB type of the range key.
    pub fn range_type(&self) -> &'static str {
        if self.range_key == "followUpDate" { "S" } else { "N" }
    }
}

/// A table: `<base_name><ENV>`, string hash key `id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableDef {
    /// Logical id of the table resource in `template.yaml`.
    pub logical_id: &'static str,
    /// Name before the `ENV` suffix.
    pub base_name: &'static str,
    /// String hash key attribute.
    pub hash_key: &'static str,
    /// Its GSIs.
    pub gsis: &'static [GsiDef],
}

/// Hash key of every table.
pub const ID: &str = "id";

/// `partner-query`: a partner's links, documents or communications, by `updatedAt`.
pub const PARTNER_QUERY: GsiDef = GsiDef {
    name: "partner-query",
    hash_key: "partnerId",
    range_key: "updatedAt",
};
/// `event-query`: an event's links by `eventIdYear`, by `updatedAt`.
pub const EVENT_QUERY: GsiDef = GsiDef {
    name: "event-query",
    hash_key: "eventIdYear",
    range_key: "updatedAt",
};

/// `event-ref-query`: documents or communications that reference an event, by `updatedAt`. Sparse:
/// records without an event carry no `eventId` attribute (a GSI key may not be NULL).
pub const EVENT_REF_QUERY: GsiDef = GsiDef {
    name: "event-ref-query",
    hash_key: "eventId",
    range_key: "updatedAt",
};

/// `follow-up-query`: open communication follow-ups by date. Sparse: only rows with
/// `openFollowUp = "open"` (a follow-up date that is not done) are in it.
pub const FOLLOW_UP_QUERY: GsiDef = GsiDef {
    name: "follow-up-query",
    hash_key: "openFollowUp",
    range_key: "followUpDate",
};

/// `biztechPartners`.
pub const PARTNERS: TableDef = TableDef {
    logical_id: "PartnersTable",
    base_name: "biztechPartners",
    hash_key: ID,
    gsis: &[],
};
/// `biztechPartnershipEvents`.
pub const EVENTS: TableDef = TableDef {
    logical_id: "PartnershipEventsTable",
    base_name: "biztechPartnershipEvents",
    hash_key: ID,
    gsis: &[],
};
/// `biztechPartnerEventLinks`.
pub const LINKS: TableDef = TableDef {
    logical_id: "PartnerEventLinksTable",
    base_name: "biztechPartnerEventLinks",
    hash_key: ID,
    gsis: &[PARTNER_QUERY, EVENT_QUERY],
};
/// `biztechPartnerDocuments`.
pub const DOCUMENTS: TableDef = TableDef {
    logical_id: "PartnerDocumentsTable",
    base_name: "biztechPartnerDocuments",
    hash_key: ID,
    gsis: &[PARTNER_QUERY, EVENT_REF_QUERY],
};
/// `biztechPartnerCommunications`.
pub const COMMUNICATIONS: TableDef = TableDef {
    logical_id: "PartnerCommunicationsTable",
    base_name: "biztechPartnerCommunications",
    hash_key: ID,
    gsis: &[PARTNER_QUERY, EVENT_REF_QUERY, FOLLOW_UP_QUERY],
};
/// `biztechPartnershipsMeta`.
pub const META: TableDef = TableDef {
    logical_id: "PartnershipsMetaTable",
    base_name: "biztechPartnershipsMeta",
    hash_key: ID,
    gsis: &[],
};

/// All six tables.
pub const ALL: [TableDef; 6] = [PARTNERS, EVENTS, LINKS, DOCUMENTS, COMMUNICATIONS, META];

/// Meta row id holding the partner counters (`partnerCount`, `archivedPartnerCount`), kept in
/// the same transaction as partner creates and archive toggles.
pub const PARTNER_COUNTS_ID: &str = "partnerships_partner_counts";

/// Meta row id of the rollup job's status and checkpoint.
pub const ROLLUP_STATUS_ID: &str = "partnerships_rollup_status";

/// Meta row id holding the tier ids of every event (`tiersByEvent: {eventId: [tierId]}`), kept
/// by event writes so the directory need not scan the events table for its tier options.
pub const EVENT_TIER_CATALOG_ID: &str = "partnerships_event_tier_catalog";

/// Concrete table names for one stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    pub partners: String,
    pub events: String,
    pub links: String,
    pub documents: String,
    pub communications: String,
    pub meta: String,
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
        assert_eq!(ALL.iter().map(|t| t.gsis.len()).sum::<usize>(), 7);
    }
}
