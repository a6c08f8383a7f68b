//! CSV import (issue 16.4), the pure parts: reading a CSV in the export's or the sheet's
//! columns, finding the partner a row means (by id, normalized email, email domain, then
//! normalized company), the plan a run follows, and the record of what it wrote, which a
//! revert undoes.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::ValidationError;
use super::email_sync::{PUBLIC_MAIL_DOMAINS, domain_of};
use super::link::PartnerEventLink;
use super::normalize::is_valid_email;
use super::partner::Partner;
use super::sheets::{SheetRow, sheet_rows};

/// Most data rows one import takes.
pub const MAX_ROWS: usize = 10_000;

/// Most rows written in one transaction: each row writes at most a partner, a link and its
/// event's counters, and a chunk also writes its record and the import's cursor (≤ 25 items).
pub const ROWS_PER_CHUNK: usize = 7;

/// `rowKind` of import rows in the meta table.
pub const IMPORT_KIND: &str = "import";

/// The meta row of import `id`, of its plan chunk `k`, of the writes of chunk `k`.
pub fn import_row_id(id: &str) -> String {
    format!("import#{id}")
}
pub fn chunk_row_id(id: &str, k: usize) -> String {
    format!("import#{id}#c#{k}")
}
pub fn writes_row_id(id: &str, k: usize) -> String {
    format!("import#{id}#w#{k}")
}

/// The data rows of a CSV whose header row names the export's or the sheet's columns (any
/// order; unknown columns ignored; blank cells change nothing).
pub fn csv_rows(text: &str) -> Result<Vec<SheetRow>, ValidationError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let mut grid: Vec<Vec<String>> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| ValidationError::new(format!("The CSV cannot be read: {e}."), json!({})))?;
        grid.push(record.iter().map(str::to_string).collect());
        if grid.len() > MAX_ROWS + 1 {
            return Err(ValidationError::new(
                format!("An import takes at most {MAX_ROWS} rows."),
                json!({"maxRows": MAX_ROWS}),
            ));
        }
    }
    let known = grid
        .first()
        .is_some_and(|headers| headers.iter().any(|h| super::sheets::header_key(h) == Some("company")));
    if !known {
        return Err(ValidationError::new(
            "The CSV's first row must name its columns as the export or the sheet does (a 'Company' column at least).",
            json!({}),
        ));
    }
    Ok(sheet_rows(&grid))
}

/// A company name as duplicates share it: lower-cased, punctuation dropped, and a trailing
/// legal form (inc, llc, ltd, corp…) removed.
pub fn normalized_company(name: &str) -> String {
    let cleaned: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let mut words: Vec<&str> = cleaned.split_whitespace().collect();
    while words.len() > 1
        && matches!(
            words.last().copied(),
            Some(
                "inc"
                    | "incorporated"
                    | "llc"
                    | "ltd"
                    | "limited"
                    | "corp"
                    | "corporation"
                    | "co"
                    | "company"
                    | "gmbh"
                    | "plc"
            )
        )
    {
        words.pop();
    }
    words.join(" ")
}

/// The email domain a partner may be matched by: a valid address's, unless many unrelated
/// people share it.
pub fn matching_domain(email: &str) -> Option<String> {
    let email = email.trim().to_lowercase();
    if !is_valid_email(&email) {
        return None;
    }
    let domain = domain_of(&email).to_string();
    (!PUBLIC_MAIL_DOMAINS.contains(&domain.as_str())).then_some(domain)
}

/// Finds the partner a row means, in the order: the Partner ID cell, the normalized
/// email, the email's domain (when one partner has it), the normalized company name.
#[derive(Debug, Default)]
pub struct PartnerIndex {
    ids: HashMap<String, String>,
    emails: HashMap<String, String>,
    domains: HashMap<String, Vec<String>>,
    companies: HashMap<String, String>,
}

/// How a row's partner was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MatchedBy {
    PartnerId,
    Email,
    EmailDomain,
    Company,
}

impl PartnerIndex {
    /// Adds a partner (an existing one, or one the import plans to create).
    pub fn add(&mut self, partner: &Partner) {
        let id = partner.id.clone();
        self.ids.insert(id.clone(), id.clone());
        let email = partner.email.trim().to_lowercase();
        if is_valid_email(&email) {
            self.emails.entry(email).or_insert_with(|| id.clone());
        }
        if let Some(domain) = matching_domain(&partner.email) {
            let ids = self.domains.entry(domain).or_default();
            if !ids.contains(&id) {
                ids.push(id.clone());
            }
        }
        let company = normalized_company(&partner.company);
        if !company.is_empty() {
            self.companies.entry(company).or_insert(id);
        }
    }

