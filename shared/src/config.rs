//! Configuration read once at init; a missing or malformed variable fails init, not a request.

use std::collections::BTreeSet;

use crate::tables::Tables;

/// Why configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `ENV` is missing or not a safe table suffix.
    #[error(
        "ENV must be set to a table suffix of 1-32 letters, digits, '-' or '_' (got {0:?}); stages must not share tables"
    )]
    BadEnv(String),
}

/// Who may use the API (§14.1): an email, an email domain, or a Cognito group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdminPolicy {
    /// `PARTNERSHIPS_ADMIN_EMAILS`, lower-cased.
    pub emails: BTreeSet<String>,
    /// `PARTNERSHIPS_ADMIN_DOMAINS`, lower-cased, without `@`.
    pub domains: BTreeSet<String>,
    /// `PARTNERSHIPS_ADMIN_GROUP` (default `partnerships-admins`).
    pub group: Option<String>,
    /// `PARTNERSHIPS_MEMBER_GROUP` (default `partnerships-members`): the Cognito group whose
    /// users are members (issue 15). Anyone neither admin nor member is refused.
    pub member_group: Option<String>,
}

/// The Cognito group of admins when `PARTNERSHIPS_ADMIN_GROUP` is not set at all.
pub const DEFAULT_ADMIN_GROUP: &str = "partnerships-admins";
/// The Cognito group of members when `PARTNERSHIPS_MEMBER_GROUP` is not set at all.
pub const DEFAULT_MEMBER_GROUP: &str = "partnerships-members";

impl AdminPolicy {
    /// Parses the three comma-separated settings; the member group is the default one.
    pub fn from_parts(emails: &str, domains: &str, group: &str) -> Self {
        let list = |raw: &str| {
            raw.split(',')
                .map(|s| s.trim().trim_start_matches('@').to_lowercase())
                .filter(|s| !s.is_empty())
                .collect::<BTreeSet<_>>()
        };
        let group = group.trim();
        Self {
            emails: list(emails),
            domains: list(domains),
            group: (!group.is_empty()).then(|| group.to_string()),
            member_group: Some(DEFAULT_MEMBER_GROUP.to_string()),
        }
    }

    /// The policy with `group` (trimmed; empty = none) as the members' group.
    pub fn with_member_group(self, group: &str) -> Self {
        let group = group.trim();
        Self {
            member_group: (!group.is_empty()).then(|| group.to_string()),
            ..self
        }
    }
}

/// Process-wide settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The stage suffix of every table name.
    pub env: String,
    /// Concrete table names.
    pub tables: Tables,
    /// The wider system's main events table (seed bridge), if configured.
    pub main_events_table: Option<String>,
    /// Who is allowed in.
    pub admins: AdminPolicy,
    /// The EventBridge bus change events go to (`PARTNERSHIPS_EVENT_BUS`); none = not published.
    pub event_bus: Option<String>,
}

impl Config {
    /// Reads `ENV`, `MAIN_EVENTS_TABLE`, the `PARTNERSHIPS_ADMIN_*` variables and
    /// `PARTNERSHIPS_MEMBER_GROUP`. The DynamoDB
    /// endpoint override for local use is aws-config's own `AWS_ENDPOINT_URL_DYNAMODB`.
    pub fn from_env() -> Result<Self, ConfigError> {
        let var = |name: &str| std::env::var(name).unwrap_or_default();
        // A group variable that is absent takes the default name; one set empty means none.
        let group = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_string());
        let mut config = Self::build(
            &var("ENV"),
            &var("MAIN_EVENTS_TABLE"),
            AdminPolicy::from_parts(
                &var("PARTNERSHIPS_ADMIN_EMAILS"),
                &var("PARTNERSHIPS_ADMIN_DOMAINS"),
                &group("PARTNERSHIPS_ADMIN_GROUP", DEFAULT_ADMIN_GROUP),
            )
            .with_member_group(&group("PARTNERSHIPS_MEMBER_GROUP", DEFAULT_MEMBER_GROUP)),
        )?;
        let bus = var("PARTNERSHIPS_EVENT_BUS");
        config.event_bus = Some(bus.trim().to_string()).filter(|b| !b.is_empty());
        Ok(config)
    }

    /// Validates and assembles a configuration.
    pub fn build(env: &str, main_events_table: &str, admins: AdminPolicy) -> Result<Self, ConfigError> {
        let valid =
            (1..=32).contains(&env.len()) && env.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(ConfigError::BadEnv(env.to_string()));
        }
        let main_events_table = main_events_table.trim();
        Ok(Self {
            env: env.to_string(),
            tables: Tables::with_suffix(env),
            main_events_table: (!main_events_table.is_empty()).then(|| main_events_table.to_string()),
            admins,
            event_bus: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_is_required_and_safe() {
        assert!(Config::build("", "", AdminPolicy::default()).is_err());
        assert!(Config::build("a b", "", AdminPolicy::default()).is_err());
        let c = Config::build("staging", " ", AdminPolicy::default()).unwrap();
        assert_eq!(c.tables.links, "biztechPartnerEventLinksstaging");
        assert_eq!(c.main_events_table, None);
    }

    #[test]
    fn admin_policy_parses_lists() {
        let p = AdminPolicy::from_parts("A@X.org, ,b@y.org", "@Example.org", " admins ");
        assert!(p.emails.contains("a@x.org") && p.emails.len() == 2);
        assert!(p.domains.contains("example.org"));
        assert_eq!(p.group.as_deref(), Some("admins"));
    }
}
