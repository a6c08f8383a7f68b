//! The local stack holds every function to its IAM role from `template.yaml`: a grant the
//! template lacks fails here exactly as it would on AWS.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue;
use integration_tests::{TestApi, template};
use serde_json::{Value, json};

/// The real template with the statements of `function` that grant on `resource` removed.
fn without_grant(function: &str, resource: &Value) -> local_stack::template::Template {
    let mut template = template();
    let spec = template
        .functions
        .iter_mut()
        .find(|f| f.logical_id == function)
        .expect("function in template");
    for policy in &mut spec.policies {
        if let Some(statements) = policy.get_mut("Statement").and_then(Value::as_array_mut) {
            statements.retain(|s| &s["Resource"] != resource);
        }
    }
    template
}

#[tokio::test]
async fn every_route_of_the_real_template_is_granted() {
    let api = TestApi::new().await;
    assert_eq!(api.call("GET", "/partnerships/events", None).await.status, 200);
}

#[tokio::test]
async fn a_missing_grant_fails_as_on_aws() {
    let own_table = json!({"!GetAtt": "PartnershipEventsTable.Arn"});
    let api = TestApi::with_template(without_grant("EventsFunction", &own_table)).await;

    let list = api.call("GET", "/partnerships/events", None).await;
    assert_eq!((list.status, list.message()), (500, "Request failed."));

    let events = api.function("events");
    let denied = events
        .store
        .client()
        .get_item()
        .table_name(&events.config.tables.events)
        .key("id", AttributeValue::S("any".into()))
        .send()
        .await
        .expect_err("without the grant, the events role may not read its table");
    assert_eq!(denied.code(), Some("AccessDeniedException"));
    let message = denied.message().unwrap_or_default();
    assert!(
        message.contains("is not authorized to perform: dynamodb:GetItem on resource: arn:aws:dynamodb:")
            && message.contains(&format!(":table/{}", events.config.tables.events)),
        "{message}"
    );

    let allowed = events.store.partner_cards(&["any".to_string()]).await;
    assert!(allowed.is_ok(), "what the role still grants works: {allowed:?}");
}
