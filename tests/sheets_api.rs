//! Google Sheets (contract §9, issue 14) against DynamoDB Local and a local fake of Google's
//! token endpoint and Sheets v4 API.

use integration_tests::TestApi;
use integration_tests::google_fake::FakeGoogle;
use serde_json::{Value, json};

const TAB: &str = "PartnershipsCRM";

async fn sync(api: &TestApi, body: Value) -> integration_tests::Reply {
    api.call("POST", "/partnerships/google-sheets/sync", Some(body)).await
}

#[tokio::test]
async fn an_unconfigured_stage_says_why_and_checks_the_mode_first() {
    let api = TestApi::new().await;
    let status = api.call("GET", "/partnerships/google-sheets/status", None).await;
    assert_eq!(status.status, 200);
    assert_eq!(status.body["configured"], false);
    assert_eq!(status.body["message"], "Google Sheets sync is not configured.");
    assert_eq!(status.body["diagnostics"]["spreadsheetIdPresent"], false);
    assert_eq!(status.body["sheetName"], TAB);
    let bad = sync(&api, json!({"mode": "sideways"})).await;
    assert_eq!(
        bad.message(),
        "Invalid sync mode. Use one of: push, pull, merge.",
        "the mode first"
    );
    let push = sync(&api, json!({})).await;
    assert!(push.message().starts_with("Google Sheets sync is not configured."));
}

#[tokio::test]
async fn push_writes_the_header_rows_and_presentation_even_on_the_first_tab() {
    let google = FakeGoogle::start("sheet-1", &[(TAB, 0)]).await;
    let api = TestApi::with_sheets(google.settings(TAB, false)).await;
    let partner = api
        .create_partner_id(json!({"company": "Acme", "email": "jo@acme.com", "tags": ["ai", "fintech"]}))
        .await;
    let event = api
        .create_id("/partnerships/events", "event", json!({"name": "Summit", "year": 2026}))
        .await;
    api.call(
        "POST",
        &format!("/partnerships/partners/{partner}/events"),
        Some(json!({"eventId": event, "status": "pitched", "amount": 5000})),
    )
    .await;
    let status = api.call("GET", "/partnerships/google-sheets/status", None).await;
    assert_eq!(
        (status.body["configured"].clone(), status.body["accessible"].clone()),
        (json!(true), json!(true))
    );
    let reply = sync(&api, json!({"mode": "push"})).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["push"]["syncedRows"], 1);
    let grid = google.grid(TAB);
    assert_eq!(grid[0][0], "Company");
    assert_eq!(grid[0].len(), 24);
    assert_eq!(grid[1][0], "Acme");
    assert_eq!(grid[1][5], "ai, fintech");
    assert_eq!(grid[1][11], "Pitched");
    assert_eq!(grid[1][14], "5000");
    let tab = google.state.lock().unwrap().tabs[0].clone();
    assert_eq!(tab.frozen_columns, 2, "presentation on sheetId 0 (§14.16)");
    assert_eq!(tab.bandings.len(), 1);
    // A second push replaces the presentation instead of stacking it.
    assert_eq!(sync(&api, json!({})).await.status, 200);
    let again = google.state.lock().unwrap().tabs[0].clone();
    assert_eq!(
        (again.bandings.len(), again.conditional_formats),
        (1, tab.conditional_formats)
    );
    let stored = api.call("GET", "/partnerships/google-sheets/status", None).await;
    assert_eq!(stored.body["lastSyncStatus"], "success");
    assert_eq!(stored.body["lastSyncSummary"], json!({"syncedRows": 1}));
}

#[tokio::test]
async fn push_makes_a_missing_tab_and_rides_out_429s() {
    let google = FakeGoogle::start("sheet-2", &[("Other", 0)]).await;
    let api = TestApi::with_sheets(google.settings(TAB, false)).await;
    api.create_partner_id(json!({"company": "Acme"})).await;
    google.state.lock().unwrap().fail_next.extend([429, 503]);
    let reply = sync(&api, json!({"mode": "push"})).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(google.grid(TAB)[1][0], "Acme");
}

#[tokio::test]
async fn a_failing_push_is_recorded_and_answered_with_googles_message() {
    let google = FakeGoogle::start("sheet-3", &[(TAB, 0)]).await;
    let api = TestApi::with_sheets(google.settings(TAB, false)).await;
    google.state.lock().unwrap().fail_next.extend([429, 429, 429, 429, 429]);
    let reply = sync(&api, json!({})).await;
    assert_eq!(reply.status, 502);
    assert!(reply.message().contains("429"), "{}", reply.message());
    let status = api.call("GET", "/partnerships/google-sheets/status", None).await;
    assert_eq!(status.body["lastSyncStatus"], "error");
    assert!(
        status.body["lastSyncError"]
            .as_str()
            .unwrap()
            .contains("Quota exceeded")
    );
}

