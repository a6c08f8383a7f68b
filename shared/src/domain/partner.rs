//! The partner record, its create/patch input rules (§5.2, §5.4) and the directory query and
//! response (§5.1), all pure.

use std::collections::{BTreeSet, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::ValidationError;
use super::metrics::{DirectorySummary, LinkSummary, partner_metrics};
use super::normalize::{
    self, CANONICAL_STATUSES, Field, is_canonical_status, query_boolean, stored_tier, truncate_chars, with_alumni_tag,
};
use super::ownership::{OwnerFilter, parse_owner_email};
use super::sort::compare_partners;

/// A stored partner (`biztechPartners`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Partner {
    pub id: String,
    pub company: String,
    pub email: String,
    pub contact_name: String,
    pub phone: String,
    pub contact_role: String,
    pub linkedin: String,
    pub tier: String,
    pub notes: String,
    pub tags: Vec<String>,
    pub is_alumni: bool,
    pub archived: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub updated_by: String,
    pub version: u64,
    /// Who owns the partner (issue 15); absent = unclaimed. Absent rather than NULL in the
    /// item: it keys the sparse `partners-by-owner` index, whose keys must be strings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_email: Option<String>,
    /// The partner this one was merged into (it is archived then); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<String>,
}

impl Partner {
    /// Every attribute of a partner item: what the directory's projected scan reads.
    pub const FIELDS: [&'static str; 18] = [
        "id",
        "company",
        "email",
        "contactName",
        "phone",
        "contactRole",
        "linkedin",
        "tier",
        "notes",
        "tags",
        "isAlumni",
        "archived",
        "createdAt",
        "updatedAt",
        "updatedBy",
        "version",
        "ownerEmail",
        "mergedInto",
    ];

    /// The partner as the API shows it: stored attributes, `tier` re-normalized.
    pub fn to_wire(&self) -> Map<String, Value> {
        let mut wire = match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        wire.insert("tier".into(), Value::String(stored_tier(Some(&self.tier))));
        // Every answer names the owner, `null` for an unclaimed partner.
        wire.insert("ownerEmail".into(), json!(self.owner_email));
        wire
    }

    /// The wire partner plus metrics over the given links (§5.19).
    pub fn to_wire_with_metrics<'a>(&self, links: impl IntoIterator<Item = &'a LinkSummary>) -> Map<String, Value> {
        let mut wire = self.to_wire();
        if let Ok(Value::Object(metrics)) = serde_json::to_value(partner_metrics(links)) {
            wire.extend(metrics);
        }
        wire
    }

    /// Lower-cased, space-joined text the directory search matches against (linkedin excluded).
    pub fn search_text(&self) -> String {
        let mut parts = vec![
            self.company.as_str(),
            &self.contact_name,
            &self.email,
            &self.phone,
            &self.contact_role,
            &self.tier,
            &self.notes,
        ];
        parts.extend(self.tags.iter().map(String::as_str));
        parts.join(" ").to_lowercase()
    }
}

/// The keys of a partner in the `partners-by-email-domain` index: `(domain, address)` of a valid
/// email, lower-cased; `None` keeps the partner out of the index.
pub fn email_index_keys(email: &str) -> Option<(String, String)> {
    let address = email.trim().to_lowercase();
    if !normalize::is_valid_email(&address) {
        return None;
    }
    let domain = address.rsplit_once('@').map(|(_, d)| d.to_string())?;
    Some((domain, address))
}

/// A validated create or patch body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PartnerChanges {
    pub company: Option<String>,
    pub email: Option<String>,
    pub contact_name: Option<String>,
    pub phone: Option<String>,
    pub contact_role: Option<String>,
    pub linkedin: Option<String>,
    pub tier: Option<String>,
    pub notes: Option<String>,
    pub tags: Option<Vec<String>>,
    pub is_alumni: Option<bool>,
    pub archived: Option<bool>,
    /// `ownerEmail`: `Some(None)` = unclaimed. Who may set it is the caller's role's to say.
    pub owner_email: Option<Option<String>>,
}

