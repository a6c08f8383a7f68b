//! The push's presentation (§9.4) as `batchUpdate` requests: it replaces what an earlier push
//! left (conditional formats, banding), freezes the header and two columns, colours and sizes
//! the columns, formats amounts and dates, colours statuses and due dates, and hides the ids.
//! It runs on any tab, the spreadsheet's first one (sheetId 0) included (§14.16).

use serde_json::{Value, json};
use shared::domain::sheets::{SHEET_COLUMNS, column};

use crate::google::Tab;

fn rgb(hex: u32) -> Value {
    let channel = |shift: u32| f64::from((hex >> shift) & 0xff) / 255.0;
    json!({"red": channel(16), "green": channel(8), "blue": channel(0)})
}

fn columns_range(sheet: i64, from: usize, to: usize, rows: Option<(usize, usize)>) -> Value {
    let mut range = json!({"sheetId": sheet, "startColumnIndex": from, "endColumnIndex": to});
    if let Some((start, end)) = rows {
        range["startRowIndex"] = json!(start);
        range["endRowIndex"] = json!(end);
    }
    range
}

/// The canonical status labels and their chip colours.
const STATUS_COLOURS: [(&str, u32); 10] = [
    ("Prospecting", 0xE8EAED),
    ("Pitched", 0xD2E3FC),
    ("Reached Out", 0xCFE2F3),
    ("Shortlist", 0xFFF2CC),
    ("Paid", 0xB7E1CD),
    ("Confirmed", 0xD9EAD3),
    ("Declined", 0xF4CCCC),
    ("Backed Out", 0xEAD1DC),
    ("In Conversation", 0xFCE5CD),
    ("Followed Up", 0xD0E0E3),
];

