//! Documents and communications (contract §5.13–§5.17) against DynamoDB Local.

use futures::StreamExt;
use integration_tests::TestApi;
use serde_json::{Value, json};

async fn partner(api: &TestApi, company: &str) -> String {
    api.create_partner(json!({"company": company})).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn event(api: &TestApi, name: &str, year: i64) -> String {
    let reply = api
        .call(
            "POST",
            "/partnerships/events",
            Some(json!({"name": name, "year": year})),
        )
        .await;
    reply.body["event"]["id"].as_str().unwrap().to_string()
}

async fn reference_count(api: &TestApi, event_id: &str) -> i64 {
    api.ctx
        .store
        .get_event(event_id)
        .await
        .unwrap()
        .unwrap()
        .reference_count
}

#[tokio::test]
async fn documents_follow_the_contract() {
    let api = TestApi::new().await;
    let p = partner(&api, "Acme").await;
    let e1 = event(&api, "Blueprint", 2026).await;
    let e2 = event(&api, "Hacks", 2025).await;
    let list_path = format!("/partnerships/partners/{p}/documents");

    let unknown = api
        .call(
            "POST",
            "/partnerships/partners/ghost/documents",
            Some(json!({"title": 5})),
        )
        .await;
    assert_eq!(unknown.status, 404, "the partner's 404 comes before body validation");
    let untitled = api.call("POST", &list_path, Some(json!({"url": "x"}))).await;
    assert_eq!((untitled.status, untitled.message()), (406, "'title' is required."));
    let bad_type = api
        .call("POST", &list_path, Some(json!({"title": "x", "type": "%%"})))
        .await;
    assert_eq!(
        bad_type.message(),
        "'documentType' must include at least one letter or number."
    );
    let no_event = api
        .call("POST", &list_path, Some(json!({"title": "x", "eventId": "nope"})))
        .await;
    assert_eq!(
        (no_event.status, no_event.message()),
        (
            404,
            "partnership event with id 'nope' could not be found. Make sure you have provided the correct id."
        )
    );
    let wrong_year = api
        .call(
            "POST",
            &list_path,
            Some(json!({"title": "x", "eventId": e1, "eventYear": 2025})),
        )
        .await;
    assert_eq!(
        wrong_year.message(),
        "'eventYear' does not match the selected partnerships event year."
    );

    let created = api
        .call("POST", &list_path, Some(json!({"title": " Sponsorship Deck ", "type": "Pitch Deck", "url": "https://x.example/deck", "fileName": "deck.pdf", "eventId": e1})))
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(created.message(), "Document linked successfully.");
    let doc = &created.body["document"];
    assert_eq!(
        (doc["title"].clone(), doc["type"].clone(), doc["status"].clone()),
        (json!("Sponsorship Deck"), json!("pitch_deck"), json!("draft"))
    );
    assert_eq!(
        (
            doc["eventName"].clone(),
            doc["eventYear"].clone(),
            doc["eventIdYear"].clone()
        ),
        (json!("Blueprint"), json!(2026), json!(format!("{e1}#2026")))
    );
    assert_eq!(reference_count(&api, &e1).await, 1);
    let doc_id = doc["id"].as_str().unwrap().to_string();
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    let plain = api
        .call("POST", &list_path, Some(json!({"title": "Contract", "eventId": null})))
        .await;
    assert_eq!(plain.body["document"]["eventId"], Value::Null);

    let listed = api.call("GET", &list_path, None).await;
    let titles: Vec<&str> = listed.body["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["Contract", "Sponsorship Deck"], "newest first");
    assert!(listed.body.get("nextCursor").is_none(), "no paging unless asked");
    assert_eq!(
        api.call("GET", "/partnerships/partners/ghost/documents", None)
            .await
            .status,
        404
    );

    let path = format!("/partnerships/partner-documents/{doc_id}");
    assert_eq!(
        api.call(
            "PATCH",
            "/partnerships/partner-documents/ghost",
            Some(json!({"title": "x"}))
        )
        .await
        .status,
        404
    );
    let empty = api.call("PATCH", &path, Some(json!({"partnerId": "other"}))).await;
    assert_eq!(
        empty.message(),
        "At least one property must be provided.",
        "partnerId cannot be changed"
    );
    let moved = api
        .call("PATCH", &path, Some(json!({"status": "Signed", "eventId": e2})))
        .await;
    assert_eq!(moved.message(), "Document updated successfully.");
    assert_eq!(
        (
            moved.body["document"]["status"].clone(),
            moved.body["document"]["eventYear"].clone()
        ),
        (json!("signed"), json!(2025))
    );
    assert_eq!(
        (reference_count(&api, &e1).await, reference_count(&api, &e2).await),
        (0, 1),
        "the reference moved"
    );
    let cleared = api.call("PATCH", &path, Some(json!({"eventId": ""}))).await;
    assert_eq!(cleared.body["document"]["eventName"], Value::Null);
    assert_eq!(reference_count(&api, &e2).await, 0);
    let stored = api.stored(&api.ctx.config.tables.documents, &doc_id).await.unwrap();
    assert!(stored.get("eventId").is_none(), "no NULL key in the sparse index");
    assert_eq!(stored["version"], 3);
    assert_eq!(stored["updatedBy"], "tester@example.org");

    api.call("PATCH", &path, Some(json!({"eventId": e2}))).await;
    let refused = api.call("DELETE", &format!("/partnerships/events/{e2}"), None).await;
    assert_eq!(refused.status, 406, "an event a document points at cannot be deleted");
    assert_eq!(
        api.call("DELETE", &path, None).await.message(),
        "Document removed successfully."
    );
    assert_eq!(api.call("DELETE", &path, None).await.status, 404);
    assert_eq!(reference_count(&api, &e2).await, 0);
    assert_eq!(
        api.call("DELETE", &format!("/partnerships/events/{e2}"), None)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn communications_follow_the_contract_and_keep_sync_attributes() {
    let api = TestApi::new().await;
    let p = partner(&api, "Acme").await;
    let e1 = event(&api, "Blueprint", 2026).await;
    let list_path = format!("/partnerships/partners/{p}/communications");
    let cases = [
        (json!({"subject": "x"}), "'summary' is required."),
        (
            json!({"summary": "x", "direction": "sideways"}),
            "'direction' must be 'inbound' or 'outbound'.",
        ),
        (
            json!({"summary": "x", "occurredAt": "not a date"}),
            "'occurredAt' must be a valid ISO date/time.",
        ),
        (
            json!({"summary": "x", "followUpDate": "2026-13-01"}),
            "'followUpDate' must be in YYYY-MM-DD format.",
        ),
        (
            json!({"summary": "x", "channel": "!!"}),
            "'channel' must include at least one letter or number.",
        ),
    ];
    for (body, message) in cases {
        let reply = api.call("POST", &list_path, Some(body.clone())).await;
        assert_eq!((reply.status, reply.message()), (406, message), "{body}");
    }
    let logged = api
        .call("POST", &list_path, Some(json!({"summary": "Intro call", "channel": "Phone Call", "direction": "Inbound", "occurredAt": "2026-01-05T10:00:00-08:00", "followUpDate": "2026-01-20", "eventId": e1})))
        .await;
    assert_eq!(
        (logged.status, logged.message()),
        (201, "Communication logged successfully.")
    );
    let comm = &logged.body["communication"];
    assert_eq!(
        (comm["channel"].clone(), comm["direction"].clone()),
        (json!("phone_call"), json!("inbound"))
    );
    assert_eq!(comm["occurredAt"], "2026-01-05T18:00:00.000Z");
    assert_eq!(comm["followUpDone"], false);
    assert!(comm.get("source").is_none(), "manual rows have no source");
    let defaulted = api
        .call("POST", &list_path, Some(json!({"summary": "Note", "occurredAt": null})))
        .await;
    assert_eq!(defaulted.status, 201, "{:?}", defaulted.body);
    assert_eq!(
        (
            defaulted.body["communication"]["channel"].clone(),
            defaulted.body["communication"]["direction"].clone()
        ),
        (json!("email"), json!("outbound"))
    );
    assert!(
        defaulted.body["communication"]["occurredAt"]
            .as_str()
            .unwrap()
            .ends_with('Z'),
        "null on create means now"
    );

    let id = comm["id"].as_str().unwrap();
    let path = format!("/partnerships/partner-communications/{id}");
    let done = api.call("PATCH", &path, Some(json!({"followUpDone": true}))).await;
    assert_eq!(done.message(), "Communication log updated successfully.");
    assert_eq!(
        (
            done.body["communication"]["followUpDone"].clone(),
            done.body["communication"]["followUpDate"].clone()
        ),
        (json!(true), json!("2026-01-20"))
    );
    assert!(done.body["communication"]["followUpDoneAt"].is_string());
    let nulled = api.call("PATCH", &path, Some(json!({"occurredAt": null}))).await;
    assert_eq!(
        nulled.body["communication"]["occurredAt"],
        Value::Null,
        "PATCH null stores null"
    );

    let sync_row = json!({"id": "sync::gmail::x::0123456789abcdef0123", "partnerId": p, "subject": "Re: deck", "summary": "snippet",
        "channel": "email", "direction": "inbound", "occurredAt": "2026-01-02T00:00:00.000Z", "source": "email_sync", "sourceProvider": "gmail",
        "sourceMethod": "gmail_apps_script", "externalMessageId": "m-1", "externalThreadId": "t-1", "actorEmail": "exec@example.org",
        "sender": "them@acme.example", "recipientEmail": "exec@example.org", "createdAt": 5, "updatedAt": 5});
    api.put_raw(&api.ctx.config.tables.communications, sync_row.clone())
        .await;
    let edited = api
        .call(
            "PATCH",
            "/partnerships/partner-communications/sync::gmail::x::0123456789abcdef0123",
            Some(json!({"summary": "Edited", "eventId": e1})),
        )
        .await;
    assert_eq!(edited.status, 200, "{:?}", edited.body);
    let stored = api
        .stored(
            &api.ctx.config.tables.communications,
            "sync::gmail::x::0123456789abcdef0123",
        )
        .await
        .unwrap();
    for key in [
        "source",
        "sourceProvider",
        "sourceMethod",
        "externalMessageId",
        "externalThreadId",
        "actorEmail",
        "sender",
        "recipientEmail",
    ] {
        assert_eq!(stored[key], sync_row[key], "{key} survives the edit");
    }
    assert_eq!(stored["summary"], "Edited");
    assert_eq!(stored["eventName"], "Blueprint");

    let detail = api.call("GET", &format!("/partnerships/partners/{p}"), None).await;
    let comms = detail.body["communications"].as_array().unwrap();
    assert_eq!(comms.len(), 3);
    assert_eq!(
        comms[0]["id"], "sync::gmail::x::0123456789abcdef0123",
        "newest first by updatedAt"
    );
    assert_eq!(
        api.call("DELETE", &path, None).await.message(),
        "Communication entry removed successfully."
    );
    assert_eq!(
        reference_count(&api, &e1).await,
        1,
        "only the sync row still points at the event"
    );
}

#[tokio::test]
async fn long_lists_are_complete_and_pageable() {
    let api = TestApi::new().await;
    let p = partner(&api, "Chatty").await;
    let table = api.ctx.config.tables.communications.clone();
    let filler = "x".repeat(3200);
    let writes = (0..600).map(|i| {
        let (api, table, p, filler) = (&api, &table, &p, &filler);
        async move { api.put_raw(table, json!({"id": format!("c{i:04}"), "partnerId": p, "summary": filler, "createdAt": i + 1, "updatedAt": i + 1})).await }
    });
    futures::stream::iter(writes)
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    let path = format!("/partnerships/partners/{p}/communications");

    let all = api.call("GET", &path, None).await;
    let ids: Vec<&str> = all.body["communications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids.len(),
        600,
        "every page past DynamoDB's 1 MB is read (the peer returned 307)"
    );
    assert_eq!((ids[0], ids[599]), ("c0599", "c0000"));

    let mut paged: Vec<String> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let query = match &cursor {
            Some(c) => format!("{path}?limit=250&cursor={c}"),
            None => format!("{path}?limit=250"),
        };
        let page = api.call("GET", &query, None).await;
        assert_eq!(page.status, 200, "{:?}", page.body);
        pages += 1;
        paged.extend(
            page.body["communications"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_string()),
        );
        match page.body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
        assert!(pages < 10, "paging terminates");
    }
    assert_eq!(paged, ids, "pages concatenate to the full newest-first list");
    assert_eq!(pages, 3);

    let bad_limit = api.call("GET", &format!("{path}?limit=0"), None).await;
    assert_eq!(
        (bad_limit.status, bad_limit.message()),
        (406, "'limit' must be an integer from 1 to 1000.")
    );
    let bad_cursor = api.call("GET", &format!("{path}?cursor=garbage"), None).await;
    assert_eq!((bad_cursor.status, bad_cursor.message()), (406, "'cursor' is invalid."));
}

#[tokio::test]
async fn writes_racing_a_delete_get_404_never_5xx() {
    let api = TestApi::new().await;
    let p = partner(&api, "Acme").await;
    let e1 = event(&api, "Blueprint", 2026).await;
    let rounds = 10;
    let mut statuses: std::collections::BTreeMap<u16, usize> = Default::default();
    for round in 0..rounds {
        for kind in ["documents", "communications"] {
            let body = if kind == "documents" {
                json!({"title": format!("D{round}"), "eventId": e1})
            } else {
                json!({"summary": format!("C{round}"), "eventId": e1})
            };
            let created = api
                .call("POST", &format!("/partnerships/partners/{p}/{kind}"), Some(body))
                .await;
            let item = if kind == "documents" {
                "document"
            } else {
                "communication"
            };
            let path = format!(
                "/partnerships/partner-{kind}/{}",
                created.body[item]["id"].as_str().unwrap()
            );
            let edit = if kind == "documents" {
                json!({"title": "edited"})
            } else {
                json!({"summary": "edited"})
            };
            // Stagger the deletes by 0–4 ms so the PATCH sometimes lands first.
            let delayed_delete = async {
                tokio::time::sleep(std::time::Duration::from_millis((round % 5) as u64)).await;
                api.call("DELETE", &path, None).await
            };
            let (a, b, c) = futures::join!(
                delayed_delete,
                api.call("PATCH", &path, Some(edit)),
                api.call("DELETE", &path, None)
            );
            for reply in [&a, &b, &c] {
                *statuses.entry(reply.status).or_default() += 1;
                assert!(
                    reply.status == 200 || reply.status == 404,
                    "{} {:?}",
                    reply.status,
                    reply.body
                );
            }
            assert_eq!(
                [&a, &c].iter().filter(|r| r.status == 200).count(),
                1,
                "exactly one delete wins"
            );
        }
    }
    println!("PATCH/DELETE vs DELETE race: {rounds} rounds x 2 record types x 3 requests -> statuses {statuses:?}");
    assert_eq!(
        reference_count(&api, &e1).await,
        0,
        "every reference released exactly once"
    );
}
