//! Roles and ownership (issue 15), against DynamoDB Local: every route for an admin and for a
//! member, claims and their races, the owner filters, and README's permission table.

use std::collections::BTreeSet;

use chrono::Utc;
use integration_tests::{Reply, TestApi, admin_claims, member_claims, repo_path, template};
use serde_json::{Value, json};

const MIA: &str = "mia@members.net";
const OTTO: &str = "otto@members.net";

fn mia() -> Value {
    member_claims(MIA)
}

fn otto() -> Value {
    member_claims(OTTO)
}

/// A partner with a link, a document and a communication.
struct Book {
    partner: String,
    link: String,
    document: String,
    communication: String,
}

/// What every route is tried on: an event, a partner Otto owns and one Mia owns (each with its
/// records), and a template.
struct World {
    event: String,
    otto: Book,
    mia: Book,
    template: String,
    segment: String,
}

async fn book(api: &TestApi, owner: &str, event: &str) -> Book {
    let partner = api
        .create_partner_id(
            json!({"company": format!("{owner}'s sponsor"), "ownerEmail": owner, "email": "c@sponsor.com"}),
        )
        .await;
    let link = api
        .create_id(
            &format!("/partnerships/partners/{partner}/events"),
            "link",
            json!({"eventId": event, "status": "pitched"}),
        )
        .await;
    let document = api
        .create_id(
            &format!("/partnerships/partners/{partner}/documents"),
            "document",
            json!({"title": "Deck"}),
        )
        .await;
    let communication = api
        .create_id(
            &format!("/partnerships/partners/{partner}/communications"),
            "communication",
            json!({"summary": "Call"}),
        )
        .await;
    Book {
        partner,
        link,
        document,
        communication,
    }
}

async fn world(api: &TestApi) -> World {
    let event = api
        .create_id("/partnerships/events", "event", json!({"name": "Summit", "year": 2026}))
        .await;
    let template = api
        .create_id(
            "/partnerships/email/templates",
            "template",
            json!({"name": "Hello", "subjectTemplate": "Hi", "bodyTemplate": "Hello"}),
        )
        .await;
    let segment = api
        .create_id("/partnerships/segments", "segment", json!({"name": "Everyone"}))
        .await;
    World {
        otto: book(api, OTTO, &event).await,
        mia: book(api, MIA, &event).await,
        event,
        template,
        segment,
    }
}

/// The request a route gets, on `book`'s partner and records; `owner` is whom a create names.
fn call_for(route: &str, world: &World, book: &Book, owner: &str) -> (String, Option<Value>) {
    let (method, path) = route.split_once(' ').unwrap();
    let path = path
        .replace("{partnerId}", &book.partner)
        .replace("{linkId}", &book.link)
        .replace("{documentId}", &book.document)
        .replace("{communicationId}", &book.communication)
        .replace("{eventId}", &world.event)
        .replace("{templateId}", &world.template)
        .replace("{campaignId}", "no-such-campaign")
        .replace("{segmentId}", &world.segment)
        .replace("{importId}", "no-such-import");
    let body = match (method, path.rsplit('/').next().unwrap()) {
        ("POST", "partners") => Some(json!({"company": "New Co", "ownerEmail": owner})),
        ("POST", "events") if path.contains("/partners/") => Some(json!({"eventId": world.event})),
        ("POST", "events") => Some(json!({"name": "Gala", "year": 2027})),
        ("POST", "documents") => Some(json!({"title": "Contract"})),
        ("POST", "communications") => Some(json!({"summary": "Email"})),
        ("POST", "segments") => Some(json!({"name": "Gold", "query": {"tier": "gold"}})),
        ("POST", "templates") => Some(json!({"name": "T2", "subjectTemplate": "s", "bodyTemplate": "b"})),
        ("POST", "import") => Some(json!({"csv": "Company\nNew Co\n", "dryRun": true})),
        ("POST", "merge") => Some(json!({"from": world.otto.partner, "dryRun": true})),
        ("POST", "send") => Some(json!({"subject": "Hi", "body": "Hello", "partnerIds": [book.partner]})),
        ("POST", "sync") => Some(json!({"mode": "push"})),
        ("PATCH", _) => Some(json!({"notes": "edited"})),
        ("PUT", "forecast") => Some(json!({"probabilities": {"pitched": 30}})),
        _ => None,
    };
    (format!("{method} {path}"), body)
}

