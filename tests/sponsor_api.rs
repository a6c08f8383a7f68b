//! What a sponsorship CRM needs (issue 16), against DynamoDB Local: the weighted forecast,
//! renewals, benefits and fulfilment, imports, merges and segments.

use chrono::Utc;
use integration_tests::TestApi;
use serde_json::{Value, json};

fn this_year() -> i64 {
    Utc::now().format("%Y").to_string().parse().unwrap()
}

/// An event of `year` with a 10,000 goal and three deals: pitched 1,000, confirmed 2,000 and a
/// team's own status ("verbal yes") 400.
async fn forecast_world(api: &TestApi, year: i64) -> String {
    let event = api
        .create_id(
            "/partnerships/events",
            "event",
            json!({"name": "Summit", "year": year, "sponsorshipGoal": 10000}),
        )
        .await;
    for (company, status, amount) in [
        ("A", "pitched", 1000),
        ("B", "confirmed", 2000),
        ("C", "verbal yes", 400),
    ] {
        let partner = api.create_partner_id(json!({"company": company})).await;
        api.create_id(
            &format!("/partnerships/partners/{partner}/events"),
            "link",
            json!({"eventId": event, "status": status, "amount": amount}),
        )
        .await;
    }
    api.settle().await;
    event
}

async fn weighted_everywhere(api: &TestApi, event: &str) -> [Value; 5] {
    let dashboard = api.call("GET", "/partnerships/dashboard", None).await.body;
    let events = api.call("GET", "/partnerships/events", None).await.body;
    let detail = api
        .call("GET", &format!("/partnerships/events/{event}"), None)
        .await
        .body;
    [
        dashboard["totals"]["weightedPipelineAmount"].clone(),
        dashboard["revenueByEvent"][0]["weightedPipelineAmount"].clone(),
        dashboard["annual"]["weightedPipelineAmount"].clone(),
        events["events"][0]["weightedPipelineAmount"].clone(),
        detail["event"]["weightedPipelineAmount"].clone(),
    ]
}

#[tokio::test]
async fn the_forecast_starts_from_the_default_probabilities() {
    let api = TestApi::new().await;
    let reply = api.call("GET", "/partnerships/forecast", None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["probabilities"]["prospecting"], 10);
    assert_eq!(reply.body["probabilities"]["confirmed"], 90);
    assert_eq!(reply.body["probabilities"]["declined"], 0);
    assert_eq!(reply.body["customStatusProbability"], 25);
}

#[tokio::test]
async fn the_weighted_pipeline_weighs_each_deal_by_its_status() {
    let api = TestApi::new().await;
    let event = forecast_world(&api, this_year()).await;
    // 20% of 1,000 + 90% of 2,000 + 25% (a custom status) of 400.
    let expected = json!(200.0 + 1800.0 + 100.0);
    assert_eq!(
        weighted_everywhere(&api, &event).await,
        std::array::from_fn(|_| expected.clone())
    );
}

#[tokio::test]
async fn a_stages_probabilities_change_every_weighted_figure() {
    let api = TestApi::new().await;
    let event = forecast_world(&api, this_year()).await;
    let reply = api
        .call(
            "PUT",
            "/partnerships/forecast",
            Some(json!({"probabilities": {"pitched": 50, "Verbal Yes": 75}})),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["probabilities"]["pitched"], 50);
    assert_eq!(reply.body["probabilities"]["verbal_yes"], 75);
    let expected = json!(500.0 + 1800.0 + 300.0);
    assert_eq!(
        weighted_everywhere(&api, &event).await,
        std::array::from_fn(|_| expected.clone())
    );
    let reset = api
        .call(
            "PUT",
            "/partnerships/forecast",
            Some(json!({"probabilities": {"pitched": null}})),
        )
        .await;
    assert_eq!(reset.body["probabilities"]["pitched"], 20);
    assert_eq!(reset.body["probabilities"]["verbal_yes"], 75, "the other setting stays");
}

#[tokio::test]
async fn a_probability_must_be_a_whole_percent() {
    let api = TestApi::new().await;
    for bad in [
        json!({"probabilities": {"pitched": 150}}),
        json!({"probabilities": []}),
        json!({}),
    ] {
        let reply = api.call("PUT", "/partnerships/forecast", Some(bad)).await;
        assert_eq!(reply.status, 406, "{:?}", reply.body);
    }
    let reply = api.call("GET", "/partnerships/forecast", None).await;
    assert_eq!(reply.body["probabilities"]["pitched"], 20, "nothing applied");
}

