//! The dashboard, the export and the rollup against DynamoDB Local.

use chrono::{Duration, Utc};
use integration_tests::TestApi;
use serde_json::{Value, json};
use shared::domain::export::COLUMNS;
use shared::store::Update;
use shared::tables::{PARTNER_COUNTS_ID, ROLLUP_STATUS_ID};

fn day(offset: i64) -> String {
    (Utc::now().date_naive() + Duration::days(offset))
        .format("%Y-%m-%d")
        .to_string()
}

async fn post(api: &TestApi, path: &str, body: Value) -> Value {
    let reply = api.call("POST", path, Some(body)).await;
    assert_eq!(reply.status, 201, "{path}: {:?}", reply.body);
    reply.body
}

struct Fixture {
    e_current: String,
    e_archived: String,
    p_acme: String,
    p_beta: String,
    p_gone: String,
}

/// Two events of this year (one archived), three partners (one archived), five links and two
/// communication follow-ups, with dates relative to today.
async fn fixture(api: &TestApi) -> Fixture {
    let year = Utc::now().format("%Y").to_string().parse::<i64>().unwrap();
    let current = post(
        api,
        "/partnerships/events",
        json!({"name": "Blueprint", "year": year, "sponsorshipGoal": 10000,
        "outreachStartDate": day(-10), "endDate": day(10), "tierConfigs": [{"id": "gold", "amount": 4000}]}),
    )
    .await["event"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let archived = post(
        api,
        "/partnerships/events",
        json!({"name": "Old Gala", "year": year, "sponsorshipGoal": 5000}),
    )
    .await["event"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let partner = |company: &'static str| async move {
        post(
            api,
            "/partnerships/partners",
            json!({"company": company, "contactName": "Kim"}),
        )
        .await["partner"]["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (acme, beta, gone) = (partner("Acme").await, partner("Beta").await, partner("Gone Co").await);
    let link = |p: String, e: String, body: Value| async move {
        let mut body = body;
        body["eventId"] = json!(e);
        post(api, &format!("/partnerships/partners/{p}/events"), body).await;
    };
    link(acme.clone(), current.clone(), json!({"status": "paid", "tier": "gold"})).await;
    link(
        beta.clone(),
        current.clone(),
        json!({"status": "pitched", "amount": 1500, "followUpDate": day(-2)}),
    )
    .await;
    link(
        gone.clone(),
        current.clone(),
        json!({"status": "declined", "amount": 700, "followUpDate": day(-5)}),
    )
    .await;
    link(
        acme.clone(),
        archived.clone(),
        json!({"status": "confirmed", "amount": 999}),
    )
    .await;
    api.call(
        "PATCH",
        &format!("/partnerships/events/{archived}"),
        Some(json!({"archived": true})),
    )
    .await;
    api.call(
        "PATCH",
        &format!("/partnerships/partners/{gone}"),
        Some(json!({"archived": true})),
    )
    .await;
    post(
        api,
        &format!("/partnerships/partners/{acme}/communications"),
        json!({"summary": "Send invoice", "subject": "Invoice", "followUpDate": day(1), "eventId": current}),
    )
    .await;
    let done = post(
        api,
        &format!("/partnerships/partners/{beta}/communications"),
        json!({"summary": "Call back", "followUpDate": day(-1)}),
    )
    .await;
    let done_id = done["communication"]["id"].as_str().unwrap();
    api.call(
        "PATCH",
        &format!("/partnerships/partner-communications/{done_id}"),
        Some(json!({"followUpDone": true})),
    )
    .await;
    // The partner counters follow the partners stream; let it catch up.
    api.settle().await;
    Fixture {
        e_current: current,
        e_archived: archived,
        p_acme: acme,
        p_beta: beta,
        p_gone: gone,
    }
}

#[tokio::test]
async fn dashboard_reports_scope_totals_pace_and_actions() {
    let api = TestApi::new().await;
    let f = fixture(&api).await;
    let reply = api
        .call(
            "GET",
            "/partnerships/dashboard?upcomingWindowDays=3&actionLimit=5000",
            None,
        )
        .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let d = &reply.body;
    assert_eq!(d["scope"]["upcomingWindowDays"], 7, "clamped");
    assert_eq!(d["scope"]["actionLimit"], 200, "clamped");
    assert_eq!(d["scope"]["scopedEventCount"], 1, "the archived event is out of scope");
    let totals = &d["totals"];
    assert_eq!(
        (
            totals["partnerCount"].clone(),
            totals["archivedPartnerCount"].clone(),
            totals["activePartnerCount"].clone()
        ),
        (json!(3), json!(1), json!(2))
    );
    assert_eq!(totals["relationshipCount"], 3);
    assert_eq!(totals["partnersInScope"], 3, "archived partners still count (parity)");
    assert_eq!(totals["pipelineAmount"], 6200.0);
    assert_eq!(totals["securedAmount"], 4000.0);
    assert_eq!(totals["openPipelineAmount"], 1500.0);
    assert_eq!(
        totals["activePartners"]["relationshipCount"], 2,
        "companion without archived partners"
    );
    assert_eq!(totals["activePartners"]["pipelineAmount"], 5500.0);

    let annual = &d["annual"];
    assert_eq!(annual["goalAmount"], 10000.0, "the archived event's goal is excluded");
    assert_eq!(annual["securedAmount"], 4000.0);
    assert_eq!(annual["progressToGoalPct"], 40.0);
    let event = &d["revenueByEvent"][0];
    assert_eq!(event["eventId"], f.e_current.as_str());
    assert_eq!(
        event["expectedProgressPct"], 50.0,
        "10 of the 20 days of the outreach window"
    );
    assert_eq!(event["paceStatus"], "behind");
    assert_eq!(
        (event["overdueFollowUps"].clone(), event["openOverdueFollowUps"].clone()),
        (json!(2), json!(1))
    );

    let items = d["actionItems"].as_array().unwrap();
    let ids: Vec<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert_eq!(
        ids[0],
        format!("link-follow-up-{}::{}", f.p_gone, f.e_current),
        "the most overdue first"
    );
    assert_eq!(ids[1], format!("link-follow-up-{}::{}", f.p_beta, f.e_current));
    assert!(
        ids[2].starts_with("comm-follow-up-"),
        "the done follow-up left the queue"
    );
    assert_eq!(items[2]["description"], "Invoice • Blueprint");
    assert_eq!(items[0]["title"], "Gone Co (Kim)");
    assert_eq!(items[1]["daysUntilDue"], -2);
    let statuses: Vec<&str> = d["pipeline"]["byStatus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["paid", "pitched", "declined"]);

    let with_archived = api
        .call("GET", "/partnerships/dashboard?includeArchived=true", None)
        .await
        .body;
    assert_eq!(with_archived["scope"]["scopedEventCount"], 2);
    assert_eq!(with_archived["totals"]["relationshipCount"], 4);
    let one_event = api
        .call(
            "GET",
            &format!("/partnerships/dashboard?eventId={}&includeArchived=true", f.e_archived),
            None,
        )
        .await
        .body;
    assert_eq!(one_event["totals"]["relationshipCount"], 1);
    assert_eq!(one_event["scope"]["requestedEventId"], f.e_archived.as_str());
    let _ = &f.p_acme;
}

#[tokio::test]
async fn export_lists_every_partner_in_client_order_as_json_or_csv() {
    let api = TestApi::new().await;
    let f = fixture(&api).await;
    api.create_partner(json!({"company": "Zeta Lonely", "tags": ["a", "b"]}))
        .await;
    let reply = api.call("GET", "/partnerships/export", None).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["alumniTag"], "alumni-partner");
    assert!(reply.body["generatedAt"].as_str().unwrap().ends_with('Z'));
    let rows = reply.body["rows"].as_array().unwrap();
    assert_eq!(
        rows.len(),
        2 + 1 + 1 + 1,
        "Acme 2 links, Beta 1, Gone Co 1 (archived included), Zeta none"
    );
    let keys: Vec<&str> = rows[0].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        COLUMNS.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
        "the client's CSV depends on this order"
    );
    let companies: Vec<&str> = rows.iter().map(|r| r["company"].as_str().unwrap()).collect();
    assert_eq!(companies, ["Acme", "Acme", "Beta", "Gone Co", "Zeta Lonely"]);
    assert_eq!(rows[0]["eventId"], f.e_archived.as_str(), "newest link first");
    assert_eq!(rows[1]["status"], "Paid");
    assert_eq!(rows[1]["packageTier"], "Gold");
    assert_eq!(rows[1]["sponsorshipAmount"], "4000");
    assert_eq!(rows[3]["archived"], "Yes");
    assert_eq!(rows[4]["linkId"], "");
    assert_eq!(rows[4]["tags"], "a, b");

    let csv = api.call("GET", "/partnerships/export?format=CSV", None).await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.headers["content-type"], "text/csv; charset=utf-8");
    assert!(
        csv.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"partnerships-export-")
    );
    let text = csv.body.as_str().unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(reader.headers().unwrap().get(0), Some("Partner ID"));
    assert_eq!(reader.records().count(), 5);
}