async fn call(api: &TestApi, claims: &Value, request: &(String, Option<Value>)) -> Reply {
    let (method, path) = request.0.split_once(' ').unwrap();
    api.call_as(claims, method, path, request.1.clone()).await
}

/// Whether a member is refused (403) a route on what another member owns, and on what it owns:
/// the permission rules, route by route.
const MEMBER_REFUSED: &[(&str, bool, bool)] = &[
    ("GET /partnerships/partners", false, false),
    ("POST /partnerships/partners", true, false),
    ("GET /partnerships/partners/{partnerId}", false, false),
    ("PATCH /partnerships/partners/{partnerId}", true, false),
    ("GET /partnerships/partners/{partnerId}/activity", false, false),
    ("POST /partnerships/partners/{partnerId}/claim", false, false),
    ("POST /partnerships/partners/{partnerId}/release", true, false),
    ("POST /partnerships/partners/{partnerId}/merge", true, true),
    ("GET /partnerships/import", false, false),
    ("POST /partnerships/import", true, true),
    ("GET /partnerships/import/{importId}", false, false),
    ("POST /partnerships/import/{importId}/resume", true, true),
    ("POST /partnerships/import/{importId}/revert", true, true),
    ("POST /partnerships/partners/{partnerId}/events", true, false),
    ("PATCH /partnerships/partner-events/{linkId}", true, false),
    ("DELETE /partnerships/partner-events/{linkId}", true, false),
    ("GET /partnerships/partners/{partnerId}/documents", false, false),
    ("POST /partnerships/partners/{partnerId}/documents", true, false),
    ("PATCH /partnerships/partner-documents/{documentId}", true, false),
    ("DELETE /partnerships/partner-documents/{documentId}", true, false),
    ("GET /partnerships/partners/{partnerId}/communications", false, false),
    ("POST /partnerships/partners/{partnerId}/communications", true, false),
    (
        "PATCH /partnerships/partner-communications/{communicationId}",
        true,
        false,
    ),
    (
        "DELETE /partnerships/partner-communications/{communicationId}",
        true,
        false,
    ),
    ("GET /partnerships/events", false, false),
    ("POST /partnerships/events", false, false),
    ("GET /partnerships/events/{eventId}", false, false),
    ("PATCH /partnerships/events/{eventId}", false, false),
    ("DELETE /partnerships/events/{eventId}", true, true),
    ("GET /partnerships/events/{eventId}/activity", false, false),
    ("GET /partnerships/dashboard", false, false),
    ("GET /partnerships/export", false, false),
    ("GET /partnerships/renewals", false, false),
    ("GET /partnerships/email/config", false, false),
    ("GET /partnerships/email/templates", false, false),
    ("POST /partnerships/email/templates", true, true),
    ("PATCH /partnerships/email/templates/{templateId}", true, true),
    ("DELETE /partnerships/email/templates/{templateId}", true, true),
    ("POST /partnerships/email/send", true, false),
    ("GET /partnerships/email/campaigns/{campaignId}", false, false),
    ("GET /partnerships/email/sync/status", true, true),
    ("POST /partnerships/email/sync/token", true, true),
    ("GET /partnerships/segments", false, false),
    ("POST /partnerships/segments", true, true),
    ("GET /partnerships/segments/{segmentId}", false, false),
    ("PATCH /partnerships/segments/{segmentId}", true, true),
    ("DELETE /partnerships/segments/{segmentId}", true, true),
    ("GET /partnerships/forecast", false, false),
    ("PUT /partnerships/forecast", true, true),
    ("GET /partnerships/google-sheets/status", false, false),
    ("POST /partnerships/google-sheets/sync", true, true),
];

