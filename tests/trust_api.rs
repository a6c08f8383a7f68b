//! No lost update, no double create (issue 13): `ETag`/`If-Match` on every record write, and
//! `Idempotency-Key` on every create, against DynamoDB Local.

use integration_tests::{Reply, TestApi};
use serde_json::{Value, json};

async fn with_headers(api: &TestApi, method: &str, path: &str, headers: &[(&str, &str)], body: Value) -> Reply {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    api.call_with_headers_and_body(method, path, &all, &body.to_string())
        .await
}

fn etag(reply: &Reply) -> String {
    reply.headers["etag"].to_str().unwrap().to_string()
}

#[tokio::test]
async fn detail_routes_send_the_version_as_etag() {
    let api = TestApi::new().await;
    let id = api.create_partner_id(json!({"company": "Acme"})).await;
    let partner = api.call("GET", &format!("/partnerships/partners/{id}"), None).await;
    assert_eq!(etag(&partner), format!("\"{}\"", partner.body["partner"]["version"]));
    let event = api
        .call(
            "POST",
            "/partnerships/events",
            Some(json!({"name": "Summit", "year": 2026})),
        )
        .await;
    let event_id = event.body["event"]["id"].as_str().unwrap();
    let detail = api.call("GET", &format!("/partnerships/events/{event_id}"), None).await;
    assert_eq!(etag(&detail), format!("\"{}\"", detail.body["event"]["version"]));
}

#[tokio::test]
async fn concurrent_tag_edits_with_if_match_lose_nothing() {
    let api = TestApi::new().await;
    let id = api.create_partner_id(json!({"company": "Acme", "tags": []})).await;
    let path = format!("/partnerships/partners/{id}");
    let editor = |n: usize| {
        let (api, path) = (&api, path.clone());
        async move {
            let mine = format!("tag-{n}");
            let mut conflicts = 0;
            loop {
                let read = api.call("GET", &path, None).await;
                let mut tags: Vec<Value> = read.body["partner"]["tags"].as_array().unwrap().clone();
                tags.push(json!(mine));
                let tag = etag(&read);
                let write = with_headers(api, "PATCH", &path, &[("if-match", &tag)], json!({"tags": tags})).await;
                match write.status {
                    200 => return conflicts,
                    412 => {
                        assert!(
                            write.body["partner"]["version"].is_u64(),
                            "the current record comes back"
                        );
                        conflicts += 1;
                    }
                    other => panic!("unexpected {other}: {:?}", write.body),
                }
            }
        }
    };
    let conflicts: Vec<usize> = futures::future::join_all((0..8).map(editor)).await;
    let tags = api.call("GET", &path, None).await.body["partner"]["tags"].clone();
    for n in 0..8 {
        assert!(
            tags.as_array().unwrap().contains(&json!(format!("tag-{n}"))),
            "tag-{n} lost: {tags}"
        );
    }
    assert!(conflicts.iter().sum::<usize>() > 0, "the editors did race");
}

#[tokio::test]
async fn a_stale_if_match_is_412_with_the_current_record_and_no_header_is_unchanged() {
    let api = TestApi::new().await;
    let id = api.create_partner_id(json!({"company": "Acme"})).await;
    let path = format!("/partnerships/partners/{id}");
    let stale = with_headers(&api, "PATCH", &path, &[("if-match", "\"99\"")], json!({"notes": "x"})).await;
    assert_eq!(stale.status, 412);
    assert!(stale.message().contains("changed since you read it"));
    assert_eq!(stale.body["partner"]["id"], id.as_str());
    assert_eq!(api.call("PATCH", &path, Some(json!({"notes": "y"}))).await.status, 200);
    let weak = with_headers(&api, "PATCH", &path, &[("if-match", "W/\"2\"")], json!({"notes": "z"})).await;
    assert_eq!(weak.status, 200, "a weak tag of the current version matches");
}

