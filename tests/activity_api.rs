//! The activity log and change events (issue 13), from the tables' streams through the stream
//! processor, against DynamoDB Local and the EventBridge emulator.

use integration_tests::{TestApi, repo_path, test_mail_settings};
use serde_json::{Value, json};

async fn activity(api: &TestApi, path: &str) -> Vec<Value> {
    let reply = api.call("GET", path, None).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body["activity"].as_array().unwrap().clone()
}

fn actions(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| format!("{}.{}", e["entity"].as_str().unwrap(), e["action"].as_str().unwrap()))
        .collect()
}

#[tokio::test]
async fn a_partners_edits_are_its_activity_newest_first_with_each_change() {
    let api = TestApi::new().await;
    let id = api.create_partner_id(json!({"company": "Acme", "tags": ["ai"]})).await;
    api.call(
        "PATCH",
        &format!("/partnerships/partners/{id}"),
        Some(json!({"tags": ["ai", "fintech"], "notes": "met"})),
    )
    .await;
    api.settle().await;
    let entries = activity(&api, &format!("/partnerships/partners/{id}/activity")).await;
    assert_eq!(actions(&entries), ["partner.updated", "partner.created"]);
    let edit = &entries[0];
    assert_eq!(edit["actor"], "tester@example.org");
    assert_eq!(edit["entityId"], id.as_str());
    assert_eq!(
        edit["changes"]["tags"],
        json!({"from": ["ai"], "to": ["ai", "fintech"]})
    );
    assert_eq!(edit["changes"]["notes"], json!({"from": "", "to": "met"}));
    assert!(edit["changes"].get("version").is_none() && edit["changes"].get("updatedAt").is_none());
    assert_eq!(edit["maintenance"], false);
    assert!(edit["at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn links_documents_and_communications_are_on_their_partners_and_events_activity() {
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
    api.call(
        "PATCH",
        &format!("/partnerships/partner-events/{link}"),
        Some(json!({"status": "confirmed", "amount": 5000})),
    )
    .await;
    let document = api
        .create_id(
            &format!("/partnerships/partners/{partner}/documents"),
            "document",
            json!({"title": "Deck", "eventId": event}),
        )
        .await;
    api.call("DELETE", &format!("/partnerships/partner-documents/{document}"), None)
        .await;
    let communication = api
        .create_id(
            &format!("/partnerships/partners/{partner}/communications"),
            "communication",
            json!({"summary": "Call"}),
        )
        .await;
    let path = format!("/partnerships/partner-communications/{communication}");
    api.call("PATCH", &path, Some(json!({"summary": "Long call"}))).await;
    api.call("DELETE", &path, None).await;
    api.settle().await;
    let on_partner = actions(&activity(&api, &format!("/partnerships/partners/{partner}/activity")).await);
    for expected in [
        "link.created",
        "link.updated",
        "document.created",
        "document.deleted",
        "communication.created",
        "communication.updated",
        "communication.deleted",
        "partner.created",
    ] {
        assert!(
            on_partner.contains(&expected.to_string()),
            "{expected} missing from {on_partner:?}"
        );
    }
    let event_entries = activity(&api, &format!("/partnerships/events/{event}/activity")).await;
    let on_event = actions(&event_entries);
    for expected in ["link.created", "link.updated", "document.created", "event.created"] {
        assert!(
            on_event.contains(&expected.to_string()),
            "{expected} missing from {on_event:?}"
        );
    }
    let status_change = event_entries
        .iter()
        .find(|e| e["action"] == "updated" && e["entity"] == "link")
        .unwrap();
    assert_eq!(
        status_change["changes"]["status"],
        json!({"from": "pitched", "to": "confirmed"})
    );
    let deleted = activity(&api, &format!("/partnerships/partners/{partner}/activity"))
        .await
        .into_iter()
        .find(|e| e["action"] == "deleted")
        .unwrap();
    assert_eq!(deleted["actor"], Value::Null, "a delete records no actor");
}

#[tokio::test]
async fn a_rename_re_key_is_recorded_as_maintenance() {
    let api = TestApi::new().await;
    let partner = api.create_partner_id(json!({"company": "Acme"})).await;
    let event = api
        .create_id("/partnerships/events", "event", json!({"name": "Summit", "year": 2026}))
        .await;
    api.call(
        "POST",
        &format!("/partnerships/partners/{partner}/events"),
        Some(json!({"eventId": event, "status": "pitched"})),
    )
    .await;
    api.call(
        "PATCH",
        &format!("/partnerships/events/{event}"),
        Some(json!({"name": "Summit Two"})),
    )
    .await;
    api.settle().await;
    let entries = activity(&api, &format!("/partnerships/partners/{partner}/activity")).await;
    let rekey = entries
        .iter()
        .find(|e| e["entity"] == "link" && e["action"] == "updated" && e["changes"].get("eventName").is_some())
        .expect("the link's new event name");
    assert_eq!(rekey["maintenance"], true);
    assert_eq!(rekey["actor"], "system");
    let renamed = activity(&api, &format!("/partnerships/events/{event}/activity")).await;
    assert_eq!(
        renamed[0..]
            .iter()
            .find(|e| e["entity"] == "event" && e["action"] == "updated")
            .unwrap()["actor"],
        "tester@example.org"
    );
}

#[tokio::test]
async fn activity_pages_by_cursor_and_refuses_a_foreign_one() {
    let api = TestApi::new().await;
    let id = api.create_partner_id(json!({"company": "Acme"})).await;
    for n in 0..3 {
        api.call(
            "PATCH",
            &format!("/partnerships/partners/{id}"),
            Some(json!({"notes": format!("n{n}")})),
        )
        .await;
    }
    api.settle().await;
    let mut seen = Vec::new();
    let mut path = format!("/partnerships/partners/{id}/activity?limit=2");
    loop {
        let page = api.call("GET", &path, None).await;
        seen.extend(page.body["activity"].as_array().unwrap().clone());
        match page.body["nextCursor"].as_str() {
            Some(cursor) => path = format!("/partnerships/partners/{id}/activity?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 4, "three edits and the create");
    let other = api.create_partner_id(json!({"company": "Beta"})).await;
    let first = api
        .call("GET", &format!("/partnerships/partners/{id}/activity?limit=1"), None)
        .await;
    let cursor = first.body["nextCursor"].as_str().unwrap();
    let foreign = api
        .call(
            "GET",
            &format!("/partnerships/partners/{other}/activity?cursor={cursor}"),
            None,
        )
        .await;
    assert_eq!(foreign.status, 406);
    assert_eq!(
        api.call("GET", "/partnerships/partners/nope/activity", None)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn a_retried_stream_batch_writes_each_entry_once() {
    let api = TestApi::new().await;
    let text = std::fs::read_to_string(repo_path("events/stream/partners.json"))
        .unwrap()
        .replace("biztechPartnersdev", &api.ctx.config.tables.partners);
    for _ in 0..2 {
        let batch = serde_json::from_str(&text).unwrap();
        let response = stream::handle(batch, api.function("stream")).await;
        assert!(response.batch_item_failures.is_empty());
    }
    let entries = api
        .ctx
        .store
        .activity("partner#sample-partner-0002", 100, None)
        .await
        .unwrap()
        .0;
    let ids: std::collections::BTreeSet<String> =
        entries.iter().map(|e| e["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(ids.len(), entries.len(), "no entry twice");
    assert!(!entries.is_empty());
}

#[tokio::test]
async fn change_events_reach_a_queue_subscribed_on_the_bus() {
    let settings = test_mail_settings();
    let api = TestApi::with_bus(settings).await;
    let bus = api.ctx.config.event_bus.clone().unwrap();
    // A subscriber: a rule on the bus with a queue target, as another system would add.
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue = sqs
        .create_queue()
        .queue_name(format!("{bus}-subscriber"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap();
    let arn = attributes.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn].clone();
    events
        .put_rule()
        .name("subscriber")
        .event_bus_name(&bus)
        .event_pattern(
            json!({"source": ["partnerships"], "detail-type": [{"prefix": "partnerships.partner."}]}).to_string(),
        )
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule("subscriber")
        .event_bus_name(&bus)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("q")
                .arn(arn)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let id = api.create_partner_id(json!({"company": "Acme"})).await;
    api.call(
        "PATCH",
        &format!("/partnerships/partners/{id}"),
        Some(json!({"company": "Acme Inc"})),
    )
    .await;
    api.settle().await;
    let mut received = Vec::new();
    for _ in 0..5 {
        let out = sqs
            .receive_message()
            .queue_url(&queue)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        for message in out.messages() {
            received.push(serde_json::from_str::<Value>(message.body().unwrap()).unwrap());
        }
        if received.len() >= 2 {
            break;
        }
    }
    let types: Vec<&str> = received.iter().map(|e| e["detail-type"].as_str().unwrap()).collect();
    assert!(types.contains(&"partnerships.partner.created"), "{types:?}");
    assert!(types.contains(&"partnerships.partner.updated"), "{types:?}");
    let updated = received
        .iter()
        .find(|e| e["detail-type"] == "partnerships.partner.updated")
        .unwrap();
    assert_eq!(
        updated["detail"]["changes"]["company"],
        json!({"from": "Acme", "to": "Acme Inc"})
    );
    assert_eq!(updated["detail"]["entityId"], id.as_str());
}

#[tokio::test]
async fn a_deleted_link_and_event_keep_their_log() {
    let api = TestApi::new().await;
    let partner = api.create_partner_id(json!({"company": "Acme"})).await;
    let event = api
        .create_id("/partnerships/events", "event", json!({"name": "Gala", "year": 2026}))
        .await;
    let link = api
        .create_id(
            &format!("/partnerships/partners/{partner}/events"),
            "link",
            json!({"eventId": event, "status": "pitched"}),
        )
        .await;
    api.call("DELETE", &format!("/partnerships/partner-events/{link}"), None)
        .await;
    let deleted = api.call("DELETE", &format!("/partnerships/events/{event}"), None).await;
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);
    api.settle().await;
    let on_event = actions(&activity(&api, &format!("/partnerships/events/{event}/activity")).await);
    assert!(on_event.contains(&"event.deleted".to_string()), "{on_event:?}");
    assert!(on_event.contains(&"link.deleted".to_string()), "{on_event:?}");
    assert_eq!(
        api.call("GET", "/partnerships/events/never-was/activity", None)
            .await
            .status,
        404
    );
}