/// Routes a recipient or a script calls without a Cognito sign-in.
const PUBLIC: [&str; 3] = [
    "POST /partnerships/email/sync/ingest",
    "GET /partnerships/email/unsubscribe",
    "POST /partnerships/email/unsubscribe",
];

#[test]
fn the_route_matrix_covers_every_route_of_the_template() {
    let tried: BTreeSet<String> = MEMBER_REFUSED
        .iter()
        .map(|(r, _, _)| r.to_string())
        .chain(PUBLIC.iter().map(|r| r.to_string()))
        .collect();
    let deployed: BTreeSet<String> = template().routes.iter().map(|r| r.route_key()).collect();
    assert_eq!(tried, deployed);
}

#[test]
fn the_permission_table_names_every_template_route_and_public_ones_are_public() {
    let table: BTreeSet<String> = shared::access::PERMISSIONS.iter().map(|(r, _)| r.to_string()).collect();
    let deployed: BTreeSet<String> = template().routes.iter().map(|r| r.route_key()).collect();
    assert_eq!(table, deployed);
    for route in template().routes.iter().filter(|r| r.public) {
        assert_eq!(
            shared::access::permission_of(&route.route_key()),
            shared::access::Permission::Public,
            "{}",
            route.route_key()
        );
    }
}

#[test]
fn readme_shows_the_permission_table_the_functions_enforce() {
    let readme = std::fs::read_to_string(repo_path("README.md")).unwrap();
    assert!(
        readme.contains(&shared::access::markdown_table()),
        "README's Roles table differs from shared::access::PERMISSIONS; paste:\n{}",
        shared::access::markdown_table()
    );
}

#[tokio::test]
async fn every_route_refuses_a_member_exactly_where_the_rules_say_and_never_an_admin() {
    let api = TestApi::new().await;
    for (route, refused_on_others, refused_on_own) in MEMBER_REFUSED {
        // A fresh world per route: a delete or an edit of one route never changes another's.
        let world = world(&api).await;
        let on_otto = call_for(route, &world, &world.otto, OTTO);
        let reply = call(&api, &mia(), &on_otto).await;
        assert_eq!(
            reply.status == 403,
            *refused_on_others,
            "member on another's: {route} → {} {:?}",
            reply.status,
            reply.body
        );
        assert!(reply.status < 500, "{route}: {:?}", reply.body);
        let on_mia = call_for(route, &world, &world.mia, MIA);
        let reply = call(&api, &mia(), &on_mia).await;
        assert_eq!(
            reply.status == 403,
            *refused_on_own,
            "member on its own: {route} → {} {:?}",
            reply.status,
            reply.body
        );
        assert!(reply.status < 500, "{route}: {:?}", reply.body);
        let reply = call(&api, &admin_claims(), &on_otto).await;
        assert!(
            reply.status != 403 && reply.status < 500,
            "admin: {route} → {} {:?}",
            reply.status,
            reply.body
        );
    }
}

#[tokio::test]
async fn a_refusal_leaves_the_record_as_it_was() {
    let api = TestApi::new().await;
    let world = world(&api).await;
    let path = format!("/partnerships/partner-events/{}", world.otto.link);
    let reply = api
        .call_as(&mia(), "PATCH", &path, Some(json!({"status": "declined"})))
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.body["message"],
        format!("Forbidden: this partner is owned by {OTTO}; only its owner or an admin may change it.")
    );
    let link = api
        .stored(&api.ctx.config.tables.links, &world.otto.link)
        .await
        .unwrap();
    assert_eq!(link["status"], "pitched");
}

#[tokio::test]
async fn a_caller_in_neither_group_is_refused_everywhere() {
    let api = TestApi::new().await;
    let stranger = json!({"email": "sam@elsewhere.net", "cognito:groups": ["staff"]});
    let reply = api.call_as(&stranger, "GET", "/partnerships/partners", None).await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.body["message"],
        "Forbidden: partnerships admin access is required."
    );
}

