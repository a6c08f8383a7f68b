//! Every sample in `events/` is a valid API Gateway v2 event that drives its function: the files
//! `sam local invoke` and `cargo lambda invoke` use are the ones tested here.

use integration_tests::{TestApi, repo_path, template};
use lambda_http::Request;
use serde_json::json;
use shared::domain::event::PartnershipEvent;
use shared::domain::mass_email::{Campaign, EmailTemplate, TemplateChanges};
use shared::domain::partner::Partner;
use shared::domain::records::{Communication, Document, PartnerRecord};
use shared::store::meta::campaign_row_id;

fn sample(name: &str) -> Request {
    let text = std::fs::read_to_string(repo_path(&format!("events/{name}.json")))
        .unwrap_or_else(|e| panic!("events/{name}.json: {e}"));
    lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("events/{name}.json is not a v2 event: {e}"))
}

async fn run(api: &TestApi, name: &str) -> u16 {
    let request = sample(name);
    let route = shared::http::route_key(&request);
    let binary = template()
        .routes
        .into_iter()
        .find(|r| r.route_key() == route)
        .unwrap_or_else(|| panic!("{name}: no template route {route}"))
        .binary;
    api.functions
        .dispatch(&binary, request)
        .await
        .expect("known binary")
        .status()
        .as_u16()
}

