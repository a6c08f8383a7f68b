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