#[tokio::test]
async fn a_members_new_partner_is_its_own_and_an_admins_is_unclaimed() {
    let api = TestApi::new().await;
    let reply = api
        .call_as(
            &mia(),
            "POST",
            "/partnerships/partners",
            Some(json!({"company": "Mine"})),
        )
        .await;
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    assert_eq!(reply.body["partner"]["ownerEmail"], MIA);
    let admins = api.create_partner(json!({"company": "Nobody's"})).await;
    assert_eq!(admins["ownerEmail"], Value::Null);
    let unclaimed = api
        .call_as(
            &mia(),
            "POST",
            "/partnerships/partners",
            Some(json!({"company": "Shared", "ownerEmail": null})),
        )
        .await;
    assert_eq!(unclaimed.body["partner"]["ownerEmail"], Value::Null);
}

#[tokio::test]
async fn a_member_claims_an_unclaimed_partner_and_another_member_gets_409() {
    let api = TestApi::new().await;
    let id = api.create_partner_id(json!({"company": "Acme"})).await;
    let claim = format!("/partnerships/partners/{id}/claim");
    let reply = api.call_as(&mia(), "POST", &claim, None).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["partner"]["ownerEmail"], MIA);
    assert_eq!(reply.body["partner"]["updatedBy"], MIA);
    let again = api.call_as(&mia(), "POST", &claim, None).await;
    assert_eq!(again.status, 200, "claiming one's own partner changes nothing");
    assert_eq!(again.body["partner"]["version"], reply.body["partner"]["version"]);
    let taken = api.call_as(&otto(), "POST", &claim, None).await;
    assert_eq!(taken.status, 409);
    assert_eq!(
        taken.body["message"],
        format!("This partner is already owned by {MIA}; only an admin may take it over.")
    );
}

#[tokio::test]
async fn an_admin_takes_over_assigns_and_releases_any_partner() {
    let api = TestApi::new().await;
    let id = api
        .create_partner_id(json!({"company": "Acme", "ownerEmail": MIA}))
        .await;
    let reply = api
        .call("POST", &format!("/partnerships/partners/{id}/claim"), None)
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["partner"]["ownerEmail"], "tester@example.org");
    let assigned = api
        .call(
            "PATCH",
            &format!("/partnerships/partners/{id}"),
            Some(json!({"ownerEmail": "Otto@Members.net"})),
        )
        .await;
    assert_eq!(assigned.status, 200);
    assert_eq!(assigned.body["partner"]["ownerEmail"], OTTO);
    let released = api
        .call("POST", &format!("/partnerships/partners/{id}/release"), None)
        .await;
    assert_eq!(released.status, 200);
    assert_eq!(released.body["partner"]["ownerEmail"], Value::Null);
    let item = api.stored(&api.ctx.config.tables.partners, &id).await.unwrap();
    assert!(
        !item.contains_key("ownerEmail"),
        "unclaimed is absent, out of the owner index"
    );
}

#[tokio::test]
async fn only_the_owner_releases_among_members() {
    let api = TestApi::new().await;
    let id = api
        .create_partner_id(json!({"company": "Acme", "ownerEmail": MIA}))
        .await;
    let release = format!("/partnerships/partners/{id}/release");
    let refused = api.call_as(&otto(), "POST", &release, None).await;
    assert_eq!(refused.status, 403);
    let released = api.call_as(&mia(), "POST", &release, None).await;
    assert_eq!(released.status, 200);
    assert_eq!(released.body["partner"]["ownerEmail"], Value::Null);
}

#[tokio::test]
async fn a_member_assigns_a_partner_only_to_itself_or_nobody() {
    let api = TestApi::new().await;
    let id = api.create_partner_id(json!({"company": "Acme"})).await;
    let path = format!("/partnerships/partners/{id}");
    let refused = api
        .call_as(&mia(), "PATCH", &path, Some(json!({"ownerEmail": OTTO})))
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.body["message"],
        "Forbidden: a member may assign a partner only to itself or to nobody."
    );
    let mine = api
        .call_as(&mia(), "PATCH", &path, Some(json!({"ownerEmail": MIA})))
        .await;
    assert_eq!(mine.status, 200);
    assert_eq!(mine.body["partner"]["ownerEmail"], MIA);
    let bad = api
        .call("PATCH", &path, Some(json!({"ownerEmail": "not an email"})))
        .await;
    assert_eq!(bad.status, 406);
    assert_eq!(bad.body["message"], "'ownerEmail' must be an email address or null.");
}

