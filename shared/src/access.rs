//! Who may call which route (issue 15): the one permission table, and the one check every
//! function runs before its route. README's "Roles" table is rendered from [`PERMISSIONS`]
//! (a test keeps them equal), so what the document says is what runs.
//!
//! Admins pass every check without a read: the web client's users (all admins today) pay
//! nothing for roles. A member's write on a partner's records costs one or two strongly
//! consistent reads (the record's partner id, then the partner's owner). The check happens
//! before the write, not inside it: a claim landing between the two lets that one write of
//! the previous owner through, as a revoked permission does mid-request.

use lambda_http::Request;
use serde::Deserialize;

use crate::AppContext;
use crate::auth::Caller;
use crate::domain::mass_email::SendRequest;
use crate::domain::ownership::{Role, may_assign, may_write, parse_owner_email};
use crate::error::{ApiError, ApiResult};
use crate::http::{json_body, path_param, route_key};

/// Where a route finds the partner whose owner decides a member's write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartnerOf {
    /// The `{partnerId}` of the path.
    Path,
    /// The partner of the `{linkId}` link.
    Link,
    /// The partner of the `{documentId}` document.
    Document,
    /// The partner of the `{communicationId}` communication.
    Communication,
}

/// What a route requires of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// No sign-in: a recipient's unsubscribe page, or a route with its own authentication.
    Public,
    /// Any admin or member.
    Everyone,
    /// Admins only.
    AdminOnly,
    /// Any admin or member; a member may name as owner only itself or nobody.
    CreatePartner,
    /// A member: a partner (or a partner's record) it owns or nobody owns.
    OwnPartner(PartnerOf),
    /// As [`Permission::OwnPartner`] of the path's partner, and a member may set `ownerEmail`
    /// only to itself or nobody.
    EditPartner,
    /// A member: every recipient is a partner it owns.
    OwnRecipients,
}

impl Permission {
    /// What the permission table says of a member.
    pub fn member_text(self) -> &'static str {
        match self {
            Permission::Public => "public (no sign-in)",
            Permission::Everyone => "yes",
            Permission::AdminOnly => "no (403)",
            Permission::CreatePartner => "yes; owner: itself (default) or none",
            Permission::OwnPartner(_) => "partners it owns or that are unclaimed",
            Permission::EditPartner => "partners it owns or that are unclaimed; `ownerEmail` only itself or null",
            Permission::OwnRecipients => "only partners it owns",
        }
    }

    /// What the permission table says of an admin.
    pub fn admin_text(self) -> &'static str {
        match self {
            Permission::Public => "public (no sign-in)",
            _ => "yes",
        }
    }
}

use PartnerOf::{Communication, Document, Link, Path};
use Permission::{AdminOnly, CreatePartner, EditPartner, Everyone, OwnPartner, OwnRecipients, Public};

