//! Email sync (contract §7, issue 12) against DynamoDB Local: the status, the ingest route the
//! client's generated Apps Script posts to (token or signature), matching, dedupe and the status
//! rows under concurrent ingests.

use hmac::{Hmac, Mac};
use integration_tests::{Reply, TEST_SYNC_SECRET, TestApi, test_mail_settings};
use serde_json::{Value, json};
use sha2::Sha256;

const INGEST: &str = "/partnerships/email/sync/ingest";

/// The ingest URL's path and query the status route gives the admin.
async fn ingest_path(api: &TestApi) -> String {
    let reply = Reply::from_response(
        api.call_with_headers("GET", "/partnerships/email/sync/status", &[("host", "api.test")])
            .await,
    );
    let url = reply.body["ingestUrl"].as_str().unwrap().to_string();
    assert!(
        url.starts_with("https://api.test/partnerships/email/sync/ingest?token=pst_"),
        "{url}"
    );
    url.trim_start_matches("https://api.test").to_string()
}

/// Posts `body` as an unauthenticated caller (a script) with `headers`.
async fn post(api: &TestApi, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    let (binary, request) = api.request("POST", path, &all, Some(body), None);
    Reply::from_response(api.functions.dispatch(&binary, request).await.unwrap())
}

fn signature(secret: &[u8], t: i64, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

/// What the client's generated Apps Script sends (§13), one message.
fn script_payload(message_id: &str, from: &str, to: &str, direction: &str) -> Value {
    json!({
        "provider": "gmail",
        "actorEmail": "tester@example.org",
        "sourceMethod": "gmail_apps_script",
        "entries": [{
            "messageId": message_id,
            "threadId": format!("thread-{message_id}"),
            "direction": direction,
            "occurredAt": "2026-11-30T15:04:05.000Z",
            "from": from,
            "to": to,
            "cc": "",
            "bcc": "",
            "subject": "Re: Sponsorship",
            "snippet": "Happy to sponsor the summit this year.",
        }],
    })
}

async fn partner(api: &TestApi, company: &str, email: &str) -> String {
    api.create_partner_id(json!({"company": company, "email": email})).await
}

#[tokio::test]
async fn the_status_has_the_contract_shape_and_an_ingest_url_with_the_callers_token() {
    let api = TestApi::new().await;
    let reply = Reply::from_response(
        api.call_with_headers("GET", "/partnerships/email/sync/status", &[("host", "api.test")])
            .await,
    );
    assert_eq!(reply.status, 200);
    let body = &reply.body;
    assert_eq!(body["provider"], "gmail");
    assert_eq!(body["enabled"], true);
    assert_eq!(body["configured"], true);
    assert_eq!(body["allowedDomains"], json!(["example.org"]));
    assert_eq!(body["message"], "Ready to receive synced Gmail activity.");
    assert_eq!(body["lastIngestAt"], Value::Null);
    assert_eq!(
        body["stats"],
        json!({"received": 0, "processed": 0, "imported": 0, "duplicates": 0, "unmatched": 0, "skipped": 0, "errors": 0})
    );
    for key in ["recentActorEmails", "unmatchedEmails", "recentErrors", "mailboxes"] {
        assert_eq!(body[key], json!([]), "{key}");
    }
    let again = ingest_path(&api).await;
    assert_eq!(
        format!("https://api.test{again}"),
        body["ingestUrl"].as_str().unwrap(),
        "the same token until it is rotated"
    );
}

#[tokio::test]
async fn the_generated_script_payload_lands_on_the_partners_timeline_once() {
    let api = TestApi::new().await;
    let id = partner(&api, "Acme", "jo@acme.com").await;
    let path = ingest_path(&api).await;
    let payload = script_payload("m-1", "Jo <Jo@Acme.com>", "tester@example.org", "inbound").to_string();
    let first = post(&api, &path, &[], &payload).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    assert_eq!(first.body["message"], "Email sync completed.");
    assert_eq!(first.body["stats"]["imported"], 1);
    assert_eq!(first.body["touchedPartnerCount"], 1);
    // The script sends each message about three times (its 30-minute lookback).
    for _ in 0..2 {
        let again = post(&api, &path, &[], &payload).await;
        assert_eq!(again.body["stats"]["duplicates"], 1);
        assert_eq!(again.body["stats"]["imported"], 0);
    }
    let rows = api.timeline(&id).await;
    assert_eq!(rows.len(), 1, "one row for one message");
    let row = &rows[0];
    assert_eq!(row["source"], "email_sync");
    assert_eq!(row["direction"], "inbound");
    assert_eq!(row["sender"], "jo@acme.com");
    assert_eq!(
        row["recipientEmail"], "tester@example.org",
        "an inbound email was received by the exec"
    );
    assert_eq!(row["externalMessageId"], "m-1");
    assert_eq!(row["occurredAt"], "2026-11-30T15:04:05.000Z");
    assert_eq!(row["summary"], "Happy to sponsor the summit this year.");
    assert!(row["id"].as_str().unwrap().starts_with(&format!("sync::gmail::{id}::")));

    let status = api.call("GET", "/partnerships/email/sync/status", None).await;
    assert_eq!(status.body["stats"]["imported"], 1);
    assert_eq!(status.body["stats"]["duplicates"], 2);
    assert_eq!(status.body["recentActorEmails"], json!(["tester@example.org"]));
    assert_eq!(status.body["lastIngestStatusCode"], 200);
    assert_eq!(status.body["mailboxes"][0]["kind"], "apps_script");
}

#[tokio::test]
async fn ingest_without_a_valid_token_or_signature_is_refused_and_imports_nothing() {
    let api = TestApi::new().await;
    let id = partner(&api, "Acme", "jo@acme.com").await;
    let payload = script_payload("m-2", "jo@acme.com", "tester@example.org", "inbound").to_string();
    let missing = post(&api, INGEST, &[], &payload).await;
    assert_eq!(missing.status, 401);
    assert!(missing.message().contains("token"));
    let wrong = post(&api, &format!("{INGEST}?token=pst_forged"), &[], &payload).await;
    assert_eq!(wrong.status, 401);
    let claims_alone = post(
        &api,
        INGEST,
        &[],
        &json!({"actorEmail": "tester@example.org", "from": "jo@acme.com"}).to_string(),
    )
    .await;
    assert_eq!(
        claims_alone.status, 401,
        "claiming an allowed actorEmail is not enough (§14.2)"
    );
    assert!(api.timeline(&id).await.is_empty());
}

#[tokio::test]
async fn a_rotated_token_stops_working_and_the_new_one_works() {
    let api = TestApi::new().await;
    partner(&api, "Acme", "jo@acme.com").await;
    let old = ingest_path(&api).await;
    let rotated = api.call("POST", "/partnerships/email/sync/token", None).await;
    assert_eq!(rotated.status, 200, "{:?}", rotated.body);
    let payload = script_payload("m-3", "jo@acme.com", "tester@example.org", "inbound").to_string();
    assert_eq!(post(&api, &old, &[], &payload).await.status, 401);
    let new = ingest_path(&api).await;
    assert_ne!(new, old);
    assert_eq!(post(&api, &new, &[], &payload).await.status, 200);
}

#[tokio::test]
async fn a_token_speaks_for_its_owner_only() {
    let api = TestApi::new().await;
    let path = ingest_path(&api).await;
    let mut payload = script_payload("m-4", "jo@acme.com", "someone@example.org", "inbound");
    payload["actorEmail"] = json!("someone@example.org");
    let reply = post(&api, &path, &[], &payload.to_string()).await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.message(),
        "actorEmail does not match the owner of this ingest token."
    );
}

