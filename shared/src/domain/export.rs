//! Export rows (contract §9.1): one row per link (newest first) or one empty-link row per
//! partner without links, the 24 keys in the client's CSV order, plus the CSV rendering.

use serde_json::{Map, Value};

use super::benefits::BenefitCatalog;
use super::link::PartnerEventLink;
use super::normalize::{iso_from_millis, slug_label, stored_status, stored_tier};
use super::partner::Partner;
use super::sort::newest_first;

/// The 24 row keys in JSON order, each with its sheet header (§9.2).
pub const COLUMNS: [(&str, &str); 25] = [
    ("partnerId", "Partner ID"),
    ("company", "Company"),
    ("contactName", "Primary Contact"),
    ("email", "Email"),
    ("phone", "Phone"),
    ("contactRole", "Contact Role"),
    ("partnerTier", "Partner Tier"),
    ("linkedIn", "LinkedIn"),
    ("partnerNotes", "Partner Notes"),
    ("tags", "Tags"),
    ("alumniPartner", "Alumni Partner"),
    ("archived", "Archived"),
    ("partnerUpdatedAt", "Partner Updated At"),
    ("linkId", "Link ID"),
    ("status", "Pipeline Status"),
    ("eventId", "Event ID"),
    ("eventYear", "Event Year"),
    ("eventName", "Event"),
    ("packageTier", "Package Tier"),
    ("eventRole", "Involvement Type"),
    ("eventNotes", "Event Notes"),
    ("sponsorshipAmount", "Amount (USD)"),
    ("followUpDate", "Follow-up Date"),
    ("linkUpdatedAt", "Link Updated At"),
    // Beyond the old service's 24, after them so a client's columns keep their places.
    ("benefitsOutstanding", "Benefits Outstanding"),
];

fn yes_no(flag: bool) -> Value {
    Value::String(if flag { "Yes" } else { "No" }.into())
}

fn iso_or_empty(millis: i64) -> Value {
    Value::String(if millis == 0 {
        String::new()
    } else {
        iso_from_millis(millis)
    })
}

fn link_touched(link: &PartnerEventLink) -> i64 {
    if link.updated_at != 0 {
        link.updated_at
    } else {
        link.created_at
    }
}

/// The rows of one partner, given its links in any order.
pub fn partner_rows(
    partner: &Partner,
    links: &[PartnerEventLink],
    benefits: &BenefitCatalog,
) -> Vec<Map<String, Value>> {
    let mut sorted: Vec<&PartnerEventLink> = links.iter().collect();
    sorted.sort_by(|a, b| newest_first(link_touched(a), link_touched(b)));
    let partner_part = |row: &mut Map<String, Value>| {
        let text = |v: &str| Value::String(v.to_string());
        row.insert("partnerId".into(), text(&partner.id));
        row.insert("company".into(), text(&partner.company));
        row.insert("contactName".into(), text(&partner.contact_name));
        row.insert("email".into(), text(&partner.email));
        row.insert("phone".into(), text(&partner.phone));
        row.insert("contactRole".into(), text(&partner.contact_role));
        row.insert(
            "partnerTier".into(),
            text(&slug_label(&stored_tier(Some(&partner.tier)))),
        );
        row.insert("linkedIn".into(), text(&partner.linkedin));
        row.insert("partnerNotes".into(), text(&partner.notes));
        row.insert("tags".into(), text(&partner.tags.join(", ")));
        row.insert("alumniPartner".into(), yes_no(partner.is_alumni));
        row.insert("archived".into(), yes_no(partner.archived));
        row.insert("partnerUpdatedAt".into(), iso_or_empty(partner.updated_at));
    };
    if sorted.is_empty() {
        let mut row = Map::new();
        partner_part(&mut row);
        for (key, _) in &COLUMNS[13..] {
            row.insert(key.to_string(), Value::String(String::new()));
        }
        return vec![row];
    }
    sorted
        .into_iter()
        .map(|link| {
            let mut row = Map::new();
            partner_part(&mut row);
            let text = |v: &str| Value::String(v.to_string());
            row.insert("linkId".into(), text(&link.id));
            row.insert("status".into(), text(&slug_label(&stored_status(Some(&link.status)))));
            row.insert("eventId".into(), text(&link.event_id));
            row.insert("eventYear".into(), Value::from(link.event_year));
            row.insert("eventName".into(), text(&link.event_name));
            row.insert(
                "packageTier".into(),
                text(&slug_label(&stored_tier(Some(&link.package_tier)))),
            );
            row.insert("eventRole".into(), text(&link.role));
            row.insert("eventNotes".into(), text(&link.notes));
            let amount = link
                .amount
                .filter(|a| a.is_finite())
                .map(|a| a.to_string())
                .unwrap_or_default();
            row.insert("sponsorshipAmount".into(), Value::String(amount));
            row.insert(
                "followUpDate".into(),
                text(link.follow_up_date.as_deref().unwrap_or("")),
            );
            row.insert("linkUpdatedAt".into(), iso_or_empty(link_touched(link)));
            let owed = benefits.outstanding(&link.event_id, &link.package_tier, &link.status, &link.fulfilment);
            row.insert("benefitsOutstanding".into(), Value::from(owed.len()));
            row
        })
        .collect()
}