#[tokio::test]
async fn of_two_members_claiming_at_once_one_wins_and_one_gets_409() {
    let api = TestApi::new().await;
    for round in 0..6 {
        let id = api
            .create_partner_id(json!({"company": format!("Contested {round}")}))
            .await;
        let claim = format!("/partnerships/partners/{id}/claim");
        let (mia, otto) = (mia(), otto());
        let (a, b) = tokio::join!(
            api.call_as(&mia, "POST", &claim, None),
            api.call_as(&otto, "POST", &claim, None)
        );
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "round {round}: {:?} {:?}", a.body, b.body);
        let winner = if a.status == 200 { MIA } else { OTTO };
        let stored = api.stored(&api.ctx.config.tables.partners, &id).await.unwrap();
        assert_eq!(stored["ownerEmail"], winner);
    }
}

#[tokio::test]
async fn the_directory_filters_by_owner_and_every_row_names_its_owner() {
    let api = TestApi::new().await;
    api.create_partner(json!({"company": "A", "ownerEmail": MIA})).await;
    api.create_partner(json!({"company": "B"})).await;
    api.create_partner(json!({"company": "C", "ownerEmail": OTTO})).await;
    let companies = |reply: &Reply| {
        reply.body["partners"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["company"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let mine = api
        .call_as(&mia(), "GET", "/partnerships/partners?owner=me", None)
        .await;
    assert_eq!(companies(&mine), ["A"]);
    assert_eq!(mine.body["filters"]["owner"], MIA);
    let unclaimed = api.call("GET", "/partnerships/partners?owner=unclaimed", None).await;
    assert_eq!(companies(&unclaimed), ["B"]);
    let otto_s = api
        .call("GET", "/partnerships/partners?owner=otto%40members.net", None)
        .await;
    assert_eq!(companies(&otto_s), ["C"]);
    let all = api.call("GET", "/partnerships/partners", None).await;
    let owners: Vec<&Value> = all.body["partners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.get("ownerEmail").expect("every row names its owner"))
        .collect();
    assert_eq!(owners, [&json!(MIA), &Value::Null, &json!(OTTO)]);
    let bad = api.call("GET", "/partnerships/partners?owner=someone", None).await;
    assert_eq!(bad.status, 406);
}

#[tokio::test]
async fn the_dashboard_scoped_to_me_counts_only_my_partners_records() {
    use shared::domain::aggregates::{CommFacts, LinkFacts};
    use shared::domain::dashboard::{DashboardParams, dashboard, data_from_records};

    let api = TestApi::new().await;
    let year = Utc::now().format("%Y").to_string().parse::<i64>().unwrap();
    let event = api
        .create_id(
            "/partnerships/events",
            "event",
            json!({"name": "Summit", "year": year, "sponsorshipGoal": 10000}),
        )
        .await;
    let today = Utc::now().date_naive();
    for (i, owner) in [MIA, MIA, OTTO, MIA].iter().enumerate() {
        let partner = api
            .create_partner_id(json!({"company": format!("Sponsor {i}"), "ownerEmail": owner}))
            .await;
        api.create_id(
            &format!("/partnerships/partners/{partner}/events"),
            "link",
            json!({"eventId": event, "status": if i % 2 == 0 { "paid" } else { "pitched" }, "amount": 1000 * (i + 1),
                   "followUpDate": (today + chrono::Days::new(i as u64)).to_string()}),
        )
        .await;
        api.create_id(
            &format!("/partnerships/partners/{partner}/communications"),
            "communication",
            json!({"summary": "Call", "followUpDate": (today - chrono::Days::new(1)).to_string()}),
        )
        .await;
    }
    api.settle().await;
    let mine = api
        .call_as(&mia(), "GET", "/partnerships/dashboard?owner=me", None)
        .await;
    assert_eq!(mine.status, 200, "{:?}", mine.body);
    assert_eq!(mine.body["scope"]["owner"], MIA);
    assert_eq!(mine.body["totals"]["partnerCount"], 3);
    assert_eq!(
        mine.body["totals"]["securedAmount"], 1000.0,
        "Otto's paid 3,000 is not Mia's"
    );
    let all = api.call("GET", "/partnerships/dashboard", None).await;
    assert_eq!(all.body["totals"]["partnerCount"], 4);
    assert_eq!(all.body["scope"]["owner"], Value::Null);

    // The same rules as the organisation's dashboard, over Mia's partners' records only.
    let store = &api.ctx.store;
    let owned = store.partners_owned_by(MIA).await.unwrap();
    let mut links = Vec::new();
    let mut comms = Vec::new();
    for partner in &owned {
        links.extend(store.links_of(&partner.id).await.unwrap().iter().map(LinkFacts::from));
        let (records, _) = store
            .list_records::<shared::domain::records::Communication>(&partner.id, None, None)
            .await
            .unwrap();
        comms.extend(records.iter().map(CommFacts::from));
    }
    let mut params = DashboardParams::parse(&Default::default());
    params.owner = Some(MIA.into());
    let now = Utc::now();
    let mut data = data_from_records(store.all_events().await.unwrap(), &links, &comms, &params, now);
    data.partner_count = owned.len() as i64;
    data.partners = owned.iter().map(|p| (p.id.clone(), p.clone())).collect();
    let mut recount = dashboard(&data, &params, now);
    let mut served = mine.body;
    for answer in [&mut recount, &mut served] {
        answer.as_object_mut().unwrap().remove("generatedAt");
    }
    assert_eq!(served, recount);
    let otto_s: BTreeSet<String> = store
        .partners_owned_by(OTTO)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    let items = served["actionItems"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(
        items
            .iter()
            .all(|item| !otto_s.contains(item["partnerId"].as_str().unwrap())),
        "none of Otto's follow-ups is on Mia's dashboard"
    );
    let refused = api.call("GET", "/partnerships/dashboard?owner=unclaimed", None).await;
    assert_eq!(refused.status, 406);
}

#[tokio::test]
async fn ownership_changes_are_in_the_activity_log() {
    let api = TestApi::new().await;
    let id = api.create_partner_id(json!({"company": "Acme"})).await;
    api.call_as(&mia(), "POST", &format!("/partnerships/partners/{id}/claim"), None)
        .await;
    api.settle().await;
    let reply = api
        .call("GET", &format!("/partnerships/partners/{id}/activity"), None)
        .await;
    let newest = &reply.body["activity"][0];
    assert_eq!(newest["action"], "updated");
    assert_eq!(newest["actor"], MIA);
    assert_eq!(newest["changes"]["ownerEmail"], json!({"from": null, "to": MIA}));
}

#[tokio::test]
async fn a_member_emails_only_partners_it_owns() {
    let api = TestApi::new().await;
    let mine = api
        .create_partner_id(json!({"company": "Mine", "email": "a@mine.com", "ownerEmail": MIA}))
        .await;
    let unclaimed = api
        .create_partner_id(json!({"company": "Open", "email": "b@open.com"}))
        .await;
    let send = |ids: Vec<&str>| json!({"subject": "Hi", "body": "Hello", "partnerIds": ids});
    let refused = api
        .call_as(
            &mia(),
            "POST",
            "/partnerships/email/send",
            Some(send(vec![&mine, &unclaimed])),
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.body["message"],
        "Forbidden: a member may email only partners it owns (1 of the recipients are not)."
    );
    let sent = api
        .call_as(&mia(), "POST", "/partnerships/email/send", Some(send(vec![&mine])))
        .await;
    // Allowed: the send runs (SES then refuses the sender's domain, which is not the stage's
    // identity: a permission of the identity, not of the role).
    assert_eq!(sent.status, 200, "{:?}", sent.body);
    assert_eq!(sent.body["summary"]["totalRequested"], 1);
    assert_eq!(sent.body["results"][0]["partnerId"], mine.as_str());
}