#[tokio::test]
async fn signed_bodies_are_accepted_fresh_and_once() {
    let api = TestApi::new().await;
    let id = partner(&api, "Acme", "jo@acme.com").await;
    let body = script_payload("m-5", "jo@acme.com", "tester@example.org", "inbound").to_string();
    let now = chrono::Utc::now().timestamp();
    let good = signature(TEST_SYNC_SECRET, now, &body);
    let accepted = post(&api, INGEST, &[("x-partnerships-signature", &good)], &body).await;
    assert_eq!(accepted.status, 200, "{:?}", accepted.body);
    let replayed = post(&api, INGEST, &[("x-partnerships-signature", &good)], &body).await;
    assert_eq!(replayed.status, 401);
    assert_eq!(replayed.message(), "This signed request was already received.");
    let wrong_key = signature(b"not-the-secret", now, &body);
    assert_eq!(
        post(&api, INGEST, &[("x-partnerships-signature", &wrong_key)], &body)
            .await
            .status,
        401
    );
    let expired = signature(TEST_SYNC_SECRET, now - 301, &body);
    let stale = post(&api, INGEST, &[("x-partnerships-signature", &expired)], &body).await;
    assert_eq!(stale.status, 401);
    assert_eq!(stale.message(), "The signature has expired.");
    let tampered = post(
        &api,
        INGEST,
        &[("x-partnerships-signature", &signature(TEST_SYNC_SECRET, now + 1, &body))],
        &body.replace("m-5", "m-6"),
    )
    .await;
    assert_eq!(tampered.status, 401, "the signature covers the body");
    assert_eq!(api.timeline(&id).await.len(), 1);
    let unsigned_actor = json!({"from": "jo@acme.com", "to": "tester@example.org"}).to_string();
    let no_actor = post(
        &api,
        INGEST,
        &[(
            "x-partnerships-signature",
            &signature(TEST_SYNC_SECRET, now + 2, &unsigned_actor),
        )],
        &unsigned_actor,
    )
    .await;
    assert_eq!(no_actor.status, 406);
    assert_eq!(no_actor.message(), "actorEmail is required for email sync payloads.");
    let outsider = json!({"actorEmail": "eve@elsewhere.net", "from": "jo@acme.com"}).to_string();
    let refused = post(
        &api,
        INGEST,
        &[(
            "x-partnerships-signature",
            &signature(TEST_SYNC_SECRET, now + 3, &outsider),
        )],
        &outsider,
    )
    .await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.message(),
        "actorEmail domain is not allowed for partnerships email sync."
    );
}