#[tokio::test]
async fn pull_never_loses_data() {
    let google = FakeGoogle::start("sheet-4", &[(TAB, 7)]).await;
    let api = TestApi::with_sheets(google.settings(TAB, false)).await;
    let acme = api
        .create_partner_id(
            json!({"company": "Acme", "email": "jo@acme.com", "phone": "555", "notes": "keep me", "archived": false}),
        )
        .await;
    let event = api
        .create_id("/partnerships/events", "event", json!({"name": "Summit", "year": 2026}))
        .await;
    let before = api
        .call("GET", &format!("/partnerships/partners/{acme}"), None)
        .await
        .body["partner"]
        .clone();
    google.set_grid(
        TAB,
        &[
            // No Archived or Alumni column: nothing is un-archived.
            &[
                "Company",
                "Email",
                "Phone",
                "Partner Notes",
                "Partner ID",
                "Event ID",
                "Event Year",
                "Pipeline Status",
                "Amount (USD)",
                "Link ID",
                "Event",
            ],
            // Blank phone and notes: unchanged. A status and amount for the Summit link.
            &[
                "Acme",
                "jo@acme.com",
                "",
                "",
                acme.as_str(),
                event.as_str(),
                "2026",
                "Confirmed",
                "$7,500",
                "custom-link-id",
                "",
            ],
            // A new partner, no event.
            &["Beta", "b@beta.io", "", "", "", "", "", "", "", "", ""],
            // Refused: a bad email, a negative amount, an unknown event.
            &["Gamma", "not-an-email", "", "", "", "", "", "", "", "", ""],
            &[
                "Delta",
                "d@delta.io",
                "",
                "",
                "",
                event.as_str(),
                "2026",
                "pitched",
                "-5",
                "",
                "",
            ],
            &[
                "Epsilon",
                "e@eps.io",
                "",
                "",
                "",
                "",
                "2026",
                "pitched",
                "",
                "",
                "Nowhere Fest",
            ],
        ],
    );
    let reply = sync(&api, json!({"mode": "pull"})).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let pull = &reply.body["pull"];
    let rejected: Vec<u64> = pull["rejectedRows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["row"].as_u64().unwrap())
        .collect();
    assert_eq!(rejected, [4, 5, 6], "{pull}");
    assert_eq!(pull["partnersCreated"], 1, "Beta only: refused rows write nothing");
    assert_eq!(
        pull["linksCreated"], 1,
        "one link for the pair, whatever the Link ID cell says"
    );
    assert_eq!(pull["processedRows"], 2);
    let after = api.call("GET", &format!("/partnerships/partners/{acme}"), None).await;
    assert_eq!(after.body["partner"]["phone"], "555", "a blank cell changes nothing");
    assert_eq!(after.body["partner"]["notes"], "keep me");
    assert_eq!(
        after.body["partner"]["updatedAt"], before["updatedAt"],
        "an unchanged partner is not rewritten"
    );
    let link = &after.body["links"][0];
    assert_eq!(link["id"], format!("{acme}::{event}"));
    assert_eq!(link["status"], "confirmed");
    assert_eq!(link["amount"], 7500.0);
    let directory = api.call("GET", "/partnerships/partners", None).await;
    let companies: Vec<&str> = directory.body["partners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["company"].as_str().unwrap())
        .collect();
    assert!(!companies.contains(&"Gamma") && !companies.contains(&"Delta") && !companies.contains(&"Epsilon"));
    let events = api.call("GET", "/partnerships/events", None).await;
    assert_eq!(
        events.body["events"].as_array().unwrap().len(),
        1,
        "an unknown event is reported, not created"
    );

    let create = sync(&api, json!({"mode": "pull", "createMissingEvents": true})).await;
    assert!(
        create.body["pull"]["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("created partnerships event Nowhere Fest"))
    );
}

#[tokio::test]
async fn merge_pulls_then_pushes() {
    let google = FakeGoogle::start("sheet-5", &[(TAB, 3)]).await;
    let api = TestApi::with_sheets(google.settings(TAB, false)).await;
    google.set_grid(TAB, &[&["Company", "Email"], &["Sheet Co", "s@sheet.co"]]);
    let reply = sync(&api, json!({"mode": "merge"})).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["pull"]["partnersCreated"], 1);
    assert_eq!(reply.body["push"]["syncedRows"], 1);
    assert_eq!(google.grid(TAB)[1][0], "Sheet Co");
    let status = api.call("GET", "/partnerships/google-sheets/status", None).await;
    assert_eq!(
        status.body["lastSyncSummary"],
        json!({"pullProcessedRows": 1, "pushSyncedRows": 1})
    );
}

#[tokio::test]
async fn auto_sync_is_debounced_off_the_request_path_one_push_at_a_time() {
    let google = FakeGoogle::start("sheet-6", &[(TAB, 0)]).await;
    let api = TestApi::with_sheets(google.settings(TAB, true)).await;
    let services = api.functions.sheets("sheets-sync").unwrap();
    let change = json!({"detail-type": "partnerships.partner.created", "source": "partnerships", "detail": {}});
    // A write answers without touching Google.
    api.create_partner_id(json!({"company": "Acme"})).await;
    assert_eq!(google.state.lock().unwrap().calls, 0);
    // A burst of changes marks one push due.
    let now = chrono::Utc::now().timestamp_millis();
    assert_eq!(
        sheets::autosync::handle(&change, services).await.unwrap()["marked"],
        true
    );
    assert_eq!(
        sheets::autosync::handle(&change, services).await.unwrap()["marked"],
        false
    );
    assert_eq!(
        sheets::autosync::push_if_due(services, now).await.unwrap()["pushed"],
        false,
        "not before a minute"
    );
    // Two schedule ticks at once: one pushes, the other finds the lease or nothing due.
    let later = now + 61_000;
    let (a, b) = tokio::join!(
        sheets::autosync::push_if_due(services, later),
        sheets::autosync::push_if_due(services, later)
    );
    let pushed = [a.unwrap()["pushed"] == true, b.unwrap()["pushed"] == true];
    assert_eq!(pushed.iter().filter(|p| **p).count(), 1, "{pushed:?}");
    assert_eq!(google.grid(TAB)[1][0], "Acme");
    assert_eq!(
        sheets::autosync::push_if_due(services, later).await.unwrap()["pushed"],
        false,
        "nothing due now"
    );
}
