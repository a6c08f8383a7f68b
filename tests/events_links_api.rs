//! Partnership events and partner–event links (contract §5.5–§5.12, §10) against DynamoDB Local,
//! including the races the old service lost.

use std::collections::HashMap;

use integration_tests::{Reply, TestApi};
use serde_json::{Value, json};
use shared::domain::event::{EventCounters, PartnershipEvent};
use shared::domain::link::PartnerEventLink;

async fn new_event(api: &TestApi, body: Value) -> Value {
    let reply = api.call("POST", "/partnerships/events", Some(body)).await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    reply.body["event"].clone()
}

async fn new_partner(api: &TestApi, company: &str) -> String {
    api.create_partner(json!({"company": company})).await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn link(api: &TestApi, partner: &str, body: Value) -> Reply {
    api.call("POST", &format!("/partnerships/partners/{partner}/events"), Some(body))
        .await
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap_or_default().to_string()
}

/// Checks that the event's counters equal a recomputation from the links table; returns the
/// number of anomalies found.
async fn drift(api: &TestApi, event_id: &str) -> usize {
    let store = &api.ctx.store;
    let event: PartnershipEvent = store.get_event(event_id).await.unwrap().unwrap();
    let links: Vec<PartnerEventLink> = store.links_of_event(event_id).await.unwrap();
    let mut anomalies = 0;
    let expected = links.iter().fold(EventCounters::default(), |c, l| {
        c.plus(EventCounters::of_link(&l.status, l.amount))
    });
    if expected != event.counters {
        eprintln!(
            "event counters drifted: stored {:?}, recomputed {expected:?}",
            event.counters
        );
        anomalies += 1;
    }
    anomalies
}

#[tokio::test]
async fn events_are_created_validated_listed_and_sorted() {
    let api = TestApi::new().await;
    let event = new_event(
        &api,
        json!({"name": " Blueprint ", "year": "2026", "startDate": "2026-01-10", "endDate": "2026-01-11",
               "sponsorshipGoal": "10000.56", "archived": true,
               "tierConfigs": [{"id": "Gold", "label": "Gold", "amount": 5000}, "Silver", {"name": "Gold"}]}),
    )
    .await;
    assert_eq!(event["name"], "Blueprint");
    assert_eq!(event["year"], 2026);
    assert_eq!(event["sponsorshipGoal"], 10000.56);
    assert_eq!(event["archived"], false, "new events are never archived");
    assert_eq!(
        event["tierConfigs"],
        json!([{"id": "gold", "label": "Gold", "amount": 5000.0}, {"id": "silver", "label": "Silver", "amount": null}])
    );
    assert_eq!(event["packageTiers"], json!(["gold", "silver"]));
    assert_eq!(event["outreachStartDate"], Value::Null);
    assert_eq!(event["linkedMainEventId"], "");
    assert_eq!(event["linkedMainEventYear"], Value::Null);
    for metric in [
        "relationshipCount",
        "confirmedCount",
        "paidCount",
        "committedAmount",
        "securedAmount",
    ] {
        assert_eq!(event[metric].as_f64(), Some(0.0), "{metric}");
    }
    for internal in ["linkIds", "rekeyPending", "committedCents", "referenceCount"] {
        assert!(event.get(internal).is_none(), "{internal} stays internal");
    }

    let cases = [
        (json!({"year": 2026}), "'name' is required."),
        (json!({"name": "X"}), "'year' is required."),
        (json!({"name": "X", "year": 2101}), "'year' must be a valid year."),
        (
            json!({"name": "X", "year": 2026, "endDate": "2026-02-30"}),
            "'endDate' must be in YYYY-MM-DD format.",
        ),
        (
            json!({"name": "X", "year": 2026, "startDate": "2026-02-02", "endDate": "2026-02-01"}),
            "'startDate' cannot be after 'endDate'.",
        ),
        (
            json!({"name": "X", "year": 2026, "outreachStartDate": "2026-03-01", "endDate": "2026-02-01"}),
            "'outreachStartDate' cannot be after 'endDate'.",
        ),
        (
            json!({"name": "X", "year": 2026, "tierConfigs": [true]}),
            "'tierConfigs' items must be strings or objects.",
        ),
        (
            json!({"name": "X", "year": 2026, "tierConfigs": [{"id": "a", "amount": "lots"}]}),
            "'tier.amount' must be a non-negative number.",
        ),
    ];
    for (body, message) in cases {
        let reply = api.call("POST", "/partnerships/events", Some(body.clone())).await;
        assert_eq!((reply.status, reply.message()), (406, message), "{body}");
    }

    new_event(&api, json!({"name": "Alpha", "year": 2026})).await;
    new_event(
        &api,
        json!({"name": "Older", "year": 2025, "startDate": "2025-05-01", "packageTiers": ["Gold Plus"]}),
    )
    .await;
    let list = api.call("GET", "/partnerships/events", None).await;
    let names: Vec<&str> = list.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Blueprint", "Alpha", "Older"],
        "year desc, start date desc (missing last), name"
    );
    assert_eq!(
        list.body["events"][2]["tierConfigs"],
        json!([{"id": "gold_plus", "label": "Gold Plus", "amount": null}])
    );
}