fn optional_text(body: &Map<String, Value>, field: &str, max: usize) -> Result<Option<String>, ValidationError> {
    Ok(match normalize::body_text(body.get(field), field, max)? {
        Field::Missing => None,
        Field::Null => Some(String::new()),
        Field::Set(text) => Some(text),
    })
}

impl PartnerChanges {
    /// Validates a body. On create `company` is required; on patch it must be non-empty if sent.
    pub fn parse(body: &Map<String, Value>, creating: bool) -> Result<Self, ValidationError> {
        let company = optional_text(body, "company", 140)?;
        let company_missing = match &company {
            Some(c) => c.is_empty(),
            None => creating,
        };
        if company_missing {
            return Err(ValidationError::new(
                "'company' is required.",
                normalize::field_data("company", body.get("company")),
            ));
        }
        let email = match optional_text(body, "email", 180)? {
            Some(raw) => Some(normalize::email(Some(&Value::String(raw)), "email")?),
            None => None,
        };
        let tier = match body.get("tier") {
            None => None,
            Some(Value::Null) => Some(String::new()),
            Some(Value::String(_)) => Some(normalize::tier(body.get("tier"), "tier")?),
            Some(other) => {
                return Err(ValidationError::new("'tier' must be a string.", json!({"tier": other})));
            }
        };
        let tags = match body.get("tags") {
            None => None,
            Some(Value::Null) => Some(Vec::new()),
            Some(value @ (Value::Array(_) | Value::String(_))) => {
                if let Value::Array(items) = value
                    && items.iter().any(|item| !item.is_string())
                {
                    return Err(ValidationError::new(
                        "'tags' must be a list of strings.",
                        json!({"tags": value}),
                    ));
                }
                Some(normalize::tags(Some(value)))
            }
            Some(other) => {
                return Err(ValidationError::new(
                    "'tags' must be a list of strings or a comma-separated string.",
                    json!({"tags": other}),
                ));
            }
        };
        Ok(Self {
            company,
            email,
            contact_name: optional_text(body, "contactName", 120)?,
            phone: optional_text(body, "phone", 60)?,
            contact_role: optional_text(body, "contactRole", 80)?,
            linkedin: optional_text(body, "linkedin", 300)?,
            tier,
            notes: optional_text(body, "notes", 5000)?,
            tags,
            is_alumni: normalize::boolean(body.get("isAlumni"), "isAlumni")?,
            archived: normalize::boolean(body.get("archived"), "archived")?,
            owner_email: body.get("ownerEmail").map(parse_owner_email).transpose()?,
        })
    }

    /// Whether no recognised field was sent.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// A new partner from a create body; new partners are never archived (§5.2).
    pub fn into_new_partner(self, id: String, now_ms: i64, actor: &str) -> Partner {
        let is_alumni = self.is_alumni.unwrap_or(false);
        Partner {
            id,
            company: self.company.unwrap_or_default(),
            email: self.email.unwrap_or_default(),
            contact_name: self.contact_name.unwrap_or_default(),
            phone: self.phone.unwrap_or_default(),
            contact_role: self.contact_role.unwrap_or_default(),
            linkedin: self.linkedin.unwrap_or_default(),
            tier: self.tier.unwrap_or_default(),
            notes: self.notes.unwrap_or_default(),
            tags: with_alumni_tag(self.tags.unwrap_or_default(), is_alumni),
            is_alumni,
            archived: false,
            created_at: now_ms,
            updated_at: now_ms,
            updated_by: actor.to_string(),
            version: 1,
            owner_email: self.owner_email.flatten(),
            merged_into: None,
        }
    }

