//! The reports Lambda: the dashboard (contract §6) and the export (§5.18, §9.1).

use std::collections::{BTreeSet, HashMap};

use chrono::Utc;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use shared::domain::dashboard::{DashboardData, DashboardParams, Scope, dashboard as build_dashboard};
use shared::domain::export::{partner_rows, to_csv};
use shared::domain::normalize::{ALUMNI_TAG, iso_millis};
use shared::domain::sort::compare_partners;
use shared::http::{authenticate, download, ok, query_params, route_key, serve};
use shared::{ApiError, ApiResult, AppContext};

/// Serves one API Gateway request, exactly as Lambda calls it.
pub async fn handle(request: Request, ctx: &AppContext) -> Response<Body> {
    let route = route_key(&request);
    serve(&request, &route, async {
        authenticate(&request, ctx)?;
        match route.as_str() {
            "GET /partnerships/dashboard" => dashboard(&request, ctx).await,
            "GET /partnerships/export" => export(&request, ctx).await,
            _ => Err(ApiError::NoRoute(route.clone())),
        }
    })
    .await
}

/// Reads only what the scope needs: the (small) events table, the links of the scoped events,
/// the open communication follow-ups due in the window, the archived partners' ids, the partners
/// named on the action items, and the partner counters.
async fn dashboard(request: &Request, ctx: &AppContext) -> ApiResult<Response<Body>> {
    let params = DashboardParams::parse(&query_params(request));
    ok(&dashboard_body(&params, Utc::now(), ctx).await?)
}

async fn dashboard_body(params: &DashboardParams, now: chrono::DateTime<Utc>, ctx: &AppContext) -> ApiResult<Value> {
    let events = ctx.store.all_events().await?;
    let scope = Scope::of(&events, params);
    let wanted = scope.event_ids();
    let scoped_links = futures::future::try_join_all(
        events
            .iter()
            .filter(|e| wanted.contains(&e.id))
            .map(|e| ctx.store.links_of_event(&e.id)),
    );
    let last_day = (now.date_naive() + chrono::Duration::days(params.upcoming_window_days))
        .format("%Y-%m-%d")
        .to_string();
    let (scoped_links, follow_ups, (partner_count, archived_partner_count), archived_partner_ids) = futures::try_join!(
        scoped_links,
        ctx.store.open_follow_ups_until(&last_day),
        ctx.store.partner_counts(),
        ctx.store.archived_partner_ids(),
    )?;
    let mut data = DashboardData {
        events,
        links: scoped_links.into_iter().flatten().collect(),
        follow_up_communications: follow_ups,
        partners: HashMap::new(),
        archived_partner_ids,
        partner_count,
        archived_partner_count,
    };
    // Names are only shown on the action items that survive the cut, and the cut does not depend
    // on them: a first pass finds those items, their partners are read, a second pass names them.
    let unnamed = build_dashboard(&data, params, now);
    let partner_ids: Vec<String> = unnamed["actionItems"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item["partnerId"].as_str().map(str::to_string))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    data.partners = ctx.store.partner_cards(&partner_ids).await?;
    Ok(build_dashboard(&data, params, now))
}

/// Every partner (archived included) in directory order, each with its links newest first.
async fn export(request: &Request, ctx: &AppContext) -> ApiResult<Response<Body>> {
    let csv = query_params(request)
        .get("format")
        .is_some_and(|f| f.trim().eq_ignore_ascii_case("csv"));
    let now = Utc::now();
    let (mut partners, links) = futures::try_join!(ctx.store.all_partners(), ctx.store.all_links())?;
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
        .flat_map(|partner| partner_rows(partner, &links_by_partner.remove(&partner.id).unwrap_or_default()))
        .collect();
    if csv {
        let text = to_csv(&rows).map_err(|e| ApiError::Internal(Box::new(e)))?;
        let name = format!("partnerships-export-{}.csv", now.format("%Y-%m-%d"));
        return Ok(download("text/csv; charset=utf-8", &name, text));
    }
    let rows: Vec<Value> = rows.into_iter().map(Value::Object).collect();
    ok(&json!({"generatedAt": iso_millis(now), "alumniTag": ALUMNI_TAG, "rows": rows}))
}
