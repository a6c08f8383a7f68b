//! Who is calling, from the API Gateway JWT authorizer claims (§1.3), and whether they may use
//! the partnerships API at all (§14.1). The function never decodes a token itself (§14.3): only
//! claims the authorizer verified are trusted.

use std::collections::HashMap;

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use crate::config::AdminPolicy;
use crate::domain::normalize::truncate_chars;
use crate::domain::ownership::Role;
use crate::error::ApiError;

/// The authenticated caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Caller {
    /// Lower-cased email (or `cognito:username` when there is no email claim): who the caller
    /// is in `updatedBy`, never a reason to let them in.
    pub email: String,
    /// The `email` claim, lower-cased, when present and not marked unverified
    /// (`email_verified: false`): the only email the admin check trusts.
    pub verified_email: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub full_name: String,
    /// `cognito:groups`.
    pub groups: Vec<String>,
    /// What the caller may do, once [`Caller::authorize`] has decided it.
    pub role: Role,
}

fn first_claim(claims: &HashMap<String, String>, keys: &[&str], max: usize) -> String {
    keys.iter()
        .filter_map(|k| claims.get(*k))
        .map(|v| truncate_chars(v.trim(), max).to_string())
        .find(|v| !v.is_empty())
        .unwrap_or_default()
}