#[tokio::test]
async fn rollup_repairs_corrupted_summaries_and_is_idempotent() {
    let api = TestApi::new().await;
    let f = fixture(&api).await;
    let store = &api.ctx.store;
    let tables = api.ctx.config.tables.clone();
    let first = rollup::run(api.function("rollup"), std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert!(first.pass_completed);
    assert_eq!(first.summaries_repaired, 0, "nothing drifted: {first:?}");

    // Corrupt an event's counters and link ids and the partner counters; leave on a partner the
    // link copies partners carried before the directory read the links table.
    let corrupt_event = Update::new("vandal", 1)
        .set("relationshipCount", 99)
        .unwrap()
        .set("securedCents", 1)
        .unwrap()
        .set_string_set("linkIds", vec!["bogus".into()]);
    store
        .update::<serde_json::Map<String, Value>>(&tables.events, &f.e_current, &corrupt_event)
        .await
        .unwrap();
    let link_id = format!("{}::{}", f.p_beta, f.e_current);
    let legacy_partner = Update::new("vandal", 1)
        .set(
            "linkSummaries",
            serde_json::json!({ link_id.as_str(): {"status": "paid"} }),
        )
        .unwrap();
    store
        .update::<serde_json::Map<String, Value>>(&tables.partners, &f.p_beta, &legacy_partner)
        .await
        .unwrap();
    let corrupt_counts = Update::new("vandal", 1).set("partnerCount", 42).unwrap();
    store
        .update::<serde_json::Map<String, Value>>(&tables.meta, PARTNER_COUNTS_ID, &corrupt_counts)
        .await
        .unwrap();

    let sighting = rollup::run(api.function("rollup"), std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert!(sighting.pass_completed);
    assert_eq!(
        store.partner_counts().await.unwrap(),
        (42, 1),
        "one pass may see a partner the stream has not counted yet: it only notes the mismatch"
    );
    let repair = rollup::run(api.function("rollup"), std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert!(repair.pass_completed);
    assert_eq!(
        sighting.summaries_repaired, 2,
        "the event and the partner: {sighting:?}"
    );
    assert_eq!(repair.summaries_repaired, 1, "the counters: {repair:?}");
    let event = store.get_event(&f.e_current).await.unwrap().unwrap();
    assert_eq!(event.counters.relationship_count, 3);
    assert_eq!(event.counters.secured_cents, 400_000);
    assert!(
        api.stored(&tables.events, &f.e_current)
            .await
            .unwrap()
            .get("linkIds")
            .is_none(),
        "the legacy link id copy is dropped"
    );
    let partner = api.stored(&tables.partners, &f.p_beta).await.unwrap();
    assert!(partner.get("linkSummaries").is_none(), "legacy link copies removed");
    assert_eq!(partner["updatedAt"], 1, "a maintenance write leaves updatedAt alone");
    assert_eq!(
        store.partner_counts().await.unwrap(),
        (3, 1),
        "the second pass confirms the same mismatch and repairs it"
    );
    let status = api.stored(&tables.meta, ROLLUP_STATUS_ID).await.unwrap();
    assert_eq!(status["phase"], "idle");
    assert_eq!(status["lastRunSummariesRepaired"], 1, "the counters");
    assert!(status["lastRunItemsRead"].as_u64().unwrap() >= 5);
    assert!(status["lastRunAt"].is_string() && status["lastPassCompletedAt"].is_string());
    assert_eq!(status["updatedBy"], "rollup");

    let again = rollup::run(api.function("rollup"), std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(again.summaries_repaired, 0, "idempotent");
    let directory = api.call("GET", "/partnerships/partners", None).await;
    assert_eq!(
        directory.body["summary"]["totalRelationships"], 3,
        "the directory reads the links table"
    );
    let _ = (&f.p_acme, &f.p_gone, &f.e_archived);
}

#[tokio::test]
async fn rollup_resumes_from_its_checkpoint() {
    let api = TestApi::new().await;
    for i in 0..60 {
        api.create_partner(json!({"company": format!("P{i:02}")})).await;
    }
    api.settle().await;
    let cut_short = rollup::run(api.function("rollup"), std::time::Duration::from_millis(1))
        .await
        .unwrap();
    assert!(!cut_short.pass_completed, "a tiny budget stops after one page");
    let status = api.stored(&api.ctx.config.tables.meta, ROLLUP_STATUS_ID).await.unwrap();
    assert_ne!(status["phase"], "idle");
    let mut runs = 1;
    loop {
        let report = rollup::run(api.function("rollup"), std::time::Duration::from_millis(1))
            .await
            .unwrap();
        runs += 1;
        if report.pass_completed {
            break;
        }
        assert!(runs < 20, "the pass advances run after run");
    }
    assert!(runs >= 3, "60 partners take several 25-item pages: {runs} runs");
    assert_eq!(api.ctx.store.partner_counts().await.unwrap(), (60, 0));
}

#[tokio::test]
async fn the_dashboard_reads_archived_partners_from_their_index_and_names_only_action_items() {
    let api = TestApi::new().await;
    let f = fixture(&api).await;
    let dashboard = api.call("GET", "/partnerships/dashboard", None).await;
    assert_eq!(dashboard.status, 200);
    let stored = api.stored(&api.ctx.config.tables.partners, &f.p_gone).await.unwrap();
    assert_eq!(
        stored["archivedIndex"], "archived",
        "an archived partner is in the sparse index"
    );
    assert!(
        api.stored(&api.ctx.config.tables.partners, &f.p_acme)
            .await
            .unwrap()
            .get("archivedIndex")
            .is_none(),
        "an active one is not"
    );
    // Items read: events + their summaries and tallies + the queue's days + archived partners +
    // counters; never every partner in scope.
    let items = items_read(&dashboard);
    assert!(
        dashboard.body["actionItems"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["companyName"] != "Unknown company"),
        "every action item is named"
    );
    assert!(items > 0);

    // Restoring takes the partner out of the index in the same write.
    let restored = api
        .call(
            "PATCH",
            &format!("/partnerships/partners/{}", f.p_gone),
            Some(serde_json::json!({"archived": false})),
        )
        .await;
    assert_eq!(restored.status, 200);
    assert!(
        api.stored(&api.ctx.config.tables.partners, &f.p_gone)
            .await
            .unwrap()
            .get("archivedIndex")
            .is_none()
    );
}

#[tokio::test]
async fn the_rollup_indexes_partners_archived_before_the_index_existed() {
    let api = TestApi::new().await;
    let partners = api.ctx.config.tables.partners.clone();
    api.put_raw(
        &partners,
        json!({"id": "old", "company": "Old Co", "archived": true, "updatedAt": 7, "version": 3}),
    )
    .await;
    let report = rollup::run(api.function("rollup"), std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert!(report.pass_completed);
    let stored = api.stored(&partners, "old").await.unwrap();
    assert_eq!(stored["archivedIndex"], "archived");
    assert_eq!(
        (stored["updatedAt"].clone(), stored["version"].clone()),
        (json!(7), json!(4)),
        "a maintenance write"
    );
    assert_eq!(api.ctx.store.archived_partner_ids().await.unwrap().len(), 1);
}

/// The dashboard over the stream processor's aggregates answers exactly what a recount of the
/// links answers, after creates, edits, deletes, a re-key, archives and backdated deals.
#[tokio::test]
async fn the_dashboard_from_aggregates_equals_a_recount_of_the_links() {
    let api = TestApi::new().await;
    let year = Utc::now().format("%Y").to_string().parse::<i64>().unwrap();
    let event = |name: &str, y: i64| json!({"name": name, "year": y, "sponsorshipGoal": 5000});
    let e1 = post(&api, "/partnerships/events", event("Blueprint", year)).await["event"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let e2 = post(&api, "/partnerships/events", event("Hello Hacks", year)).await["event"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let e3 = post(&api, "/partnerships/events", event("Old Gala", year - 1)).await["event"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut partners = Vec::new();
    for i in 0..5 {
        partners.push(
            api.create_partner(json!({"company": format!("Co {i}")})).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let statuses = ["prospecting", "pitched", "confirmed", "paid", "declined", "my_custom"];
    let mut links = Vec::new();
    for (i, p) in partners.iter().enumerate() {
        for (j, e) in [&e1, &e2, &e3].iter().enumerate() {
            if (i + j) % 4 == 3 {
                continue;
            }
            let mut body =
                json!({"eventId": e, "status": statuses[(i + 2 * j) % statuses.len()], "amount": 250 * (i + j + 1)});
            if (i + j) % 3 == 0 {
                body["followUpDate"] = json!(day(i as i64 * 9 - 20));
            }
            let created = post(&api, &format!("/partnerships/partners/{p}/events"), body).await;
            links.push(created["link"]["id"].as_str().unwrap().to_string());
        }
    }
    // Edits of every kind: status, amount, follow-up moved and cleared, a delete.
    let patch = |id: &str, body: Value| {
        let path = format!("/partnerships/partner-events/{id}");
        let api = &api;
        async move { assert_eq!(api.call("PATCH", &path, Some(body)).await.status, 200) }
    };
    patch(&links[0], json!({"status": "paid"})).await;
    patch(&links[1], json!({"amount": 9999.99})).await;
    patch(&links[2], json!({"followUpDate": day(3)})).await;
    patch(&links[3], json!({"followUpDate": null})).await;
    let deleted = api
        .call("DELETE", &format!("/partnerships/partner-events/{}", links[4]), None)
        .await;
    assert_eq!(deleted.status, 200);
    // A deal untouched for 40 days and one for 20 (written as an import would).
    for (n, days) in [(5, 40), (6, 20)] {
        backdate(&api, &links[n], days).await;
    }
    // A re-key (the year moves), an archived partner, an archived event.
    let rekeyed = api
        .call(
            "PATCH",
            &format!("/partnerships/events/{e3}"),
            Some(json!({"year": year - 2})),
        )
        .await;
    assert_eq!(rekeyed.status, 200);
    let archive = |path: String| {
        let api = &api;
        async move {
            assert_eq!(
                api.call("PATCH", &path, Some(json!({"archived": true}))).await.status,
                200
            )
        }
    };
    archive(format!("/partnerships/partners/{}", partners[1])).await;
    archive(format!("/partnerships/events/{e2}")).await;
    // Communication follow-ups: with an event, without one, done, moved, and one naming an event
    // deleted before this service (as the old service's data has them): it counts where its event
    // id and year are asked for.
    let mut comms = Vec::new();
    for (i, event_id) in [Some(&e1), Some(&e3), None, Some(&e2), Some(&e1), None]
        .iter()
        .enumerate()
    {
        let mut body = json!({"summary": format!("Call {i}"), "subject": format!("Subject {i}"), "followUpDate": day(i as i64 * 6 - 15)});
        if let Some(id) = event_id {
            body["eventId"] = json!(id);
        }
        let path = format!("/partnerships/partners/{}/communications", partners[i % 5]);
        comms.push(
            post(&api, &path, body).await["communication"]["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let comm_patch = |id: &str, body: Value| {
        let path = format!("/partnerships/partner-communications/{id}");
        let api = &api;
        async move { assert_eq!(api.call("PATCH", &path, Some(body)).await.status, 200) }
    };
    comm_patch(&comms[0], json!({"followUpDone": true})).await;
    comm_patch(&comms[1], json!({"followUpDate": day(1)})).await;
    comm_patch(&comms[4], json!({"eventId": ""})).await;
    let orphan = shared::domain::records::Communication {
        id: "legacy-comm".into(),
        partner_id: partners[0].clone(),
        summary: "From the old service".into(),
        follow_up_date: Some(day(2)),
        event: shared::domain::records::EventRef {
            event_id: Some("deleted-event".into()),
            event_year: Some(year as i32),
            event_id_year: Some(format!("deleted-event#{year}")),
            event_name: Some("Deleted".into()),
        },
        ..Default::default()
    };
    api.put_raw(
        &api.ctx.config.tables.communications,
        serde_json::to_value(&orphan).unwrap(),
    )
    .await;
    api.settle().await;

    for query in [
        "",
        "year=all",
        &format!("year={year}"),
        &format!("year={}", year - 2),
        &format!("eventId={e1}"),
        &format!("eventId={e2}&includeArchived=true"),
        "eventId=deleted-event",
        &format!("eventId=deleted-event&year={}", year - 1),
        "includeArchived=true&upcomingWindowDays=7&actionLimit=10",
    ] {
        assert_dashboard_equals_a_recount(&api, query).await;
    }
}

/// The served dashboard for `query` equals the one computed from every link and communication.
async fn assert_dashboard_equals_a_recount(api: &TestApi, query: &str) {
    use shared::domain::aggregates::{CommFacts, LinkFacts};
    use shared::domain::dashboard::{DashboardParams, dashboard, data_from_records};
    use shared::domain::link::PartnerEventLink;
    use shared::domain::records::Communication;

    let store = &api.ctx.store;
    let all_links: Vec<PartnerEventLink> = store.all_links().await.unwrap();
    let facts: Vec<LinkFacts> = all_links.iter().map(LinkFacts::from).collect();
    let all_comms: Vec<Communication> = store.scan_all(&api.ctx.config.tables.communications).await.unwrap();
    let comm_facts: Vec<CommFacts> = all_comms.iter().map(CommFacts::from).collect();
    let events = store.all_events().await.unwrap();
    let all_partners = store.all_partners().await.unwrap();
    let archived: std::collections::HashSet<&str> = all_partners
        .iter()
        .filter(|p| p.archived)
        .map(|p| p.id.as_str())
        .collect();
    let served = api.call("GET", &format!("/partnerships/dashboard?{query}"), None).await;
    assert_eq!(served.status, 200);
    let params = DashboardParams::parse(
        &query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    let now = Utc::now();
    let mut data = data_from_records(events.clone(), &facts, &comm_facts, &params, now);
    data.archived_partner_links = facts
        .iter()
        .filter(|l| archived.contains(l.partner_id.as_str()))
        .cloned()
        .collect();
    data.partners = all_partners.iter().map(|p| (p.id.clone(), p.clone())).collect();
    (data.partner_count, data.archived_partner_count) = store.partner_counts().await.unwrap();
    let mut recount = dashboard(&data, &params, now);
    let mut served = served.body;
    for answer in [&mut recount, &mut served] {
        answer.as_object_mut().unwrap().remove("generatedAt");
    }
    assert_eq!(served, recount, "?{query}");
}

/// With more follow-ups and stale deals than the queue shows, spread over events and
/// communications, the first `actionLimit` are still exactly the recount's, and the totals count
/// all of them.
#[tokio::test]
async fn the_queue_shows_the_first_items_of_many_and_counts_them_all() {
    let api = TestApi::new().await;
    let year = Utc::now().format("%Y").to_string().parse::<i64>().unwrap();
    let mut events = Vec::new();
    for name in ["Alpha", "Beta", "Gamma"] {
        let created = post(&api, "/partnerships/events", json!({"name": name, "year": year})).await;
        events.push(created["event"]["id"].as_str().unwrap().to_string());
    }
    let statuses = ["pitched", "paid", "in_conversation", "declined"];
    for i in 0..36i64 {
        let partner = api.create_partner(json!({"company": format!("Busy {i:02}")})).await;
        let partner_id = partner["id"].as_str().unwrap().to_string();
        let mut body = json!({"eventId": events[(i % 3) as usize], "status": statuses[(i % 4) as usize]});
        // The first third undated (stale once backdated; created first, so each event's last
        // activity is a later deal's), the rest dated, several on one day.
        let stale = i < 12;
        if !stale {
            body["followUpDate"] = json!(day(i % 9 - 4));
        }
        let created = post(&api, &format!("/partnerships/partners/{partner_id}/events"), body).await;
        if stale {
            backdate(&api, created["link"]["id"].as_str().unwrap(), 10 + 2 * i).await;
        }
        if i % 2 == 0 {
            let mut comm = json!({"summary": format!("Note {i}"), "followUpDate": day(i % 7 - 3)});
            if i % 4 == 0 {
                comm["eventId"] = json!(events[(i % 3) as usize]);
            }
            post(
                &api,
                &format!("/partnerships/partners/{partner_id}/communications"),
                comm,
            )
            .await;
        }
    }
    api.settle().await;
    for query in [
        "actionLimit=10",
        "",
        &format!("eventId={}&actionLimit=10", events[0]),
        &format!("year={year}&upcomingWindowDays=7&actionLimit=10"),
    ] {
        assert_dashboard_equals_a_recount(&api, query).await;
    }
    let served = api.call("GET", "/partnerships/dashboard?actionLimit=10", None).await;
    let totals = &served.body["totals"];
    assert_eq!(totals["actionItemCount"], 10);
    assert!(
        totals["actionItemTotal"].as_i64().unwrap() > 40,
        "every dated link, stale deal and communication is counted: {totals}"
    );
}

/// What the dashboard reads grows with the scope's events and the deals that need action, never
/// with the links that need none.
#[tokio::test]
async fn the_dashboard_reads_no_link_that_needs_no_action() {
    let api = TestApi::new().await;
    let f = fixture(&api).await;
    let before = api.call("GET", "/partnerships/dashboard", None).await;
    for i in 0..30 {
        let partner = api.create_partner(json!({"company": format!("Quiet {i}")})).await;
        let path = format!("/partnerships/partners/{}/events", partner["id"].as_str().unwrap());
        post(
            &api,
            &path,
            json!({"eventId": f.e_current, "status": "paid", "amount": 10}),
        )
        .await;
    }
    api.settle().await;
    let after = api.call("GET", "/partnerships/dashboard", None).await;
    assert_eq!(
        after.body["totals"]["relationshipCount"].as_i64(),
        before.body["totals"]["relationshipCount"].as_i64().map(|n| n + 30)
    );
    assert_eq!(
        items_read(&after),
        items_read(&before),
        "30 more links, no more items read"
    );
}

/// The queue reads the days that hold the items it shows, not every follow-up due: thirty more
/// overdue deals behind the first `actionLimit` read next to nothing more.
#[tokio::test]
async fn the_dashboard_reads_the_rows_it_shows_not_every_follow_up_due() {
    let api = TestApi::new().await;
    let year = Utc::now().format("%Y").to_string();
    let created = post(
        &api,
        "/partnerships/events",
        json!({"name": "Summit", "year": year.parse::<i64>().unwrap()}),
    )
    .await;
    let event_id = created["event"]["id"].as_str().unwrap().to_string();
    let add = |n: usize, offset: i64, prefix: &'static str| {
        let api = &api;
        let event_id = event_id.clone();
        async move {
            for i in 0..n {
                let partner = api.create_partner(json!({"company": format!("{prefix} {i}")})).await;
                let path = format!("/partnerships/partners/{}/events", partner["id"].as_str().unwrap());
                post(
                    api,
                    &path,
                    json!({"eventId": event_id, "status": "pitched", "followUpDate": day(offset)}),
                )
                .await;
            }
        }
    };
    add(12, -3, "First").await;
    api.settle().await;
    let before = api.call("GET", "/partnerships/dashboard?actionLimit=10", None).await;
    add(30, -2, "Later").await;
    api.settle().await;
    let after = api.call("GET", "/partnerships/dashboard?actionLimit=10", None).await;
    assert_eq!(before.body["totals"]["overdueFollowUps"], 12);
    assert_eq!(after.body["totals"]["overdueFollowUps"], 42, "counted, all of them");
    assert_eq!(
        after.body["actionItems"], before.body["actionItems"],
        "the first ten are the same"
    );
    // One more row read to see that the first day ended, and one more tally row if the later
    // day falls in another month.
    assert!(
        items_read(&after) <= items_read(&before) + 2,
        "{} items read before, {} after",
        items_read(&before),
        items_read(&after)
    );
}

/// The queue rows carry their partner's names: a renamed partner's follow-ups show the new name
/// once the processor has caught up.
#[tokio::test]
async fn a_renamed_partner_is_renamed_on_the_action_queue() {
    let api = TestApi::new().await;
    let year = Utc::now().format("%Y").to_string().parse::<i64>().unwrap();
    let created = post(&api, "/partnerships/events", json!({"name": "Expo", "year": year})).await;
    let event_id = created["event"]["id"].as_str().unwrap().to_string();
    let partner = api
        .create_partner(json!({"company": "Old Name Co", "contactName": "Ada"}))
        .await;
    let partner_id = partner["id"].as_str().unwrap().to_string();
    post(
        &api,
        &format!("/partnerships/partners/{partner_id}/events"),
        json!({"eventId": event_id, "status": "pitched", "followUpDate": day(-1)}),
    )
    .await;
    post(
        &api,
        &format!("/partnerships/partners/{partner_id}/communications"),
        json!({"summary": "Call back", "followUpDate": day(2)}),
    )
    .await;
    api.settle().await;
    let titles = |reply: &integration_tests::Reply| -> Vec<String> {
        reply.body["actionItems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["title"].as_str().unwrap().to_string())
            .collect()
    };
    let before = api.call("GET", "/partnerships/dashboard", None).await;
    assert_eq!(titles(&before), vec!["Old Name Co (Ada)", "Old Name Co (Ada)"]);
    let renamed = api
        .call(
            "PATCH",
            &format!("/partnerships/partners/{partner_id}"),
            Some(json!({"company": "New Name Co", "contactName": "Ada Lovelace"})),
        )
        .await;
    assert_eq!(renamed.status, 200);
    api.settle().await;
    let after = api.call("GET", "/partnerships/dashboard", None).await;
    assert_eq!(
        titles(&after),
        vec!["New Name Co (Ada Lovelace)", "New Name Co (Ada Lovelace)"]
    );
    assert_dashboard_equals_a_recount(&api, "").await;
}

/// Makes a link a `pitched` deal without a follow-up, last touched `days` ago, written straight
/// to its table as an import (or the old service's data) would be.
async fn backdate(api: &TestApi, link_id: &str, days: i64) {
    use shared::domain::link::PartnerEventLink;
    let mut stored: PartnerEventLink = api.ctx.store.get_link(link_id).await.unwrap().unwrap();
    let touched = (Utc::now() - Duration::days(days)).timestamp_millis();
    stored.status = "pitched".into();
    stored.follow_up_date = None;
    stored.created_at = touched;
    stored.updated_at = touched;
    stored.version += 1;
    api.put_raw(&api.ctx.config.tables.links, serde_json::to_value(&stored).unwrap())
        .await;
}

/// The DynamoDB items a request read, as the store layer counted them.
fn items_read(reply: &integration_tests::Reply) -> u64 {
    reply.headers[shared::http::ITEMS_READ_HEADER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}