#[tokio::test]
async fn a_stage_without_sync_switched_on_refuses_ingest() {
    let mut settings = test_mail_settings();
    settings.sync.enabled = false;
    let api = TestApi::with_mail(settings).await;
    let reply = post(
        &api,
        INGEST,
        &[],
        &json!({"actorEmail": "tester@example.org"}).to_string(),
    )
    .await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.message(), "Partnership email sync is disabled.");
    let status = api.call("GET", "/partnerships/email/sync/status", None).await;
    assert_eq!(
        (status.body["enabled"].clone(), status.body["configured"].clone()),
        (json!(false), json!(false))
    );
}

#[tokio::test]
async fn the_execs_own_reply_is_outbound_and_colleagues_are_never_unmatched() {
    let api = TestApi::new().await;
    let id = partner(&api, "Acme", "jo@acme.com").await;
    let path = ingest_path(&api).await;
    // The exec's reply inside an inbox thread: the script labels it inbound.
    let payload = script_payload(
        "m-7",
        "tester@example.org",
        "jo@acme.com, colleague@example.org, stranger@nowhere-co.io",
        "inbound",
    );
    let reply = post(&api, &path, &[], &payload.to_string()).await;
    assert_eq!(reply.body["stats"]["imported"], 1);
    assert_eq!(reply.body["unmatchedEmails"], json!(["stranger@nowhere-co.io"]));
    let row = &api.timeline(&id).await[0];
    assert_eq!(row["direction"], "outbound");
    assert_eq!(row["sender"], "tester@example.org");
    assert_eq!(row["recipientEmail"], "jo@acme.com");
}

