//! The reports Lambda: the dashboard (contract §6) and the export (§5.18, §9.1).

use std::collections::{BTreeSet, HashMap};

use chrono::{Datelike, Utc};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use shared::domain::aggregates::{CommFacts, EventAggregate, LinkFacts, QueueKey};
use shared::domain::benefits::BenefitCatalog;
use shared::domain::dashboard::{
    DashboardData, DashboardParams, PartnersInScope, QueueDays, Scope, benefits_owed, dashboard as build_dashboard,
    data_from_records, shown_items,
};
use shared::domain::event::PartnershipEvent;
use shared::domain::export::{partner_rows, to_csv};
use shared::domain::money::from_cents;
use shared::domain::normalize::stored_tier;
use shared::domain::normalize::{ALUMNI_TAG, iso_millis};
use shared::domain::ownership::OwnerFilter;
use shared::domain::partner::Partner;
use shared::domain::records::Communication;
use shared::domain::renewals;
use shared::domain::sort::compare_partners;
use shared::http::{download, ok, query_params, route_key, serve};
use shared::store::StoreError;
use shared::store::aggregates::Partition;
use shared::{ApiError, ApiResult, AppContext};

mod queue;

/// Serves one API Gateway request, exactly as Lambda calls it.
pub async fn handle(request: Request, ctx: &AppContext) -> Response<Body> {
    let route = route_key(&request);
    serve(&request, &route, async {
        let caller = shared::access::authorize(&request, ctx).await?;
        match route.as_str() {
            "GET /partnerships/dashboard" => dashboard(&request, ctx, &caller.email).await,
            "GET /partnerships/export" => export(&request, ctx).await,
            "GET /partnerships/renewals" => renewals(&request, ctx).await,
            _ => Err(ApiError::NoRoute(route.clone())),
        }
    })
    .await
}

/// Reads only what the scope needs, from the aggregates the stream processor keeps: the (small)
/// events table, each scoped event's status totals, the day tallies of the scope's queues (what
/// is due and stale, counted without reading it), the first `actionLimit` rows of the action
/// queue, the partner counters of the scope, the archived partners' links, and the partners
/// named on the action items. Never the other links.
async fn dashboard(request: &Request, ctx: &AppContext, me: &str) -> ApiResult<Response<Body>> {
    let query = query_params(request);
    let mut params = DashboardParams::parse(&query);
    params.owner = match OwnerFilter::parse(query.get("owner").map(String::as_str), me)? {
        Some(OwnerFilter::Email(owner)) => Some(owner),
        Some(OwnerFilter::Unclaimed) => {
            return Err(ApiError::validation(
                "'owner' on the dashboard must be me or an email address.",
                json!({"owner": "unclaimed"}),
            ));
        }
        None => None,
    };
    let now = Utc::now();
    match &params.owner {
        Some(owner) => ok(&owned_dashboard_body(&params, owner, now, ctx).await?),
        None => ok(&dashboard_body(&params, now, ctx).await?),
    }
}

/// The dashboard of the partners `owner` owns: the organisation's dashboard rules applied to
/// just their links and communications, read through the `partners-by-owner` index and each
/// partner's own lists. Reads grow with what the owner has (an executive's book of sponsors),
/// not with the organisation; the per-event aggregates are organisation-wide, so they are not
/// used here.
async fn owned_dashboard_body(
    params: &DashboardParams,
    owner: &str,
    now: chrono::DateTime<Utc>,
    ctx: &AppContext,
) -> ApiResult<Value> {
    let store = &ctx.store;
    let (events, owned, settings) = futures::try_join!(
        store.all_events(),
        store.partners_owned_by(owner),
        store.forecast_settings()
    )?;
    let records = futures::future::try_join_all(owned.iter().map(|partner| async move {
        let (links, (communications, _)) = futures::try_join!(
            store.links_of(&partner.id),
            store.list_records::<Communication>(&partner.id, None, None)
        )?;
        Ok::<_, StoreError>((links, communications))
    }))
    .await?;
    let links: Vec<LinkFacts> = records.iter().flat_map(|(l, _)| l).map(LinkFacts::from).collect();
    let communications: Vec<CommFacts> = records.iter().flat_map(|(_, c)| c).map(CommFacts::from).collect();
    let mut data = data_from_records(events, &links, &communications, params, now);
    let archived: BTreeSet<&str> = owned.iter().filter(|p| p.archived).map(|p| p.id.as_str()).collect();
    data.archived_partner_links = links
        .iter()
        .filter(|l| archived.contains(l.partner_id.as_str()))
        .cloned()
        .collect();
    data.probabilities = settings.probabilities;
    data.partner_count = owned.len() as i64;
    data.archived_partner_count = archived.len() as i64;
    data.partners = owned.into_iter().map(|p| (p.id.clone(), p)).collect();
    Ok(build_dashboard(&data, params, now))
}

