//! Google Sheets (contract §9, issue 14): the 24 columns, the pushed grid, and what a pulled row
//! asks for — validated whole before anything is written, blank cells and missing columns
//! changing nothing (§14.16). Pure: the sheets function talks to Google and the store.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use crate::domain::event::PartnershipEvent;
use crate::domain::normalize::slugify;

/// The sheet's columns A–X: export key, header, width in pixels (§9.2).
pub const SHEET_COLUMNS: [(&str, &str, u32); 24] = [
    ("company", "Company", 220),
    ("contactName", "Primary Contact", 190),
    ("contactRole", "Contact Role", 160),
    ("email", "Email", 220),
    ("phone", "Phone", 130),
    ("tags", "Tags", 180),
    ("alumniPartner", "Alumni Partner", 120),
    ("archived", "Archived", 100),
    ("partnerTier", "Partner Tier", 130),
    ("eventName", "Event", 220),
    ("eventYear", "Event Year", 90),
    ("status", "Pipeline Status", 170),
    ("eventRole", "Involvement Type", 180),
    ("packageTier", "Package Tier", 130),
    ("sponsorshipAmount", "Amount (USD)", 120),
    ("followUpDate", "Follow-up Date", 120),
    ("eventNotes", "Event Notes", 280),
    ("partnerNotes", "Partner Notes", 300),
    ("linkedIn", "LinkedIn", 240),
    ("partnerId", "Partner ID", 240),
    ("eventId", "Event ID", 180),
    ("linkId", "Link ID", 260),
    ("partnerUpdatedAt", "Partner Updated At", 190),
    ("linkUpdatedAt", "Link Updated At", 190),
];

/// The column index of `key`.
pub fn column(key: &str) -> usize {
    SHEET_COLUMNS.iter().position(|(k, _, _)| *k == key).unwrap_or(0)
}

/// The pushed grid: the header row, then each export row's values in column order.
pub fn sheet_values(rows: &[Map<String, Value>]) -> Vec<Vec<Value>> {
    let mut grid = vec![
        SHEET_COLUMNS
            .iter()
            .map(|(_, header, _)| json!(header))
            .collect::<Vec<_>>(),
    ];
    for row in rows {
        grid.push(
            SHEET_COLUMNS
                .iter()
                .map(|(key, _, _)| row.get(*key).cloned().unwrap_or_else(|| json!("")))
                .collect(),
        );
    }
    grid
}

/// The canonical key a pulled header names: a key or a header of §9.2 (case-insensitive), or
/// one of the aliases (`Sponsorship Tier` included, §14.16).
pub fn header_key(header: &str) -> Option<&'static str> {
    let wanted = header.trim().to_lowercase();
    let squashed: String = wanted.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    for (key, label, _) in SHEET_COLUMNS {
        if wanted == key.to_lowercase() || wanted == label.to_lowercase() {
            return Some(key);
        }
    }
    match squashed.as_str() {
        "sponsorshiptier" | "tier" => Some("packageTier"),
        "involvementtype" | "role" => Some("eventRole"),
        "amount" | "amountusd" => Some("sponsorshipAmount"),
        "partnertags" => Some("tags"),
        _ => None,
    }
}

/// A pulled data row: its sheet row number and its non-blank cells by key (a blank cell or a
/// missing column is simply absent: it changes nothing).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SheetRow {
    pub number: usize,
    pub cells: HashMap<&'static str, String>,
}

impl SheetRow {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.cells.get(key).map(String::as_str)
    }
}

/// The data rows of a pulled grid (row 1 holds the headers).
pub fn sheet_rows(grid: &[Vec<String>]) -> Vec<SheetRow> {
    let Some(headers) = grid.first() else {
        return Vec::new();
    };
    let keys: Vec<Option<&'static str>> = headers.iter().map(|h| header_key(h)).collect();
    grid.iter()
        .enumerate()
        .skip(1)
        .map(|(i, cells)| SheetRow {
            number: i + 1,
            cells: keys
                .iter()
                .zip(cells)
                .filter_map(|(key, cell)| Some(((*key)?, cell.trim().to_string())))
                .filter(|(_, cell)| !cell.is_empty())
                .collect(),
        })
        .filter(|row| !row.cells.is_empty())
        .collect()
}

/// A pulled row refused, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedRow {
    pub row: usize,
    pub reason: String,
}

impl RejectedRow {
    pub fn to_wire(&self) -> Value {
        json!({"row": self.row, "reason": self.reason})
    }
}

fn yes_no(raw: &str) -> Option<bool> {
    match raw.trim().to_lowercase().as_str() {
        "yes" | "y" | "true" | "1" => Some(true),
        "no" | "n" | "false" | "0" => Some(false),
        _ => None,
    }
}

/// The partner fields a row sets, as a PATCH body the partner rules validate: only its
/// non-blank cells.
pub fn partner_body(row: &SheetRow) -> Result<Map<String, Value>, String> {
    let mut body = Map::new();
    for (cell, field) in [
        ("company", "company"),
        ("contactName", "contactName"),
        ("email", "email"),
        ("phone", "phone"),
        ("contactRole", "contactRole"),
        ("partnerTier", "tier"),
        ("linkedIn", "linkedin"),
        ("partnerNotes", "notes"),
    ] {
        if let Some(value) = row.get(cell) {
            body.insert(field.into(), json!(value));
        }
    }
    if let Some(tags) = row.get("tags") {
        let list: Vec<&str> = tags.split(',').map(str::trim).filter(|t| !t.is_empty()).collect();
        body.insert("tags".into(), json!(list));
    }
    for (cell, field) in [("alumniPartner", "isAlumni"), ("archived", "archived")] {
        if let Some(raw) = row.get(cell) {
            let flag = yes_no(raw).ok_or_else(|| format!("'{cell}' must be Yes or No (got '{raw}')."))?;
            body.insert(field.into(), json!(flag));
        }
    }
    Ok(body)
}