#[tokio::test]
async fn every_record_write_honours_if_match() {
    let api = TestApi::new().await;
    let partner = api.create_partner_id(json!({"company": "Acme"})).await;
    let event = api
        .create_id("/partnerships/events", "event", json!({"name": "Summit", "year": 2026}))
        .await;
    let link = api
        .create_id(
            &format!("/partnerships/partners/{partner}/events"),
            "link",
            json!({"eventId": event, "status": "pitched"}),
        )
        .await;
    let document = api
        .create_id(
            &format!("/partnerships/partners/{partner}/documents"),
            "document",
            json!({"title": "Deck"}),
        )
        .await;
    let communication = api
        .create_id(
            &format!("/partnerships/partners/{partner}/communications"),
            "communication",
            json!({"summary": "Call"}),
        )
        .await;
    let template = api
        .create_id(
            "/partnerships/email/templates",
            "template",
            json!({"name": "T", "subjectTemplate": "s", "bodyTemplate": "b"}),
        )
        .await;
    let stale = [("if-match", "\"42\"")];
    for (method, path, key, body) in [
        (
            "PATCH",
            format!("/partnerships/events/{event}"),
            "event",
            json!({"notes": "n"}),
        ),
        (
            "PATCH",
            format!("/partnerships/partner-events/{link}"),
            "link",
            json!({"notes": "n"}),
        ),
        (
            "DELETE",
            format!("/partnerships/partner-events/{link}"),
            "link",
            json!({}),
        ),
        (
            "PATCH",
            format!("/partnerships/partner-documents/{document}"),
            "document",
            json!({"title": "n"}),
        ),
        (
            "DELETE",
            format!("/partnerships/partner-documents/{document}"),
            "document",
            json!({}),
        ),
        (
            "PATCH",
            format!("/partnerships/partner-communications/{communication}"),
            "communication",
            json!({"summary": "n"}),
        ),
        (
            "DELETE",
            format!("/partnerships/partner-communications/{communication}"),
            "communication",
            json!({}),
        ),
        (
            "PATCH",
            format!("/partnerships/email/templates/{template}"),
            "template",
            json!({"name": "n"}),
        ),
        (
            "DELETE",
            format!("/partnerships/email/templates/{template}"),
            "template",
            json!({}),
        ),
    ] {
        let reply = with_headers(&api, method, &path, &stale, body).await;
        assert_eq!(reply.status, 412, "{method} {path}: {:?}", reply.body);
        assert!(
            reply.body[key]["version"].is_u64(),
            "{method} {path} answers the current {key}"
        );
    }
    let current = api
        .call("GET", &format!("/partnerships/partners/{partner}"), None)
        .await;
    let link_version = current.body["links"][0]["version"].to_string();
    let deleted = with_headers(
        &api,
        "DELETE",
        &format!("/partnerships/partner-events/{link}"),
        &[("if-match", &format!("\"{link_version}\""))],
        json!({}),
    )
    .await;
    assert_eq!(deleted.status, 200, "the current version deletes: {:?}", deleted.body);
}

#[tokio::test]
async fn a_retried_create_answers_the_first_response_and_creates_nothing() {
    let api = TestApi::new().await;
    let key = [("idempotency-key", "create-acme-1")];
    let first = with_headers(&api, "POST", "/partnerships/partners", &key, json!({"company": "Acme"})).await;
    assert_eq!(first.status, 201);
    let retry = with_headers(&api, "POST", "/partnerships/partners", &key, json!({"company": "Acme"})).await;
    assert_eq!(retry.status, 201);
    assert_eq!(retry.headers["idempotent-replayed"], "true");
    assert_eq!(retry.body["partner"]["id"], first.body["partner"]["id"]);
    let other = with_headers(
        &api,
        "POST",
        "/partnerships/partners",
        &key,
        json!({"company": "Other"}),
    )
    .await;
    assert_eq!(other.status, 422);
    assert_eq!(
        other.message(),
        "This Idempotency-Key was already used with a different request."
    );
    let directory = api.call("GET", "/partnerships/partners", None).await;
    assert_eq!(directory.body["partners"].as_array().unwrap().len(), 1, "one partner");
}

#[tokio::test]
async fn concurrent_creates_with_one_key_create_once() {
    let api = TestApi::new().await;
    let key = [("idempotency-key", "race-1")];
    let replies = futures::future::join_all((0..6).map(|_| {
        with_headers(
            &api,
            "POST",
            "/partnerships/events",
            &key,
            json!({"name": "Summit", "year": 2026}),
        )
    }))
    .await;
    let created: Vec<&Reply> = replies.iter().filter(|r| r.status == 201).collect();
    assert!(!created.is_empty());
    assert!(
        replies.iter().all(|r| r.status == 201 || r.status == 409),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(
        created
            .iter()
            .all(|r| r.body["event"]["id"] == created[0].body["event"]["id"])
    );
    let events = api.call("GET", "/partnerships/events", None).await;
    assert_eq!(events.body["events"].as_array().unwrap().len(), 1, "one event");
}

#[tokio::test]
async fn every_create_honours_idempotency_keys() {
    let api = TestApi::new().await;
    let partner = api.create_partner_id(json!({"company": "Acme"})).await;
    let event = api
        .create_id("/partnerships/events", "event", json!({"name": "Summit", "year": 2026}))
        .await;
    for (path, key, body) in [
        (
            format!("/partnerships/partners/{partner}/events"),
            "link",
            json!({"eventId": event, "status": "pitched"}),
        ),
        (
            format!("/partnerships/partners/{partner}/documents"),
            "document",
            json!({"title": "Deck"}),
        ),
        (
            format!("/partnerships/partners/{partner}/communications"),
            "communication",
            json!({"summary": "Call"}),
        ),
        (
            "/partnerships/email/templates".to_string(),
            "template",
            json!({"name": "T", "subjectTemplate": "s", "bodyTemplate": "b"}),
        ),
    ] {
        let header = [("idempotency-key", "k-1")];
        let first = with_headers(&api, "POST", &path, &header, body.clone()).await;
        let again = with_headers(&api, "POST", &path, &header, body).await;
        assert_eq!(first.status, 201, "{path}: {:?}", first.body);
        assert_eq!(again.body[key]["id"], first.body[key]["id"], "{path}");
        assert_eq!(again.headers["idempotent-replayed"], "true", "{path}");
    }
    let timeline = api.timeline(&partner).await;
    assert_eq!(timeline.len(), 1, "one communication");
}