#[tokio::test]
async fn event_patch_orders_checks_and_reports_real_metrics() {
    let api = TestApi::new().await;
    let event = new_event(
        &api,
        json!({"name": "Hacks", "year": 2026, "endDate": "2026-03-01", "linkedMainEventYear": 2026,
        "tierConfigs": [{"id": "gold", "amount": 5000}, {"id": "silver", "label": "Silver Pack", "amount": 2500}]}),
    )
    .await;
    let path = format!("/partnerships/events/{}", id(&event));

    let missing = api
        .call("PATCH", "/partnerships/events/nope", Some(json!({"year": 1})))
        .await;
    assert_eq!(missing.status, 404, "404 comes before validation");
    assert_eq!(
        missing.message(),
        "partnership event with id 'nope' could not be found. Make sure you have provided the correct id."
    );
    let empty = api.call("PATCH", &path, Some(json!({}))).await;
    assert_eq!(
        (empty.status, empty.message()),
        (406, "At least one property must be provided.")
    );
    let late_start = api.call("PATCH", &path, Some(json!({"startDate": "2026-04-01"}))).await;
    assert_eq!(
        late_start.message(),
        "'startDate' cannot be after 'endDate'.",
        "checked against the stored end date"
    );

    let partner = new_partner(&api, "Acme").await;
    assert_eq!(
        link(
            &api,
            &partner,
            json!({"eventId": id(&event), "status": "paid", "tier": "gold"})
        )
        .await
        .status,
        201
    );

    let cleared = api
        .call("PATCH", &path, Some(json!({"linkedMainEventYear": null})))
        .await;
    assert_eq!(cleared.status, 200, "the peer answered 502 here");
    assert_eq!(cleared.message(), "Partnership event updated successfully.");
    assert_eq!(cleared.body["event"]["linkedMainEventYear"], Value::Null);
    assert_eq!(cleared.body["event"]["relationshipCount"], 1, "real metrics, not zeros");
    assert_eq!(cleared.body["event"]["securedAmount"], 5000.0);
    let blank = api.call("PATCH", &path, Some(json!({"linkedMainEventYear": ""}))).await;
    assert_eq!(blank.status, 200);

    let legacy = api
        .call("PATCH", &path, Some(json!({"packageTiers": ["Silver", "Bronze"]})))
        .await;
    assert_eq!(
        legacy.body["event"]["tierConfigs"],
        json!([{"id": "silver", "label": "Silver Pack", "amount": 2500.0}, {"id": "bronze", "label": "Bronze", "amount": null}]),
        "legacy packageTiers keep the amounts of the tiers that remain"
    );
    let archived = api.call("PATCH", &path, Some(json!({"archived": true}))).await;
    assert_eq!(archived.body["event"]["archived"], true);
    let directory = api.call("GET", "/partnerships/partners", None).await;
    assert_eq!(
        directory.body["packageTierOptions"],
        json!(["bronze", "gold", "silver"]),
        "catalog follows event tiers; link tiers stay"
    );
}