#[tokio::test]
async fn every_sample_event_runs_through_its_handler() {
    let api = TestApi::new().await;
    // The samples' caller is exec@example.org, admitted by the local domain rule; they refer to
    // these fixed ids.
    let partner = Partner {
        id: "sample-partner-0001".into(),
        company: "Sample Co".into(),
        version: 1,
        ..Default::default()
    };
    api.ctx.store.create_partner(&partner).await.unwrap();
    let event = PartnershipEvent {
        id: "sample-event-0001".into(),
        name: "Blueprint".into(),
        year: 2027,
        version: 1,
        ..Default::default()
    };
    api.ctx.store.create_event(&event, "test", 1).await.unwrap();
    let document = Document {
        id: "sample-document-0001".into(),
        partner_id: partner.id.clone(),
        title: "Deck".into(),
        ..Default::default()
    }
    .stamped(1, "test", 1);
    api.ctx.store.create_record(&document, None).await.unwrap();
    let communication = Communication {
        id: "sample-communication-0001".into(),
        partner_id: partner.id.clone(),
        summary: "Call".into(),
        ..Default::default()
    }
    .stamped(1, "test", 1);
    api.ctx.store.create_record(&communication, None).await.unwrap();
    let template = EmailTemplate::create(
        &TemplateChanges {
            name: Some("Sample".into()),
            subject_template: Some("s".into()),
            body_template: Some("b".into()),
            ..Default::default()
        },
        "sample-template-0001".into(),
        "test",
        1,
    );
    api.ctx.store.create_template(&template).await.unwrap();
    let campaign = Campaign {
        id: campaign_row_id("sample-campaign-0001", None),
        campaign_id: "sample-campaign-0001".into(),
        ..Default::default()
    };
    api.ctx.store.put_campaign(&campaign, &[]).await.unwrap();

    let sequence = [
        ("partners/create", 201),
        ("partners/list", 200),
        ("partners/get", 200),
        ("partners/update", 200),
        ("partners/claim", 200),
        ("partners/release", 200),
        ("events/create", 201),
        ("events/list", 200),
        ("links/create", 201),
        ("documents/create", 201),
        ("documents/list", 200),
        ("documents/update", 200),
        ("documents/delete", 200),
        ("communications/create", 201),
        ("communications/list", 200),
        ("communications/update", 200),
        ("communications/delete", 200),
        ("events/get", 200),
        ("links/update", 200),
        ("events/update", 200),
        ("events/delete", 406),
        ("links/delete", 200),
        ("events/delete", 406),
        ("partners/activity", 200),
        ("events/activity", 200),
        ("reports/dashboard", 200),
        ("reports/export", 200),
        ("reports/export-csv", 200),
        ("meta/config", 200),
        ("meta/create-template", 201),
        ("meta/list-templates", 200),
        ("meta/update-template", 200),
        ("meta/archive-template", 200),
        ("meta/send", 200),
        ("meta/get-campaign", 200),
        ("meta/unsubscribe-page", 200),
        ("meta/unsubscribe", 200),
        ("meta/sync-status", 200),
        ("meta/sync-ingest", 200),
        ("meta/sync-rotate-token", 200),
        ("meta/forecast", 200),
        ("meta/update-forecast", 200),
        ("sheets/status", 200),
        ("sheets/sync", 409),
    ];
    for (name, status) in sequence {
        assert_eq!(run(&api, name).await, status, "events/{name}.json");
    }

    let mut files: Vec<String> = Vec::new();
    for dir in std::fs::read_dir(repo_path("events")).unwrap() {
        let dir = dir.unwrap().path();
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            files.push(format!(
                "{}/{}",
                dir.file_name().unwrap().to_string_lossy(),
                file.file_stem().unwrap().to_string_lossy()
            ));
        }
    }
    // The scheduled rollup's EventBridge event: the handler ignores its body but Lambda sends it.
    let schedule: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo_path("events/rollup/schedule.json")).unwrap()).unwrap();
    assert_eq!(schedule["detail-type"], "Scheduled Event");
    let report = rollup::run(api.function("rollup"), std::time::Duration::from_secs(30))
        .await
        .unwrap();
    assert!(report.pass_completed);
    // The partners stream's batch, as Lambda delivers it (its ARN names the `dev` stage's table).
    api.settle().await;
    let before = api.ctx.store.partner_counts().await.unwrap();
    let text = std::fs::read_to_string(repo_path("events/stream/partners.json"))
        .unwrap()
        .replace("biztechPartnersdev", &api.ctx.config.tables.partners);
    let batch = serde_json::from_str(&text).expect("a Lambda DynamoDB stream event");
    let response = stream::handle(batch, api.function("stream")).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let after = api.ctx.store.partner_counts().await.unwrap();
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (1, 1),
        "one partner created, then archived"
    );
    // The communications stream's batch: a follow-up without an event joins the general queue.
    let day = chrono::NaiveDate::from_ymd_opt(2026, 12, 5).unwrap();
    let general = shared::domain::aggregates::QueueKey::General;
    let tallied = |t: &shared::domain::aggregates::DayTallies| {
        t.between(day, day).get(shared::domain::aggregates::Tally::CommDue)
    };
    let before = tallied(&api.ctx.store.queue_figures(&general, day).await.unwrap().1);
    let text = std::fs::read_to_string(repo_path("events/stream/communications.json"))
        .unwrap()
        .replace("biztechPartnerCommunicationsdev", &api.ctx.config.tables.communications);
    let batch = serde_json::from_str(&text).expect("a Lambda DynamoDB stream event");
    let response = stream::handle(batch, api.function("stream")).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let after = tallied(&api.ctx.store.queue_figures(&general, day).await.unwrap().1);
    assert_eq!(after - before, 1, "one open follow-up on 2026-12-05");
    // The mail worker's events: a campaign continuation from EventBridge, an SES bounce via SNS.
    for (name, key, expected) in [
        ("mail-worker/continuation", "campaignId", json!("sample-campaign-0001")),
        ("mail-worker/ses-bounce", "suppressed", json!(1)),
    ] {
        let event =
            serde_json::from_str(&std::fs::read_to_string(repo_path(&format!("events/{name}.json"))).unwrap()).unwrap();
        let answer = api
            .functions
            .dispatch_event("mail-worker", event)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(answer[key], expected, "events/{name}.json");
    }
    // The mailbox pull's schedule event: Lambda hands it over, the run reads the configured
    // mailboxes (none here) and records nothing.
    let tick: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(repo_path("events/mailbox/schedule.json")).unwrap()).unwrap();
    assert_eq!(tick["detail-type"], "Scheduled Event");
    let run = mailbox::run(
        api.functions.mail("mailbox-sync").unwrap(),
        &[],
        std::time::Duration::from_secs(5),
    )
    .await;
    assert!(run.mailboxes.is_empty());
    // The auto-push's events: a change marks a push due, the schedule pushes (neither does
    // anything on a stage where Sheets is not configured).
    for name in ["sheets-sync/change", "sheets-sync/schedule"] {
        let event =
            serde_json::from_str(&std::fs::read_to_string(repo_path(&format!("events/{name}.json"))).unwrap()).unwrap();
        let answer = api.functions.dispatch_event("sheets-sync", event).await.unwrap();
        assert!(answer.is_ok(), "events/{name}.json: {answer:?}");
    }
    for file in files {
        let covered = [
            "sheets-sync/change",
            "sheets-sync/schedule",
            "mailbox/schedule",
            "rollup/schedule",
            "stream/partners",
            "stream/communications",
            "mail-worker/continuation",
            "mail-worker/ses-bounce",
        ]
        .contains(&file.as_str())
            || sequence.iter().any(|(name, _)| *name == file);
        assert!(covered, "events/{file}.json is not exercised by this test");
    }
}