/// The requests that present a tab of `row_count` rows (header included).
pub fn requests(tab: &Tab, row_count: usize) -> Vec<Value> {
    let sheet = tab.sheet_id;
    let body = Some((1, row_count.max(2)));
    let mut requests = Vec::new();
    // What an earlier push left: conditional formats go from the last, bandings by id.
    for index in (0..tab.conditional_formats).rev() {
        requests.push(json!({"deleteConditionalFormatRule": {"sheetId": sheet, "index": index}}));
    }
    for id in &tab.banding_ids {
        requests.push(json!({"deleteBanding": {"bandedRangeId": id}}));
    }
    requests.push(json!({"updateSheetProperties": {
        "properties": {"sheetId": sheet, "gridProperties": {"frozenRowCount": 1, "frozenColumnCount": 2}},
        "fields": "gridProperties.frozenRowCount,gridProperties.frozenColumnCount"}}));
    for (from, to, colour) in [(0, 9, 0xCCE1FF), (9, 16, 0xD6F0E1), (16, SHEET_COLUMNS.len(), 0xE6E0F7)] {
        requests.push(json!({"repeatCell": {
            "range": columns_range(sheet, from, to, Some((0, 1))),
            "cell": {"userEnteredFormat": {"backgroundColor": rgb(colour), "horizontalAlignment": "CENTER",
                "verticalAlignment": "MIDDLE", "wrapStrategy": "WRAP",
                "textFormat": {"bold": true, "foregroundColor": rgb(0x1F1F1F)}}},
            "fields": "userEnteredFormat(backgroundColor,horizontalAlignment,verticalAlignment,wrapStrategy,textFormat)"}}));
    }
    requests.push(json!({"repeatCell": {
        "range": columns_range(sheet, 0, SHEET_COLUMNS.len(), body),
        "cell": {"userEnteredFormat": {"verticalAlignment": "MIDDLE", "wrapStrategy": "CLIP"}},
        "fields": "userEnteredFormat(verticalAlignment,wrapStrategy)"}}));
    requests.push(json!({"repeatCell": {
        "range": columns_range(sheet, column("eventNotes"), column("linkedIn") + 1, body),
        "cell": {"userEnteredFormat": {"wrapStrategy": "WRAP"}},
        "fields": "userEnteredFormat.wrapStrategy"}}));
    for key in ["eventYear", "status", "alumniPartner", "archived"] {
        requests.push(json!({"repeatCell": {
            "range": columns_range(sheet, column(key), column(key) + 1, body),
            "cell": {"userEnteredFormat": {"horizontalAlignment": "CENTER"}},
            "fields": "userEnteredFormat.horizontalAlignment"}}));
    }
    for (key, pattern, kind, align) in [
        ("sponsorshipAmount", "$#,##0.00", "CURRENCY", "RIGHT"),
        ("followUpDate", "yyyy-mm-dd", "DATE", "CENTER"),
        ("partnerUpdatedAt", "yyyy-mm-dd hh:mm", "DATE_TIME", "CENTER"),
        ("linkUpdatedAt", "yyyy-mm-dd hh:mm", "DATE_TIME", "CENTER"),
    ] {
        requests.push(json!({"repeatCell": {
            "range": columns_range(sheet, column(key), column(key) + 1, body),
            "cell": {"userEnteredFormat": {"numberFormat": {"type": kind, "pattern": pattern}, "horizontalAlignment": align}},
            "fields": "userEnteredFormat(numberFormat,horizontalAlignment)"}}));
    }
    for (index, (_, _, width)) in SHEET_COLUMNS.iter().enumerate() {
        requests.push(json!({"updateDimensionProperties": {
            "range": {"sheetId": sheet, "dimension": "COLUMNS", "startIndex": index, "endIndex": index + 1},
            "properties": {"pixelSize": width, "hiddenByUser": false}, "fields": "pixelSize,hiddenByUser"}}));
    }
    for (start, end, height) in [(0, 1, 40), (1, row_count.max(2), 32)] {
        requests.push(json!({"updateDimensionProperties": {
            "range": {"sheetId": sheet, "dimension": "ROWS", "startIndex": start, "endIndex": end},
            "properties": {"pixelSize": height}, "fields": "pixelSize"}}));
    }
    requests.push(json!({"addBanding": {"bandedRange": {
        "range": columns_range(sheet, 0, SHEET_COLUMNS.len(), Some((0, row_count.max(2)))),
        "rowProperties": {"headerColor": rgb(0xCCE1FF), "firstBandColor": rgb(0xFFFFFF), "secondBandColor": rgb(0xF3F8FF)}}}}));
    requests.push(json!({"setBasicFilter": {"filter": {"range": columns_range(sheet, 0, SHEET_COLUMNS.len(), Some((0, row_count.max(2))))}}}));
    let status = columns_range(sheet, column("status"), column("status") + 1, body);
    let mut rule_index = 0;
    let mut rule = |condition: Value, colour: u32, range: &Value| {
        let request = json!({"addConditionalFormatRule": {"index": rule_index, "rule": {
            "ranges": [range], "booleanRule": {"condition": condition, "format": {"backgroundColor": rgb(colour)}}}}});
        rule_index += 1;
        request
    };
    for (label, colour) in STATUS_COLOURS {
        requests.push(rule(
            json!({"type": "TEXT_EQ", "values": [{"userEnteredValue": label}]}),
            colour,
            &status,
        ));
    }
    requests.push(rule(json!({"type": "NOT_BLANK"}), 0xEEEEEE, &status));
    let due = columns_range(sheet, column("followUpDate"), column("followUpDate") + 1, body);
    let letter = (b'A' + column("followUpDate") as u8) as char;
    requests.push(rule(
        json!({"type": "CUSTOM_FORMULA", "values": [{"userEnteredValue": format!("=AND({letter}2<>\"\",{letter}2<TODAY())")}]}),
        0xF4CCCC,
        &due,
    ));
    requests.push(rule(
        json!({"type": "CUSTOM_FORMULA", "values": [{"userEnteredValue": format!("=AND({letter}2<>\"\",{letter}2>=TODAY(),{letter}2<=TODAY()+7)")}]}),
        0xFFE599,
        &due,
    ));
    for key in ["partnerId", "eventId", "linkId", "partnerUpdatedAt", "linkUpdatedAt"] {
        requests.push(json!({"updateDimensionProperties": {
            "range": {"sheetId": sheet, "dimension": "COLUMNS", "startIndex": column(key), "endIndex": column(key) + 1},
            "properties": {"hiddenByUser": true}, "fields": "hiddenByUser"}}));
    }
    requests
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_tab_is_presented_too_and_old_rules_go_first() {
        let tab = Tab {
            sheet_id: 0,
            conditional_formats: 2,
            banding_ids: vec![7],
        };
        let r = requests(&tab, 10);
        assert_eq!(r[0], json!({"deleteConditionalFormatRule": {"sheetId": 0, "index": 1}}));
        assert_eq!(r[2], json!({"deleteBanding": {"bandedRangeId": 7}}));
        assert!(
            r.iter()
                .any(|q| q["updateSheetProperties"]["properties"]["gridProperties"]["frozenColumnCount"] == 2)
        );
        let hidden: Vec<_> = r
            .iter()
            .filter(|q| q["updateDimensionProperties"]["properties"]["hiddenByUser"] == true)
            .collect();
        assert_eq!(hidden.len(), 5);
    }
}