    /// The attributes a patch sets on `stored`: only the supplied fields, with tags and the alumni
    /// flag recomputed together when either is sent (§3.6).
    pub fn assignments(&self, stored: &Partner) -> Vec<(&'static str, Value)> {
        let mut set: Vec<(&'static str, Value)> = Vec::new();
        let texts = [
            ("company", &self.company),
            ("email", &self.email),
            ("contactName", &self.contact_name),
            ("phone", &self.phone),
            ("contactRole", &self.contact_role),
            ("linkedin", &self.linkedin),
            ("tier", &self.tier),
            ("notes", &self.notes),
        ];
        for (name, value) in texts {
            if let Some(v) = value {
                set.push((name, Value::String(v.clone())));
            }
        }
        if self.tags.is_some() || self.is_alumni.is_some() {
            let is_alumni = self.is_alumni.unwrap_or(stored.is_alumni);
            let tags = self.tags.clone().unwrap_or_else(|| stored.tags.clone());
            set.push(("tags", json!(with_alumni_tag(tags, is_alumni))));
            set.push(("isAlumni", Value::Bool(is_alumni)));
        }
        if let Some(archived) = self.archived {
            set.push(("archived", Value::Bool(archived)));
        }
        set
    }
}

/// The directory's query parameters (§5.1), validated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DirectoryQuery {
    pub search: Option<String>,
    pub status: Option<String>,
    pub tag: Option<String>,
    pub include_archived: bool,
    pub is_alumni: Option<bool>,
    pub package_tier: Option<String>,
    pub partner_tier: Option<String>,
    pub event_id_year: Option<String>,
    pub owner: Option<OwnerFilter>,
}

fn non_empty(text: String) -> Option<String> {
    if text.is_empty() { None } else { Some(text) }
}

impl DirectoryQuery {
    /// Parses query parameters for the caller `me` (`owner=me`); bad status, tier or owner
    /// values give 406.
    pub fn parse(params: &HashMap<String, String>, me: &str) -> Result<Self, ValidationError> {
        let get = |key: &str| params.get(key).map(|v| Value::String(v.clone()));
        let text = |key: &str, max: usize| non_empty(normalize::text(get(key).as_ref(), max));
        let status = match text("status", 80) {
            Some(_) => Some(normalize::status(get("status").as_ref())?),
            None => None,
        };
        let tier_key = if params.contains_key("packageTier") {
            "packageTier"
        } else {
            "tier"
        };
        let package_tier = non_empty(normalize::tier(get(tier_key).as_ref(), "tier")?);
        let partner_tier = non_empty(normalize::tier(get("partnerTier").as_ref(), "partnerTier")?);
        let event_id_year = match (params.get("eventIdYear"), text("eventId", 120), text("eventYear", 20)) {
            (Some(raw), _, _) if !raw.is_empty() => Some(raw.clone()),
            (_, Some(event_id), Some(year)) => Some(format!("{event_id}#{}", js_number_text(&year))),
            _ => None,
        };
        Ok(Self {
            search: text("search", 180).map(|s| s.to_lowercase()),
            status,
            tag: text("tag", 80).map(|s| s.to_lowercase()),
            include_archived: query_boolean(params.get("includeArchived").map(String::as_str)) == Some(true),
            is_alumni: query_boolean(params.get("isAlumni").map(String::as_str)),
            package_tier,
            partner_tier,
            event_id_year,
            owner: OwnerFilter::parse(params.get("owner").map(String::as_str), me)?,
        })
    }

    /// Whether a relationship filter (eventIdYear, status, package tier) is active.
    pub fn has_relationship_filter(&self) -> bool {
        self.event_id_year.is_some() || self.status.is_some() || self.package_tier.is_some()
    }

    /// Whether a link satisfies every relationship filter at once.
    pub fn link_in_scope(&self, link: &LinkSummary) -> bool {
        self.event_id_year.as_ref().is_none_or(|e| &link.event_id_year == e)
            && self.status.as_ref().is_none_or(|s| &link.normalized_status() == s)
            && self.package_tier.as_ref().is_none_or(|t| &link.normalized_tier() == t)
    }