/// Parses a groups claim as API Gateway renders arrays (`[a b]`), as JSON, or comma-separated.
fn parse_groups(raw: &str) -> Vec<String> {
    let raw = raw.trim();
    if let Ok(list) = serde_json::from_str::<Vec<String>>(raw) {
        return list;
    }
    raw.trim_start_matches('[')
        .trim_end_matches(']')
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(|s| s.trim_matches('"').to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

impl Caller {
    /// The caller from verified claims, by the lookup order of §1.3.
    pub fn from_claims(claims: &HashMap<String, String>) -> Option<Self> {
        let email = first_claim(claims, &["email", "cognito:username"], 180).to_lowercase();
        if email.is_empty() {
            return None;
        }
        let mut first = first_claim(
            claims,
            &["given_name", "givenName", "first_name", "firstName", "fname"],
            80,
        );
        let mut last = first_claim(
            claims,
            &["family_name", "familyName", "last_name", "lastName", "lname"],
            120,
        );
        let mut full = first_claim(claims, &["name", "full_name", "fullName"], 180);
        if full.is_empty() {
            full = format!("{first} {last}").trim().to_string();
        }
        let mut words = full.split_whitespace();
        if first.is_empty() {
            first = words.next().unwrap_or_default().to_string();
        } else {
            words.next();
        }
        if last.is_empty() {
            last = words.collect::<Vec<_>>().join(" ");
        }
        let groups = claims
            .get("cognito:groups")
            .map(|g| parse_groups(g))
            .unwrap_or_default();
        let unverified = claims
            .get("email_verified")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("false"));
        let verified_email =
            Some(first_claim(claims, &["email"], 180).to_lowercase()).filter(|e| !e.is_empty() && !unverified);
        Some(Self {
            email,
            verified_email,
            first_name: first,
            last_name: last,
            full_name: full,
            groups,
            role: Role::Member,
        })
    }

    /// The caller of an API Gateway HTTP API request, or 401 if the authorizer passed no claims.
    pub fn from_request(request: &Request) -> Result<Self, ApiError> {
        let claims = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(ctx)) => {
                ctx.authorizer.as_ref().and_then(|a| a.jwt.as_ref()).map(|j| &j.claims)
            }
            _ => None,
        };
        claims.and_then(Self::from_claims).ok_or(ApiError::Unauthorized)
    }

    /// The caller's role: admin by the admins' group, or by a verified email claim (listed, or
    /// of a listed domain); else member by the members' group; else 403. A username that looks
    /// like an email, or an email the token marks unverified, admits no one.
    pub fn authorize(&self, policy: &AdminPolicy) -> Result<Role, ApiError> {
        let by_email = self.verified_email.as_deref().is_some_and(|email| {
            let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
            policy.emails.contains(email) || (!domain.is_empty() && policy.domains.contains(domain))
        });
        let allowed = by_email
            || policy
                .group
                .as_ref()
                .is_some_and(|g| self.groups.iter().any(|mine| mine == g));
        let member = policy
            .member_group
            .as_ref()
            .is_some_and(|g| self.groups.iter().any(|mine| mine == g));
        match (allowed, member) {
            (true, _) => Ok(Role::Admin),
            (false, true) => Ok(Role::Member),
            (false, false) => Err(ApiError::Forbidden),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn identity_follows_the_claim_order() {
        let c = Caller::from_claims(&claims(&[
            ("cognito:username", "U1"),
            ("email", " Mary@Example.org "),
            ("name", "Mary Ann Smith"),
        ]))
        .unwrap();
        assert_eq!(c.email, "mary@example.org");
        assert_eq!(c.first_name, "Mary");
        assert_eq!(c.last_name, "Ann Smith");
        let c = Caller::from_claims(&claims(&[
            ("cognito:username", "bob"),
            ("given_name", "Bob"),
            ("family_name", "Lee"),
        ]))
        .unwrap();
        assert_eq!(c.email, "bob");
        assert_eq!(c.full_name, "Bob Lee");
        assert!(Caller::from_claims(&claims(&[("sub", "x")])).is_none());
    }

    #[test]
    fn a_username_without_an_email_claim_is_not_an_admin_email() {
        let policy = AdminPolicy::from_parts("", "example.org", "partnerships-admins");
        let c = Caller::from_claims(&claims(&[("cognito:username", "mallory@example.org")])).unwrap();
        assert_eq!(c.email, "mallory@example.org", "still who the caller is in updatedBy");
        assert!(c.authorize(&policy).is_err());
        let grouped = Caller::from_claims(&claims(&[
            ("cognito:username", "ops"),
            ("cognito:groups", "[partnerships-admins]"),
        ]))
        .unwrap();
        assert!(grouped.authorize(&policy).is_ok(), "a group admits regardless");
    }

    #[test]
    fn an_unverified_email_admits_no_one_but_a_group_member() {
        let policy = AdminPolicy::from_parts("", "example.org", "partnerships-admins");
        let unverified = [("email", "eve@example.org"), ("email_verified", "false")];
        assert!(
            Caller::from_claims(&claims(&unverified))
                .unwrap()
                .authorize(&policy)
                .is_err()
        );
        let verified = [("email", "eve@example.org"), ("email_verified", "true")];
        assert!(
            Caller::from_claims(&claims(&verified))
                .unwrap()
                .authorize(&policy)
                .is_ok()
        );
        let silent = [("email", "eve@example.org")];
        assert!(
            Caller::from_claims(&claims(&silent))
                .unwrap()
                .authorize(&policy)
                .is_ok(),
            "absent is not false"
        );
        let grouped = [
            ("email", "eve@example.org"),
            ("email_verified", "false"),
            ("cognito:groups", "[partnerships-admins]"),
        ];
        assert!(
            Caller::from_claims(&claims(&grouped))
                .unwrap()
                .authorize(&policy)
                .is_ok()
        );
    }

    #[test]
    fn groups_parse_in_every_rendering() {
        assert_eq!(parse_groups("[admins partners]"), vec!["admins", "partners"]);
        assert_eq!(parse_groups("[\"admins\",\"x\"]"), vec!["admins", "x"]);
        assert_eq!(parse_groups("admins, x"), vec!["admins", "x"]);
    }

    #[test]
    fn only_admins_are_authorized() {
        let policy = AdminPolicy::from_parts("boss@elsewhere.com", "example.org", "partnerships-admins");
        let caller = |email: &str, groups: &[&str]| Caller {
            email: email.into(),
            verified_email: Some(email.into()),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..Default::default()
        };
        assert!(caller("a@example.org", &[]).authorize(&policy).is_ok());
        assert!(caller("boss@elsewhere.com", &[]).authorize(&policy).is_ok());
        assert!(
            caller("x@other.com", &["partnerships-admins"])
                .authorize(&policy)
                .is_ok()
        );
        assert!(caller("a@notexample.org", &[]).authorize(&policy).is_err());
        assert!(caller("a@sub.example.org", &[]).authorize(&policy).is_err());
        assert!(
            caller("x@other.com", &["other"])
                .authorize(&AdminPolicy::default())
                .is_err()
        );
    }

    #[test]
    fn the_members_group_makes_a_member_and_the_admins_group_wins() {
        let policy = AdminPolicy::from_parts("", "example.org", "partnerships-admins");
        let caller = |groups: &[&str]| Caller {
            email: "mia@members.net".into(),
            verified_email: Some("mia@members.net".into()),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..Default::default()
        };
        assert_eq!(
            caller(&["partnerships-members"]).authorize(&policy).ok(),
            Some(Role::Member)
        );
        assert_eq!(
            caller(&["partnerships-members", "partnerships-admins"])
                .authorize(&policy)
                .ok(),
            Some(Role::Admin)
        );
        assert!(caller(&["staff"]).authorize(&policy).is_err());
        let renamed = policy.with_member_group("execs");
        assert_eq!(caller(&["execs"]).authorize(&renamed).ok(), Some(Role::Member));
        assert!(caller(&["partnerships-members"]).authorize(&renamed).is_err());
    }
}