/// Every route of `template.yaml` and what it requires (a test checks both lists are equal).
pub const PERMISSIONS: &[(&str, Permission)] = &[
    ("GET /partnerships/partners", Everyone),
    ("POST /partnerships/partners", CreatePartner),
    ("GET /partnerships/partners/{partnerId}", Everyone),
    ("PATCH /partnerships/partners/{partnerId}", EditPartner),
    ("GET /partnerships/partners/{partnerId}/activity", Everyone),
    ("POST /partnerships/partners/{partnerId}/claim", Everyone),
    ("POST /partnerships/partners/{partnerId}/release", OwnPartner(Path)),
    ("POST /partnerships/partners/{partnerId}/merge", AdminOnly),
    ("GET /partnerships/import", Everyone),
    ("POST /partnerships/import", AdminOnly),
    ("GET /partnerships/import/{importId}", Everyone),
    ("POST /partnerships/import/{importId}/resume", AdminOnly),
    ("POST /partnerships/import/{importId}/revert", AdminOnly),
    ("POST /partnerships/partners/{partnerId}/events", OwnPartner(Path)),
    ("PATCH /partnerships/partner-events/{linkId}", OwnPartner(Link)),
    ("DELETE /partnerships/partner-events/{linkId}", OwnPartner(Link)),
    ("GET /partnerships/partners/{partnerId}/documents", Everyone),
    ("POST /partnerships/partners/{partnerId}/documents", OwnPartner(Path)),
    (
        "PATCH /partnerships/partner-documents/{documentId}",
        OwnPartner(Document),
    ),
    (
        "DELETE /partnerships/partner-documents/{documentId}",
        OwnPartner(Document),
    ),
    ("GET /partnerships/partners/{partnerId}/communications", Everyone),
    (
        "POST /partnerships/partners/{partnerId}/communications",
        OwnPartner(Path),
    ),
    (
        "PATCH /partnerships/partner-communications/{communicationId}",
        OwnPartner(Communication),
    ),
    (
        "DELETE /partnerships/partner-communications/{communicationId}",
        OwnPartner(Communication),
    ),
    ("GET /partnerships/events", Everyone),
    ("POST /partnerships/events", Everyone),
    ("GET /partnerships/events/{eventId}", Everyone),
    ("PATCH /partnerships/events/{eventId}", Everyone),
    ("DELETE /partnerships/events/{eventId}", AdminOnly),
    ("GET /partnerships/events/{eventId}/activity", Everyone),
    ("GET /partnerships/dashboard", Everyone),
    ("GET /partnerships/export", Everyone),
    ("GET /partnerships/renewals", Everyone),
    ("GET /partnerships/email/config", Everyone),
    ("GET /partnerships/email/templates", Everyone),
    ("POST /partnerships/email/templates", AdminOnly),
    ("PATCH /partnerships/email/templates/{templateId}", AdminOnly),
    ("DELETE /partnerships/email/templates/{templateId}", AdminOnly),
    ("POST /partnerships/email/send", OwnRecipients),
    ("GET /partnerships/email/campaigns/{campaignId}", Everyone),
    // The status answers the caller's ingest URL, whose token is a credential: a setting.
    ("GET /partnerships/email/sync/status", AdminOnly),
    ("POST /partnerships/email/sync/token", AdminOnly),
    ("POST /partnerships/email/sync/ingest", Public),
    ("GET /partnerships/email/unsubscribe", Public),
    ("POST /partnerships/email/unsubscribe", Public),
    ("GET /partnerships/segments", Everyone),
    ("POST /partnerships/segments", AdminOnly),
    ("GET /partnerships/segments/{segmentId}", Everyone),
    ("PATCH /partnerships/segments/{segmentId}", AdminOnly),
    ("DELETE /partnerships/segments/{segmentId}", AdminOnly),
    ("GET /partnerships/forecast", Everyone),
    ("PUT /partnerships/forecast", AdminOnly),
    ("GET /partnerships/google-sheets/status", Everyone),
    ("POST /partnerships/google-sheets/sync", AdminOnly),
];

/// The permission of `route` (`METHOD /path` as the template names it); a route missing from
/// the table is for admins only.
pub fn permission_of(route: &str) -> Permission {
    PERMISSIONS
        .iter()
        .find(|(r, _)| *r == route)
        .map_or(AdminOnly, |(_, p)| *p)
}

/// README's permission table, rendered from [`PERMISSIONS`].
pub fn markdown_table() -> String {
    let mut table = String::from("| Route | admin | member |\n|---|---|---|\n");
    for (route, permission) in PERMISSIONS {
        table.push_str(&format!(
            "| `{route}` | {} | {} |\n",
            permission.admin_text(),
            permission.member_text()
        ));
    }
    table
}

/// The partner a record belongs to.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct PartnerRef {
    partner_id: String,
}

/// The owner of a partner.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Owner {
    owner_email: Option<String>,
}