    /// Whether the partner record passes the partner filters.
    pub fn partner_matches(&self, partner: &Partner) -> bool {
        (self.include_archived || !partner.archived)
            && self
                .owner
                .as_ref()
                .is_none_or(|o| o.matches(partner.owner_email.as_deref()))
            && self.is_alumni.is_none_or(|a| partner.is_alumni == a)
            && self
                .partner_tier
                .as_ref()
                .is_none_or(|t| &stored_tier(Some(&partner.tier)) == t)
            && self
                .tag
                .as_ref()
                .is_none_or(|t| partner.tags.iter().any(|tag| &tag.to_lowercase() == t))
            && self
                .search
                .as_ref()
                .is_none_or(|s| partner.search_text().contains(s.as_str()))
    }

    /// The `filters` echo of the response.
    pub fn to_json(&self) -> Value {
        json!({
            "status": self.status,
            "eventIdYear": self.event_id_year,
            "includeArchived": self.include_archived,
            "isAlumni": self.is_alumni,
            "tag": self.tag,
            "search": self.search,
            "tier": self.package_tier,
            "partnerTier": self.partner_tier,
            "owner": self.owner.as_ref().map(OwnerFilter::to_json),
        })
    }
}

/// `String(Number(text))` for a year typed into a query string.
fn js_number_text(text: &str) -> String {
    match text.trim().parse::<f64>() {
        Ok(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{}", n as i64),
        Ok(n) => n.to_string(),
        Err(_) => "NaN".into(),
    }
}

/// Builds the whole directory response (§5.1) from every partner, every link's summary and the
/// tier ids of every event. `today` is the UTC date `YYYY-MM-DD`.
pub fn directory(
    partners: &[Partner],
    links: &[LinkSummary],
    event_tiers: &BTreeSet<String>,
    query: &DirectoryQuery,
    today: &str,
) -> Value {
    let mut custom_statuses = BTreeSet::new();
    let mut package_tiers: BTreeSet<String> = event_tiers.iter().filter(|t| !t.is_empty()).cloned().collect();
    let mut partner_tiers = BTreeSet::new();
    let mut links_of: HashMap<&str, Vec<&LinkSummary>> = HashMap::new();
    for link in links {
        let status = link.normalized_status();
        if !is_canonical_status(&status) {
            custom_statuses.insert(status);
        }
        let tier = link.normalized_tier();
        if !tier.is_empty() {
            package_tiers.insert(tier);
        }
        links_of.entry(link.partner_id.as_str()).or_default().push(link);
    }
    let mut rows: Vec<(&Partner, Vec<&LinkSummary>)> = Vec::new();
    for partner in partners {
        let tier = stored_tier(Some(&partner.tier));
        if !tier.is_empty() {
            partner_tiers.insert(tier);
        }
        if !query.partner_matches(partner) {
            continue;
        }
        let in_scope: Vec<&LinkSummary> = links_of
            .get(partner.id.as_str())
            .into_iter()
            .flatten()
            .copied()
            .filter(|l| query.link_in_scope(l))
            .collect();
        if query.has_relationship_filter() && in_scope.is_empty() {
            continue;
        }
        rows.push((partner, in_scope));
    }
    rows.sort_by(|(a, _), (b, _)| {
        compare_partners(
            (&a.company, &a.contact_name, a.updated_at),
            (&b.company, &b.contact_name, b.updated_at),
        )
    });
    let mut summary = DirectorySummary::default();
    let partners_json: Vec<Value> = rows
        .iter()
        .map(|(partner, links)| {
            summary.add_partner(partner.archived, partner.is_alumni, links.iter().copied(), today);
            Value::Object(partner.to_wire_with_metrics(links.iter().copied()))
        })
        .collect();
    json!({
        "partners": partners_json,
        "summary": summary.to_json(),
        "filters": query.to_json(),
        "statusOptions": status_options(custom_statuses),
        "packageTierOptions": package_tiers,
        "partnerTierOptions": partner_tiers,
    })
}

/// The ten canonical statuses in display order, then the given custom ones by code point.
pub fn status_options(custom: BTreeSet<String>) -> Vec<String> {
    CANONICAL_STATUSES.iter().map(|s| s.to_string()).chain(custom).collect()
}

/// Cuts a company name for logs and messages.
pub fn short_company(company: &str) -> &str {
    truncate_chars(company, 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn create_requires_company_and_defaults_the_rest() {
        assert_eq!(
            PartnerChanges::parse(&body(json!({})), true).unwrap_err().message,
            "'company' is required."
        );
        assert_eq!(
            PartnerChanges::parse(&body(json!({"company": 123})), true)
                .unwrap_err()
                .message,
            "'company' must be a string."
        );
        assert_eq!(
            PartnerChanges::parse(&body(json!({"company": "  "})), true)
                .unwrap_err()
                .message,
            "'company' is required."
        );
        let changes = PartnerChanges::parse(
            &body(json!({"company": " Acme ", "tags": "a,b", "isAlumni": true, "archived": true})),
            true,
        )
        .unwrap();
        let partner = changes.into_new_partner("p1".into(), 10, "me@example.org");
        assert_eq!(partner.company, "Acme");
        assert_eq!(partner.tags, vec!["a", "b", "alumni-partner"]);
        assert!(!partner.archived);
        assert_eq!(partner.version, 1);
        assert_eq!(partner.updated_by, "me@example.org");
    }

    #[test]
    fn bad_fields_are_rejected_with_their_messages() {
        let cases = [
            (json!({"company": "A", "email": "bad"}), "'email' is invalid."),
            (
                json!({"company": "A", "isAlumni": "yes"}),
                "'isAlumni' must be a boolean.",
            ),
            (json!({"company": "A", "archived": 1}), "'archived' must be a boolean."),
            (
                json!({"company": "A", "tier": "!!"}),
                "'tier' must include at least one letter or number.",
            ),
            (
                json!({"company": "A", "tags": 5}),
                "'tags' must be a list of strings or a comma-separated string.",
            ),
            (
                json!({"company": "A", "notes": "x".repeat(5001)}),
                "'notes' must be at most 5000 characters.",
            ),
            (json!({"company": "A", "phone": 5}), "'phone' must be a string."),
        ];
        for (input, message) in cases {
            assert_eq!(
                PartnerChanges::parse(&body(input.clone()), true).unwrap_err().message,
                message,
                "{input}"
            );
        }
    }

    #[test]
    fn patch_recomputes_tags_with_stored_side() {
        let stored = Partner {
            tags: vec!["ai".into()],
            is_alumni: true,
            ..Default::default()
        };
        let changes = PartnerChanges::parse(&body(json!({"isAlumni": false})), false).unwrap();
        let set = changes.assignments(&stored);
        assert_eq!(set, vec![("tags", json!(["ai"])), ("isAlumni", json!(false))]);
        let changes = PartnerChanges::parse(&body(json!({"tags": ["x"]})), false).unwrap();
        assert_eq!(
            changes.assignments(&stored)[0],
            ("tags", json!(["x", "alumni-partner"]))
        );
        assert!(
            PartnerChanges::parse(&body(json!({"unknown": 1})), false)
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            PartnerChanges::parse(&body(json!({"company": ""})), false)
                .unwrap_err()
                .message,
            "'company' is required."
        );
    }

    fn partner(id: &str, company: &str) -> Partner {
        Partner {
            id: id.into(),
            company: company.into(),
            ..Default::default()
        }
    }

    fn links(partner: &str, links: &[(&str, &str, &str, Option<f64>)]) -> Vec<LinkSummary> {
        links
            .iter()
            .enumerate()
            .map(|(i, (event, status, tier, amount))| LinkSummary {
                id: format!("{partner}::{event}"),
                partner_id: partner.to_string(),
                event_id: event.to_string(),
                event_id_year: format!("{event}#2025"),
                status: status.to_string(),
                package_tier: tier.to_string(),
                amount: *amount,
                updated_at: i as i64 + 1,
                ..Default::default()
            })
            .collect()
    }

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn directory_filters_by_relationship_and_scopes_metrics() {
        let partners = vec![
            partner("p1", "Beta"),
            partner("p2", "alpha"),
            Partner {
                id: "p3".into(),
                company: "Gamma".into(),
                archived: true,
                tier: "Partner Plus".into(),
                ..Default::default()
            },
        ];
        let tiers: BTreeSet<String> = ["bronze".to_string()].into();
        let mut all_links = links(
            "p1",
            &[("e1", "paid", "gold", Some(100.0)), ("e2", "pitched", "", Some(50.0))],
        );
        all_links.extend(links("p2", &[("e2", "Waiting", "silver", None)]));
        let all = directory(
            &partners,
            &all_links,
            &tiers,
            &DirectoryQuery::parse(&params(&[]), "me@example.org").unwrap(),
            "2025-01-01",
        );
        let names: Vec<&str> = all["partners"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["company"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["alpha", "Beta"]);
        assert_eq!(all["statusOptions"].as_array().unwrap().len(), 11);
        assert_eq!(all["statusOptions"][10], "waiting");
        assert_eq!(all["packageTierOptions"], json!(["bronze", "gold", "silver"]));
        assert_eq!(all["partnerTierOptions"], json!(["partner_plus"]));
        assert!(all["partners"][0].get("linkSummaries").is_none());

        let q = DirectoryQuery::parse(
            &params(&[("eventId", "e2"), ("eventYear", "2025"), ("status", "pitched")]),
            "me@example.org",
        )
        .unwrap();
        let scoped = directory(&partners, &all_links, &tiers, &q, "2025-01-01");
        assert_eq!(scoped["partners"].as_array().unwrap().len(), 1);
        assert_eq!(scoped["partners"][0]["relationshipCount"], 1);
        assert_eq!(scoped["partners"][0]["totalAmount"], 50.0);
        assert_eq!(scoped["filters"]["eventIdYear"], "e2#2025");

        let archived = directory(
            &partners,
            &all_links,
            &tiers,
            &DirectoryQuery::parse(&params(&[("includeArchived", "TRUE")]), "me@example.org").unwrap(),
            "2025-01-01",
        );
        assert_eq!(archived["summary"]["archivedPartners"], 1);
        assert_eq!(archived["summary"]["totalPartners"], 3);
    }

    #[test]
    fn directory_query_rejects_bad_slugs_and_matches_search() {
        assert_eq!(
            DirectoryQuery::parse(&params(&[("status", "!!")]), "me@example.org")
                .unwrap_err()
                .message,
            "'status' must include at least one letter or number."
        );
        let q = DirectoryQuery::parse(
            &params(&[("tier", "Gold"), ("packageTier", "Silver"), ("search", " ACME Jane ")]),
            "me@example.org",
        )
        .unwrap();
        assert_eq!(q.package_tier.as_deref(), Some("silver"));
        let p = Partner {
            company: "Acme".into(),
            contact_name: "Jane".into(),
            ..Default::default()
        };
        assert!(q.partner_matches(&p));
    }

    #[test]
    fn the_owner_filter_keeps_the_partners_of_that_owner() {
        let owned = |id: &str, owner: Option<&str>| Partner {
            id: id.into(),
            company: id.into(),
            owner_email: owner.map(str::to_string),
            ..Default::default()
        };
        let partners = [
            owned("a", Some("me@example.org")),
            owned("b", None),
            owned("c", Some("otto@example.org")),
        ];
        let ids = |owner: &str| {
            let q = DirectoryQuery::parse(&params(&[("owner", owner)]), "me@example.org").unwrap();
            let answer = directory(&partners, &[], &BTreeSet::new(), &q, "2025-01-01");
            answer["partners"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids("me"), ["a"]);
        assert_eq!(ids("unclaimed"), ["b"]);
        assert_eq!(ids("otto@example.org"), ["c"]);
        assert_eq!(ids(""), ["a", "b", "c"]);
    }

    #[test]
    fn every_directory_row_names_its_owner_or_null() {
        let partner = Partner {
            id: "p".into(),
            ..Default::default()
        };
        assert_eq!(partner.to_wire()["ownerEmail"], Value::Null);
        let stored = serde_json::to_value(&partner).unwrap();
        assert!(stored.get("ownerEmail").is_none(), "absent in the item, never NULL");
    }
}
