//! Roles and partner ownership (issue 15), as pure rules: who may write a partner and what it
//! hangs on to (links, documents, communications), who may claim, release or assign one, and
//! what the `owner` filters of the directory and dashboard mean.

use serde_json::{Value, json};

use super::ValidationError;
use super::normalize::is_valid_email;

/// What a signed-in caller is to the partnerships team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    /// Everything, as every caller could before roles existed.
    #[default]
    Admin,
    /// Reads everything; writes what it owns or what nobody owns.
    Member,
}

impl Role {
    /// The name README and the permission table use.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
        }
    }
}

/// Whether `role` acting as `me` may write a partner owned by `owner` (or what belongs to it).
pub fn may_write(role: Role, me: &str, owner: Option<&str>) -> bool {
    match role {
        Role::Admin => true,
        Role::Member => owner.is_none_or(|owner| owner == me),
    }
}

/// Whether `role` acting as `me` may set a partner's owner to `requested` (`None` = unclaimed)
/// in a create or a patch: an admin assigns anyone; a member only itself or nobody (what a
/// claim or a release would do).
pub fn may_assign(role: Role, me: &str, requested: Option<&str>) -> bool {
    match role {
        Role::Admin => true,
        Role::Member => requested.is_none_or(|owner| owner == me),
    }
}

/// The owner of a partner created with `requested` in its body (`None` = not sent): a member's
/// new partner is its own unless it says otherwise; an admin's is unclaimed, as every partner
/// was before ownership existed (the web client's creates stay what they were).
pub fn initial_owner(role: Role, me: &str, requested: Option<Option<String>>) -> Option<String> {
    match (requested, role) {
        (Some(requested), _) => requested,
        (None, Role::Member) => Some(me.to_string()),
        (None, Role::Admin) => None,
    }
}

/// Why a claim or a release cannot be done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnershipRefusal {
    /// Someone else owns the partner (a member's claim): 409.
    OwnedByAnother(String),
    /// A member releasing a partner it does not own: 403.
    NotTheOwner(String),
}

/// What a claim or a release does to a partner owned by `owner`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnershipMove {
    /// Nothing to write: the partner already has the owner asked for.
    Unchanged,
    /// Write this owner (`None` = unclaimed).
    SetOwner(Option<String>),
}

/// `me` claims a partner owned by `owner`. An admin may take over any partner; a member only an
/// unclaimed one (or its own, which changes nothing).
pub fn claim(role: Role, me: &str, owner: Option<&str>) -> Result<OwnershipMove, OwnershipRefusal> {
    match owner {
        Some(owner) if owner == me => Ok(OwnershipMove::Unchanged),
        Some(owner) if role == Role::Member => Err(OwnershipRefusal::OwnedByAnother(owner.to_string())),
        _ => Ok(OwnershipMove::SetOwner(Some(me.to_string()))),
    }
}

/// `me` releases a partner owned by `owner`: its owner or an admin may; an unclaimed partner
/// stays unclaimed.
pub fn release(role: Role, me: &str, owner: Option<&str>) -> Result<OwnershipMove, OwnershipRefusal> {
    match owner {
        None => Ok(OwnershipMove::Unchanged),
        Some(owner) if owner != me && role == Role::Member => Err(OwnershipRefusal::NotTheOwner(owner.to_string())),
        Some(_) => Ok(OwnershipMove::SetOwner(None)),
    }
}

/// The `owner` filter of the directory (`me`, `unclaimed` or an email) and the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerFilter {
    /// Partners nobody owns.
    Unclaimed,
    /// Partners this email owns (`me` resolved to the caller).
    Email(String),
}

impl OwnerFilter {
    /// Parses `raw` for the caller `me`; blank is no filter; anything else is 406.
    pub fn parse(raw: Option<&str>, me: &str) -> Result<Option<Self>, ValidationError> {
        let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
            return Ok(None);
        };
        let lowered = raw.to_lowercase();
        match lowered.as_str() {
            "me" => Ok(Some(Self::Email(me.to_string()))),
            "unclaimed" => Ok(Some(Self::Unclaimed)),
            email if is_valid_email(email) => Ok(Some(Self::Email(email.to_string()))),
            _ => Err(ValidationError::new(
                "'owner' must be me, unclaimed or an email address.",
                json!({ "owner": super::normalize::truncate_chars(raw, 180) }),
            )),
        }
    }

    /// Whether a partner owned by `owner` passes.
    pub fn matches(&self, owner: Option<&str>) -> bool {
        match self {
            Self::Unclaimed => owner.is_none(),
            Self::Email(email) => owner == Some(email.as_str()),
        }
    }

    /// The filter as the answers echo it (`unclaimed` or the email).
    pub fn to_json(&self) -> Value {
        match self {
            Self::Unclaimed => json!("unclaimed"),
            Self::Email(email) => json!(email),
        }
    }
}