    /// The partner a row means, and how it was found.
    pub fn find(&self, row: &SheetRow) -> Option<(String, MatchedBy)> {
        if let Some(id) = row.get("partnerId").and_then(|id| self.ids.get(id)) {
            return Some((id.clone(), MatchedBy::PartnerId));
        }
        if let Some(email) = row.get("email").map(|e| e.trim().to_lowercase()) {
            if let Some(id) = self.emails.get(&email) {
                return Some((id.clone(), MatchedBy::Email));
            }
            if let Some([only]) = matching_domain(&email)
                .and_then(|d| self.domains.get(&d))
                .map(Vec::as_slice)
            {
                return Some((only.clone(), MatchedBy::EmailDomain));
            }
        }
        let company = normalized_company(row.get("company").unwrap_or_default());
        self.companies
            .get(&company)
            .filter(|_| !company.is_empty())
            .map(|id| (id.clone(), MatchedBy::Company))
    }
}

/// What a row does to its partner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase")]
#[allow(clippy::large_enum_variant)] // one per planned row, stored and read once
pub enum PartnerStep {
    /// A new partner (its id chosen when planned, so a resumed run never creates it twice).
    Create { partner: Partner },
    /// The row's non-blank cells, as a PATCH body, on an existing (or earlier-row) partner.
    Update {
        id: String,
        body: Map<String, Value>,
        fields: Vec<String>,
        matched_by: MatchedBy,
    },
    /// Nothing to change.
    Unchanged { id: String, matched_by: MatchedBy },
}

impl PartnerStep {
    /// The partner the step is about.
    pub fn partner_id(&self) -> &str {
        match self {
            PartnerStep::Create { partner } => &partner.id,
            PartnerStep::Update { id, .. } | PartnerStep::Unchanged { id, .. } => id,
        }
    }
}

/// What a row does to the partner's link to the event it names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase")]
#[allow(clippy::large_enum_variant)] // one per planned row, stored and read once
pub enum LinkStep {
    Create { link: PartnerEventLink },
    Update { id: String, body: Map<String, Value> },
    Unchanged { id: String },
}

impl LinkStep {
    pub fn link_id(&self) -> &str {
        match self {
            LinkStep::Create { link } => &link.id,
            LinkStep::Update { id, .. } | LinkStep::Unchanged { id } => id,
        }
    }
}

/// One valid row's plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RowPlan {
    pub row: usize,
    pub partner: PartnerStep,
    pub link: Option<LinkStep>,
}

