//! The stream processor, fed by the local event source mappings from DynamoDB Local's streams:
//! the partner counters follow partner writes, exactly once per record, under the function's
//! own role.

use integration_tests::{TestApi, template};
use serde_json::{Value, json};

/// A Lambda DynamoDB stream event of partner INSERTs with the given sequence numbers.
fn partner_inserts(api: &TestApi, records: &[(&str, &str)]) -> aws_lambda_events::event::dynamodb::Event {
    let arn = format!(
        "arn:aws:dynamodb:us-east-1:000000000000:table/{}/stream/2026-12-01T00:00:00.000",
        api.ctx.config.tables.partners
    );
    let records: Vec<Value> = records
        .iter()
        .map(|(event_id, sequence)| {
            json!({
                "eventID": event_id, "eventName": "INSERT", "eventVersion": "1.1",
                "eventSource": "aws:dynamodb", "awsRegion": "us-east-1", "eventSourceARN": arn,
                "dynamodb": {
                    "Keys": {"id": {"S": event_id}},
                    "NewImage": {"id": {"S": event_id}, "company": {"S": "Acme"}, "archived": {"BOOL": false}},
                    "SequenceNumber": sequence, "SizeBytes": 40, "StreamViewType": "NEW_AND_OLD_IMAGES"
                }
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).expect("a valid stream event")
}

/// The real template with the stream processor's statements that `dropped` picks removed.
fn processor_without(dropped: impl Fn(&Value) -> bool) -> local_stack::template::Template {
    let mut template = template();
    let processor = template
        .functions
        .iter_mut()
        .find(|f| f.binary == "stream")
        .expect("stream function");
    for policy in &mut processor.policies {
        if let Some(statements) = policy.get_mut("Statement").and_then(Value::as_array_mut) {
            statements.retain(|s| !dropped(s));
        }
    }
    template
}

#[tokio::test]
async fn partner_counters_follow_creates_archives_and_restores() {
    let api = TestApi::new().await;
    let a = api.create_partner(json!({"company": "Acme"})).await;
    api.create_partner(json!({"company": "Beta"})).await;
    let path = format!("/partnerships/partners/{}", a["id"].as_str().unwrap());
    assert_eq!(
        api.call("PATCH", &path, Some(json!({"archived": true}))).await.status,
        200
    );
    assert!(api.settle().await >= 3, "the creates and the archive were delivered");
    assert_eq!(api.ctx.store.partner_counts().await.unwrap(), (2, 1));

    assert_eq!(
        api.call("PATCH", &path, Some(json!({"archived": false}))).await.status,
        200
    );
    assert_eq!(
        api.call("PATCH", &path, Some(json!({"notes": "edited"}))).await.status,
        200
    );
    api.settle().await;
    assert_eq!(api.ctx.store.partner_counts().await.unwrap(), (2, 0));
}

#[tokio::test]
async fn a_create_is_one_conditional_put() {
    let api = TestApi::new().await;
    let reply = api
        .call("POST", "/partnerships/partners", Some(json!({"company": "Acme"})))
        .await;
    assert_eq!(reply.status, 201);
    let units: f64 = reply.headers[shared::http::WRITE_UNITS_HEADER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(units, 1.0, "no transaction and no counter row on the request path");
}

#[tokio::test]
async fn a_retried_batch_is_applied_once() {
    let api = TestApi::new().await;
    let ctx = api.function("stream");
    let batch = partner_inserts(
        &api,
        &[("e1", "000000000000000000101"), ("e2", "000000000000000000102")],
    );
    for _ in 0..2 {
        let response = stream::handle(batch.clone(), ctx).await;
        assert!(response.batch_item_failures.is_empty());
    }
    assert_eq!(api.ctx.store.partner_counts().await.unwrap(), (2, 0));

    // Lambda may retry a batch from its first record with more records behind it.
    let longer = partner_inserts(
        &api,
        &[
            ("e1", "000000000000000000101"),
            ("e2", "000000000000000000102"),
            ("e3", "000000000000000000103"),
        ],
    );
    assert!(stream::handle(longer, ctx).await.batch_item_failures.is_empty());
    assert_eq!(api.ctx.store.partner_counts().await.unwrap(), (3, 0));
}

#[tokio::test]
async fn a_batch_that_cannot_be_applied_is_reported_from_its_first_record() {
    // The role loses its grant on the meta table: the counters cannot be written.
    let api = TestApi::with_template(processor_without(|s| {
        s["Resource"] == json!({"!GetAtt": "PartnershipsMetaTable.Arn"})
    }))
    .await;
    let batch = partner_inserts(
        &api,
        &[("e1", "000000000000000000201"), ("e2", "000000000000000000202")],
    );
    let response = stream::handle(batch, api.function("stream")).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, vec![Some("000000000000000000201".to_string())]);
    api.create_partner(json!({"company": "Acme"})).await;
    assert!(
        api.streams.drain().await.is_err(),
        "delivery keeps failing, as the mapping would retry"
    );
}

#[tokio::test]
async fn the_mapping_reads_the_stream_under_the_functions_role() {
    let api = TestApi::with_template(processor_without(|s| {
        s["Action"].to_string().contains("dynamodb:GetRecords")
    }))
    .await;
    api.create_partner(json!({"company": "Acme"})).await;
    let error = api.streams.drain().await.expect_err("no grant on the stream");
    assert!(
        format!("{error:?}").contains("AccessDenied"),
        "denied as AWS denies it: {error:?}"
    );
}

#[tokio::test]
async fn a_record_with_an_unreadable_image_does_not_block_the_shard() {
    let api = TestApi::new().await;
    let mut batch = serde_json::to_value(partner_inserts(
        &api,
        &[("p-bad", "000000000000000000301"), ("p-good", "000000000000000000302")],
    ))
    .unwrap();
    // The first record's image has every attribute of the wrong type.
    batch["Records"][0]["dynamodb"]["NewImage"] = json!({
        "id": {"S": "p-bad"}, "company": {"N": "5"}, "archived": {"S": "maybe"}, "tags": {"N": "1"}, "updatedAt": {"S": "soon"}
    });
    let batch = serde_json::from_value(batch).unwrap();
    let response = stream::handle(batch, api.function("stream")).await;
    assert!(response.batch_item_failures.is_empty(), "the shard moves on");
    assert_eq!(
        api.ctx.store.partner_counts().await.unwrap(),
        (2, 0),
        "both records counted"
    );
    let good = api.ctx.store.activity("partner#p-good", 10, None).await.unwrap().0;
    assert_eq!(good.len(), 1, "the record behind it is logged");
    let bad = api.ctx.store.activity("partner#p-bad", 10, None).await.unwrap().0;
    assert_eq!(bad[0]["changes"]["company"]["to"], 5, "logged as it was");
}