#[tokio::test]
async fn links_follow_the_contract() {
    let api = TestApi::new().await;
    let event = new_event(
        &api,
        json!({"name": "Blueprint", "year": 2026, "tierConfigs": [{"id": "gold", "amount": 5000}, "silver"]}),
    )
    .await;
    let eid = id(&event);
    let partner = new_partner(&api, "Acme").await;

    let created = link(
        &api,
        &partner,
        json!({"eventId": eid, "tier": "Gold", "role": "Sponsor"}),
    )
    .await;
    assert_eq!(created.status, 201);
    assert_eq!(created.message(), "Partner event association created successfully.");
    let l = &created.body["link"];
    assert_eq!(l["id"], format!("{partner}::{eid}"));
    assert_eq!(l["eventIdYear"], format!("{eid}#2026"));
    assert_eq!(l["eventName"], "Blueprint");
    assert_eq!(l["status"], "reached_out");
    assert_eq!(l["packageTier"], "gold");
    assert_eq!(l["amount"], 5000.0, "amount defaults from the tier");
    assert_eq!(l["followUpDate"], Value::Null);

    let dup = link(&api, &partner, json!({"eventId": eid})).await;
    assert_eq!(
        (dup.status, dup.message()),
        (
            409,
            "A database entry with the same 'partnerId+eventId' already exists!"
        )
    );
    assert_eq!(dup.body["data"], json!({"partnerId": partner, "eventId": eid}));

    let other = new_partner(&api, "Beta").await;
    let cases = [
        (
            other.clone(),
            json!({"eventId": eid, "eventYear": 2025}),
            406,
            "'eventYear' does not match the selected partnerships event year.",
        ),
        (
            "ghost".to_string(),
            json!({"eventId": eid}),
            404,
            "partner with id 'ghost' could not be found. Make sure you have provided the correct id.",
        ),
        (
            other.clone(),
            json!({"eventId": "nope"}),
            404,
            "partnership event with id 'nope' could not be found. Make sure you have provided the correct id.",
        ),
        (other.clone(), json!({"eventId": 5}), 406, "'eventId' must be a string."),
        (
            other.clone(),
            json!({"eventId": eid, "followUpDate": "2026-02-30"}),
            406,
            "'followUpDate' must be in YYYY-MM-DD format.",
        ),
    ];
    for (partner_id, body, status, message) in cases {
        let reply = link(&api, &partner_id, body.clone()).await;
        assert_eq!((reply.status, reply.message()), (status, message), "{body}");
    }
    let custom = link(&api, &other, json!({"eventId": eid, "eventYear": "2026", "status": "Waiting on Legal", "packageTier": "gold", "amount": null})).await;
    assert_eq!(custom.body["link"]["status"], "waiting_on_legal");
    assert_eq!(
        custom.body["link"]["amount"],
        Value::Null,
        "explicit null means no amount"
    );

    let lid = format!("{partner}::{eid}");
    let path = format!("/partnerships/partner-events/{lid}");
    let immutable = api
        .call(
            "PATCH",
            "/partnerships/partner-events/ghost",
            Some(json!({"eventId": "x"})),
        )
        .await;
    assert_eq!(immutable.status, 406, "immutable keys are refused before the 404");
    assert_eq!(
        immutable.message(),
        "'eventId' and 'eventYear' cannot be changed after the association is created."
    );
    let ghost = api
        .call(
            "PATCH",
            "/partnerships/partner-events/ghost",
            Some(json!({"notes": "x"})),
        )
        .await;
    assert_eq!(
        ghost.message(),
        "partner event with id 'ghost' could not be found. Make sure you have provided the correct id."
    );
    let empty = api.call("PATCH", &path, Some(json!({"x": 1}))).await;
    assert_eq!(empty.message(), "At least one property must be provided.");

    let custom_amount = api
        .call("PATCH", &path, Some(json!({"amount": 4200, "status": "confirmed"})))
        .await;
    assert_eq!(
        custom_amount.message(),
        "Partner event association updated successfully."
    );
    let same_tier = api
        .call(
            "PATCH",
            &path,
            Some(json!({"packageTier": "gold", "notes": "resent tier"})),
        )
        .await;
    assert_eq!(
        same_tier.body["link"]["amount"], 4200.0,
        "the client resends the tier: the custom amount stays"
    );
    let new_tier = api.call("PATCH", &path, Some(json!({"packageTier": "silver"}))).await;
    assert_eq!(
        new_tier.body["link"]["amount"],
        Value::Null,
        "a changed tier takes its default (none)"
    );
    let reset = api
        .call(
            "PATCH",
            &path,
            Some(json!({"status": "", "amount": 100, "followUpDate": "2026-01-05"})),
        )
        .await;
    assert_eq!(reset.body["link"]["status"], "reached_out");
    let cleared = api
        .call("PATCH", &path, Some(json!({"followUpDate": null, "amount": null})))
        .await;
    assert_eq!(
        (
            cleared.body["link"]["followUpDate"].clone(),
            cleared.body["link"]["amount"].clone()
        ),
        (Value::Null, Value::Null)
    );
    assert_eq!(cleared.body["link"]["version"], 6);

    let detail = api.call("GET", &format!("/partnerships/events/{eid}"), None).await;
    assert_eq!(detail.status, 200);
    let sponsorships = detail.body["sponsorships"].as_array().unwrap();
    assert_eq!(sponsorships.len(), 2, "read-your-writes");
    assert_eq!(sponsorships[0]["id"], lid, "newest first");
    assert_eq!(sponsorships[0]["partner"]["company"], "Acme");
    assert_eq!(detail.body["pipeline"]["byStatus"]["waiting_on_legal"]["count"], 1);
    assert_eq!(
        detail.body["pipeline"]["byStatus"]["prospecting"]["count"], 0,
        "seeded with every canonical status"
    );
    assert_eq!(detail.body["event"]["relationshipCount"], 2);
    assert_eq!(drift(&api, &eid).await, 0);

    let partner_detail = api
        .call("GET", &format!("/partnerships/partners/{partner}"), None)
        .await;
    assert_eq!(
        partner_detail.body["links"][0]["id"], lid,
        "partner detail sees the link at once"
    );

    assert_eq!(
        api.call("DELETE", &path, None).await.message(),
        "Partner event association deleted successfully."
    );
    assert_eq!(api.call("DELETE", &path, None).await.status, 404);
    assert_eq!(drift(&api, &eid).await, 0);
    let directory = api.call("GET", "/partnerships/partners", None).await;
    assert_eq!(directory.body["summary"]["totalRelationships"], 1);
}

