//! The meta function's email routes (contract §8, issue 11) against DynamoDB Local and the SES /
//! EventBridge emulator: what was actually sent is read back from the emulator.

use std::time::Duration;

use integration_tests::{TEST_SIGNING_SECRET, TestApi, sent_mail, test_mail_settings};
use serde_json::{Value, json};

fn unique_email(tag: &str) -> String {
    format!(
        "{tag}-{}@acme-{}.com",
        &uuid::Uuid::new_v4().simple().to_string()[..8],
        tag
    )
}

async fn partner(api: &TestApi, company: &str, contact: &str, email: &str) -> String {
    let p = api
        .create_partner(json!({"company": company, "contactName": contact, "email": email}))
        .await;
    p["id"].as_str().unwrap().to_string()
}

async fn send(api: &TestApi, body: Value) -> integration_tests::Reply {
    api.call("POST", "/partnerships/email/send", Some(body)).await
}

fn statuses(reply: &integration_tests::Reply) -> Vec<String> {
    reply.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap().to_string())
        .collect()
}

/// The query of the unsubscribe link in a raw message.
fn unsubscribe_query(raw: &str) -> String {
    let start = raw.find("List-Unsubscribe: <").expect("List-Unsubscribe header") + "List-Unsubscribe: <".len();
    let url = &raw[start..start + raw[start..].find('>').unwrap()];
    url.split_once('?').unwrap().1.to_string()
}

#[tokio::test]
async fn config_names_the_sender_and_the_twelve_merge_fields() {
    let api = TestApi::new().await;
    let reply = api.call("GET", "/partnerships/email/config", None).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["sender"], "tester@example.org");
    assert_eq!(reply.body["senderFirstName"], "Test");
    assert_eq!(reply.body["senderLastName"], "Er");
    assert_eq!(reply.body["maxRecipients"], 200);
    let fields = reply.body["mergeFields"].as_array().unwrap();
    assert_eq!(fields.len(), 12);
    assert_eq!(
        fields[0],
        json!({"key": "recipient_first_name", "label": "Recipient First Name", "description": fields[0]["description"], "token": "{{recipient_first_name}}"})
    );
    assert_eq!(fields[11]["key"], "event_year");
}

#[tokio::test]
async fn config_refuses_a_caller_without_an_email() {
    let api = TestApi::new().await;
    let claims = json!({"cognito:username": "ops", "cognito:groups": ["partnerships-admins"]});
    let reply = api
        .call_raw("GET", "/partnerships/email/config", None, Some(claims))
        .await;
    assert_eq!(reply.status, 406);
    assert_eq!(
        reply.message(),
        "Unable to determine sender email from the signed-in account."
    );
    assert_eq!(reply.body["data"], json!({"actorEmail": "ops"}));
    let api = &api;
    let send = |body: Value| {
        let claims = json!({"cognito:username": "ops", "cognito:groups": ["partnerships-admins"]});
        let text = body.to_string();
        async move {
            api.call_raw("POST", "/partnerships/email/send", Some(&text), Some(claims))
                .await
        }
    };
    assert_eq!(
        send(json!({})).await.message(),
        "'subject' is required.",
        "the body is checked first"
    );
    let valid = send(json!({"subject": "s", "body": "b", "partnerIds": ["p"]})).await;
    assert_eq!(
        valid.message(),
        "Unable to determine sender email from the signed-in account."
    );
}