#[tokio::test]
async fn an_unknown_address_matches_the_only_partner_of_its_domain() {
    let api = TestApi::new().await;
    let acme = partner(&api, "Acme", "jo@acme-corp.com").await;
    partner(&api, "Twin A", "a@twins.com").await;
    partner(&api, "Twin B", "b@twins.com").await;
    partner(&api, "Gmail user", "someone@gmail.com").await;
    let path = ingest_path(&api).await;
    let entries = json!({"entries": [
        {"messageId": "d-1", "from": "new.person@acme-corp.com", "to": "tester@example.org", "subject": "hi"},
        {"messageId": "d-2", "from": "c@twins.com", "to": "tester@example.org", "subject": "hi"},
        {"messageId": "d-3", "from": "other@gmail.com", "to": "tester@example.org", "subject": "hi"},
    ]});
    let reply = post(&api, &path, &[], &entries.to_string()).await;
    assert_eq!(reply.body["stats"]["imported"], 1);
    assert_eq!(
        reply.body["stats"]["unmatched"], 2,
        "two partners share twins.com; gmail.com is public"
    );
    let rows = api.timeline(&acme).await;
    assert_eq!(rows[0]["sender"], "new.person@acme-corp.com");
}

#[tokio::test]
async fn one_email_to_two_partners_is_on_both_timelines() {
    let api = TestApi::new().await;
    let a = partner(&api, "A", "a@alpha.com").await;
    let b = partner(&api, "B", "b@beta.com").await;
    let path = ingest_path(&api).await;
    let payload = script_payload("m-8", "tester@example.org", "a@alpha.com", "outbound");
    let mut payload = payload;
    payload["entries"][0]["cc"] = json!("B <b@beta.com>");
    let reply = post(&api, &path, &[], &payload.to_string()).await;
    assert_eq!(reply.body["stats"]["imported"], 2);
    assert_eq!(reply.body["stats"]["processed"], 1);
    assert_eq!(reply.body["touchedPartnerCount"], 2);
    assert_eq!(api.timeline(&a).await.len(), 1);
    assert_eq!(api.timeline(&b).await.len(), 1);
}

#[tokio::test]
async fn entries_without_an_id_dedupe_on_their_content() {
    let api = TestApi::new().await;
    let id = partner(&api, "Acme", "jo@acme.com").await;
    let path = ingest_path(&api).await;
    let entry = json!({"from": "jo@acme.com", "to": "tester@example.org", "subject": "No id", "snippet": "same text"});
    post(&api, &path, &[], &json!({"entries": [entry]}).to_string()).await;
    let again = post(&api, &path, &[], &json!({"entries": [entry]}).to_string()).await;
    assert_eq!(again.body["stats"]["duplicates"], 1);
    assert_eq!(api.timeline(&id).await.len(), 1);
}

#[tokio::test]
async fn payload_limits_and_forms() {
    let api = TestApi::new().await;
    let path = ingest_path(&api).await;
    let empty = post(&api, &path, &[], &json!({"entries": []}).to_string()).await;
    assert_eq!(empty.message(), "No email sync entries were provided.");
    let many: Vec<Value> = (0..501).map(|i| json!({"messageId": i})).collect();
    let too_many = post(&api, &path, &[], &json!({"events": many}).to_string()).await;
    assert_eq!(too_many.status, 406);
    assert_eq!(too_many.body["data"], json!({"count": 501}));
    let no_candidate = post(&api, &path, &[], &json!({"subject": "lonely"}).to_string()).await;
    assert_eq!(no_candidate.body["stats"]["unmatched"], 1);
    assert_eq!(
        no_candidate.body["recentErrors"][0]["reason"],
        "no_candidate_partner_email"
    );
}

#[tokio::test]
async fn concurrent_ingests_never_fail_and_never_lose_a_count() {
    let api = TestApi::new().await;
    partner(&api, "Acme", "jo@acme.com").await;
    let path = ingest_path(&api).await;
    let bodies: Vec<String> = (0..6)
        .map(|i| script_payload(&format!("c-{i}"), "jo@acme.com", "tester@example.org", "inbound").to_string())
        .collect();
    let replies = futures::future::join_all(bodies.iter().map(|b| post(&api, &path, &[], b))).await;
    assert!(
        replies.iter().all(|r| r.status == 200),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let status = api.call("GET", "/partnerships/email/sync/status", None).await;
    assert_eq!(status.body["stats"]["received"], 6);
    assert_eq!(status.body["stats"]["imported"], 6);
}