#[tokio::test]
async fn a_segment_is_a_named_directory_query_listed_by_name() {
    let api = TestApi::new().await;
    for name in ["Zeta", "alpha"] {
        let reply = api
            .call(
                "POST",
                "/partnerships/segments",
                Some(json!({"name": name, "query": {"tag": "vip", "includeArchived": true}})),
            )
            .await;
        assert_eq!(reply.status, 201, "{:?}", reply.body);
        assert_eq!(
            reply.body["segment"]["query"],
            json!({"tag": "vip", "includeArchived": "true"})
        );
    }
    let list = api.call("GET", "/partnerships/segments", None).await;
    let names: Vec<&str> = list.body["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["alpha", "Zeta"]);
    let id = list.body["segments"][0]["id"].as_str().unwrap().to_string();
    let path = format!("/partnerships/segments/{id}");
    let renamed = api.call("PATCH", &path, Some(json!({"name": "Beta"}))).await;
    assert_eq!(renamed.status, 200);
    assert_eq!(renamed.body["segment"]["name"], "Beta");
    assert_eq!(renamed.body["segment"]["query"]["tag"], "vip", "the query stays");
    assert_eq!(api.call("DELETE", &path, None).await.status, 200);
    assert_eq!(api.call("GET", &path, None).await.status, 404);
}

#[tokio::test]
async fn a_segment_refuses_what_the_directory_would() {
    let api = TestApi::new().await;
    for body in [
        json!({"query": {"tag": "vip"}}),
        json!({"name": "x", "query": {"limit": 5}}),
        json!({"name": "x", "query": {"status": "!!"}}),
    ] {
        let reply = api.call("POST", "/partnerships/segments", Some(body)).await;
        assert_eq!(reply.status, 406, "{:?}", reply.body);
    }
}

#[tokio::test]
async fn a_segment_shows_the_partners_it_holds_now() {
    let api = TestApi::new().await;
    let vip = api.create_partner_id(json!({"company": "Vip", "tags": ["vip"]})).await;
    api.create_partner_id(json!({"company": "Other"})).await;
    let segment = api
        .create_id(
            "/partnerships/segments",
            "segment",
            json!({"name": "VIPs", "query": {"tag": "vip"}}),
        )
        .await;
    let reply = api
        .call("GET", &format!("/partnerships/segments/{segment}"), None)
        .await;
    assert_eq!(reply.body["partnerCount"], 1);
    assert_eq!(reply.body["partnerIds"], json!([vip]));
}

#[tokio::test]
async fn a_send_to_a_segment_emails_whoever_it_holds_when_sent() {
    let api = TestApi::new().await;
    let segment = api
        .create_id(
            "/partnerships/segments",
            "segment",
            json!({"name": "VIPs", "query": {"tag": "vip"}}),
        )
        .await;
    for (company, email) in [("One", "one@vip-one.com"), ("Two", "two@vip-two.com")] {
        api.create_partner_id(json!({"company": company, "email": email, "tags": ["vip"]}))
            .await;
    }
    api.create_partner_id(json!({"company": "Plain", "email": "p@plain.com"}))
        .await;
    let send = |extra: Value| {
        let mut body = json!({"subject": "Hi {{company_name}}", "body": "Hello", "segmentId": segment});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        body
    };
    let reply = api
        .call("POST", "/partnerships/email/send", Some(send(json!({}))))
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["summary"]["totalRequested"], 2);
    assert_eq!(reply.body["summary"]["sentCount"], 2);
    let both = api
        .call(
            "POST",
            "/partnerships/email/send",
            Some(send(json!({"partnerIds": ["x"]}))),
        )
        .await;
    assert_eq!(both.status, 406);
    let unknown = api
        .call(
            "POST",
            "/partnerships/email/send",
            Some(json!({"subject": "s", "body": "b", "segmentId": "no-such-segment"})),
        )
        .await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn a_member_sends_to_a_segment_only_when_it_owns_everyone_in_it() {
    let api = TestApi::new().await;
    let mia = integration_tests::member_claims("mia@members.net");
    api.create_partner_id(json!({"company": "Mine", "email": "a@mine.com", "ownerEmail": "mia@members.net"}))
        .await;
    api.create_partner_id(json!({"company": "Theirs", "email": "b@theirs.com"}))
        .await;
    let everyone = api
        .create_id("/partnerships/segments", "segment", json!({"name": "All"}))
        .await;
    let mine = api
        .create_id(
            "/partnerships/segments",
            "segment",
            json!({"name": "Mine", "query": {"owner": "me"}}),
        )
        .await;
    let send = |segment: &str| json!({"subject": "Hi", "body": "Hello", "segmentId": segment});
    let refused = api
        .call_as(&mia, "POST", "/partnerships/email/send", Some(send(&everyone)))
        .await;
    assert_eq!(refused.status, 403);
    let allowed = api
        .call_as(&mia, "POST", "/partnerships/email/send", Some(send(&mine)))
        .await;
    assert_eq!(allowed.status, 200, "{:?}", allowed.body);
    assert_eq!(allowed.body["summary"]["totalRequested"], 1, "owner=me is the sender");
}
