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

/// Creates a partner (with `extra` fields) and its deal at `event`; the link's id.
async fn deal(api: &TestApi, company: &str, event: &str, status: &str, amount: f64, extra: Value) -> (String, String) {
    let mut body = json!({"company": company});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    let partner = api.create_partner_id(body).await;
    let link = api
        .create_id(
            &format!("/partnerships/partners/{partner}/events"),
            "link",
            json!({"eventId": event, "status": status, "amount": amount, "packageTier": "Gold"}),
        )
        .await;
    (partner, link)
}

async fn event(api: &TestApi, name: &str, year: i64) -> String {
    api.create_id("/partnerships/events", "event", json!({"name": name, "year": year}))
        .await
}

fn companies(reply: &Value) -> Vec<String> {
    reply["renewals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["company"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn renewals_are_last_years_secured_sponsors_not_yet_back_largest_first() {
    let api = TestApi::new().await;
    let (summit25, summit26, gala25) = (
        event(&api, "Summit", 2025).await,
        event(&api, "Summit", 2026).await,
        event(&api, "Gala", 2025).await,
    );
    let (fern, _) = deal(
        &api,
        "Fern",
        &summit25,
        "paid",
        8000.0,
        json!({"ownerEmail": "mia@members.net"}),
    )
    .await;
    api.create_id(
        &format!("/partnerships/partners/{fern}/communications"),
        "communication",
        json!({"summary": "Thank-you call", "occurredAt": "2025-11-03"}),
    )
    .await;
    deal(&api, "Acme", &summit25, "confirmed", 5000.0, json!({})).await;
    deal(&api, "Gala only", &gala25, "paid", 1500.0, json!({})).await;
    let (back, _) = deal(&api, "Back again", &gala25, "paid", 3000.0, json!({})).await;
    api.create_id(
        &format!("/partnerships/partners/{back}/events"),
        "link",
        json!({"eventId": summit26, "status": "pitched"}),
    )
    .await;
    deal(&api, "Only pitched", &summit25, "pitched", 9000.0, json!({})).await;
    let (_, fell) = deal(&api, "Fell through", &summit25, "paid", 7000.0, json!({})).await;
    api.call(
        "PATCH",
        &format!("/partnerships/partner-events/{fell}"),
        Some(json!({"status": "declined"})),
    )
    .await;
    let (archived, _) = deal(&api, "Archived", &summit25, "paid", 6000.0, json!({})).await;
    api.call(
        "PATCH",
        &format!("/partnerships/partners/{archived}"),
        Some(json!({"archived": true})),
    )
    .await;
    api.settle().await;

    let reply = api.call("GET", "/partnerships/renewals?year=2026", None).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(companies(&reply.body), ["Fern", "Acme", "Gala only"]);
    let fern_row = &reply.body["renewals"][0];
    assert_eq!(fern_row["lastYear"], 2025);
    assert_eq!(fern_row["lastAmount"], 8000.0);
    assert_eq!(fern_row["lastTier"], "gold");
    assert_eq!(fern_row["lastEventName"], "Summit");
    assert_eq!(fern_row["ownerEmail"], "mia@members.net");
    assert_eq!(fern_row["lastCommunicationAt"], "2025-11-03T00:00:00.000Z");

    let edition = api
        .call("GET", &format!("/partnerships/renewals?eventId={summit26}"), None)
        .await;
    assert_eq!(edition.body["year"], 2026);
    assert_eq!(
        companies(&edition.body),
        ["Fern", "Acme"],
        "only the previous Summit's sponsors"
    );
    assert_eq!(edition.body["previousEditionEventIds"], json!([summit25]));

    let bad = api.call("GET", "/partnerships/renewals?year=nineteen", None).await;
    assert_eq!(bad.status, 406);
    let unknown = api.call("GET", "/partnerships/renewals?eventId=nope", None).await;
    assert_eq!(unknown.status, 404);
}

#[tokio::test]
async fn the_rollup_adds_the_secured_rows_of_deals_won_before_renewals_existed() {
    let api = TestApi::new().await;
    let summit25 = event(&api, "Summit", 2025).await;
    let (_, link) = deal(&api, "Old friend", &summit25, "paid", 4000.0, json!({})).await;
    api.settle().await;
    // As data written before the stream processor kept these rows: none.
    let pk = shared::store::aggregates::secured_pk(&summit25);
    let rows = api
        .ctx
        .store
        .secured_deals(std::slice::from_ref(&summit25))
        .await
        .unwrap();
    let sort = rows[0].secured_key().unwrap();
    api.ctx
        .store
        .write_rows(std::collections::BTreeMap::from([((pk, sort), None)]))
        .await
        .unwrap();
    let before = api.call("GET", "/partnerships/renewals?year=2026", None).await;
    assert!(companies(&before.body).is_empty());
    rollup::run(api.function("rollup"), std::time::Duration::from_secs(60))
        .await
        .unwrap();
    let after = api.call("GET", "/partnerships/renewals?year=2026", None).await;
    assert_eq!(companies(&after.body), ["Old friend"]);
    assert_eq!(after.body["renewals"][0]["lastAmount"], 4000.0, "{link}");
}

#[tokio::test]
async fn a_secured_row_whose_deal_fell_through_is_not_a_renewal() {
    let api = TestApi::new().await;
    let summit25 = event(&api, "Summit", 2025).await;
    let (_, link) = deal(&api, "Wobbly", &summit25, "paid", 4000.0, json!({})).await;
    api.settle().await;
    // The link falls through behind the stream's back: its row stays until the processor runs.
    let mut item = api.stored(&api.ctx.config.tables.links, &link).await.unwrap();
    item.insert("status".into(), json!("declined"));
    api.put_raw(&api.ctx.config.tables.links, Value::Object(item)).await;
    let reply = api.call("GET", "/partnerships/renewals?year=2026", None).await;
    assert!(companies(&reply.body).is_empty(), "checked against the link itself");
}

/// Two partners for one company: the survivor (pitched at e1, paid at e2) and a duplicate
/// (confirmed at e1, pitched at e2, pitched at e3) with a document and a communication.
async fn duplicates(api: &TestApi) -> (String, String, [String; 3]) {
    let events = [
        event(api, "One", 2026).await,
        event(api, "Two", 2026).await,
        event(api, "Three", 2026).await,
    ];
    let survivor = api
        .create_partner_id(json!({"company": "Acme", "email": "jane@acme.com", "tags": ["ai"]}))
        .await;
    let duplicate = api
        .create_partner_id(json!({"company": "ACME Inc", "email": "j@acme.com", "phone": "555", "tags": ["fintech"]}))
        .await;
    for (partner, event, status, amount) in [
        (&survivor, &events[0], "pitched", 100.0),
        (&survivor, &events[1], "paid", 500.0),
        (&duplicate, &events[0], "confirmed", 300.0),
        (&duplicate, &events[1], "pitched", 900.0),
        (&duplicate, &events[2], "pitched", 50.0),
    ] {
        api.create_id(
            &format!("/partnerships/partners/{partner}/events"),
            "link",
            json!({"eventId": event, "status": status, "amount": amount}),
        )
        .await;
    }
    api.create_id(
        &format!("/partnerships/partners/{duplicate}/documents"),
        "document",
        json!({"title": "Old contract"}),
    )
    .await;
    api.create_id(
        &format!("/partnerships/partners/{duplicate}/communications"),
        "communication",
        json!({"summary": "Intro call"}),
    )
    .await;
    (survivor, duplicate, events)
}

#[tokio::test]
async fn a_dry_run_merge_answers_the_plan_and_writes_nothing() {
    let api = TestApi::new().await;
    let (survivor, duplicate, _) = duplicates(&api).await;
    let before = api
        .call("GET", &format!("/partnerships/partners/{survivor}"), None)
        .await
        .body;
    let reply = api
        .call(
            "POST",
            &format!("/partnerships/partners/{survivor}/merge"),
            Some(json!({"from": duplicate, "dryRun": true})),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["dryRun"], true);
    assert_eq!(
        reply.body["moved"],
        json!({"links": 1, "documents": 1, "communications": 1})
    );
    assert_eq!(reply.body["conflicts"].as_array().unwrap().len(), 2);
    assert_eq!(reply.body["filledFields"], json!(["phone", "tags"]));
    let after = api
        .call("GET", &format!("/partnerships/partners/{survivor}"), None)
        .await
        .body;
    assert_eq!(before, after);
}

#[tokio::test]
async fn a_merge_moves_everything_keeps_the_more_advanced_deal_and_archives_the_duplicate() {
    let api = TestApi::new().await;
    let (survivor, duplicate, events) = duplicates(&api).await;
    let path = format!("/partnerships/partners/{survivor}/merge");
    let reply = api.call("POST", &path, Some(json!({"from": duplicate}))).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let conflicts = reply.body["conflicts"].as_array().unwrap();
    let kept_at = |event: &str| conflicts.iter().find(|c| c["eventId"] == event).unwrap()["kept"].clone();
    assert_eq!(kept_at(&events[0]), "merged", "confirmed beats pitched at One");
    assert_eq!(kept_at(&events[1]), "survivor", "paid beats pitched at Two");

    let detail = api
        .call("GET", &format!("/partnerships/partners/{survivor}"), None)
        .await
        .body;
    let deal_at = |event: &str| {
        detail["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["eventId"] == event)
            .cloned()
            .unwrap()
    };
    assert_eq!(detail["links"].as_array().unwrap().len(), 3);
    assert_eq!(
        (
            deal_at(&events[0])["status"].clone(),
            deal_at(&events[0])["amount"].clone()
        ),
        (json!("confirmed"), json!(300.0))
    );
    assert_eq!(deal_at(&events[1])["amount"], 500.0, "amounts are never summed");
    assert_eq!(deal_at(&events[2])["status"], "pitched");
    assert_eq!(detail["documents"].as_array().unwrap().len(), 1);
    assert_eq!(detail["communications"].as_array().unwrap().len(), 1);
    assert_eq!(
        detail["partner"]["email"], "jane@acme.com",
        "the survivor's own fields stay"
    );
    assert_eq!(detail["partner"]["phone"], "555", "a blank is filled");
    assert_eq!(detail["partner"]["tags"], json!(["ai", "fintech"]));

    let merged = api
        .call("GET", &format!("/partnerships/partners/{duplicate}"), None)
        .await
        .body;
    assert_eq!(merged["partner"]["archived"], true);
    assert_eq!(merged["partner"]["mergedInto"], survivor.as_str());
    assert!(merged["links"].as_array().unwrap().is_empty());

    // The events' stored counters follow: One and Two lost a deal each, Three's moved.
    let list = api.call("GET", "/partnerships/events", None).await.body;
    let counters = |event: &str| {
        let e = list["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == event)
            .unwrap();
        (
            e["relationshipCount"].clone(),
            e["committedAmount"].clone(),
            e["securedAmount"].clone(),
        )
    };
    assert_eq!(counters(&events[0]), (json!(1), json!(300.0), json!(300.0)));
    assert_eq!(counters(&events[1]), (json!(1), json!(500.0), json!(500.0)));
    assert_eq!(counters(&events[2]), (json!(1), json!(50.0), json!(0.0)));

    // Asked again (a retry): the same outcome, nothing more written.
    let again = api.call("POST", &path, Some(json!({"from": duplicate}))).await;
    assert_eq!(again.status, 200);
    assert_eq!(
        again.body["moved"],
        json!({"links": 0, "documents": 0, "communications": 0})
    );
    api.settle().await;
    let activity = api
        .call("GET", &format!("/partnerships/partners/{duplicate}/activity"), None)
        .await
        .body;
    assert_eq!(
        activity["activity"][0]["changes"]["mergedInto"]["to"],
        survivor.as_str()
    );
}

#[tokio::test]
async fn a_merge_refuses_itself_an_unknown_partner_and_a_partner_merged_elsewhere() {
    let api = TestApi::new().await;
    let a = api.create_partner_id(json!({"company": "A"})).await;
    let b = api.create_partner_id(json!({"company": "B"})).await;
    let c = api.create_partner_id(json!({"company": "C"})).await;
    let merge = |into: &str, from: &str| (format!("/partnerships/partners/{into}/merge"), json!({"from": from}));
    let (path, body) = merge(&a, &a);
    assert_eq!(api.call("POST", &path, Some(body)).await.status, 406);
    let (path, body) = merge(&a, "nobody");
    assert_eq!(api.call("POST", &path, Some(body)).await.status, 404);
    let (path, body) = merge(&a, &b);
    assert_eq!(api.call("POST", &path, Some(body)).await.status, 200);
    let (path, body) = merge(&c, &b);
    assert_eq!(api.call("POST", &path, Some(body)).await.status, 409);
}

#[tokio::test]
async fn two_merges_at_once_end_as_one() {
    let api = TestApi::new().await;
    let (survivor, duplicate, events) = duplicates(&api).await;
    let path = format!("/partnerships/partners/{survivor}/merge");
    let body = json!({"from": duplicate});
    let (a, b) = tokio::join!(
        api.call("POST", &path, Some(body.clone())),
        api.call("POST", &path, Some(body.clone()))
    );
    assert_eq!((a.status, b.status), (200, 200), "{:?} {:?}", a.body, b.body);
    let detail = api
        .call("GET", &format!("/partnerships/partners/{survivor}"), None)
        .await
        .body;
    assert_eq!(detail["links"].as_array().unwrap().len(), 3);
    let list = api.call("GET", "/partnerships/events", None).await.body;
    let total: i64 = list["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| events.contains(&e["id"].as_str().unwrap().to_string()))
        .map(|e| e["relationshipCount"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 3, "no deal counted twice or lost");
}

/// An event (started `started_days_ago` days ago; negative = not yet) whose Gold tier promises
/// a logo and a booth, and a paid Gold deal there; `(event, link)`.
async fn promised(api: &TestApi, started_days_ago: i64) -> (String, String) {
    let start = (Utc::now().date_naive() - chrono::Duration::days(started_days_ago)).to_string();
    let event = api
        .create_id(
            "/partnerships/events",
            "event",
            json!({"name": "Expo", "year": this_year(), "startDate": start,
                   "tierConfigs": [{"id": "gold", "label": "Gold", "amount": 5000,
                                    "benefits": ["Logo on site", {"key": "booth", "label": "Booth"}]}]}),
        )
        .await;
    let partner = api
        .create_partner_id(json!({"company": "Sponsor", "contactName": "Sam"}))
        .await;
    let link = api
        .create_id(
            &format!("/partnerships/partners/{partner}/events"),
            "link",
            json!({"eventId": event, "status": "paid", "packageTier": "gold"}),
        )
        .await;
    (event, link)
}

#[tokio::test]
async fn a_tier_lists_its_benefits_and_each_sponsor_shows_what_it_is_owed() {
    let api = TestApi::new().await;
    let (event, link) = promised(&api, 1).await;
    let detail = api
        .call("GET", &format!("/partnerships/events/{event}"), None)
        .await
        .body;
    assert_eq!(
        detail["event"]["tierConfigs"][0]["benefits"],
        json!([{"key": "logo_on_site", "label": "Logo on site"}, {"key": "booth", "label": "Booth"}])
    );
    let row = &detail["sponsorships"][0];
    assert_eq!(row["benefitsOutstanding"], 2);
    assert_eq!(row["benefits"][0]["status"], "pending");
    let path = format!("/partnerships/partner-events/{link}");
    let reply = api
        .call(
            "PATCH",
            &path,
            Some(json!({"fulfilment": {"logo_on_site": {"status": "done", "date": "2026-01-05", "note": "On the homepage"}}})),
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["link"]["fulfilment"]["logo_on_site"]["status"], "done");
    let detail = api
        .call("GET", &format!("/partnerships/events/{event}"), None)
        .await
        .body;
    assert_eq!(detail["sponsorships"][0]["benefitsOutstanding"], 1);
    assert_eq!(detail["event"]["benefitsOutstanding"], 1);
    assert_eq!(detail["sponsorships"][0]["benefits"][0]["note"], "On the homepage");
    let not_applicable = api
        .call(
            "PATCH",
            &path,
            Some(json!({"fulfilment": {"booth": {"status": "n_a"}}})),
        )
        .await;
    assert_eq!(not_applicable.status, 200);
    let detail = api
        .call("GET", &format!("/partnerships/events/{event}"), None)
        .await
        .body;
    assert_eq!(detail["sponsorships"][0]["benefitsOutstanding"], 0);
}

#[tokio::test]
async fn fulfilment_names_only_benefits_the_tier_promises() {
    let api = TestApi::new().await;
    let (_, link) = promised(&api, 1).await;
    let path = format!("/partnerships/partner-events/{link}");
    for bad in [
        json!({"fulfilment": {"yacht": {"status": "done"}}}),
        json!({"fulfilment": {"booth": {"status": "shipped"}}}),
        json!({"fulfilment": {"booth": {"date": "soon"}}}),
    ] {
        let reply = api.call("PATCH", &path, Some(bad)).await;
        assert_eq!(reply.status, 406, "{:?}", reply.body);
    }
}

#[tokio::test]
async fn the_dashboard_lists_benefits_owed_once_the_event_has_started() {
    let api = TestApi::new().await;
    let (_, started) = promised(&api, 2).await;
    let (_, upcoming) = promised(&api, -5).await;
    api.settle().await;
    let dashboard = api.call("GET", "/partnerships/dashboard", None).await.body;
    let items: Vec<&Value> = dashboard["actionItems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["type"] == "benefit_fulfilment")
        .collect();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["sourceId"], started.as_str());
    assert_eq!(items[0]["isOverdue"], true);
    assert_eq!(items[0]["description"], "Expo • 2 outstanding: Logo on site, Booth");
    assert_eq!(items[0]["title"], "Sponsor (Sam)");
    assert_eq!(dashboard["totals"]["overdueBenefitItems"], 1);
    assert!(!items.iter().any(|i| i["sourceId"] == upcoming.as_str()));
    api.call(
        "PATCH",
        &format!("/partnerships/partner-events/{started}"),
        Some(json!({"fulfilment": {"logo_on_site": {"status": "done"}, "booth": {"status": "done"}}})),
    )
    .await;
    api.settle().await;
    let dashboard = api.call("GET", "/partnerships/dashboard", None).await.body;
    assert_eq!(dashboard["totals"]["overdueBenefitItems"], 0);
}

#[tokio::test]
async fn the_export_ends_with_each_deals_outstanding_benefits() {
    let api = TestApi::new().await;
    promised(&api, 1).await;
    let export = api.call("GET", "/partnerships/export", None).await.body;
    let row = export["rows"][0].as_object().unwrap();
    assert_eq!(row.keys().next_back().map(String::as_str), Some("benefitsOutstanding"));
    assert_eq!(row.len(), 25);
    assert_eq!(row["benefitsOutstanding"], 2);
    let csv = api
        .call_with_headers("GET", "/partnerships/export?format=csv", &[])
        .await;
    let text = match csv.body() {
        lambda_http::Body::Text(t) => t.clone(),
        lambda_http::Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    assert!(
        text.lines()
            .next()
            .unwrap()
            .ends_with(",Link Updated At,Benefits Outstanding")
    );
}

async fn import(api: &TestApi, csv: &str, dry_run: bool) -> integration_tests::Reply {
    api.call(
        "POST",
        "/partnerships/import",
        Some(json!({"csv": csv, "dryRun": dry_run})),
    )
    .await
}

/// Acme (jane@acme.com, pitched at Summit 2026) and the CSV a team would bring: Acme again by
/// another address at its domain, a new Beta with a paid deal, Beta again (another row, same
/// company), an unknown event, Acme's deal confirmed, and a bad archived cell.
async fn import_world(api: &TestApi) -> (String, String, &'static str) {
    let summit = event(api, "Summit", 2026).await;
    let acme = api
        .create_partner_id(json!({"company": "Acme Inc", "email": "jane@acme.com"}))
        .await;
    api.create_id(
        &format!("/partnerships/partners/{acme}/events"),
        "link",
        json!({"eventId": summit, "status": "pitched", "amount": 1000}),
    )
    .await;
    let csv = "Company,Email,Phone,Event,Event Year,Pipeline Status,Amount (USD),Archived\n\
               ACME,jane@acme.com,555-0100,,,,,\n\
               Beta,b@beta.io,,Summit,2026,Paid,\"$3,000\",\n\
               beta inc,,555-0199,,,,,\n\
               Gamma,g@gamma.io,,Nope,2026,Pitched,,\n\
               Acme,,,Summit,2026,Confirmed,,\n\
               Delta,d@delta.io,,,,,,maybe\n";
    (summit, acme, csv)
}

#[tokio::test]
async fn a_dry_run_import_answers_the_diff_and_writes_nothing() {
    let api = TestApi::new().await;
    let (_, acme, csv) = import_world(&api).await;
    let reply = import(&api, csv, true).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let body = &reply.body;
    assert_eq!(body["dryRun"], true);
    assert_eq!(body["partners"]["create"].as_array().unwrap().len(), 1);
    assert_eq!(body["partners"]["create"][0]["company"], "Beta");
    let updates = body["partners"]["update"].as_array().unwrap();
    assert_eq!(updates.len(), 2, "{updates:?}");
    assert_eq!(updates[0]["partnerId"], acme.as_str());
    assert_eq!(updates[0]["matchedBy"], "email");
    assert_eq!(updates[0]["fields"], json!(["phone"]));
    assert_eq!(updates[1]["matchedBy"], "company", "beta inc is the Beta of row 3");
    assert_eq!(body["links"]["create"].as_array().unwrap().len(), 1);
    assert_eq!(body["links"]["create"][0]["amount"], 3000.0);
    assert_eq!(body["links"]["update"].as_array().unwrap().len(), 1);
    let rejected: Vec<u64> = body["rejectedRows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["row"].as_u64().unwrap())
        .collect();
    assert_eq!(rejected, [5, 7]);
    let partners = api.call("GET", "/partnerships/partners", None).await.body;
    assert_eq!(partners["partners"].as_array().unwrap().len(), 1, "nothing written");
}

#[tokio::test]
async fn an_import_writes_its_plan_and_a_revert_undoes_exactly_that() {
    let api = TestApi::new().await;
    let (summit, acme, csv) = import_world(&api).await;
    let reply = import(&api, csv, false).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "completed");
    assert_eq!(
        reply.body["counts"],
        json!({"partnersCreated": 1, "partnersUpdated": 2, "linksCreated": 1, "linksUpdated": 1})
    );
    let import_id = reply.body["importId"].as_str().unwrap().to_string();
    let detail = api
        .call("GET", &format!("/partnerships/partners/{acme}"), None)
        .await
        .body;
    assert_eq!(detail["partner"]["phone"], "555-0100");
    assert_eq!(detail["links"][0]["status"], "confirmed");
    let list = api.call("GET", "/partnerships/events", None).await.body;
    let summit_row = list["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == summit.as_str())
        .cloned()
        .unwrap();
    assert_eq!(summit_row["relationshipCount"], 2);
    assert_eq!(summit_row["securedAmount"], 4000.0);

    let reverted = api
        .call("POST", &format!("/partnerships/import/{import_id}/revert"), None)
        .await;
    assert_eq!(reverted.status, 200, "{:?}", reverted.body);
    assert_eq!(reverted.body["status"], "reverted");
    let partners = api
        .call("GET", "/partnerships/partners?includeArchived=true", None)
        .await
        .body;
    assert_eq!(partners["partners"].as_array().unwrap().len(), 1, "Beta is gone");
    let detail = api
        .call("GET", &format!("/partnerships/partners/{acme}"), None)
        .await
        .body;
    assert_eq!(detail["partner"]["phone"], "");
    assert_eq!(detail["links"][0]["status"], "pitched");
    let list = api.call("GET", "/partnerships/events", None).await.body;
    let summit_row = list["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == summit.as_str())
        .cloned()
        .unwrap();
    assert_eq!(
        (
            summit_row["relationshipCount"].clone(),
            summit_row["securedAmount"].clone()
        ),
        (json!(1), json!(0.0))
    );
}

#[tokio::test]
async fn a_revert_refuses_when_a_record_it_wrote_was_edited_since() {
    let api = TestApi::new().await;
    let reply = import(&api, "Company,Email\nNew Co,n@newco.io\n", false).await;
    let import_id = reply.body["importId"].as_str().unwrap().to_string();
    let partner = api.call("GET", "/partnerships/partners", None).await.body["partners"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    api.call(
        "PATCH",
        &format!("/partnerships/partners/{partner}"),
        Some(json!({"notes": "met them"})),
    )
    .await;
    let refused = api
        .call("POST", &format!("/partnerships/import/{import_id}/revert"), None)
        .await;
    assert_eq!(refused.status, 409, "{:?}", refused.body);
    assert_eq!(refused.body["data"]["conflicts"][0]["id"], partner.as_str());
    let still = api
        .call("GET", &format!("/partnerships/partners/{partner}"), None)
        .await;
    assert_eq!(still.status, 200, "nothing undone");
    let status = api
        .call("GET", &format!("/partnerships/import/{import_id}"), None)
        .await;
    assert_eq!(status.body["status"], "completed");
}

#[tokio::test]
async fn a_large_import_continues_where_it_stopped_and_writes_each_row_once() {
    let api = TestApi::new().await;
    let mut csv = String::from("Company,Email\n");
    for i in 0..20 {
        csv.push_str(&format!("Company {i:02},c{i}@company{i:02}.io\n"));
    }
    let started = api
        .call("POST", "/partnerships/import?budgetMs=0", Some(json!({"csv": csv})))
        .await;
    assert_eq!(started.status, 202, "{:?}", started.body);
    assert_eq!(started.body["chunksWritten"], 1);
    assert_eq!(started.body["chunkCount"], 3);
    let id = started.body["importId"].as_str().unwrap().to_string();
    let mut last = started;
    for _ in 0..5 {
        if last.status == 200 {
            break;
        }
        last = api
            .call("POST", &format!("/partnerships/import/{id}/resume?budgetMs=0"), None)
            .await;
    }
    assert_eq!(last.status, 200, "{:?}", last.body);
    assert_eq!(last.body["counts"]["partnersCreated"], 20);
    let again = api
        .call("POST", &format!("/partnerships/import/{id}/resume"), None)
        .await;
    assert_eq!(
        again.body["counts"]["partnersCreated"], 20,
        "resuming a finished import writes nothing"
    );
    let partners = api.call("GET", "/partnerships/partners", None).await.body;
    assert_eq!(partners["partners"].as_array().unwrap().len(), 20);
}

#[tokio::test]
async fn the_exports_own_csv_imports_as_unchanged() {
    let api = TestApi::new().await;
    let summit = event(&api, "Summit", 2026).await;
    let partner = api
        .create_partner_id(json!({"company": "Acme", "email": "jane@acme.com", "tags": ["ai", "fintech"], "tier": "Gold Plus", "isAlumni": true}))
        .await;
    api.create_id(
        &format!("/partnerships/partners/{partner}/events"),
        "link",
        json!({"eventId": summit, "status": "in_conversation", "amount": 2500.5, "packageTier": "gold", "followUpDate": "2026-12-24", "role": "Sponsor", "notes": "call back"}),
    )
    .await;
    api.create_partner_id(json!({"company": "Solo"})).await;
    let csv = api
        .call_with_headers("GET", "/partnerships/export?format=csv", &[])
        .await;
    let text = match csv.body() {
        lambda_http::Body::Text(t) => t.clone(),
        lambda_http::Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    };
    let reply = import(&api, &text, true).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["partners"]["create"], json!([]));
    assert_eq!(reply.body["partners"]["update"], json!([]), "{:?}", reply.body);
    assert_eq!(reply.body["partners"]["unchanged"].as_array().unwrap().len(), 2);
    assert_eq!(reply.body["links"]["create"], json!([]));
    assert_eq!(reply.body["links"]["update"], json!([]), "{:?}", reply.body);
    assert_eq!(reply.body["rejectedRows"], json!([]));
}

#[tokio::test]
async fn a_large_revert_goes_on_when_asked_again() {
    let api = TestApi::new().await;
    let mut csv = String::from("Company\n");
    for i in 0..25 {
        csv.push_str(&format!("Revert {i:02}\n"));
    }
    let done = import(&api, &csv, false).await;
    let id = done.body["importId"].as_str().unwrap().to_string();
    let path = format!("/partnerships/import/{id}/revert?budgetMs=0");
    let first = api.call("POST", &path, None).await;
    assert_eq!(first.status, 202, "{:?}", first.body);
    assert_eq!(first.body["status"], "reverting");
    let mut last = first;
    for _ in 0..5 {
        if last.status == 200 {
            break;
        }
        last = api.call("POST", &path, None).await;
    }
    assert_eq!(last.body["status"], "reverted", "{:?}", last.body);
    let partners = api.call("GET", "/partnerships/partners", None).await.body;
    assert!(partners["partners"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_revert_of_many_partners_refuses_when_one_got_a_record_since() {
    let api = TestApi::new().await;
    let mut csv = String::from("Company\n");
    for i in 0..60 {
        csv.push_str(&format!("Many {i:02}\n"));
    }
    let done = import(&api, &csv, false).await;
    assert_eq!(done.body["counts"]["partnersCreated"], 60, "{:?}", done.body);
    let id = done.body["importId"].as_str().unwrap().to_string();
    let partners = api.call("GET", "/partnerships/partners", None).await.body;
    let touched = partners["partners"][7]["id"].as_str().unwrap().to_string();
    api.create_id(
        &format!("/partnerships/partners/{touched}/communications"),
        "communication",
        json!({"summary": "They called back"}),
    )
    .await;
    let refused = api
        .call("POST", &format!("/partnerships/import/{id}/revert"), None)
        .await;
    assert_eq!(refused.status, 409, "{:?}", refused.body);
    assert_eq!(
        refused.body["data"]["conflicts"],
        json!([{"kind": "partner", "id": touched, "reason": "has links, documents or communications added since"}])
    );
    let partners = api.call("GET", "/partnerships/partners", None).await.body;
    assert_eq!(partners["partners"].as_array().unwrap().len(), 60, "nothing undone");
}
