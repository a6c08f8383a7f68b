//! The partners routes (contract §5.1–§5.4) against DynamoDB Local, through the template's
//! routes and the handler, exactly as the gateway calls it.

use futures::StreamExt;
use integration_tests::{TestApi, admin_claims};
use serde_json::{Value, json};

fn company_names(reply: &Value) -> Vec<String> {
    reply["partners"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| p["company"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn create_stores_a_normalized_partner_and_answers_201() {
    let api = TestApi::new().await;
    let reply = api
        .call(
            "POST",
            "/partnerships/partners",
            Some(json!({
                "company": "  Acme Robotics ", "email": " Jane@ACME.example ", "contactName": "Jane",
                "tier": "Gold Plus", "tags": "AI, ai, Robotics", "isAlumni": true, "archived": true, "unknown": 1
            })),
        )
        .await;
    assert_eq!(reply.status, 201);
    assert_eq!(reply.message(), "Partner created successfully.");
    let partner = &reply.body["partner"];
    assert_eq!(partner["company"], "Acme Robotics");
    assert_eq!(partner["email"], "jane@acme.example");
    assert_eq!(partner["tier"], "gold_plus");
    assert_eq!(partner["tags"], json!(["AI", "Robotics", "alumni-partner"]));
    assert_eq!(partner["isAlumni"], true);
    assert_eq!(partner["archived"], false, "new partners are never archived");
    assert_eq!(partner["phone"], "");
    assert!(partner.get("linkSummaries").is_none());
    assert!(
        partner.get("relationshipCount").is_none(),
        "create answers without metrics"
    );
    assert_eq!(reply.headers["access-control-allow-origin"], "*");
    assert!(reply.headers.get("access-control-allow-credentials").is_none());

    let id = partner["id"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).map(|u| u.get_version_num()), Ok(4));
    let stored = api.stored(&api.ctx.config.tables.partners, id).await.expect("stored");
    assert_eq!(stored["version"], 1);
    assert_eq!(stored["updatedBy"], "tester@example.org");
    assert!(stored["updatedAt"].is_i64() && stored["createdAt"] == stored["updatedAt"]);
    assert!(
        stored.get("linkSummaries").is_none(),
        "a partner carries no copy of its links"
    );
    assert!(stored.get("unknown").is_none());
}

#[tokio::test]
async fn bad_input_gets_a_clear_406_and_writes_nothing() {
    let api = TestApi::new().await;
    let cases: Vec<(Option<&str>, &str)> = vec![
        (Some("{not json"), "Invalid JSON in request body."),
        (Some("[1,2]"), "Request body must be a JSON object."),
        (Some("null"), "Request body must be a JSON object."),
        (Some(""), "'company' is required."),
        (Some(r#"{"company": 123}"#), "'company' must be a string."),
        (Some(r#"{"company": "   "}"#), "'company' is required."),
        (
            Some(r#"{"company": "A", "email": "not-an-email"}"#),
            "'email' is invalid.",
        ),
        (
            Some(r#"{"company": "A", "isAlumni": "yes"}"#),
            "'isAlumni' must be a boolean.",
        ),
        (
            Some(r#"{"company": "A", "archived": 0}"#),
            "'archived' must be a boolean.",
        ),
        (
            Some(r#"{"company": "A", "tier": "***"}"#),
            "'tier' must include at least one letter or number.",
        ),
        (
            Some(r#"{"company": "A", "tags": {"a": 1}}"#),
            "'tags' must be a list of strings or a comma-separated string.",
        ),
        (
            Some(r#"{"company": "A", "tags": ["ok", 5]}"#),
            "'tags' must be a list of strings.",
        ),
        (
            Some(r#"{"company": "A", "contactName": ["x"]}"#),
            "'contactName' must be a string.",
        ),
    ];
    for (body, message) in &cases {
        let reply = api
            .call_raw("POST", "/partnerships/partners", *body, Some(admin_claims()))
            .await;
        assert_eq!(reply.status, 406, "{body:?} → {:?}", reply.body);
        assert_eq!(reply.message(), *message, "{body:?}");
        assert!(reply.body["data"].is_object(), "406 carries data");
    }
    let long = json!({"company": "A", "notes": "n".repeat(5001), "email": "private@example.org"});
    let reply = api.call("POST", "/partnerships/partners", Some(long)).await;
    assert_eq!(reply.message(), "'notes' must be at most 5000 characters.");
    assert!(
        reply.body["data"].get("email").is_none(),
        "only the offending field is echoed"
    );
    assert!(
        reply.body["data"]["notes"].as_str().unwrap().len() < 100,
        "the echo is cut"
    );

    let listed = api
        .call("GET", "/partnerships/partners?includeArchived=true", None)
        .await;
    assert_eq!(listed.body["partners"], json!([]), "nothing was written");
}

#[tokio::test]
async fn detail_returns_the_partner_with_metrics_and_404s_for_unknown_ids() {
    let api = TestApi::new().await;
    let missing = api.call("GET", "/partnerships/partners/nope", None).await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.message(),
        "partner with id 'nope' could not be found. Make sure you have provided the correct id."
    );

    let partner = api.create_partner(json!({"company": "Solo"})).await;
    let id = partner["id"].as_str().unwrap();
    let reply = api.call("GET", &format!("/partnerships/partners/{id}"), None).await;
    assert_eq!(reply.status, 200);
    let body = &reply.body;
    assert_eq!(body["partner"]["company"], "Solo");
    assert_eq!(body["partner"]["relationshipCount"], 0);
    assert_eq!(body["partner"]["latestStatus"], Value::Null);
    assert_eq!(body["links"], json!([]));
    assert_eq!(body["documents"], json!([]));
    assert_eq!(body["communications"], json!([]));
    assert_eq!(body["statusOptions"].as_array().map(Vec::len), Some(10));
    assert_eq!(body["statusOptions"][0], "prospecting");
}

#[tokio::test]
async fn patch_updates_only_what_is_sent_and_keeps_the_contract_order() {
    let api = TestApi::new().await;
    let partner = api
        .create_partner(json!({"company": "Beta", "tags": ["x"], "notes": "keep"}))
        .await;
    let id = partner["id"].as_str().unwrap();
    let path = format!("/partnerships/partners/{id}");

    let reply = api
        .call("PATCH", &path, Some(json!({"isAlumni": true, "contactName": "Kim"})))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.message(), "Partner updated successfully.");
    assert_eq!(reply.body["partner"]["tags"], json!(["x", "alumni-partner"]));
    assert_eq!(reply.body["partner"]["notes"], "keep");
    assert_eq!(reply.body["partner"]["contactName"], "Kim");
    assert_eq!(reply.body["partner"]["version"], 2);

    // tags sent with the alumni tag but isAlumni false on the stored side: the flag wins
    let reply = api
        .call(
            "PATCH",
            &path,
            Some(json!({"isAlumni": false, "tags": ["y", "ALUMNI-PARTNER"]})),
        )
        .await;
    assert_eq!(reply.body["partner"]["tags"], json!(["y"]));

    // archive, then it is hidden from the default directory, then restore
    let reply = api.call("PATCH", &path, Some(json!({"archived": true}))).await;
    assert_eq!(reply.body["partner"]["archived"], true);
    assert!(company_names(&api.call("GET", "/partnerships/partners", None).await.body).is_empty());
    let archived_list = api
        .call("GET", "/partnerships/partners?includeArchived=true", None)
        .await;
    assert_eq!(company_names(&archived_list.body), ["Beta"]);
    assert_eq!(archived_list.body["summary"]["archivedPartners"], 1);
    api.call("PATCH", &path, Some(json!({"archived": false}))).await;
    assert_eq!(
        company_names(&api.call("GET", "/partnerships/partners", None).await.body),
        ["Beta"]
    );

    let empty = api.call("PATCH", &path, Some(json!({"nothing": 1}))).await;
    assert_eq!(
        (empty.status, empty.message()),
        (406, "At least one property must be provided.")
    );
    assert_eq!(empty.body["data"], json!({}));

    // validation (406) comes before the 404, and a bad body for an unknown id is just a 406
    let bad_unknown = api
        .call("PATCH", "/partnerships/partners/ghost", Some(json!({"email": "bad"})))
        .await;
    assert_eq!(
        (bad_unknown.status, bad_unknown.message()),
        (406, "'email' is invalid.")
    );
    let unknown = api
        .call("PATCH", "/partnerships/partners/ghost", Some(json!({"notes": "x"})))
        .await;
    assert_eq!(unknown.status, 404);
    assert!(
        api.stored(&api.ctx.config.tables.partners, "ghost").await.is_none(),
        "a PATCH never creates"
    );
    let blank_company = api.call("PATCH", &path, Some(json!({"company": ""}))).await;
    assert_eq!(blank_company.message(), "'company' is required.");

    let stored = api.stored(&api.ctx.config.tables.partners, id).await.unwrap();
    assert_eq!(
        stored["version"], 5,
        "four successful writes after create; rejected ones wrote nothing"
    );
    assert_eq!(stored["company"], "Beta");
}

#[tokio::test]
async fn concurrent_patches_never_lose_an_update() {
    let api = TestApi::new().await;
    let partner = api.create_partner(json!({"company": "Racy", "tags": ["base"]})).await;
    let path = format!("/partnerships/partners/{}", partner["id"].as_str().unwrap());
    let writes = 20;
    let replies = futures::future::join_all((0..writes).map(|i| {
        let body = if i % 2 == 0 {
            json!({"isAlumni": i % 4 == 0})
        } else {
            json!({"tags": ["base", format!("t{i}")]})
        };
        let (api, path) = (&api, &path);
        async move { api.call("PATCH", path, Some(body)).await }
    }))
    .await;
    for reply in &replies {
        assert_eq!(reply.status, 200, "{:?}", reply.body);
    }
    let stored = api
        .stored(&api.ctx.config.tables.partners, partner["id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(stored["version"], 1 + writes, "every PATCH applied exactly once");
    let has_tag = stored["tags"].as_array().unwrap().iter().any(|t| t == "alumni-partner");
    assert_eq!(
        has_tag,
        stored["isAlumni"] == true,
        "tags and flag agree after the race: {stored:?}"
    );
}

/// Creates an event through the API and returns its id.
async fn seed_event(api: &TestApi, name: &str, year: i64, tiers: &[&str]) -> String {
    let body = json!({"name": name, "year": year, "startDate": format!("{year}-03-01"), "endDate": format!("{year}-03-02"), "tierConfigs": tiers});
    let reply = api.call("POST", "/partnerships/events", Some(body)).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body["event"]["id"].as_str().unwrap().to_string()
}

/// Creates a link through the API; links made later are newer.
async fn seed_link(api: &TestApi, partner_id: &str, event_id: &str, status: &str, tier: &str, amount: Option<f64>) {
    let body = json!({"eventId": event_id, "status": status, "packageTier": tier, "amount": amount, "followUpDate": "2999-01-01"});
    let reply = api
        .call(
            "POST",
            &format!("/partnerships/partners/{partner_id}/events"),
            Some(body),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
}

#[tokio::test]
async fn directory_filters_scope_metrics_and_options() {
    let api = TestApi::new().await;
    let e1 = seed_event(&api, "Blueprint", 2026, &["gold", "silver"]).await;
    let e2 = seed_event(&api, "Hello Hacks", 2025, &["bronze"]).await;
    let acme = api
        .create_partner(json!({"company": "acme", "contactName": "Zed", "tier": "Strategic", "tags": ["AI"]}))
        .await;
    let beta = api
        .create_partner(json!({"company": "Beta", "notes": "met at career fair", "isAlumni": true}))
        .await;
    let gamma = api.create_partner(json!({"company": "gamma"})).await;
    let (a, b) = (acme["id"].as_str().unwrap(), beta["id"].as_str().unwrap());
    seed_link(&api, a, &e1, "paid", "gold", Some(1000.0)).await;
    seed_link(&api, a, &e2, "pitched", "bronze", Some(250.5)).await;
    seed_link(&api, b, &e1, "waiting_on_legal", "silver", None).await;
    api.call(
        "PATCH",
        &format!("/partnerships/partners/{}", gamma["id"].as_str().unwrap()),
        Some(json!({"archived": true})),
    )
    .await;

    let metered = api.call("GET", "/partnerships/partners", None).await;
    assert_eq!(
        metered.headers[shared::http::ITEMS_READ_HEADER],
        "7",
        "the directory reads the 3 partners, the 3 links and the tier catalog, never the events"
    );
    let searched = api.call("GET", "/partnerships/partners?search=acme", None).await;
    assert_eq!(company_names(&searched.body), ["acme"]);
    let all = api.call("GET", "/partnerships/partners", None).await.body;
    assert_eq!(company_names(&all), ["acme", "Beta"]);
    let acme_row = &all["partners"][0];
    assert_eq!(acme_row["relationshipCount"], 2);
    assert_eq!(acme_row["paidCount"], 1);
    assert_eq!(acme_row["totalAmount"], 1250.5);
    assert_eq!(acme_row["securedAmount"], 1000.0);
    assert_eq!(acme_row["latestStatus"], "pitched");
    assert_eq!(acme_row["latestEventIdYear"], format!("{e2}#2025"));
    assert_eq!(acme_row["statusBreakdown"][0]["status"], "paid");
    assert_eq!(all["summary"]["totalRelationships"], 3);
    assert_eq!(all["summary"]["upcomingFollowUps"], 3);
    assert_eq!(all["summary"]["pipeline"]["pipelineAmount"], 1250.5);
    assert_eq!(all["summary"]["pipeline"]["byStatus"]["waiting_on_legal"]["count"], 1);
    assert_eq!(
        all["statusOptions"].as_array().unwrap().last().unwrap(),
        "waiting_on_legal"
    );
    assert_eq!(all["packageTierOptions"], json!(["bronze", "gold", "silver"]));
    assert_eq!(all["partnerTierOptions"], json!(["strategic"]));
    assert_eq!(all["filters"]["includeArchived"], false);

    let by_event = api
        .call("GET", &format!("/partnerships/partners?eventIdYear={e1}%232026"), None)
        .await
        .body;
    assert_eq!(company_names(&by_event), ["acme", "Beta"]);
    assert_eq!(
        by_event["partners"][0]["relationshipCount"], 1,
        "metrics only over in-scope links"
    );
    assert_eq!(by_event["partners"][0]["totalAmount"], 1000.0);

    let cases = [
        (format!("eventId={e2}&eventYear=2025"), vec!["acme"]),
        ("status=Waiting%20on%20Legal".to_string(), vec!["Beta"]),
        ("tier=gold".to_string(), vec!["acme"]),
        ("packageTier=silver&tier=gold".to_string(), vec!["Beta"]),
        (format!("status=paid&eventIdYear={e2}%232025"), vec![]),
        ("search=career%20FAIR".to_string(), vec!["Beta"]),
        ("search=zed".to_string(), vec!["acme"]),
        ("tag=ai".to_string(), vec!["acme"]),
        ("isAlumni=true".to_string(), vec!["Beta"]),
        ("isAlumni=false&includeArchived=true".to_string(), vec!["acme", "gamma"]),
        ("isAlumni=maybe".to_string(), vec!["acme", "Beta"]),
        ("partnerTier=STRATEGIC".to_string(), vec!["acme"]),
        ("includeArchived=true".to_string(), vec!["acme", "Beta", "gamma"]),
    ];
    for (query, expected) in cases {
        let reply = api.call("GET", &format!("/partnerships/partners?{query}"), None).await;
        assert_eq!(reply.status, 200, "{query}");
        assert_eq!(company_names(&reply.body), expected, "{query}");
    }
    let bad = api.call("GET", "/partnerships/partners?status=%21%21", None).await;
    assert_eq!(
        (bad.status, bad.message()),
        (406, "'status' must include at least one letter or number.")
    );
}

#[tokio::test]
async fn detail_hydrates_links_documents_and_communications_newest_first() {
    let api = TestApi::new().await;
    let tables = api.ctx.config.tables.clone();
    let e1 = seed_event(&api, "Blueprint", 2026, &["gold"]).await;
    let e2 = seed_event(&api, "Hello Hacks", 2025, &[]).await;
    seed_event(&api, "Other", 2026, &["platinum"]).await;
    let partner = api.create_partner(json!({"company": "Acme"})).await;
    let id = partner["id"].as_str().unwrap();
    seed_link(&api, id, &e1, "My Custom", "Gold", Some(10.0)).await;
    seed_link(&api, id, &e2, "paid", "", None).await;
    api.put_raw(&tables.documents, json!({"id": "d1", "partnerId": id, "title": "Old", "eventId": e1, "eventName": "Stale", "eventYear": 2025, "createdAt": 1, "updatedAt": 1})).await;
    api.put_raw(
        &tables.documents,
        json!({"id": "d2", "partnerId": id, "title": "New", "createdAt": 5, "updatedAt": 5}),
    )
    .await;
    api.put_raw(&tables.communications, json!({"id": "c1", "partnerId": id, "summary": "Hi", "source": "email_sync", "externalMessageId": "m1", "createdAt": 3, "updatedAt": 3})).await;

    let body = api
        .call("GET", &format!("/partnerships/partners/{id}"), None)
        .await
        .body;
    let links = body["links"].as_array().unwrap();
    assert_eq!(links.len(), 2);
    assert_eq!(links[0]["eventId"], e2.as_str(), "newest first");
    assert_eq!(links[0]["eventName"], "Hello Hacks");
    assert_eq!(links[1]["eventName"], "Blueprint", "current event name");
    assert_eq!(links[1]["eventStartDate"], "2026-03-01");
    assert_eq!(links[1]["packageTier"], "gold");
    let documents = body["documents"].as_array().unwrap();
    assert_eq!(documents[0]["title"], "New");
    assert_eq!(documents[0]["eventName"], Value::Null);
    assert_eq!(documents[1]["eventName"], "Blueprint");
    assert_eq!(documents[1]["eventYear"], 2026);
    assert_eq!(
        body["communications"][0]["source"], "email_sync",
        "extra attributes are kept"
    );
    assert_eq!(body["partner"]["relationshipCount"], 2);
    assert_eq!(body["partner"]["paidCount"], 1);
    assert_eq!(body["statusOptions"].as_array().unwrap().last().unwrap(), "my_custom");
    assert_eq!(body["packageTierOptions"], json!(["gold", "platinum"]));
}

#[tokio::test]
async fn detail_reads_every_page_of_a_long_history() {
    let api = TestApi::new().await;
    let partner = api.create_partner(json!({"company": "Chatty"})).await;
    let id = partner["id"].as_str().unwrap().to_string();
    // 600 × ~3.2 KB ≈ 1.9 MB: two query pages at DynamoDB's 1 MB limit (the peer returned 307).
    let filler = "x".repeat(3200);
    let table = api.ctx.config.tables.communications.clone();
    let writes = (0..600).map(|i| {
        let (api, table, id, filler) = (&api, &table, &id, &filler);
        async move {
            api.put_raw(
                table,
                json!({"id": format!("c{i:04}"), "partnerId": id, "summary": filler, "createdAt": i, "updatedAt": i}),
            )
            .await
        }
    });
    futures::stream::iter(writes)
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    let body = api
        .call("GET", &format!("/partnerships/partners/{id}"), None)
        .await
        .body;
    let communications = body["communications"].as_array().unwrap();
    assert_eq!(communications.len(), 600);
    assert_eq!(communications[0]["id"], "c0599");
}

#[tokio::test]
async fn only_authenticated_partnerships_admins_get_in() {
    let api = TestApi::new().await;
    let anonymous = api.call_raw("GET", "/partnerships/partners", None, None).await;
    assert_eq!((anonymous.status, anonymous.message()), (401, "Unauthorized"));
    let outsider = api
        .call_raw(
            "GET",
            "/partnerships/partners",
            None,
            Some(json!({"email": "someone@gmail.com"})),
        )
        .await;
    assert_eq!(outsider.status, 403);
    assert!(outsider.message().contains("admin"));
    assert_eq!(outsider.headers["access-control-allow-origin"], "*");
    let lookalike = api
        .call_raw(
            "GET",
            "/partnerships/partners",
            None,
            Some(json!({"email": "x@evilexample.org"})),
        )
        .await;
    assert_eq!(lookalike.status, 403);
    let by_group = api
        .call_raw(
            "GET",
            "/partnerships/partners",
            None,
            Some(json!({"email": "x@gmail.com", "cognito:groups": ["partnerships-admins"]})),
        )
        .await;
    assert_eq!(by_group.status, 200);
    let refused_write = api
        .call_raw(
            "POST",
            "/partnerships/partners",
            Some(r#"{"company":"Nope"}"#),
            Some(json!({"email": "a@gmail.com"})),
        )
        .await;
    assert_eq!(refused_write.status, 403);
    let listed = api.call("GET", "/partnerships/partners", None).await;
    assert!(
        company_names(&listed.body).is_empty(),
        "the refused write wrote nothing"
    );
}

#[tokio::test]
async fn every_instance_sees_every_write_at_once() {
    let api = TestApi::new().await;
    let other = api.sibling();
    api.create_partner(json!({"company": "First"})).await;
    assert_eq!(
        company_names(&api.call("GET", "/partnerships/partners", None).await.body),
        ["First"]
    );
    let reply = other
        .call("POST", "/partnerships/partners", Some(json!({"company": "Second"})))
        .await;
    assert_eq!(reply.status, 201);
    // No instance keeps answers: the next read anywhere sees the write.
    for instance in [&api, &other] {
        let listed = instance.call("GET", "/partnerships/partners", None).await;
        assert_eq!(company_names(&listed.body), ["First", "Second"]);
    }
}

#[tokio::test]
async fn concurrent_creates_all_land_and_are_counted() {
    let api = TestApi::new().await;
    let replies = futures::future::join_all((0..20).map(|i| {
        api.call(
            "POST",
            "/partnerships/partners",
            Some(json!({"company": format!("C{i:02}")})),
        )
    }))
    .await;
    assert!(
        replies.iter().all(|r| r.status == 201),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    api.settle().await;
    assert_eq!(api.ctx.store.partner_counts().await.unwrap(), (20, 0));
}

#[tokio::test]
async fn only_verified_emails_and_group_members_get_in() {
    let api = TestApi::new().await;
    let get = |claims: serde_json::Value| {
        let api = &api;
        async move {
            api.call_raw("GET", "/partnerships/partners", None, Some(claims))
                .await
                .status
        }
    };
    assert_eq!(get(json!({"cognito:username": "mallory@example.org"})).await, 403);
    assert_eq!(
        get(json!({"email": "eve@example.org", "email_verified": false})).await,
        403
    );
    assert_eq!(
        get(json!({"email": "eve@example.org", "email_verified": true})).await,
        200
    );
    assert_eq!(
        get(json!({"email": "eve@elsewhere.com", "email_verified": false, "cognito:groups": ["partnerships-admins"]}))
            .await,
        200
    );
}

#[tokio::test]
async fn a_large_directory_is_gzipped_for_clients_that_accept_it() {
    let api = TestApi::new().await;
    let notes = "A sponsor with a long history of notes. ".repeat(20);
    futures::future::join_all(
        (0..60).map(|i| api.create_partner(json!({"company": format!("Sponsor {i:02}"), "notes": notes}))),
    )
    .await;
    let plain = api.call_with_headers("GET", "/partnerships/partners", &[]).await;
    assert!(plain.headers().get("content-encoding").is_none());
    let lambda_http::Body::Text(plain_text) = plain.body() else {
        panic!("an uncompressed answer is text")
    };

    let zipped = api
        .call_with_headers(
            "GET",
            "/partnerships/partners",
            &[("accept-encoding", "br;q=1.0, gzip;q=0.8")],
        )
        .await;
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    let lambda_http::Body::Binary(bytes) = zipped.body() else {
        panic!("a gzipped answer is binary (base64 for API Gateway)")
    };
    assert!(
        bytes.len() * 5 < plain_text.len(),
        "{} of {} bytes",
        bytes.len(),
        plain_text.len()
    );
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(bytes.as_slice()), &mut text).unwrap();
    let unzipped: serde_json::Value = serde_json::from_str(&text).unwrap();
    let plain_json: serde_json::Value = serde_json::from_str(plain_text).unwrap();
    assert_eq!(unzipped["partners"], plain_json["partners"]);

    let refused = api
        .call_with_headers("GET", "/partnerships/partners", &[("accept-encoding", "gzip;q=0")])
        .await;
    assert!(refused.headers().get("content-encoding").is_none());
}