#[tokio::test]
async fn templates_are_created_listed_newest_first_edited_and_archived() {
    let api = TestApi::new().await;
    let create = |name: &str| json!({"name": name, "description": "d", "subjectTemplate": "Hi {{company_name}}", "bodyTemplate": "Dear {{ Recipient_First_Name }}"});
    let first = api
        .call("POST", "/partnerships/email/templates", Some(create("First")))
        .await;
    assert_eq!(first.status, 201, "{:?}", first.body);
    assert_eq!(first.body["message"], "Mass email template created.");
    assert_eq!(
        first.body["template"]["bodyTemplate"],
        "Dear {{ Recipient_First_Name }}"
    );
    assert_eq!(first.body["template"]["createdBy"], "tester@example.org");
    assert_eq!(first.body["template"]["lastUsedAt"], Value::Null);
    tokio::time::sleep(Duration::from_millis(5)).await;
    let second = api
        .call("POST", "/partnerships/email/templates", Some(create("Second")))
        .await;
    let id = first.body["template"]["id"].as_str().unwrap().to_string();
    let listed = api.call("GET", "/partnerships/email/templates", None).await;
    let names: Vec<&str> = listed.body["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Second", "First"]);

    let edited = api
        .call(
            "PATCH",
            &format!("/partnerships/email/templates/{id}"),
            Some(json!({"name": "First, edited"})),
        )
        .await;
    assert_eq!(edited.status, 200);
    assert_eq!(edited.body["message"], "Mass email template updated.");
    assert_eq!(edited.body["template"]["name"], "First, edited");

    let archived = api
        .call("DELETE", &format!("/partnerships/email/templates/{id}"), None)
        .await;
    assert_eq!(archived.body["message"], "Mass email template archived.");
    assert_eq!(archived.body["template"]["archived"], true);
    let again = api
        .call("DELETE", &format!("/partnerships/email/templates/{id}"), None)
        .await;
    assert_eq!(again.status, 200, "archiving twice is allowed");
    let active = api.call("GET", "/partnerships/email/templates", None).await;
    assert_eq!(active.body["templates"].as_array().unwrap().len(), 1);
    let all = api
        .call("GET", "/partnerships/email/templates?includeArchived=true", None)
        .await;
    assert_eq!(all.body["templates"].as_array().unwrap().len(), 2);

    let restored = api
        .call(
            "PATCH",
            &format!("/partnerships/email/templates/{id}"),
            Some(json!({"archived": false})),
        )
        .await;
    assert_eq!(restored.body["template"]["archived"], false);
    assert_eq!(
        api.call("GET", "/partnerships/email/templates", None).await.body["templates"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(second.status, 201);
}

#[tokio::test]
async fn template_input_is_checked_as_the_contract_says() {
    let api = TestApi::new().await;
    let post = |body: Value| api.call("POST", "/partnerships/email/templates", Some(body));
    assert_eq!(post(json!({})).await.message(), "'name' is required.");
    assert_eq!(
        post(json!({"name": "n"})).await.message(),
        "'subjectTemplate' is required."
    );
    assert_eq!(
        post(json!({"name": "n", "subjectTemplate": "s"})).await.message(),
        "'bodyTemplate' is required."
    );
    let bad =
        post(json!({"name": "n", "subjectTemplate": "s", "bodyTemplate": "Hi {{first_name}} at {{companyName}}"}))
            .await;
    assert_eq!(bad.status, 406);
    assert_eq!(
        bad.message(),
        "'bodyTemplate' includes unsupported merge field token(s): {{first_name}}, {{companyname}}."
    );
    assert_eq!(bad.body["data"]["field"], "bodyTemplate");
    let missing = api
        .call(
            "PATCH",
            "/partnerships/email/templates/nope",
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.message(),
        "partnerships mass-email template with id 'nope' could not be found. Make sure you have provided the correct id."
    );
    let made = post(json!({"name": "n", "subjectTemplate": "s", "bodyTemplate": "b"})).await;
    let id = made.body["template"]["id"].as_str().unwrap();
    let empty = api
        .call("PATCH", &format!("/partnerships/email/templates/{id}"), Some(json!({})))
        .await;
    assert_eq!(empty.message(), "At least one template field must be provided.");
}

#[tokio::test]
async fn the_template_cap_counts_active_templates_only() {
    let api = TestApi::new().await;
    let made = api
        .call(
            "POST",
            "/partnerships/email/templates",
            Some(json!({"name": "n", "subjectTemplate": "s", "bodyTemplate": "b"})),
        )
        .await;
    let id = made.body["template"]["id"].as_str().unwrap().to_string();
    // 199 more active templates, as the counter the creates keep would say.
    let meta = api.ctx.config.tables.meta.clone();
    api.put_raw(&meta, json!({"id": "partnerships_template_counts", "active": 200}))
        .await;
    let refused = api
        .call(
            "POST",
            "/partnerships/email/templates",
            Some(json!({"name": "m", "subjectTemplate": "s", "bodyTemplate": "b"})),
        )
        .await;
    assert_eq!(refused.status, 406);
    assert_eq!(
        refused.message(),
        "Template limit reached (200). Archive unused templates before creating more."
    );
    assert_eq!(refused.body["data"], json!({"maxTemplates": 200}));
    api.call("DELETE", &format!("/partnerships/email/templates/{id}"), None)
        .await;
    let after_archive = api
        .call(
            "POST",
            "/partnerships/email/templates",
            Some(json!({"name": "m", "subjectTemplate": "s", "bodyTemplate": "b"})),
        )
        .await;
    assert_eq!(
        after_archive.status, 201,
        "archiving frees a place: {:?}",
        after_archive.body
    );
    let restore = api
        .call(
            "PATCH",
            &format!("/partnerships/email/templates/{id}"),
            Some(json!({"archived": false})),
        )
        .await;
    assert_eq!(restore.status, 406, "a restore past the cap is refused");
}

#[tokio::test]
async fn a_send_delivers_multipart_mail_with_an_unsubscribe_link_and_logs_it_on_the_timeline() {
    let api = TestApi::new().await;
    let event = api
        .call(
            "POST",
            "/partnerships/events",
            Some(json!({"name": "Summit", "year": 2026})),
        )
        .await;
    let event_id = event.body["event"]["id"].as_str().unwrap().to_string();
    let to = unique_email("jo");
    let id = partner(&api, "Acme <Corp>", "Jo Anne Lee", &to).await;
    let template = api
        .call(
            "POST",
            "/partnerships/email/templates",
            Some(json!({"name": "T", "subjectTemplate": "s", "bodyTemplate": "b"})),
        )
        .await;
    let template_id = template.body["template"]["id"].as_str().unwrap().to_string();
    let updated_at = template.body["template"]["updatedAt"].clone();
    let reply = send(
        &api,
        json!({
            "partnerIds": [id, id],
            "eventId": event_id,
            "templateId": template_id,
            "campaignName": "Spring",
            "subject": "{{event_name}} {{event_year}} for {{company_name}}",
            "body": "Hi {{recipient_first_name}} {{RECIPIENT_LAST_NAME}},\nfrom {{sender_full_name}} at {{company_name}}",
        }),
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["message"], "Bulk email sent successfully.");
    assert_eq!(reply.body["summary"]["totalRequested"], 1, "ids are de-duplicated");
    assert_eq!(reply.body["summary"]["sentCount"], 1);
    assert_eq!(reply.body["summary"]["loggedCount"], 1);
    assert_eq!(
        reply.body["results"][0],
        json!({"partnerId": id, "company": "Acme <Corp>", "contactName": "Jo Anne Lee", "email": to, "status": "sent", "message": "Sent successfully."})
    );
    let campaign_id = reply.body["campaignId"].as_str().unwrap().to_string();

    let mail = sent_mail(&to).await;
    assert_eq!(mail.len(), 1, "one email");
    // Quoted-printable soft line breaks and `=` escapes undone, to read the parts.
    let raw = &mail[0].replace("\r\n", "\n").replace("=\n", "").replace("=3D", "=");
    assert!(raw.contains("Subject: Summit 2026 for Acme <Corp>\n"), "{raw}");
    assert!(raw.contains("From: \"Test Er\" <tester@example.org>\n"), "{raw}");
    assert!(raw.contains("Reply-To: <tester@example.org>\n"));
    assert!(raw.contains(&format!("To: <{to}>\n")));
    assert!(raw.contains("multipart/alternative"), "text and HTML parts: {raw}");
    assert!(raw.contains("from Test Er at Acme <Corp>\n"), "the text part: {raw}");
    assert!(
        raw.contains("from Test Er at Acme &lt;Corp&gt;</div>"),
        "the HTML part, escaped: {raw}"
    );
    assert!(raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
    assert!(raw.contains("https://api.test/partnerships/email/unsubscribe?token="));
    assert!(raw.contains("Hi Jo Anne Lee,"), "merge fields rendered: {raw}");
    assert!(raw.contains(&format!("X-Partnerships-Campaign: {campaign_id}")));

    let timeline = api
        .call("GET", &format!("/partnerships/partners/{id}/communications"), None)
        .await;
    let entry = &timeline.body["communications"][0];
    assert_eq!(entry["source"], "mass_email");
    assert_eq!(entry["campaignId"], campaign_id.as_str());
    assert_eq!(entry["campaignName"], "Spring");
    assert_eq!(entry["templateId"], template_id.as_str());
    assert_eq!(entry["recipientEmail"], to.as_str());
    assert_eq!(entry["eventId"], event_id.as_str());
    assert_eq!(entry["subject"], "Summit 2026 for Acme <Corp>");
    assert!(entry["summary"].as_str().unwrap().starts_with(&format!(
        "Mass email sent from tester@example.org to {to}.\n\nHi Jo Anne Lee,"
    )));

    let used = api.call("GET", "/partnerships/email/templates", None).await;
    let t = &used.body["templates"][0];
    assert!(t["lastUsedAt"].is_string(), "the template records its use");
    assert_eq!(t["updatedAt"], updated_at, "using a template is not an edit of it");

    let campaign = api
        .call("GET", &format!("/partnerships/email/campaigns/{campaign_id}"), None)
        .await;
    assert_eq!(campaign.status, 200);
    assert_eq!(campaign.body["status"], "finished");
    assert_eq!(campaign.body["results"][0]["status"], "sent");
}

#[tokio::test]
async fn send_validation_and_lookups_come_in_the_contract_order() {
    let api = TestApi::new().await;
    assert_eq!(
        send(&api, json!({"body": "b", "partnerIds": ["x"]})).await.message(),
        "'subject' is required."
    );
    assert_eq!(
        send(&api, json!({"subject": "{{nope}}", "body": "b", "partnerIds": ["x"]}))
            .await
            .message(),
        "'subject' includes unsupported merge field token(s): {{nope}}."
    );
    assert_eq!(
        send(&api, json!({"subject": "s", "body": "b", "partnerIds": []}))
            .await
            .message(),
        "'partnerIds' must include at least one partner id."
    );
    let missing_event = send(
        &api,
        json!({"subject": "s", "body": "b", "partnerIds": ["x"], "eventId": "gone"}),
    )
    .await;
    assert_eq!(missing_event.status, 404);
    let template = api
        .call(
            "POST",
            "/partnerships/email/templates",
            Some(json!({"name": "T", "subjectTemplate": "s", "bodyTemplate": "b"})),
        )
        .await;
    let template_id = template.body["template"]["id"].as_str().unwrap();
    api.call("DELETE", &format!("/partnerships/email/templates/{template_id}"), None)
        .await;
    let archived = send(
        &api,
        json!({"subject": "s", "body": "b", "partnerIds": ["x"], "templateId": template_id}),
    )
    .await;
    assert_eq!(archived.status, 406);
    assert_eq!(archived.message(), "The selected template is archived.");
    let nobody = send(&api, json!({"subject": "s", "body": "b", "partnerIds": ["x"]})).await;
    assert_eq!(nobody.status, 200);
    assert_eq!(
        nobody.message(),
        "No emails were sent because no selected partners had unique valid emails."
    );
    assert!(nobody.body.get("campaignId").is_none());
    assert_eq!(statuses(&nobody), ["skipped_missing_partner"]);
}

#[tokio::test]
async fn prechecks_skip_duplicates_archived_and_partners_without_email() {
    let api = TestApi::new().await;
    let shared_email = unique_email("dup");
    let first = partner(&api, "A", "", &shared_email).await;
    let second = partner(&api, "B", "", &shared_email.to_uppercase()).await;
    let no_email = partner(&api, "C", "", "").await;
    let archived_email = unique_email("arch");
    let archived = partner(&api, "D", "", &archived_email).await;
    api.call(
        "PATCH",
        &format!("/partnerships/partners/{archived}"),
        Some(json!({"archived": true})),
    )
    .await;
    let reply = send(
        &api,
        json!({"subject": "s", "body": "b", "partnerIds": [first, second, no_email, archived]}),
    )
    .await;
    assert_eq!(
        statuses(&reply),
        [
            "skipped_duplicate_email",
            "skipped_missing_email",
            "skipped_archived",
            "sent"
        ]
    );
    assert!(reply.body["results"][1].get("email").is_none());
    assert_eq!(reply.body["summary"]["skippedCount"], 3);
    assert!(sent_mail(&archived_email).await.is_empty());
    let with_archived = send(
        &api,
        json!({"subject": "s", "body": "b", "partnerIds": [archived], "includeArchived": true}),
    )
    .await;
    assert_eq!(statuses(&with_archived), ["sent"]);
    assert_eq!(sent_mail(&archived_email).await.len(), 1);
}

#[tokio::test]
async fn an_unsubscribed_address_is_skipped_from_then_on() {
    let api = TestApi::new().await;
    let to = unique_email("bye");
    let id = partner(&api, "Acme", "Bo", &to).await;
    send(&api, json!({"subject": "s", "body": "b", "partnerIds": [id]})).await;
    let raw = sent_mail(&to).await.pop().expect("first email sent");
    let query = unsubscribe_query(&raw);
    let page = api
        .call_raw("GET", &format!("/partnerships/email/unsubscribe?{query}"), None, None)
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.as_str().unwrap().contains("<form method=\"post\""),
        "a scanner's GET unsubscribes no one"
    );
    let again = send(&api, json!({"subject": "s", "body": "b", "partnerIds": [id]})).await;
    assert_eq!(statuses(&again), ["sent"], "a GET alone does not unsubscribe");
    let done = api
        .call_raw(
            "POST",
            &format!("/partnerships/email/unsubscribe?{query}"),
            Some("List-Unsubscribe=One-Click"),
            None,
        )
        .await;
    assert_eq!(done.status, 200);
    let skipped = send(&api, json!({"subject": "s", "body": "b", "partnerIds": [id]})).await;
    assert_eq!(statuses(&skipped), ["skipped_suppressed"]);
    assert_eq!(sent_mail(&to).await.len(), 2, "nothing sent after the unsubscribe");
}

#[tokio::test]
async fn a_forged_unsubscribe_link_is_refused() {
    let api = TestApi::new().await;
    let other = unsubscribe_query_for("victim@acme.com", b"not-the-secret");
    let reply = api
        .call_raw("POST", &format!("/partnerships/email/unsubscribe?{other}"), None, None)
        .await;
    assert_eq!(reply.status, 406);
    assert!(reply.message().contains("invalid"));
    let genuine = unsubscribe_query_for("victim@acme.com", TEST_SIGNING_SECRET);
    let ok = api
        .call_raw(
            "POST",
            &format!("/partnerships/email/unsubscribe?{genuine}"),
            None,
            None,
        )
        .await;
    assert_eq!(ok.status, 200);
}

fn unsubscribe_query_for(email: &str, secret: &[u8]) -> String {
    let link = meta::unsubscribe::link("", secret, email);
    link.split_once('?').unwrap().1.to_string()
}

#[tokio::test]
async fn a_permanent_bounce_from_ses_suppresses_the_address() {
    let api = TestApi::new().await;
    let to = unique_email("bounce");
    let id = partner(&api, "Acme", "", &to).await;
    // SES's bounce notification, as SNS hands it to Lambda.
    let notification = json!({
        "notificationType": "Bounce",
        "bounce": {"bounceType": "Permanent", "bounceSubType": "General", "bouncedRecipients": [{"emailAddress": to, "action": "failed", "status": "5.1.1"}], "timestamp": "2026-12-02T12:00:00.000Z", "feedbackId": "f"},
        "mail": {"timestamp": "2026-12-02T12:00:00.000Z", "source": "tester@example.org", "messageId": "m", "destination": [to]}
    });
    let event = json!({"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "Sns": {"Type": "Notification", "MessageId": "x", "TopicArn": "arn:aws:sns:us-east-1:000000000000:t", "Message": notification.to_string(), "Timestamp": "2026-12-02T12:00:00.000Z"}}]});
    let answer = api
        .functions
        .dispatch_event("mail-worker", event)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer["suppressed"], 1);
    let reply = send(&api, json!({"subject": "s", "body": "b", "partnerIds": [id]})).await;
    assert_eq!(statuses(&reply), ["skipped_suppressed"]);
}

#[tokio::test]
async fn an_idempotent_retry_answers_the_first_result_and_sends_nothing_twice() {
    let api = TestApi::new().await;
    let to = unique_email("idem");
    let id = partner(&api, "Acme", "", &to).await;
    let body = json!({"subject": "s", "body": "b", "partnerIds": [id]}).to_string();
    let call = || {
        api.call_with_headers_and_body(
            "POST",
            "/partnerships/email/send",
            &[("content-type", "application/json"), ("idempotency-key", "retry-1")],
            &body,
        )
    };
    let (a, b) = tokio::join!(call(), call());
    let mut codes = [a.status, b.status];
    codes.sort();
    assert!(codes == [200, 200] || codes == [200, 409], "{codes:?}");
    let first = if a.status == 200 { &a } else { &b };
    let retry = call().await;
    assert_eq!(retry.status, 200);
    assert_eq!(retry.body["campaignId"], first.body["campaignId"]);
    assert_eq!(sent_mail(&to).await.len(), 1, "sent once");
    let other = api
        .call_with_headers_and_body(
            "POST",
            "/partnerships/email/send",
            &[("content-type", "application/json"), ("idempotency-key", "retry-1")],
            &json!({"subject": "other", "body": "b", "partnerIds": [id]}).to_string(),
        )
        .await;
    assert_eq!(other.status, 422, "one key, one request");
}

#[tokio::test]
async fn a_send_past_its_budget_continues_in_the_worker_and_everyone_gets_one_email() {
    let mut settings = test_mail_settings();
    // The emulator's quota is one email a second: a 1.5 s budget sends one or two.
    settings.request_budget = Duration::from_millis(1500);
    let api = TestApi::with_bus(settings).await;
    let mut ids = Vec::new();
    let mut addresses = Vec::new();
    for i in 0..4 {
        let to = unique_email(&format!("wave{i}"));
        ids.push(partner(&api, &format!("Co {i}"), "", &to).await);
        addresses.push(to);
    }
    let reply = send(&api, json!({"subject": "s", "body": "b", "partnerIds": ids})).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let queued = statuses(&reply).iter().filter(|s| *s == "queued").count();
    assert!(queued >= 2, "the rest is queued: {:?}", statuses(&reply));
    assert_eq!(reply.body["summary"]["queuedCount"], queued);
    let campaign_id = reply.body["campaignId"].as_str().unwrap().to_string();
    assert!(
        api.deliver_events().await >= 1,
        "the continuation event reached the worker"
    );
    let campaign = api
        .call("GET", &format!("/partnerships/email/campaigns/{campaign_id}"), None)
        .await;
    assert_eq!(campaign.body["status"], "finished", "{:?}", campaign.body);
    assert_eq!(statuses(&campaign), ["sent", "sent", "sent", "sent"]);
    for to in &addresses {
        assert_eq!(sent_mail(to).await.len(), 1, "{to} got exactly one email");
    }
}

#[tokio::test]
async fn a_sender_outside_the_ses_identity_is_refused_by_iam() {
    let api = TestApi::new().await;
    let to = unique_email("iam");
    let id = partner(&api, "Acme", "", &to).await;
    let outsider = json!({"email": "eve@elsewhere.net", "cognito:groups": ["partnerships-admins"]});
    let reply = api
        .call_raw(
            "POST",
            "/partnerships/email/send",
            Some(&json!({"subject": "s", "body": "b", "partnerIds": [id]}).to_string()),
            Some(outsider),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(statuses(&reply), ["failed_send"]);
    assert!(
        reply.body["results"][0]["message"]
            .as_str()
            .unwrap()
            .contains("ses:SendRawEmail")
    );
    assert!(sent_mail(&to).await.is_empty());
}

/// An HTTP client in front of a function's own (IAM-enforcing) one that answers its first
/// `refusals` SES sends as SES answers a throttled one, then lets everything through: SES
/// throttling on demand, which the emulator does not do.
#[derive(Debug, Clone)]
struct ThrottlingClient {
    inner: aws_smithy_runtime_api::client::http::SharedHttpClient,
    refusals: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    message: &'static str,
}

#[derive(Debug)]
struct ThrottlingConnector {
    inner: aws_smithy_runtime_api::client::http::SharedHttpConnector,
    refusals: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    message: &'static str,
}

impl aws_smithy_runtime_api::client::http::HttpClient for ThrottlingClient {
    fn http_connector(
        &self,
        settings: &aws_smithy_runtime_api::client::http::HttpConnectorSettings,
        components: &aws_smithy_runtime_api::client::runtime_components::RuntimeComponents,
    ) -> aws_smithy_runtime_api::client::http::SharedHttpConnector {
        aws_smithy_runtime_api::client::http::SharedHttpConnector::new(ThrottlingConnector {
            inner: self.inner.http_connector(settings, components),
            refusals: self.refusals.clone(),
            message: self.message,
        })
    }
}

impl aws_smithy_runtime_api::client::http::HttpConnector for ThrottlingConnector {
    fn call(
        &self,
        request: aws_smithy_runtime_api::client::orchestrator::HttpRequest,
    ) -> aws_smithy_runtime_api::client::http::HttpConnectorFuture {
        use std::sync::atomic::Ordering;
        let is_send = request
            .body()
            .bytes()
            .is_some_and(|b| String::from_utf8_lossy(b).contains("Action=SendRawEmail"));
        let refuse = is_send
            && self
                .refusals
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
        if !refuse {
            return self.inner.call(request);
        }
        // SES's documented error for a send over the maximum rate.
        let body = format!(
            "<ErrorResponse xmlns=\"http://ses.amazonaws.com/doc/2010-12-01/\"><Error><Type>Sender</Type><Code>Throttling</Code><Message>{}</Message></Error><RequestId>t</RequestId></ErrorResponse>",
            self.message
        );
        let mut response = aws_smithy_runtime_api::client::orchestrator::HttpResponse::new(
            400.try_into().unwrap(),
            aws_smithy_types::body::SdkBody::from(body),
        );
        response.headers_mut().insert("content-type", "text/xml");
        aws_smithy_runtime_api::client::http::HttpConnectorFuture::ready(Ok(response))
    }
}

/// The meta function of `api` whose SES client meets `refusals` throttled answers first.
fn throttled_meta(
    api: &TestApi,
    refusals: usize,
    message: &'static str,
) -> (meta::Services, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    let mut services = api.functions.mail("meta").expect("meta function").clone();
    let sdk = api.functions.sdk_config("meta").expect("meta role");
    let counter = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(refusals));
    let client = ThrottlingClient {
        inner: sdk.http_client().expect("the role's HTTP client"),
        refusals: counter.clone(),
        message,
    };
    services.ses = meta::ses_client(&sdk.to_builder().http_client(client).build());
    (services, counter)
}

async fn send_with(api: &TestApi, services: &meta::Services, body: Value) -> integration_tests::Reply {
    let text = body.to_string();
    let (_, request) = api.request(
        "POST",
        "/partnerships/email/send",
        &[("content-type", "application/json")],
        Some(&text),
        Some(integration_tests::admin_claims()),
    );
    integration_tests::Reply::from_response(meta::handle(request, services).await)
}

#[tokio::test]
async fn a_throttled_send_is_retried_with_backoff_and_delivered_once() {
    let api = TestApi::new().await;
    let to = unique_email("slow");
    let id = partner(&api, "Acme", "", &to).await;
    let (services, left) = throttled_meta(&api, 2, "Maximum sending rate exceeded.");
    let reply = send_with(
        &api,
        &services,
        json!({"subject": "s", "body": "b", "partnerIds": [id]}),
    )
    .await;
    assert_eq!(statuses(&reply), ["sent"], "{:?}", reply.body);
    assert_eq!(
        left.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "both throttled answers were met"
    );
    assert_eq!(sent_mail(&to).await.len(), 1, "delivered once");
}

#[tokio::test]
async fn a_spent_daily_quota_fails_the_send_without_retrying() {
    let api = TestApi::new().await;
    let to = unique_email("quota");
    let id = partner(&api, "Acme", "", &to).await;
    let (services, left) = throttled_meta(&api, 5, "Daily message quota exceeded.");
    let reply = send_with(
        &api,
        &services,
        json!({"subject": "s", "body": "b", "partnerIds": [id]}),
    )
    .await;
    assert_eq!(statuses(&reply), ["failed_send"]);
    assert_eq!(reply.body["results"][0]["message"], "Daily message quota exceeded.");
    assert_eq!(reply.body["message"], "Bulk email finished with partial failures.");
    assert_eq!(left.load(std::sync::atomic::Ordering::SeqCst), 4, "tried once");
    assert!(sent_mail(&to).await.is_empty());
}