/// The plan in chunks a transaction each can write: at most [`ROWS_PER_CHUNK`] rows, and never
/// one partner or link twice in a chunk (a transaction may touch an item once).
pub fn chunks(plan: &[RowPlan]) -> Vec<Vec<RowPlan>> {
    let mut chunks: Vec<Vec<RowPlan>> = Vec::new();
    let mut current: Vec<RowPlan> = Vec::new();
    for row in plan {
        let clash = current.iter().any(|r| {
            r.partner.partner_id() == row.partner.partner_id()
                || matches!((&r.link, &row.link), (Some(a), Some(b)) if a.link_id() == b.link_id())
        });
        if current.len() == ROWS_PER_CHUNK || clash {
            chunks.push(std::mem::take(&mut current));
        }
        current.push(row.clone());
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

/// One write a run made: what to check and restore to undo it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteRecord {
    /// `partner` or `link`.
    pub kind: String,
    pub id: String,
    /// `created` or `updated`.
    pub action: String,
    /// The item before an update (its fields as the API reads them).
    pub before: Option<Value>,
    /// The version the write left.
    pub version: u64,
}

/// Per item, what undoing an import's writes takes: its first write (created → delete;
/// updated → restore that write's `before`) and the version its last write left (a different
/// version now means someone edited it since).
pub fn undo_plan(records: &[WriteRecord]) -> Vec<(WriteRecord, u64)> {
    let mut items: BTreeMap<(String, String), (WriteRecord, u64, usize)> = BTreeMap::new();
    for (order, record) in records.iter().enumerate() {
        items
            .entry((record.kind.clone(), record.id.clone()))
            .and_modify(|(_, last, _)| *last = record.version)
            .or_insert((record.clone(), record.version, order));
    }
    let mut undo: Vec<(WriteRecord, u64, usize)> = items.into_values().collect();
    // Links before partners (a partner is deleted after its links), newest first.
    undo.sort_by(|a, b| {
        (a.0.kind == "partner")
            .cmp(&(b.0.kind == "partner"))
            .then(b.2.cmp(&a.2))
    });
    undo.into_iter().map(|(first, last, _)| (first, last)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[(&'static str, &str)]) -> SheetRow {
        SheetRow {
            number: 2,
            cells: cells.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        }
    }

    fn partner(id: &str, company: &str, email: &str) -> Partner {
        Partner {
            id: id.into(),
            company: company.into(),
            email: email.into(),
            ..Default::default()
        }
    }

    #[test]
    fn the_export_and_the_sheet_headers_both_read() {
        let rows = csv_rows("Company,Email,Pipeline Status,unknown\nAcme,a@acme.com,Paid,x\n,,,\n").unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].get("company"), Some("Acme"));
        assert_eq!(rows[0].get("status"), Some("Paid"));
        let rows = csv_rows("company,email\nBeta,b@beta.io\n").unwrap();
        assert_eq!(rows[0].get("email"), Some("b@beta.io"));
        assert!(csv_rows("Name,Phone\nx,y\n").is_err(), "no company column");
    }

    #[test]
    fn company_names_match_without_case_punctuation_or_legal_form() {
        assert_eq!(normalized_company("ACME, Inc."), "acme");
        assert_eq!(normalized_company("Acme Corp"), "acme");
        assert_eq!(normalized_company("The Co"), "the");
        assert_eq!(normalized_company("Inc"), "inc", "a name is never emptied");
    }

    #[test]
    fn a_row_finds_its_partner_by_id_email_domain_then_company() {
        let mut index = PartnerIndex::default();
        index.add(&partner("p1", "Acme Inc", "jane@acme.com"));
        index.add(&partner("p2", "Beta", "bob@gmail.com"));
        index.add(&partner("p3", "Gamma", "x@gamma.io"));
        index.add(&partner("p4", "Gamma Two", "y@gamma.io"));
        let found = |cells: &[(&'static str, &str)]| index.find(&row(cells));
        assert_eq!(
            found(&[("partnerId", "p2"), ("email", "jane@acme.com")]),
            Some(("p2".into(), MatchedBy::PartnerId))
        );
        assert_eq!(
            found(&[("email", "JANE@acme.com")]),
            Some(("p1".into(), MatchedBy::Email))
        );
        assert_eq!(
            found(&[("email", "new@acme.com")]),
            Some(("p1".into(), MatchedBy::EmailDomain))
        );
        assert_eq!(
            found(&[("email", "z@gamma.io"), ("company", "Delta")]),
            None,
            "two partners share gamma.io"
        );
        assert_eq!(
            found(&[("email", "amy@gmail.com"), ("company", "Beta")]),
            Some(("p2".into(), MatchedBy::Company)),
            "gmail is no company's domain"
        );
        assert_eq!(found(&[("company", "acme")]), Some(("p1".into(), MatchedBy::Company)));
    }

    fn plan(row: usize, partner: &str, link: Option<&str>) -> RowPlan {
        RowPlan {
            row,
            partner: PartnerStep::Unchanged {
                id: partner.into(),
                matched_by: MatchedBy::Company,
            },
            link: link.map(|id| LinkStep::Unchanged { id: id.into() }),
        }
    }

    #[test]
    fn a_chunk_never_touches_an_item_twice_nor_holds_too_many_rows() {
        let rows: Vec<RowPlan> = (0..10).map(|i| plan(i, &format!("p{i}"), None)).collect();
        assert_eq!(chunks(&rows).iter().map(Vec::len).collect::<Vec<_>>(), [7, 3]);
        let rows = [plan(1, "a", None), plan(2, "b", None), plan(3, "a", None)];
        assert_eq!(chunks(&rows).iter().map(Vec::len).collect::<Vec<_>>(), [2, 1]);
    }

    #[test]
    fn undoing_checks_the_last_write_and_restores_the_first() {
        let record = |kind: &str, id: &str, action: &str, version: u64| WriteRecord {
            kind: kind.into(),
            id: id.into(),
            action: action.into(),
            before: None,
            version,
        };
        let undo = undo_plan(&[
            record("partner", "p", "created", 1),
            record("link", "l", "created", 1),
            record("partner", "p", "updated", 2),
        ]);
        assert_eq!(undo.len(), 2);
        assert_eq!((undo[0].0.kind.as_str(), undo[0].1), ("link", 1), "links first");
        assert_eq!(
            (undo[1].0.action.as_str(), undo[1].1),
            ("created", 2),
            "deleted if still at version 2"
        );
    }
}