/// Validates an `ownerEmail` body value: `null` or `""` is unclaimed, else a valid email,
/// lower-cased.
pub fn parse_owner_email(value: &Value) -> Result<Option<String>, ValidationError> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) if text.trim().is_empty() => Ok(None),
        Value::String(text) if is_valid_email(&text.trim().to_lowercase()) && text.trim().len() <= 180 => {
            Ok(Some(text.trim().to_lowercase()))
        }
        other => {
            // The value is named, never echoed whole: a body may be large.
            let shown = match other {
                Value::String(text) => json!(super::normalize::truncate_chars(text, 180)),
                Value::Array(_) | Value::Object(_) => json!("(not a string)"),
                scalar => scalar.clone(),
            };
            Err(ValidationError::new(
                "'ownerEmail' must be an email address or null.",
                json!({ "ownerEmail": shown }),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ME: &str = "mia@example.org";
    const OTHER: &str = "otto@example.org";

    #[test]
    fn a_member_writes_what_it_owns_or_nobody_owns() {
        assert!(may_write(Role::Member, ME, None));
        assert!(may_write(Role::Member, ME, Some(ME)));
        assert!(!may_write(Role::Member, ME, Some(OTHER)));
    }

    #[test]
    fn an_admin_writes_everything() {
        assert!(may_write(Role::Admin, ME, Some(OTHER)));
    }

    #[test]
    fn a_member_assigns_only_itself_or_nobody() {
        assert!(may_assign(Role::Member, ME, Some(ME)));
        assert!(may_assign(Role::Member, ME, None));
        assert!(!may_assign(Role::Member, ME, Some(OTHER)));
        assert!(may_assign(Role::Admin, ME, Some(OTHER)));
    }

    #[test]
    fn a_members_new_partner_is_its_own_and_an_admins_is_unclaimed() {
        assert_eq!(initial_owner(Role::Member, ME, None), Some(ME.to_string()));
        assert_eq!(initial_owner(Role::Admin, ME, None), None);
        assert_eq!(initial_owner(Role::Member, ME, Some(None)), None);
        assert_eq!(
            initial_owner(Role::Admin, ME, Some(Some(OTHER.into()))),
            Some(OTHER.to_string())
        );
    }

    #[test]
    fn a_member_claims_only_an_unclaimed_partner() {
        assert_eq!(
            claim(Role::Member, ME, None),
            Ok(OwnershipMove::SetOwner(Some(ME.into())))
        );
        assert_eq!(claim(Role::Member, ME, Some(ME)), Ok(OwnershipMove::Unchanged));
        assert_eq!(
            claim(Role::Member, ME, Some(OTHER)),
            Err(OwnershipRefusal::OwnedByAnother(OTHER.into()))
        );
    }

    #[test]
    fn an_admin_claims_an_owned_partner() {
        assert_eq!(
            claim(Role::Admin, ME, Some(OTHER)),
            Ok(OwnershipMove::SetOwner(Some(ME.into())))
        );
    }

    #[test]
    fn only_the_owner_or_an_admin_releases() {
        assert_eq!(release(Role::Member, ME, Some(ME)), Ok(OwnershipMove::SetOwner(None)));
        assert_eq!(
            release(Role::Member, ME, Some(OTHER)),
            Err(OwnershipRefusal::NotTheOwner(OTHER.into()))
        );
        assert_eq!(release(Role::Admin, ME, Some(OTHER)), Ok(OwnershipMove::SetOwner(None)));
        assert_eq!(release(Role::Member, ME, None), Ok(OwnershipMove::Unchanged));
    }

    #[test]
    fn owner_filters_parse_me_unclaimed_and_emails() {
        assert_eq!(
            OwnerFilter::parse(Some(" Me "), ME),
            Ok(Some(OwnerFilter::Email(ME.into())))
        );
        assert_eq!(
            OwnerFilter::parse(Some("unclaimed"), ME),
            Ok(Some(OwnerFilter::Unclaimed))
        );
        assert_eq!(
            OwnerFilter::parse(Some("Otto@Example.org"), ME),
            Ok(Some(OwnerFilter::Email(OTHER.into())))
        );
        assert_eq!(OwnerFilter::parse(Some(" "), ME), Ok(None));
        assert!(OwnerFilter::parse(Some("nobody"), ME).is_err());
    }

    #[test]
    fn owner_filters_match_owners() {
        assert!(OwnerFilter::Unclaimed.matches(None));
        assert!(!OwnerFilter::Unclaimed.matches(Some(ME)));
        assert!(OwnerFilter::Email(ME.into()).matches(Some(ME)));
        assert!(!OwnerFilter::Email(ME.into()).matches(None));
    }

    #[test]
    fn owner_emails_are_emails_or_null() {
        assert_eq!(parse_owner_email(&Value::Null), Ok(None));
        assert_eq!(parse_owner_email(&json!("")), Ok(None));
        assert_eq!(parse_owner_email(&json!(" Mia@Example.org")), Ok(Some(ME.into())));
        assert!(parse_owner_email(&json!("mia")).is_err());
        assert!(parse_owner_email(&json!(3)).is_err());
    }
}