/// The signed-in caller with its role, allowed to call this request's route, or 401/403. Every
/// function calls it once, before its route runs.
pub async fn authorize(request: &Request, ctx: &AppContext) -> ApiResult<Caller> {
    let mut caller = Caller::from_request(request)?;
    caller.role = caller
        .authorize(&ctx.config.admins)
        .inspect_err(|_| tracing::warn!(caller = %caller.email, "refused: not on the partnerships team"))?;
    if caller.role == Role::Admin {
        return Ok(caller);
    }
    let permission = permission_of(&route_key(request));
    match permission {
        Public | Everyone => {}
        AdminOnly => {
            return Err(ApiError::ForbiddenBecause(
                "Forbidden: only a partnerships admin may do this.".into(),
            ));
        }
        CreatePartner => check_assignment(request, &caller)?,
        EditPartner => {
            check_assignment(request, &caller)?;
            check_owner(request, ctx, &caller, Path).await?;
        }
        OwnPartner(of) => check_owner(request, ctx, &caller, of).await?,
        OwnRecipients => check_recipients(request, ctx, &caller).await?,
    }
    Ok(caller)
}

/// 403 if the body names an owner the member may not assign. A body that does not parse is
/// the route's to refuse (406), in the contract's order.
fn check_assignment(request: &Request, caller: &Caller) -> ApiResult<()> {
    let Ok(body) = json_body(request) else { return Ok(()) };
    let Some(Ok(requested)) = body.get("ownerEmail").map(parse_owner_email) else {
        return Ok(());
    };
    if may_assign(caller.role, &caller.email, requested.as_deref()) {
        Ok(())
    } else {
        Err(ApiError::ForbiddenBecause(
            "Forbidden: a member may assign a partner only to itself or to nobody.".into(),
        ))
    }
}

/// 403 unless the member may write the partner `of` names. A partner or record that does not
/// exist is the route's to answer (404).
async fn check_owner(request: &Request, ctx: &AppContext, caller: &Caller, of: PartnerOf) -> ApiResult<()> {
    let tables = &ctx.config.tables;
    let (table, param) = match of {
        Path => (None, "partnerId"),
        Link => (Some(&tables.links), "linkId"),
        Document => (Some(&tables.documents), "documentId"),
        Communication => (Some(&tables.communications), "communicationId"),
    };
    let id = path_param(request, param)?;
    let partner_id = match table {
        None => id,
        Some(table) => match ctx.store.get::<PartnerRef>(table, &id).await? {
            Some(record) => record.partner_id,
            None => return Ok(()),
        },
    };
    let Some(partner) = ctx.store.get::<Owner>(&tables.partners, &partner_id).await? else {
        return Ok(());
    };
    match partner.owner_email {
        Some(owner) if !may_write(caller.role, &caller.email, Some(&owner)) => Err(ApiError::ForbiddenBecause(
            format!("Forbidden: this partner is owned by {owner}; only its owner or an admin may change it."),
        )),
        _ => Ok(()),
    }
}

/// 403 unless every recipient of the send is a partner the member owns (an id that names no
/// partner is the send's to report).
async fn check_recipients(request: &Request, ctx: &AppContext, caller: &Caller) -> ApiResult<()> {
    let Ok(body) = json_body(request) else {
        return Ok(());
    };
    // A segment's partners are checked as the send will resolve them.
    let body = crate::directory::with_segment_recipients(ctx, body, &caller.email).await?;
    let Ok(send) = SendRequest::parse(&body) else {
        return Ok(());
    };
    let partners = ctx.store.partner_cards(&send.partner_ids).await?;
    let foreign = partners
        .values()
        .filter(|p| p.owner_email.as_deref() != Some(caller.email.as_str()))
        .count();
    if foreign == 0 {
        Ok(())
    } else {
        Err(ApiError::ForbiddenBecause(format!(
            "Forbidden: a member may email only partners it owns ({foreign} of the recipients are not)."
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_missing_from_the_table_is_for_admins_only() {
        assert_eq!(permission_of("DELETE /partnerships/everything"), AdminOnly);
    }

    #[test]
    fn every_route_is_in_the_table_once() {
        let mut routes: Vec<&str> = PERMISSIONS.iter().map(|(r, _)| *r).collect();
        routes.sort();
        let before = routes.len();
        routes.dedup();
        assert_eq!(routes.len(), before);
    }

    #[test]
    fn the_table_renders_a_row_per_route() {
        let table = markdown_table();
        assert_eq!(table.lines().count(), PERMISSIONS.len() + 2);
        assert!(table.contains("| `DELETE /partnerships/events/{eventId}` | yes | no (403) |"));
    }
}