/// The link fields a row sets, as a body the link rules validate (amounts lose `$` and `,`; a
/// negative or unreadable amount is refused, never silently dropped).
pub fn link_body(row: &SheetRow) -> Result<Map<String, Value>, String> {
    let mut body = Map::new();
    for (cell, field) in [
        ("status", "status"),
        ("packageTier", "packageTier"),
        ("eventRole", "role"),
        ("eventNotes", "notes"),
        ("followUpDate", "followUpDate"),
    ] {
        if let Some(value) = row.get(cell) {
            let value = if field == "followUpDate" {
                value.chars().take(10).collect::<String>()
            } else {
                value.to_string()
            };
            body.insert(field.into(), json!(value));
        }
    }
    if let Some(raw) = row.get("sponsorshipAmount") {
        let cleaned: String = raw
            .chars()
            .filter(|c| *c != '$' && *c != ',' && !c.is_whitespace())
            .collect();
        let amount: f64 = cleaned
            .parse()
            .map_err(|_| format!("'Amount (USD)' is not a number (got '{raw}')."))?;
        body.insert("amount".into(), json!(amount));
    }
    Ok(body)
}

/// Whether the row names an event (by id, or by name and year).
pub fn names_event(row: &SheetRow) -> bool {
    row.get("eventId").is_some() || row.get("eventName").is_some()
}

/// The event year a row names: 2000–2100.
pub fn event_year(row: &SheetRow) -> Result<Option<i32>, String> {
    match row.get("eventYear") {
        None => Ok(None),
        Some(raw) => match raw.trim().parse::<i32>() {
            Ok(y) if (2000..=2100).contains(&y) => Ok(Some(y)),
            _ => Err(format!("'Event Year' must be a year from 2000 to 2100 (got '{raw}').")),
        },
    }
}

/// The key that finds an existing partner by its details when the row has no Partner ID.
pub fn partner_match_key(company: &str, email: &str, contact: &str) -> String {
    format!(
        "{}|{}|{}",
        company.trim().to_lowercase(),
        email.trim().to_lowercase(),
        contact.trim().to_lowercase()
    )
}

/// The event a row names: by its `Event ID`, else by `Event` and `year`.
pub fn named_event<'a>(
    row: &SheetRow,
    year: Option<i32>,
    events: &'a [PartnershipEvent],
) -> Option<&'a PartnershipEvent> {
    match row.get("eventId") {
        Some(id) => events.iter().find(|e| e.id == id),
        None => row.get("eventName").zip(year).and_then(|(name, year)| {
            let key = event_match_key(name, year);
            events.iter().find(|e| event_match_key(&e.name, e.year) == key)
        }),
    }
}

/// The key that finds an event by name and year.
pub fn event_match_key(name: &str, year: i32) -> String {
    format!("{}#{year}", slugify(name, 200, 200))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(rows: &[&[&str]]) -> Vec<Vec<String>> {
        rows.iter().map(|r| r.iter().map(|c| c.to_string()).collect()).collect()
    }

    #[test]
    fn headers_map_keys_labels_and_aliases() {
        assert_eq!(header_key(" Primary Contact "), Some("contactName"));
        assert_eq!(header_key("sponsorshipAmount"), Some("sponsorshipAmount"));
        assert_eq!(header_key("Sponsorship Tier"), Some("packageTier"));
        assert_eq!(header_key("Amount USD"), Some("sponsorshipAmount"));
        assert_eq!(header_key("Whatever"), None);
    }

    #[test]
    fn blank_cells_and_missing_columns_are_absent() {
        let rows = sheet_rows(&grid(&[
            &["Company", "Email", "Notes?"],
            &["Acme", "", "x"],
            &["", "", ""],
        ]));
        assert_eq!(rows.len(), 1, "an empty row is no row");
        assert_eq!(rows[0].number, 2);
        assert_eq!(rows[0].get("company"), Some("Acme"));
        assert_eq!(rows[0].get("email"), None, "blank: unchanged");
        let body = partner_body(&rows[0]).unwrap();
        assert!(
            !body.contains_key("archived") && !body.contains_key("isAlumni"),
            "a missing column changes nothing"
        );
    }

    #[test]
    fn flags_and_amounts_are_checked() {
        let mut row = SheetRow::default();
        row.cells.insert("archived", "maybe".into());
        assert!(partner_body(&row).is_err());
        row.cells.insert("archived", "Yes".into());
        assert_eq!(partner_body(&row).unwrap()["archived"], true);
        let mut link = SheetRow::default();
        link.cells.insert("sponsorshipAmount", "$12,500.50".into());
        assert_eq!(link_body(&link).unwrap()["amount"], 12500.5);
        link.cells.insert("sponsorshipAmount", "lots".into());
        assert!(link_body(&link).is_err());
    }

    #[test]
    fn the_grid_has_the_header_and_the_columns_in_order() {
        let mut row = Map::new();
        row.insert("company".into(), json!("Acme"));
        row.insert("linkUpdatedAt".into(), json!("2026-01-01T00:00:00.000Z"));
        let g = sheet_values(&[row]);
        assert_eq!(g[0][0], "Company");
        assert_eq!(g[0][23], "Link Updated At");
        assert_eq!(g[1][0], "Acme");
        assert_eq!(g[1][23], "2026-01-01T00:00:00.000Z");
        assert_eq!(g[1][1], "");
    }
}