#[tokio::test]
async fn event_delete_is_refused_while_anything_points_at_it() {
    let api = TestApi::new().await;
    let event = new_event(
        &api,
        json!({"name": "Doomed", "year": 2026, "tierConfigs": ["platinum"]}),
    )
    .await;
    let eid = id(&event);
    let path = format!("/partnerships/events/{eid}");
    assert_eq!(api.call("DELETE", "/partnerships/events/nope", None).await.status, 404);

    let partner = new_partner(&api, "Acme").await;
    link(&api, &partner, json!({"eventId": eid})).await;
    let refused = api.call("DELETE", &path, None).await;
    assert_eq!(refused.status, 406);
    assert_eq!(
        refused.message(),
        "Cannot delete this partnerships event while sponsor associations exist. Archive it instead."
    );
    assert_eq!(
        refused.body["data"],
        json!({"eventId": eid, "eventName": "Doomed", "linkedSponsors": 1})
    );
    api.call(
        "DELETE",
        &format!("/partnerships/partner-events/{partner}::{eid}"),
        None,
    )
    .await;

    api.put_raw(
        &api.ctx.config.tables.documents,
        json!({"id": "d1", "partnerId": partner, "title": "Deck", "eventId": eid, "createdAt": 1, "updatedAt": 1}),
    )
    .await;
    let referenced = api.call("DELETE", &path, None).await;
    assert_eq!(referenced.status, 406);
    assert_eq!(referenced.body["data"]["linkedDocuments"], 1);
    api.ctx
        .store
        .client()
        .delete_item()
        .table_name(&api.ctx.config.tables.documents)
        .key("id", aws_sdk_dynamodb::types::AttributeValue::S("d1".into()))
        .send()
        .await
        .unwrap();

    let deleted = api.call("DELETE", &path, None).await;
    assert_eq!(
        (deleted.status, deleted.message()),
        (200, "Partnership event deleted successfully.")
    );
    assert_eq!(api.call("GET", &path, None).await.status, 404);
    let directory = api.call("GET", "/partnerships/partners", None).await;
    assert_eq!(
        directory.body["packageTierOptions"],
        json!([]),
        "the catalog entry went with the event"
    );
}

