//! Hostile input: no value can poison a record, no request is a 5xx, no answer echoes a megabyte
//! (issue 9, §2 and §4).

use integration_tests::{TestApi, admin_claims};
use serde_json::{Value, json};

async fn new_event(api: &TestApi) -> String {
    let reply = api
        .call(
            "POST",
            "/partnerships/events",
            Some(json!({"name": "Gala", "year": 2026})),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body["event"]["id"].as_str().unwrap().to_string()
}

async fn new_partner(api: &TestApi) -> String {
    api.create_partner(json!({"company": "Acme"})).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn money_inputs_are_bounded_and_name_the_field() {
    let api = TestApi::new().await;
    let (event, partner) = (new_event(&api).await, new_partner(&api).await);
    let links = format!("/partnerships/partners/{partner}/events");
    for amount in [json!(9.3e16), json!(1_000_000_000.01), json!(12.345), json!("12.345")] {
        let reply = api
            .call("POST", &links, Some(json!({"eventId": event, "amount": amount})))
            .await;
        assert_eq!(
            (reply.status, reply.message()),
            (406, "'amount' must be at most 1,000,000,000 with at most 2 decimals."),
            "{amount}"
        );
    }
    let goal = api
        .call(
            "POST",
            "/partnerships/events",
            Some(json!({"name": "Big", "year": 2026, "sponsorshipGoal": 1e10})),
        )
        .await;
    assert_eq!(
        (goal.status, goal.body["data"].clone()),
        (406, json!({"sponsorshipGoal": 1e10}))
    );
    let tier = api
        .call(
            "POST",
            "/partnerships/events",
            Some(json!({"name": "Tiers", "year": 2026, "tierConfigs": [{"id": "gold", "defaultAmount": 2e9}]})),
        )
        .await;
    assert_eq!(tier.status, 406, "{:?}", tier.body);
    assert!(tier.message().starts_with("'tier.amount'"), "{}", tier.message());

    let at_bound = api
        .call("POST", &links, Some(json!({"eventId": event, "amount": 1_000_000_000})))
        .await;
    assert_eq!(at_bound.status, 201, "{:?}", at_bound.body);
}

#[tokio::test]
async fn numbers_dynamodb_cannot_store_are_refused_by_name() {
    let api = TestApi::new().await;
    let (event, partner) = (new_event(&api).await, new_partner(&api).await);
    let links = format!("/partnerships/partners/{partner}/events");
    for number in ["1e126", "1e309", "-0", "1e-400"] {
        let body = format!(r#"{{"eventId": "{event}", "amount": {number}}}"#);
        let reply = api.call_raw("POST", &links, Some(&body), Some(admin_claims())).await;
        assert_eq!(reply.status, 406, "{number}: {:?}", reply.body);
        assert!(
            reply.message().starts_with("'amount' "),
            "{number}: {}",
            reply.message()
        );
        let nested = format!(r#"{{"name": "N", "year": 2026, "tierConfigs": [{{"id": "g", "amount": {number}}}]}}"#);
        let reply = api
            .call_raw("POST", "/partnerships/events", Some(&nested), Some(admin_claims()))
            .await;
        assert_eq!(reply.status, 406, "{number}: {:?}", reply.body);
        assert!(reply.message().starts_with("'tierConfigs' "), "{}", reply.message());
    }
}

#[tokio::test]
async fn a_poisoned_stored_amount_never_makes_a_read_fail() {
    let api = TestApi::new().await;
    let (event, partner) = (new_event(&api).await, new_partner(&api).await);
    let created = api
        .call(
            "POST",
            &format!("/partnerships/partners/{partner}/events"),
            Some(json!({"eventId": event, "amount": 100})),
        )
        .await;
    assert_eq!(created.status, 201);
    let link_id = created.body["link"]["id"]
        .as_str()
        .or(created.body["id"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| format!("{partner}::{event}"));
    // What two 9.3e16 creates left behind before the bounds: an amount and counters past i64.
    let tables = &api.ctx.config.tables;
    let client = api.ctx.store.client();
    client
        .update_item()
        .table_name(&tables.events)
        .key("id", aws_sdk_dynamodb::types::AttributeValue::S(event.clone()))
        .update_expression("SET committedCents = :c, securedCents = :c, lostCents = :c, referenceCount = :c")
        .expression_attribute_values(
            ":c",
            aws_sdk_dynamodb::types::AttributeValue::N("18600000000000000000".into()),
        )
        .send()
        .await
        .unwrap();
    client
        .update_item()
        .table_name(&tables.links)
        .key("id", aws_sdk_dynamodb::types::AttributeValue::S(link_id.clone()))
        .update_expression("SET amount = :a")
        .expression_attribute_values(
            ":a",
            aws_sdk_dynamodb::types::AttributeValue::N("93000000000000000".into()),
        )
        .send()
        .await
        .unwrap();

    for path in [
        "/partnerships/events".to_string(),
        format!("/partnerships/events/{event}"),
        "/partnerships/dashboard".to_string(),
        "/partnerships/partners".to_string(),
        format!("/partnerships/partners/{partner}"),
        "/partnerships/export".to_string(),
    ] {
        let reply = api.call("GET", &path, None).await;
        assert_eq!(reply.status, 200, "{path}: {:?}", reply.body);
    }
    let patched = api
        .call(
            "PATCH",
            &format!("/partnerships/partner-events/{link_id}"),
            Some(json!({"amount": 50})),
        )
        .await;
    assert_eq!(
        patched.status, 200,
        "a repair through the API works: {:?}",
        patched.body
    );
    let report = rollup::run(api.function("rollup"), std::time::Duration::from_secs(60))
        .await
        .expect("the rollup runs");
    assert!(report.pass_completed);
}

#[tokio::test]
async fn the_rollup_skips_and_reports_an_item_it_cannot_read() {
    let api = TestApi::new().await;
    new_partner(&api).await;
    api.put_raw(
        &api.ctx.config.tables.partners,
        json!({"id": "broken", "company": {"not": "text"}, "version": "x"}),
    )
    .await;
    let report = rollup::run(api.function("rollup"), std::time::Duration::from_secs(60))
        .await
        .expect("one bad item never stops the run");
    assert!(report.pass_completed);
    assert_eq!(report.skipped, 1);
    assert_eq!(
        (
            report.skipped_items[0].table.as_str(),
            report.skipped_items[0].id.as_str()
        ),
        (api.ctx.config.tables.partners.as_str(), "broken")
    );
}

#[tokio::test]
async fn an_id_that_cannot_exist_is_a_404_on_every_route() {
    let api = TestApi::new().await;
    let long = "x".repeat(3000);
    let template = integration_tests::template();
    let mut checked = 0;
    for route in template.routes.iter().filter(|r| r.path.contains('{')) {
        let path = route
            .path
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    long.as_str()
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let body = match route.method.as_str() {
            "POST" => Some(json!({"title": "T", "eventId": "e", "subject": "s", "status": "paid", "from": "p"})),
            "PATCH" => Some(json!({"title": "T", "subject": "s", "status": "paid"})),
            _ => None,
        };
        let reply = api.call(&route.method, &path, body).await;
        assert_eq!(reply.status, 404, "{}: {:?}", route.route_key(), reply.body);
        assert!(
            reply.message().len() < 400,
            "{}: the id is not echoed whole",
            route.route_key()
        );
        checked += 1;
    }
    assert!(checked >= 10, "every route with an id: {checked}");
}

#[tokio::test]
async fn a_forged_cursor_is_a_406() {
    let api = TestApi::new().await;
    let partner = new_partner(&api).await;
    use base64::Engine;
    let forged = [
        "not-base64!".to_string(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!(r##"{{"id":"c","partnerId":"{partner}","updatedAt":"text"}}"##)),
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!(r##"{{"id":"c","partnerId":"{partner}","bogus":"#1"}}"##)),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r##"{"id":"c","partnerId":"other","updatedAt":"#1"}"##),
    ];
    for kind in ["documents", "communications"] {
        for cursor in &forged {
            let reply = api
                .call(
                    "GET",
                    &format!("/partnerships/partners/{partner}/{kind}?limit=5&cursor={cursor}"),
                    None,
                )
                .await;
            assert_eq!(
                (reply.status, reply.message()),
                (406, "'cursor' is invalid."),
                "{kind} {cursor}"
            );
        }
    }
}

#[tokio::test]
async fn a_406_never_echoes_a_megabyte() {
    let api = TestApi::new().await;
    let huge = "x".repeat(1_000_000);
    let reply = api
        .call("POST", "/partnerships/partners", Some(json!({"company": huge})))
        .await;
    assert_eq!(reply.status, 406);
    assert!(
        reply.body.to_string().len() < 2_000,
        "{} bytes",
        reply.body.to_string().len()
    );

    let tags: Vec<Value> = (0..200_000).map(|i| json!(i)).collect();
    let reply = api
        .call(
            "POST",
            "/partnerships/partners",
            Some(json!({"company": "A", "tags": tags})),
        )
        .await;
    assert_eq!(reply.status, 406, "{:?}", reply.message());
    assert!(
        reply.body.to_string().len() < 4_000,
        "{} bytes",
        reply.body.to_string().len()
    );
}