async fn dashboard_body(params: &DashboardParams, now: chrono::DateTime<Utc>, ctx: &AppContext) -> ApiResult<Value> {
    let store = &ctx.store;
    let (events, orphans) = futures::try_join!(store.all_events(), store.orphan_events())?;
    let known: BTreeSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let orphans: Vec<(String, i32)> = orphans
        .into_iter()
        .filter(|(id, _)| !known.contains(id.as_str()))
        .collect();
    let scope = Scope::of(&events, params);
    let days = QueueDays::of(params, now);
    let link_queues: Vec<String> = scope.scoped.iter().map(|e| e.id.clone()).collect();
    let comm_queues = scope.communication_queues(params, &orphans);
    // An event no link and no record points at has neither totals nor tallies: not read.
    let quiet: BTreeSet<&str> = events
        .iter()
        .filter(|e| e.counters.relationship_count <= 0 && e.reference_count <= 0)
        .map(|e| e.id.as_str())
        .collect();
    let keys: BTreeSet<QueueKey> = scope
        .event_ids()
        .into_iter()
        .map(QueueKey::Event)
        .chain(comm_queues.iter().cloned())
        .filter(|key| !matches!(key, QueueKey::Event(id) if quiet.contains(id.as_str())))
        .collect();
    let queue = async {
        let figures = futures::future::try_join_all(keys.into_iter().map(|key| async move {
            let figures = store.queue_figures(&key, days.first_day_counted()).await?;
            Ok::<_, StoreError>((key, figures))
        }))
        .await?;
        let mut aggregates = HashMap::new();
        let mut tallies = HashMap::new();
        for (key, (aggregate, day_tallies)) in figures {
            if let QueueKey::Event(id) = &key {
                aggregates.insert(id.clone(), aggregate);
            }
            tallies.insert(key, day_tallies);
        }
        let mut candidates =
            queue::first_rows(store, &link_queues, &comm_queues, &tallies, &days, params.action_limit).await?;
        // Benefits owed: the secured deals of the scoped events that have started and promise
        // any (one partition each, every row: they are all counted).
        let catalog = BenefitCatalog::of(&scope.scoped);
        let today = days.today.format("%Y-%m-%d").to_string();
        let promising: Vec<String> = scope
            .scoped
            .iter()
            .filter(|e| {
                catalog.event_promises(&e.id)
                    && e.start_date
                        .as_deref()
                        .is_some_and(|d| d.get(..10).unwrap_or(d) <= today.as_str())
            })
            .map(|e| e.id.clone())
            .collect();
        let secured = store.secured_deals(&promising).await?;
        candidates.extend(benefits_owed(secured.iter(), &events, days.today));
        // Queue rows carry their partner's names; a partner is read only for an item shown
        // whose row does not (written before the names were kept).
        let partner_ids: Vec<String> = shown_items(&candidates, &days, params.action_limit)
            .iter()
            .filter(|(_, c)| c.partner_names().is_none())
            .map(|(_, c)| c.partner_id().to_string())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let partners = store.partner_cards(&partner_ids).await?;
        Ok::<_, StoreError>((aggregates, tallies, candidates, partners))
    };
    let members = async {
        Ok::<_, StoreError>(match scope.partners_in_scope(params) {
            PartnersInScope::Members { year, include_archived } => {
                let (all, visible) = store.member_counts(Partition::of(year)).await?;
                Some(if include_archived { all } else { visible })
            }
            PartnersInScope::Event(_) | PartnersInScope::None => None,
        })
    };
    let archived_links = async {
        let ids = store.archived_partner_ids().await?;
        let links = futures::future::try_join_all(ids.iter().map(|id| store.links_of(id))).await?;
        Ok::<_, StoreError>(links.iter().flatten().map(LinkFacts::from).collect::<Vec<_>>())
    };
    let (
        (aggregates, tallies, candidates, partners),
        members,
        archived_partner_links,
        (partner_count, archived_partner_count),
        settings,
    ) = futures::try_join!(
        queue,
        members,
        archived_links,
        store.partner_counts(),
        store.forecast_settings()
    )?;
    let aggregates: HashMap<String, EventAggregate> = aggregates;
    // One event in scope: its links are its partners (one link per partner and event).
    let partners_in_scope = members.unwrap_or_else(|| match scope.partners_in_scope(params) {
        PartnersInScope::Event(id) => aggregates
            .get(&id)
            .map_or(0, |a| a.by_status.values().map(|t| t.count).sum()),
        _ => 0,
    });
    let data = DashboardData {
        probabilities: settings.probabilities,
        events,
        aggregates,
        tallies,
        orphans,
        candidates,
        archived_partner_links,
        partners_in_scope,
        partners,
        partner_count,
        archived_partner_count,
    };
    Ok(build_dashboard(&data, params, now))
}