#[tokio::test]
async fn rename_rekeys_links_summaries_documents_and_communications() {
    let api = TestApi::new().await;
    let tables = api.ctx.config.tables.clone();
    let event = new_event(&api, json!({"name": "Blueprint", "year": 2025})).await;
    let eid = id(&event);
    let partners = [new_partner(&api, "A").await, new_partner(&api, "B").await];
    for p in &partners {
        assert_eq!(
            link(&api, p, json!({"eventId": eid, "status": "paid", "amount": 10}))
                .await
                .status,
            201
        );
    }
    let doc = json!({"id": "d1", "partnerId": partners[0], "title": "Deck", "eventId": eid, "eventYear": 2025, "eventIdYear": format!("{eid}#2025"), "eventName": "Blueprint", "createdAt": 1, "updatedAt": 1});
    api.put_raw(&tables.documents, doc).await;
    let comm = json!({"id": "c1", "partnerId": partners[1], "summary": "Hi", "eventId": eid, "eventYear": 2025, "eventIdYear": format!("{eid}#2025"), "eventName": "Blueprint", "source": "email_sync", "createdAt": 1, "updatedAt": 1});
    api.put_raw(&tables.communications, comm).await;

    let renamed = api
        .call(
            "PATCH",
            &format!("/partnerships/events/{eid}"),
            Some(json!({"name": "Blueprint 2026", "year": 2026})),
        )
        .await;
    assert_eq!(renamed.status, 200, "{:?}", renamed.body);
    let key = format!("{eid}#2026");
    for p in &partners {
        let stored = api.ctx.store.get_link(&format!("{p}::{eid}")).await.unwrap().unwrap();
        assert_eq!(
            (
                stored.event_id_year.as_str(),
                stored.event_year,
                stored.event_name.as_str()
            ),
            (key.as_str(), 2026, "Blueprint 2026")
        );
    }
    let doc = api.stored(&tables.documents, "d1").await.unwrap();
    assert_eq!(
        (
            doc["eventIdYear"].clone(),
            doc["eventName"].clone(),
            doc["eventYear"].clone()
        ),
        (json!(key), json!("Blueprint 2026"), json!(2026))
    );
    let comm = api.stored(&tables.communications, "c1").await.unwrap();
    assert_eq!(comm["eventIdYear"], json!(key));
    assert_eq!(comm["source"], "email_sync", "other attributes untouched");
    let filtered = api
        .call("GET", &format!("/partnerships/partners?eventIdYear={eid}%232026"), None)
        .await;
    assert_eq!(
        filtered.body["partners"].as_array().map(Vec::len),
        Some(2),
        "directory summaries carry the new key"
    );
    let stored_event = api.ctx.store.get_event(&eid).await.unwrap().unwrap();
    assert_eq!(stored_event.rekey_pending, 0);
    assert_eq!(drift(&api, &eid).await, 0);
}

#[tokio::test]
async fn an_interrupted_rekey_is_finished_by_the_next_read() -> Result<(), shared::store::StoreError> {
    let api = TestApi::new().await;
    let event = new_event(&api, json!({"name": "Old Name", "year": 2025})).await;
    let eid = id(&event);
    let partner = new_partner(&api, "A").await;
    link(&api, &partner, json!({"eventId": eid})).await;
    // Simulate a crash right after the rename was stored: the event has the new name and the
    // pending mark, the link still the old key.
    let update = shared::store::Update::new("test", 1)
        .set("name", "New Name")?
        .set("year", 2026)?
        .set("rekeyPending", 99)?;
    api.ctx
        .store
        .update::<serde_json::Map<String, Value>>(&api.ctx.config.tables.events, &eid, &update)
        .await?;
    let detail = api.call("GET", &format!("/partnerships/events/{eid}"), None).await;
    assert_eq!(detail.body["sponsorships"][0]["eventIdYear"], format!("{eid}#2026"));
    assert_eq!(detail.body["sponsorships"][0]["eventName"], "New Name");
    assert_eq!(
        api.ctx.store.get_event(&eid).await?.unwrap().rekey_pending,
        0,
        "the mark is cleared once repaired"
    );
    assert_eq!(drift(&api, &eid).await, 0);
    Ok(())
}

