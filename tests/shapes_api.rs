//! One shape per record, everywhere: every response shows a record with the same keys, and no
//! storage-only attribute (index keys, summaries, counters, marks) reaches a client.

use std::collections::BTreeSet;

use integration_tests::TestApi;
use serde_json::{Value, json};

/// Attributes that exist for storage only.
const STORAGE_ONLY: &[&str] = &[
    "openFollowUp",
    "linkSummaries",
    "linkIds",
    "rekeyPending",
    "referenceCount",
    "committedCents",
    "securedCents",
    "lostCents",
    "archivedIndex",
];

fn storage_only_keys(value: &Value, path: &str, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if STORAGE_ONLY.contains(&key.as_str()) {
                    found.push(format!("{path}.{key}"));
                }
                storage_only_keys(inner, &format!("{path}.{key}"), found);
            }
        }
        Value::Array(items) => {
            for (i, inner) in items.iter().enumerate() {
                storage_only_keys(inner, &format!("{path}[{i}]"), found);
            }
        }
        _ => {}
    }
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

async fn ok(api: &TestApi, method: &str, path: &str, body: Option<Value>) -> Value {
    let reply = api.call(method, path, body).await;
    assert!(
        reply.status == 200 || reply.status == 201,
        "{method} {path}: {:?}",
        reply.body
    );
    reply.body
}

#[tokio::test]
async fn every_response_shows_each_record_in_one_shape() {
    let api = TestApi::new().await;
    let mut responses: Vec<(String, Value)> = Vec::new();
    let partner = ok(&api, "POST", "/partnerships/partners", Some(json!({"company": "Acme"}))).await;
    let p = partner["partner"]["id"].as_str().unwrap().to_string();
    responses.push(("create partner".into(), partner));
    let event = ok(
        &api,
        "POST",
        "/partnerships/events",
        Some(json!({"name": "Gala", "year": 2026})),
    )
    .await;
    let e = event["event"]["id"].as_str().unwrap().to_string();
    responses.push(("create event".into(), event));
    let link = ok(
        &api,
        "POST",
        &format!("/partnerships/partners/{p}/events"),
        Some(json!({"eventId": e, "amount": 500, "followUpDate": "2030-01-01"})),
    )
    .await;
    responses.push(("create link".into(), link));
    let docs = format!("/partnerships/partners/{p}/documents");
    let comms = format!("/partnerships/partners/{p}/communications");
    for body in [
        json!({"title": "No event"}),
        json!({"title": "With event", "eventId": e}),
    ] {
        let created = ok(&api, "POST", &docs, Some(body)).await;
        responses.push(("create document".into(), created));
    }
    for body in [
        json!({"summary": "Plain"}),
        json!({"summary": "Follow up", "eventId": e, "followUpDate": "2030-02-01"}),
    ] {
        let created = ok(&api, "POST", &comms, Some(body)).await;
        responses.push(("create communication".into(), created));
    }
    let detail = ok(&api, "GET", &format!("/partnerships/partners/{p}"), None).await;
    let listed_docs = ok(&api, "GET", &docs, None).await;
    let listed_comms = ok(&api, "GET", &comms, None).await;
    for (name, path) in [
        ("directory", "/partnerships/partners".to_string()),
        ("events", "/partnerships/events".to_string()),
        ("event detail", format!("/partnerships/events/{e}")),
        ("dashboard", "/partnerships/dashboard".to_string()),
        ("export", "/partnerships/export".to_string()),
    ] {
        responses.push((name.into(), ok(&api, "GET", &path, None).await));
    }
    responses.push(("partner detail".into(), detail.clone()));
    responses.push(("documents".into(), listed_docs.clone()));
    responses.push(("communications".into(), listed_comms.clone()));

    let mut leaked = Vec::new();
    for (name, body) in &responses {
        storage_only_keys(body, name, &mut leaked);
    }
    assert!(
        leaked.is_empty(),
        "storage-only attributes reached a client: {leaked:?}"
    );

    assert_eq!(
        detail["documents"], listed_docs["documents"],
        "the partner detail shows documents exactly as their list does"
    );
    assert_eq!(detail["communications"], listed_comms["communications"]);
    for list in [&listed_docs["documents"], &listed_comms["communications"]] {
        let shapes: BTreeSet<BTreeSet<String>> = list.as_array().unwrap().iter().map(keys).collect();
        assert_eq!(
            shapes.len(),
            1,
            "with or without event or follow-up, one key set: {shapes:?}"
        );
    }
    let created_doc = responses
        .iter()
        .find(|(n, _)| n == "create document")
        .map(|(_, b)| keys(&b["document"]))
        .unwrap();
    assert_eq!(
        created_doc,
        keys(&listed_docs["documents"][0]),
        "a write answers the same shape"
    );
}