/// GET `/partnerships/renewals?year=Y[&eventId=E]` (issue 16.2): who secured a deal before Y
/// (or in E's previous edition) and has no link in Y yet, largest last deal first. Reads the
/// events, the secured-deal rows of the source events (kept by the stream processor), each
/// candidate's membership of Y, and for the answer its partner card and newest communications:
/// never the links themselves. Archived partners are left out.
async fn renewals(request: &Request, ctx: &AppContext) -> ApiResult<Response<Body>> {
    let params = query_params(request);
    let store = &ctx.store;
    let events = store.all_events().await?;
    let edition_of = match params.get("eventId").map(|e| e.trim()).filter(|e| !e.is_empty()) {
        None => None,
        Some(id) => Some(
            events
                .iter()
                .find(|e| e.id == id)
                .ok_or_else(|| ApiError::not_found("partnership event", id))?,
        ),
    };
    let year = match params.get("year").map(|y| y.trim()).filter(|y| !y.is_empty()) {
        Some(raw) => raw
            .parse::<i32>()
            .ok()
            .filter(|y| (2000..=2100).contains(y))
            .ok_or_else(|| {
                ApiError::validation(
                    "'year' must be a year from 2000 to 2100.",
                    json!({"year": raw.chars().take(20).collect::<String>()}),
                )
            })?,
        None => edition_of.map_or_else(|| Utc::now().year(), |e| e.year),
    };
    let sources = renewals::source_events(&events, year, edition_of);
    let candidates = confirmed_last_deals(store, store.secured_deals(&sources).await?).await?;
    let memberships = futures::future::try_join_all(candidates.iter().map(|c| async move {
        let row = store.member_row(Partition::Year(year), &c.partner_id).await?;
        Ok::<_, StoreError>((c.partner_id.clone(), !row.events.is_empty()))
    }))
    .await?;
    let linked: BTreeSet<String> = memberships.into_iter().filter(|(_, l)| *l).map(|(id, _)| id).collect();
    let left = renewals::not_renewed(candidates, &linked);
    let ids: Vec<String> = left.iter().map(|c| c.partner_id.clone()).collect();
    let partners = store.partner_cards(&ids).await?;
    let left: Vec<_> = left
        .into_iter()
        .filter(|c| partners.get(&c.partner_id).is_some_and(|p| !p.archived))
        .collect();
    let last_contacts = futures::future::try_join_all(left.iter().map(|c| async move {
        let (recent, _) = store
            .list_records::<Communication>(&c.partner_id, Some(RECENT_COMMUNICATIONS), None)
            .await?;
        Ok::<_, StoreError>(recent.iter().map(communication_day).max())
    }))
    .await?;
    let mut rows: Vec<(&LinkFacts, &Partner, Option<String>)> = left
        .iter()
        .zip(last_contacts)
        .filter_map(|(deal, last)| Some((deal, partners.get(&deal.partner_id)?, last)))
        .collect();
    rows.sort_by(|a, b| renewals::renewal_order((a.0, &a.1.company), (b.0, &b.1.company)));
    let events_by_id: HashMap<&str, &PartnershipEvent> = events.iter().map(|e| (e.id.as_str(), e)).collect();
    let answer: Vec<Value> = rows
        .iter()
        .map(|(deal, partner, last)| {
            let event_name = events_by_id
                .get(deal.event_id.as_str())
                .map_or(deal.event_name.as_str(), |e| e.name.as_str());
            json!({
                "partnerId": partner.id,
                "company": partner.company,
                "contactName": partner.contact_name,
                "email": partner.email,
                "ownerEmail": partner.owner_email,
                "lastYear": deal.event_year,
                "lastAmount": from_cents(deal.cents()),
                "lastTier": stored_tier(Some(&deal.package_tier)),
                "lastStatus": deal.normalized_status(),
                "lastEventId": deal.event_id,
                "lastEventName": event_name,
                "lastCommunicationAt": last,
            })
        })
        .collect();
    ok(&json!({
        "year": year,
        "eventId": edition_of.map(|e| e.id.clone()),
        "previousEditionEventIds": edition_of.map(|_| sources.clone()),
        "count": answer.len(),
        "renewals": answer,
    }))
}