/// The rows as CSV (RFC 4180 quoting), headed by the sheet's column labels.
pub fn to_csv(rows: &[Map<String, Value>]) -> Result<String, csv::Error> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    writer.write_record(COLUMNS.iter().map(|(_, header)| *header))?;
    for row in rows {
        writer.write_record(COLUMNS.iter().map(|(key, _)| match row.get(*key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        }))?;
    }
    let bytes = writer.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partner() -> Partner {
        Partner {
            id: "p1".into(),
            company: "Acme, \"Inc\"".into(),
            tier: "gold_plus".into(),
            tags: vec!["AI".into(), "alumni-partner".into()],
            is_alumni: true,
            notes: "line 1\nline 2".into(),
            updated_at: 1_700_000_000_000,
            ..Default::default()
        }
    }

    #[test]
    fn rows_keep_the_client_key_order_and_formats() {
        let links = vec![
            PartnerEventLink {
                id: "old".into(),
                status: "in_conversation".into(),
                event_year: 2025,
                updated_at: 1,
                ..Default::default()
            },
            PartnerEventLink {
                id: "new".into(),
                status: "paid".into(),
                package_tier: "gold".into(),
                amount: Some(1500.0),
                event_year: 2026,
                follow_up_date: Some("2026-01-05".into()),
                updated_at: 2,
                ..Default::default()
            },
        ];
        let rows = partner_rows(&partner(), &links, &BenefitCatalog::default());
        assert_eq!(rows.len(), 2);
        let keys: Vec<&str> = rows[0].keys().map(String::as_str).collect();
        assert_eq!(keys, COLUMNS.iter().map(|(k, _)| *k).collect::<Vec<_>>());
        assert_eq!(rows[0]["linkId"], "new", "newest first");
        assert_eq!(rows[0]["status"], "Paid");
        assert_eq!(rows[0]["packageTier"], "Gold");
        assert_eq!(rows[0]["partnerTier"], "Gold Plus");
        assert_eq!(rows[0]["sponsorshipAmount"], "1500");
        assert_eq!(rows[0]["eventYear"], 2026);
        assert_eq!(rows[0]["tags"], "AI, alumni-partner");
        assert_eq!(rows[0]["alumniPartner"], "Yes");
        assert_eq!(rows[0]["archived"], "No");
        assert_eq!(rows[0]["partnerUpdatedAt"], "2023-11-14T22:13:20.000Z");
        assert_eq!(rows[1]["status"], "In Conversation");
        assert_eq!(rows[1]["sponsorshipAmount"], "");
        assert_eq!(rows[1]["followUpDate"], "");
    }

    #[test]
    fn partners_without_links_get_one_empty_row() {
        let rows = partner_rows(&partner(), &[], &BenefitCatalog::default());
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].len(), 25);
        assert_eq!(rows[0]["eventYear"], "");
        assert_eq!(rows[0]["linkId"], "");
    }

    #[test]
    fn csv_quotes_by_rfc_4180() {
        let csv = to_csv(&partner_rows(&partner(), &[], &BenefitCatalog::default())).unwrap();
        let mut lines = csv.split("\r\n");
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with("Partner ID,Company,Primary Contact,Email")
        );
        assert!(csv.contains("\"Acme, \"\"Inc\"\"\""), "{csv}");
        assert!(csv.contains("\"line 1\nline 2\""));
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let record = reader.records().next().unwrap().unwrap();
        assert_eq!(&record[1], "Acme, \"Inc\"");
        assert_eq!(record.len(), 25);
    }
}