#[tokio::test]
async fn duplicate_creates_race_to_exactly_one_201() {
    let api = TestApi::new().await;
    let event = new_event(&api, json!({"name": "Race", "year": 2026})).await;
    let eid = id(&event);
    let rounds = 5;
    let mut tally: HashMap<u16, usize> = HashMap::new();
    let mut anomalies = 0;
    for round in 0..rounds {
        let partner = new_partner(&api, &format!("P{round}")).await;
        let replies =
            futures::future::join_all((0..10).map(|_| link(&api, &partner, json!({"eventId": eid, "amount": 100}))))
                .await;
        for reply in &replies {
            *tally.entry(reply.status).or_default() += 1;
        }
        let created = replies.iter().filter(|r| r.status == 201).count();
        let conflicts = replies.iter().filter(|r| r.status == 409).count();
        anomalies += usize::from(created != 1 || conflicts != 9);
    }
    println!("duplicate-create race: {rounds} rounds x 10 requests -> statuses {tally:?}; anomalies {anomalies}");
    assert_eq!(anomalies, 0, "{tally:?}");
    assert_eq!(drift(&api, &eid).await, 0);
}

#[tokio::test]
async fn concurrent_patches_keep_summaries_equal_to_the_links() {
    let api = TestApi::new().await;
    let event = new_event(
        &api,
        json!({"name": "Race", "year": 2026, "tierConfigs": [{"id": "gold", "amount": 900}]}),
    )
    .await;
    let eid = id(&event);
    let partner = new_partner(&api, "Acme").await;
    link(&api, &partner, json!({"eventId": eid})).await;
    let path = format!("/partnerships/partner-events/{partner}::{eid}");
    let statuses = ["paid", "confirmed", "declined", "pitched", "backed_out"];
    let (rounds, writers) = (5, 12);
    let mut anomalies = 0;
    for round in 0..rounds {
        let replies = futures::future::join_all((0..writers).map(|i| {
            let tier = if i % 3 == 0 { "gold" } else { "" };
            let body = json!({"amount": (round * 100 + i) as f64 + 0.25, "status": statuses[i % statuses.len()], "packageTier": tier});
            api.call("PATCH", &path, Some(body))
        }))
        .await;
        anomalies += replies.iter().filter(|r| r.status != 200).count();
        anomalies += drift(&api, &eid).await;
    }
    println!("concurrent link PATCH: {rounds} rounds x {writers} PATCHes; anomalies {anomalies}");
    assert_eq!(anomalies, 0);
    let stored = api
        .ctx
        .store
        .get_link(&format!("{partner}::{eid}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.version,
        1 + (rounds * writers) as u64,
        "every PATCH applied exactly once"
    );
}

#[tokio::test]
async fn deleting_an_event_while_a_link_is_created_never_dangles() {
    let api = TestApi::new().await;
    let partner = new_partner(&api, "Acme").await;
    let rounds = 20;
    let mut outcomes: HashMap<(u16, u16), usize> = HashMap::new();
    let mut anomalies = 0;
    for round in 0..rounds {
        let eid = id(&new_event(&api, json!({"name": format!("E{round}"), "year": 2026})).await);
        let delete_path = format!("/partnerships/events/{eid}");
        // Stagger the create by 0–9 ms so both orders (and true overlaps) occur.
        let delayed_create = async {
            tokio::time::sleep(std::time::Duration::from_millis((round % 10) as u64)).await;
            link(&api, &partner, json!({"eventId": eid})).await
        };
        let (deleted, created) = futures::join!(api.call("DELETE", &delete_path, None), delayed_create);
        *outcomes.entry((deleted.status, created.status)).or_default() += 1;
        let link_exists = api
            .ctx
            .store
            .get_link(&format!("{partner}::{eid}"))
            .await
            .unwrap()
            .is_some();
        let event_exists = api.ctx.store.get_event(&eid).await.unwrap().is_some();
        let consistent = match (deleted.status, created.status) {
            (200, 404) => !link_exists && !event_exists,
            (406, 201) => link_exists && event_exists,
            _ => false,
        };
        anomalies += usize::from(!consistent || (link_exists && !event_exists));
        if event_exists {
            anomalies += drift(&api, &eid).await;
        }
    }
    println!(
        "delete-event vs create-link race: {rounds} rounds -> (delete, create) statuses {outcomes:?}; anomalies {anomalies}"
    );
    assert_eq!(anomalies, 0, "{outcomes:?}");
}

/// Every reference of `event_id` that does not carry the event's current name and year (links
/// by strongly consistent reads, documents and communications read by id from the tables).
async fn stale_references(
    api: &TestApi,
    event_id: &str,
    link_ids: &[String],
    record_ids: &[(String, String)],
) -> usize {
    let store = &api.ctx.store;
    let event = store.get_event(event_id).await.unwrap().unwrap();
    let key = event.event_id_year();
    let mut stale = 0;
    for link in store.links_by_ids(link_ids).await.unwrap() {
        if link.event_id_year != key || link.event_name != event.name || link.event_year != event.year {
            stale += 1;
        }
    }
    for (table, id) in record_ids {
        let record = api.stored(table, id).await.unwrap();
        if record["eventIdYear"] != json!(key) || record["eventName"] != json!(event.name) {
            stale += 1;
        }
    }
    stale
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_renames_leave_every_reference_current_or_pending() {
    let api = TestApi::new().await;
    let event = new_event(&api, json!({"name": "Start", "year": 2025})).await;
    let eid = id(&event);
    let mut link_ids = Vec::new();
    let mut record_ids = Vec::new();
    for n in 0..3 {
        let partner = new_partner(&api, &format!("P{n}")).await;
        let created = link(&api, &partner, json!({"eventId": eid})).await;
        assert_eq!(created.status, 201, "{:?}", created.body);
        link_ids.push(format!("{partner}::{eid}"));
        let doc = api
            .call(
                "POST",
                &format!("/partnerships/partners/{partner}/documents"),
                Some(json!({"title": "Deck", "eventId": eid})),
            )
            .await;
        assert_eq!(doc.status, 201, "{:?}", doc.body);
        record_ids.push((api.ctx.config.tables.documents.clone(), id(&doc.body["document"])));
        let comm = api
            .call(
                "POST",
                &format!("/partnerships/partners/{partner}/communications"),
                Some(json!({"summary": "Call", "eventId": eid})),
            )
            .await;
        assert_eq!(comm.status, 201, "{:?}", comm.body);
        record_ids.push((
            api.ctx.config.tables.communications.clone(),
            id(&comm.body["communication"]),
        ));
    }
    let path = format!("/partnerships/events/{eid}");
    let mut statuses: HashMap<u16, usize> = HashMap::new();
    for (round, writers) in [3usize, 16, 16, 16].into_iter().enumerate() {
        let patches = (0..writers).map(|w| {
            let body = json!({"name": format!("Name {round}-{w}"), "year": 2026 + (w % 3) as i64});
            let path = path.clone();
            let api = &api;
            async move { api.call("PATCH", &path, Some(body)).await.status }
        });
        for status in futures::future::join_all(patches).await {
            *statuses.entry(status).or_default() += 1;
        }
        let event = api.ctx.store.get_event(&eid).await.unwrap().unwrap();
        let stale = stale_references(&api, &eid, &link_ids, &record_ids).await;
        assert!(
            stale == 0 || event.rekey_pending != 0,
            "round {round}: {stale} stale references and no pending mark"
        );
        // Any read finishes what is pending.
        let detail = api.call("GET", &path, None).await;
        assert_eq!(detail.status, 200);
        assert_eq!(
            stale_references(&api, &eid, &link_ids, &record_ids).await,
            0,
            "round {round}: a read leaves every reference current"
        );
        assert_eq!(api.ctx.store.get_event(&eid).await.unwrap().unwrap().rekey_pending, 0);
    }
    eprintln!("rename storm statuses: {statuses:?}");
    assert!(
        statuses.keys().all(|s| *s == 200 || *s == 503),
        "no PATCH fails but by asking to retry: {statuses:?}"
    );
    assert!(statuses.get(&200).copied().unwrap_or(0) >= 3);
    let partner = api.ctx.store.get_link(&link_ids[0]).await.unwrap().unwrap().partner_id;
    let final_event = api.ctx.store.get_event(&eid).await.unwrap().unwrap();
    let filtered = api
        .call(
            "GET",
            &format!("/partnerships/partners?eventIdYear={}", final_event.event_id_year()),
            None,
        )
        .await;
    let ids: Vec<&str> = filtered.body["partners"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["id"].as_str())
        .collect();
    assert!(
        ids.contains(&partner.as_str()),
        "the directory filter finds the sponsors under the final key"
    );
}