/// Each partner's last secured deal among `rows`, each checked against its link (strongly
/// consistent): a row whose deal fell through (or whose link is gone) since it was written is
/// dropped and the partner's next deal considered. The answer carries the link's own figures.
async fn confirmed_last_deals(store: &shared::store::Store, mut rows: Vec<LinkFacts>) -> ApiResult<Vec<LinkFacts>> {
    loop {
        let chosen = renewals::last_secured_per_partner(&rows);
        let ids: Vec<String> = chosen.iter().map(|c| c.id.clone()).collect();
        let links: HashMap<String, LinkFacts> = store
            .batch_get::<shared::domain::link::PartnerEventLink>(&store.tables().links, &ids)
            .await?
            .iter()
            .map(|l| (l.id.clone(), LinkFacts::from(l)))
            .collect();
        let stale: BTreeSet<String> = chosen
            .iter()
            .filter(|c| {
                links
                    .get(&c.id)
                    .is_none_or(|l| l.secured_key().is_none() || l.event_id != c.event_id)
            })
            .map(|c| c.id.clone())
            .collect();
        if stale.is_empty() {
            return Ok(chosen.iter().filter_map(|c| links.get(&c.id).cloned()).collect());
        }
        rows.retain(|r| !stale.contains(&r.id));
    }
}

/// How many of a partner's most recently edited communications show its last contact.
const RECENT_COMMUNICATIONS: usize = 10;

/// The day a communication happened: `occurredAt`, else when it was written.
fn communication_day(communication: &Communication) -> String {
    communication
        .occurred_at
        .clone()
        .filter(|d| !d.trim().is_empty())
        .unwrap_or_else(|| {
            shared::domain::normalize::iso_from_millis(shared::domain::touched_at(
                communication.audit.updated_at,
                communication.audit.created_at,
            ))
        })
}

/// Every partner (archived included) in directory order, each with its links newest first.
async fn export(request: &Request, ctx: &AppContext) -> ApiResult<Response<Body>> {
    let csv = query_params(request)
        .get("format")
        .is_some_and(|f| f.trim().eq_ignore_ascii_case("csv"));
    let now = Utc::now();
    let (mut partners, links, events) =
        futures::try_join!(ctx.store.all_partners(), ctx.store.all_links(), ctx.store.all_events())?;
    let benefits = BenefitCatalog::of(&events);
    partners.sort_by(|a, b| {
        compare_partners(
            (&a.company, &a.contact_name, a.updated_at),
            (&b.company, &b.contact_name, b.updated_at),
        )
    });
    let mut links_by_partner: HashMap<String, Vec<_>> = HashMap::new();
    for link in links {
        links_by_partner.entry(link.partner_id.clone()).or_default().push(link);
    }
    let rows: Vec<_> = partners
        .iter()
        .flat_map(|partner| {
            partner_rows(
                partner,
                &links_by_partner.remove(&partner.id).unwrap_or_default(),
                &benefits,
            )
        })
        .collect();
    if csv {
        let text = to_csv(&rows).map_err(|e| ApiError::Internal(Box::new(e)))?;
        let name = format!("partnerships-export-{}.csv", now.format("%Y-%m-%d"));
        return Ok(download("text/csv; charset=utf-8", &name, text));
    }
    let rows: Vec<Value> = rows.into_iter().map(Value::Object).collect();
    ok(&json!({"generatedAt": iso_millis(now), "alumniTag": ALUMNI_TAG, "rows": rows}))
}
