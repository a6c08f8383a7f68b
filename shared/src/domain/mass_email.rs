//! Mass email (contract §8): merge fields, template and send validation, per-recipient
//! rendering, prechecks and the campaign summary. Pure: the meta function sends and stores.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::domain::ValidationError;
use crate::domain::normalize::{self, Field, is_valid_email, truncate_chars};

/// Most recipients of one send (§8.4).
pub const MAX_RECIPIENTS: usize = 200;
/// Most active templates (§8.3; archived ones do not count, §14.15).
pub const MAX_TEMPLATES: u32 = 200;
/// The `entityType` of a template row (§2.7).
pub const TEMPLATE_ENTITY: &str = "partnerships_mass_email_template";

/// One merge field: `{{key}}` in a subject or body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MergeField {
    pub key: &'static str,
    pub label: &'static str,
    pub description: &'static str,
}

/// The twelve merge fields, in the order the client lists them (§8.1).
pub const MERGE_FIELDS: [MergeField; 12] = [
    MergeField {
        key: "recipient_first_name",
        label: "Recipient First Name",
        description: "First word of the contact name (else the company name, else \"your organization\").",
    },
    MergeField {
        key: "recipient_last_name",
        label: "Recipient Last Name",
        description: "The rest of the contact name after its first word, or empty.",
    },
    MergeField {
        key: "recipient_full_name",
        label: "Recipient Full Name",
        description: "The contact name, else the company name, else \"your organization\".",
    },
    MergeField {
        key: "recipient_email",
        label: "Recipient Email",
        description: "The partner's email address.",
    },
    MergeField {
        key: "sender_first_name",
        label: "Sender First Name",
        description: "Your first name.",
    },
    MergeField {
        key: "sender_last_name",
        label: "Sender Last Name",
        description: "Your last name.",
    },
    MergeField {
        key: "sender_full_name",
        label: "Sender Full Name",
        description: "Your full name.",
    },
    MergeField {
        key: "sender_email",
        label: "Sender Email",
        description: "Your email address (replies come back to it).",
    },
    MergeField {
        key: "company_name",
        label: "Company Name",
        description: "The partner's company, else \"your organization\".",
    },
    MergeField {
        key: "contact_name",
        label: "Contact Name",
        description: "Same as Recipient Full Name.",
    },
    MergeField {
        key: "event_name",
        label: "Event Name",
        description: "The selected event's name, or empty when no event is selected.",
    },
    MergeField {
        key: "event_year",
        label: "Event Year",
        description: "The selected event's year, or empty when no event is selected.",
    },
];

/// `{{key}}` as written in a template.
pub fn token(key: &str) -> String {
    format!("{{{{{key}}}}}")
}

/// The config route's `mergeFields` (§8.2).
pub fn merge_fields_wire() -> Vec<Value> {
    MERGE_FIELDS
        .iter()
        .map(|f| json!({"key": f.key, "label": f.label, "description": f.description, "token": token(f.key)}))
        .collect()
}

/// One `{{ key }}` occurrence: its byte range and its lower-cased key.
struct TokenMatch {
    start: usize,
    end: usize,
    key: String,
}

/// Every token in `text`: double braces, optional whitespace, a key of ASCII letters, digits and
/// underscores (§8.1). Anything else between braces is plain text.
fn tokens(text: &str) -> Vec<TokenMatch> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while let Some(offset) = text[i..].find("{{") {
        let start = i + offset;
        let mut j = start + 2;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        let key_start = j;
        while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_') {
            j += 1;
        }
        let key_end = j;
        while j < bytes.len() && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        if key_end > key_start && text[j..].starts_with("}}") {
            found.push(TokenMatch {
                start,
                end: j + 2,
                key: text[key_start..key_end].to_ascii_lowercase(),
            });
            i = j + 2;
        } else {
            i = start + 1;
        }
    }
    found
}

fn is_merge_key(key: &str) -> bool {
    MERGE_FIELDS.iter().any(|f| f.key == key)
}

/// 406 unless every token of `text` is a merge field: the unknown keys lower-cased, once each,
/// in order of appearance (§8.1).
pub fn check_tokens(text: &str, field: &str) -> Result<(), ValidationError> {
    let mut seen = HashSet::new();
    let unknown: Vec<String> = tokens(text)
        .into_iter()
        .map(|t| t.key)
        .filter(|k| !is_merge_key(k))
        .filter(|k| seen.insert(k.clone()))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    let listed = unknown.iter().map(|k| token(k)).collect::<Vec<_>>().join(", ");
    Err(ValidationError::new(
        format!("'{field}' includes unsupported merge field token(s): {listed}."),
        json!({
            "field": field,
            "unknownTokens": unknown,
            "allowedTokens": MERGE_FIELDS.iter().map(|f| token(f.key)).collect::<Vec<_>>(),
        }),
    ))
}

/// The values every token of one email renders to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MergeValues(HashMap<&'static str, String>);

impl MergeValues {
    /// The values for `recipient` from `sender`, about `event` (name, year) when one is selected.
    pub fn new(recipient: &RecipientCard, sender: &Sender, event: Option<(&str, i32)>) -> Self {
        let collapsed = truncate_chars(
            &recipient.contact_name.split_whitespace().collect::<Vec<_>>().join(" "),
            140,
        )
        .to_string();
        let company = truncate_chars(recipient.company.trim(), 140).to_string();
        let company_or_fallback = if company.is_empty() {
            "your organization".to_string()
        } else {
            company.clone()
        };
        let name_source = if !collapsed.is_empty() {
            collapsed
        } else {
            company_or_fallback.clone()
        };
        let mut words = name_source.split_whitespace();
        let first = words.next().unwrap_or_default().to_string();
        let rest = words.collect::<Vec<_>>().join(" ");
        let values = HashMap::from([
            ("recipient_first_name", first),
            ("recipient_last_name", rest),
            ("recipient_full_name", name_source.clone()),
            ("recipient_email", recipient.email.to_lowercase()),
            ("sender_first_name", sender.first_name.clone()),
            ("sender_last_name", sender.last_name.clone()),
            ("sender_full_name", sender.full_name.clone()),
            ("sender_email", sender.email.clone()),
            ("company_name", company_or_fallback),
            ("contact_name", name_source),
            ("event_name", event.map(|(n, _)| n.to_string()).unwrap_or_default()),
            ("event_year", event.map(|(_, y)| y.to_string()).unwrap_or_default()),
        ]);
        Self(values)
    }
}

/// `text` with every merge token replaced by its value (unknown tokens were refused earlier;
/// text that is not a token stays as written).
pub fn render(text: &str, values: &MergeValues) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for t in tokens(text) {
        if let Some(value) = values.0.get(t.key.as_str()) {
            out.push_str(&text[last..t.start]);
            out.push_str(value);
            last = t.end;
        }
    }
    out.push_str(&text[last..]);
    out
}

/// Who sends: the signed-in caller (§8.2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sender {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub full_name: String,
}

impl Sender {
    /// The sender from the caller's email and name claims: given and family names as the token
    /// carries them (§14.15: never re-split from the full name); with no names at all, the name
    /// is derived from the email's local part. 406 when the email is not a valid address.
    pub fn from_claims(email: &str, first: &str, last: &str, full: &str) -> Result<Self, ValidationError> {
        let email = email.trim().to_lowercase();
        if !is_valid_email(&email) {
            return Err(ValidationError::new(
                "Unable to determine sender email from the signed-in account.",
                json!({"actorEmail": email}),
            ));
        }
        let (mut first, mut last, mut full) = (
            first.trim().to_string(),
            last.trim().to_string(),
            full.trim().to_string(),
        );
        if first.is_empty() && last.is_empty() && full.is_empty() {
            let local = email.split('@').next().unwrap_or_default();
            full = local
                .split(['.', '_', '-'])
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
        }
        if full.is_empty() {
            full = format!("{first} {last}").trim().to_string();
        }
        if first.is_empty() && last.is_empty() {
            let mut words = full.split_whitespace();
            first = words.next().unwrap_or_default().to_string();
            last = words.collect::<Vec<_>>().join(" ");
        }
        Ok(Self {
            email,
            first_name: first,
            last_name: last,
            full_name: full,
        })
    }

    /// The config route's answer (§8.2).
    pub fn config_wire(&self) -> Value {
        json!({
            "sender": self.email,
            "senderFirstName": self.first_name,
            "senderLastName": self.last_name,
            "senderFullName": self.full_name,
            "maxRecipients": MAX_RECIPIENTS,
            "mergeFields": merge_fields_wire(),
        })
    }
}

/// What a template create or update sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub subject_template: Option<String>,
    pub body_template: Option<String>,
    /// `false` restores an archived template (beyond the peer, §14.15).
    pub archived: Option<bool>,
}

impl TemplateChanges {
    /// POST: name, subject and body required; tokens checked (§8.3).
    pub fn parse_create(body: &Map<String, Value>) -> Result<Self, ValidationError> {
        let name = normalize::required_text(body.get("name"), "name", 100)?;
        let description = normalize::text(body.get("description"), 300);
        let subject = normalize::required_text(body.get("subjectTemplate"), "subjectTemplate", 240)?;
        let body_text = normalize::required_text(body.get("bodyTemplate"), "bodyTemplate", 12_000)?;
        check_tokens(&subject, "subjectTemplate")?;
        check_tokens(&body_text, "bodyTemplate")?;
        Ok(Self {
            name: Some(name),
            description: Some(description),
            subject_template: Some(subject),
            body_template: Some(body_text),
            archived: None,
        })
    }

    /// PATCH: only what the body names; a named required field may not be blank (§8.3).
    pub fn parse_update(body: &Map<String, Value>) -> Result<Self, ValidationError> {
        let required = |field: &str, max: usize| -> Result<Option<String>, ValidationError> {
            if body.contains_key(field) {
                normalize::required_text(body.get(field), field, max).map(Some)
            } else {
                Ok(None)
            }
        };
        let changes = Self {
            name: required("name", 100)?,
            description: match normalize::body_text(body.get("description"), "description", 300)? {
                Field::Missing => None,
                Field::Null => Some(String::new()),
                Field::Set(v) => Some(v),
            },
            subject_template: required("subjectTemplate", 240)?,
            body_template: required("bodyTemplate", 12_000)?,
            archived: normalize::boolean(body.get("archived"), "archived")?,
        };
        if let Some(subject) = &changes.subject_template {
            check_tokens(subject, "subjectTemplate")?;
        }
        if let Some(text) = &changes.body_template {
            check_tokens(text, "bodyTemplate")?;
        }
        if changes == Self::default() {
            return Err(ValidationError::new(
                "At least one template field must be provided.",
                json!({}),
            ));
        }
        Ok(changes)
    }
}

/// A stored template row (§2.7).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct EmailTemplate {
    pub id: String,
    pub entity_type: String,
    pub name: String,
    pub description: String,
    pub subject_template: String,
    pub body_template: String,
    pub archived: bool,
    pub created_by: String,
    pub updated_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_used_at: Option<String>,
    pub version: u64,
    /// `active` or `archived`: the key of the templates index (see `tables::TEMPLATES_BY_STATE`).
    pub template_state: String,
}

/// The `templateState` of a template.
pub fn template_state(archived: bool) -> &'static str {
    if archived { "archived" } else { "active" }
}

impl EmailTemplate {
    /// A new template from validated changes.
    pub fn create(changes: &TemplateChanges, id: String, actor: &str, now_ms: i64) -> Self {
        Self {
            id,
            entity_type: TEMPLATE_ENTITY.to_string(),
            name: changes.name.clone().unwrap_or_default(),
            description: changes.description.clone().unwrap_or_default(),
            subject_template: changes.subject_template.clone().unwrap_or_default(),
            body_template: changes.body_template.clone().unwrap_or_default(),
            archived: false,
            created_by: actor.to_string(),
            updated_by: actor.to_string(),
            created_at: now_ms,
            updated_at: now_ms,
            last_used_at: None,
            version: 1,
            template_state: template_state(false).to_string(),
        }
    }

    /// The template with `changes` applied by `actor` (an edit of its own fields: `updatedAt`
    /// moves).
    pub fn apply(&self, changes: &TemplateChanges, actor: &str, now_ms: i64) -> Self {
        let mut next = self.clone();
        if let Some(v) = &changes.name {
            next.name = v.clone();
        }
        if let Some(v) = &changes.description {
            next.description = v.clone();
        }
        if let Some(v) = &changes.subject_template {
            next.subject_template = v.clone();
        }
        if let Some(v) = &changes.body_template {
            next.body_template = v.clone();
        }
        if let Some(v) = changes.archived {
            next.archived = v;
        }
        next.template_state = template_state(next.archived).to_string();
        next.updated_by = actor.to_string();
        next.updated_at = now_ms;
        next.version = self.version + 1;
        next
    }

    /// The list order key: `updatedAt || createdAt`, newest first (§8.3).
    pub fn touched_at(&self) -> i64 {
        crate::domain::touched_at(self.updated_at, self.created_at)
    }

    /// The wire shape (§8.3).
    pub fn to_wire(&self) -> Value {
        let stamp = |ms: i64| if ms == 0 { Value::Null } else { json!(ms) };
        json!({
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "subjectTemplate": self.subject_template,
            "bodyTemplate": self.body_template,
            "archived": self.archived,
            "createdBy": self.created_by,
            "updatedBy": self.updated_by,
            "lastUsedAt": self.last_used_at,
            "createdAt": stamp(self.created_at),
            "updatedAt": stamp(self.updated_at),
            "version": self.version,
        })
    }
}

/// A validated POST `/partnerships/email/send` body (§8.4).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendRequest {
    pub subject: String,
    pub body: String,
    /// Trimmed, de-duplicated, in the order given.
    pub partner_ids: Vec<String>,
    pub event_id: Option<String>,
    pub template_id: Option<String>,
    pub campaign_name: Option<String>,
    /// Archived partners are skipped unless this is set.
    pub include_archived: bool,
}

impl SendRequest {
    /// Validates in the contract's order: subject, body, their tokens, then the recipients.
    pub fn parse(body: &Map<String, Value>) -> Result<Self, ValidationError> {
        let subject = normalize::required_text(body.get("subject"), "subject", 240)?;
        let text = normalize::required_text(body.get("body"), "body", 12_000)?;
        check_tokens(&subject, "subject")?;
        check_tokens(&text, "body")?;
        let mut seen = HashSet::new();
        let partner_ids: Vec<String> = body
            .get("partnerIds")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|v| normalize::text(Some(v), 120))
            .filter(|id| !id.is_empty())
            .filter(|id| seen.insert(id.clone()))
            .collect();
        if partner_ids.is_empty() {
            return Err(ValidationError::new(
                "'partnerIds' must include at least one partner id.",
                json!({}),
            ));
        }
        if partner_ids.len() > MAX_RECIPIENTS {
            return Err(ValidationError::new(
                format!("'partnerIds' cannot exceed {MAX_RECIPIENTS} recipients in one send."),
                json!({"recipientCount": partner_ids.len(), "maxRecipients": MAX_RECIPIENTS}),
            ));
        }
        let optional = |key: &str, max: usize| Some(normalize::text(body.get(key), max)).filter(|v| !v.is_empty());
        Ok(Self {
            subject,
            body: text,
            partner_ids,
            event_id: optional("eventId", 120),
            template_id: optional("templateId", 120),
            campaign_name: optional("campaignName", 140),
            include_archived: normalize::boolean(body.get("includeArchived"), "includeArchived")?.unwrap_or(false),
        })
    }
}

/// What a send needs of a partner.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RecipientCard {
    pub id: String,
    pub company: String,
    pub contact_name: String,
    pub email: String,
    pub archived: bool,
}

/// The state of one recipient of a campaign (§8.4, plus `skipped_suppressed`,
/// `skipped_archived` and `queued`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientStatus {
    SkippedMissingPartner,
    SkippedMissingEmail,
    SkippedInvalidEmail,
    SkippedArchived,
    SkippedSuppressed,
    SkippedDuplicateEmail,
    FailedRender,
    FailedSend,
    WarningLogFailed,
    Sent,
    /// Not sent yet: the campaign continues in the background.
    Queued,
}

impl RecipientStatus {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SkippedMissingPartner => "skipped_missing_partner",
            Self::SkippedMissingEmail => "skipped_missing_email",
            Self::SkippedInvalidEmail => "skipped_invalid_email",
            Self::SkippedArchived => "skipped_archived",
            Self::SkippedSuppressed => "skipped_suppressed",
            Self::SkippedDuplicateEmail => "skipped_duplicate_email",
            Self::FailedRender => "failed_render",
            Self::FailedSend => "failed_send",
            Self::WarningLogFailed => "warning_log_failed",
            Self::Sent => "sent",
            Self::Queued => "queued",
        }
    }

    /// The message of a status whose text is fixed.
    pub fn fixed_message(self) -> &'static str {
        match self {
            Self::SkippedMissingPartner => "Partner no longer exists.",
            Self::SkippedMissingEmail => "Partner has no email configured.",
            Self::SkippedInvalidEmail => "Partner email is invalid.",
            Self::SkippedArchived => "Partner is archived. Send with includeArchived to include it.",
            Self::SkippedSuppressed => "This address unsubscribed or bounced; it is not emailed.",
            Self::SkippedDuplicateEmail => "Another selected partner already uses this email address.",
            Self::FailedRender => "Rendered subject/body was empty for this recipient. Check merge fields.",
            Self::FailedSend => "SES rejected this recipient send attempt.",
            Self::WarningLogFailed => "Email sent, but the history entry could not be logged.",
            Self::Sent => "Sent successfully.",
            Self::Queued => "Queued: sending continues in the background.",
        }
    }

    fn is_skip(self) -> bool {
        matches!(
            self,
            Self::SkippedMissingPartner
                | Self::SkippedMissingEmail
                | Self::SkippedInvalidEmail
                | Self::SkippedArchived
                | Self::SkippedSuppressed
                | Self::SkippedDuplicateEmail
        )
    }

    /// Whether the recipient's state is final (anything but queued).
    pub fn is_final(self) -> bool {
        self != Self::Queued
    }
}

/// One line of `results` (§8.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecipientResult {
    pub partner_id: String,
    /// `None` for a missing partner (the line then has no company, contact or email).
    pub card: Option<RecipientCard>,
    pub status: RecipientStatus,
    pub message: String,
}

impl RecipientResult {
    /// A result with the status's fixed message.
    pub fn new(partner_id: &str, card: Option<&RecipientCard>, status: RecipientStatus) -> Self {
        Self {
            partner_id: partner_id.to_string(),
            card: card.cloned(),
            status,
            message: status.fixed_message().to_string(),
        }
    }

    /// The wire shape: a missing partner has only id, status and message; a partner without an
    /// email has no `email` (§8.4).
    pub fn to_wire(&self) -> Value {
        let mut wire = Map::new();
        wire.insert("partnerId".into(), json!(self.partner_id));
        if let Some(card) = &self.card {
            wire.insert("company".into(), json!(card.company));
            wire.insert("contactName".into(), json!(card.contact_name));
            if self.status != RecipientStatus::SkippedMissingEmail {
                wire.insert("email".into(), json!(card.email.trim().to_lowercase()));
            }
        }
        wire.insert("status".into(), json!(self.status.as_str()));
        wire.insert("message".into(), json!(self.message));
        Value::Object(wire)
    }
}

/// The prechecks of §8.4 in `partnerIds` order: the skipped results and the partners to send to.
/// `suppressed` holds lower-cased addresses that unsubscribed or bounced.
pub fn precheck(
    partner_ids: &[String],
    partners: &HashMap<String, RecipientCard>,
    suppressed: &BTreeSet<String>,
    include_archived: bool,
) -> (Vec<RecipientResult>, Vec<RecipientCard>) {
    let mut skipped = Vec::new();
    let mut eligible = Vec::new();
    let mut emails = HashSet::new();
    for id in partner_ids {
        let Some(card) = partners.get(id) else {
            skipped.push(RecipientResult::new(id, None, RecipientStatus::SkippedMissingPartner));
            continue;
        };
        let email = card.email.trim().to_lowercase();
        let status = if email.is_empty() {
            Some(RecipientStatus::SkippedMissingEmail)
        } else if !is_valid_email(&email) {
            Some(RecipientStatus::SkippedInvalidEmail)
        } else if card.archived && !include_archived {
            Some(RecipientStatus::SkippedArchived)
        } else if suppressed.contains(&email) {
            Some(RecipientStatus::SkippedSuppressed)
        } else if !emails.insert(email) {
            Some(RecipientStatus::SkippedDuplicateEmail)
        } else {
            None
        };
        match status {
            Some(status) => skipped.push(RecipientResult::new(id, Some(card), status)),
            None => eligible.push(card.clone()),
        }
    }
    (skipped, eligible)
}

/// An email rendered for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    pub subject: String,
    pub body: String,
}

/// Renders subject (cut to 240) and body (cut to 12,000) for one recipient; `None` when either
/// comes out empty (`failed_render`).
pub fn render_for(subject: &str, body: &str, values: &MergeValues) -> Option<RenderedEmail> {
    let subject = truncate_chars(render(subject, values).trim(), 240).to_string();
    let body = truncate_chars(render(body, values).trim(), 12_000).to_string();
    (!subject.is_empty() && !body.is_empty()).then_some(RenderedEmail { subject, body })
}

/// The timeline entry's summary for a sent email (§8.4).
pub fn history_summary(sender: &str, recipient: &str, body: &str) -> String {
    truncate_chars(
        &format!("Mass email sent from {sender} to {recipient}.\n\n{body}"),
        3000,
    )
    .to_string()
}

/// The `summary` object of a send (§8.4, plus `queuedCount`).
pub fn summary(total_requested: usize, results: &[RecipientResult]) -> Value {
    let count = |f: &dyn Fn(RecipientStatus) -> bool| results.iter().filter(|r| f(r.status)).count();
    let skipped = count(&|s| s.is_skip());
    json!({
        "totalRequested": total_requested,
        "totalEligible": results.len() - skipped,
        "sentCount": count(&|s| matches!(s, RecipientStatus::Sent | RecipientStatus::WarningLogFailed)),
        "loggedCount": count(&|s| s == RecipientStatus::Sent),
        "skippedCount": skipped,
        "failedCount": count(&|s| matches!(s, RecipientStatus::FailedRender | RecipientStatus::FailedSend)),
        "warningCount": count(&|s| s == RecipientStatus::WarningLogFailed),
        "queuedCount": count(&|s| s == RecipientStatus::Queued),
    })
}

/// The send's `message` (§8.4); queued recipients are said to be on their way.
pub fn send_message(results: &[RecipientResult]) -> &'static str {
    let any = |status: RecipientStatus| results.iter().any(|r| r.status == status);
    if any(RecipientStatus::WarningLogFailed) {
        "Bulk email sent with warnings. Some history entries could not be logged."
    } else if any(RecipientStatus::FailedRender) || any(RecipientStatus::FailedSend) {
        "Bulk email finished with partial failures."
    } else if any(RecipientStatus::Queued) {
        "Bulk email started. The remaining recipients are queued and will be sent in the background."
    } else {
        "Bulk email sent successfully."
    }
}

/// The answer when no selected partner can be emailed (§8.4).
pub const NOTHING_TO_SEND: &str = "No emails were sent because no selected partners had unique valid emails.";

/// HTML-escapes `text` and keeps its line breaks: the HTML part is the text part, never markup
/// from a template.
pub fn text_to_html(text: &str) -> String {
    let mut html = String::with_capacity(text.len() + 64);
    for c in text.chars() {
        match c {
            '&' => html.push_str("&amp;"),
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '"' => html.push_str("&quot;"),
            '\'' => html.push_str("&#39;"),
            '\n' => html.push_str("<br>\n"),
            '\r' => {}
            c => html.push(c),
        }
    }
    html
}

/// The `entityType` of a campaign row.
pub const CAMPAIGN_ENTITY: &str = "partnerships_mass_email_campaign";

/// A campaign as stored: what was asked, by whom, and the recipients in request order. Each
/// recipient's state is its own row ([`CampaignRecipient`]), written once per change.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Campaign {
    /// The meta row id (`campaign#<campaignId>`).
    pub id: String,
    pub campaign_id: String,
    pub entity_type: String,
    pub campaign_name: Option<String>,
    pub subject: String,
    pub body: String,
    pub sender: Sender,
    pub event_id: Option<String>,
    pub event_name: Option<String>,
    pub event_year: Option<i32>,
    pub template_id: Option<String>,
    /// Every requested partner id, de-duplicated, in request order (at most 200).
    pub partner_ids: Vec<String>,
    /// One ISO timestamp for every timeline entry of the campaign (§8.4).
    pub occurred_at: String,
    pub created_at: i64,
    /// Public base URL the unsubscribe links point at.
    pub public_base_url: String,
    pub version: u64,
}

impl Campaign {
    /// The event `(name, year)` the merge fields show, when one was selected.
    pub fn event(&self) -> Option<(&str, i32)> {
        match (&self.event_name, self.event_year) {
            (Some(name), Some(year)) => Some((name.as_str(), year)),
            _ => None,
        }
    }
}

/// One recipient of a campaign and its state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CampaignRecipient {
    /// The meta row id (`campaign#<campaignId>#<partnerId>`).
    pub id: String,
    pub campaign_id: String,
    pub partner_id: String,
    pub card: Option<RecipientCard>,
    /// `sending` while one invocation holds it (see the store's claim), else a result status.
    pub state: String,
    pub message: String,
    pub updated_at: i64,
}

/// The `state` of a recipient an invocation has claimed and is sending to right now.
pub const SENDING: &str = "sending";

impl CampaignRecipient {
    /// The recipient's line of `results` at `now_ms`. A claimed recipient is still being sent
    /// (queued) until no invocation can hold it any longer (a Lambda runs 15 minutes at most);
    /// after that it is reported as a failure, never sent twice.
    pub fn result(&self, now_ms: i64) -> RecipientResult {
        let (status, message) = if self.state == SENDING {
            if now_ms - self.updated_at > 15 * 60 * 1000 {
                (
                    RecipientStatus::FailedSend,
                    "Sending was interrupted; this recipient may not have been emailed.".to_string(),
                )
            } else {
                (RecipientStatus::Queued, "Being sent now.".to_string())
            }
        } else {
            let status = serde_json::from_value::<RecipientStatus>(Value::String(self.state.clone()))
                .unwrap_or(RecipientStatus::FailedSend);
            (status, self.message.clone())
        };
        RecipientResult {
            partner_id: self.partner_id.clone(),
            card: self.card.clone(),
            status,
            message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender() -> Sender {
        Sender::from_claims("Mary@Example.org", "Mary Ann", "Smith", "Mary Ann Smith").unwrap()
    }

    fn card(company: &str, contact: &str, email: &str) -> RecipientCard {
        RecipientCard {
            id: "p".into(),
            company: company.into(),
            contact_name: contact.into(),
            email: email.into(),
            archived: false,
        }
    }

    #[test]
    fn unknown_tokens_are_reported_lower_cased_in_order() {
        let err = check_tokens(
            "Hi {{first_name}} at {{companyName}} {{ Recipient_First_Name }} {{first_name}}",
            "bodyTemplate",
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "'bodyTemplate' includes unsupported merge field token(s): {{first_name}}, {{companyname}}."
        );
        assert_eq!(err.data["unknownTokens"], json!(["first_name", "companyname"]));
        assert_eq!(err.data["allowedTokens"].as_array().unwrap().len(), 12);
        assert!(check_tokens("{{Company-Name}} and {{ contact_name }}", "subject").is_ok());
    }

    #[test]
    fn rendering_fills_every_field_with_the_contract_fallbacks() {
        let values = MergeValues::new(
            &card("Acme", "  Jo   Anne  Lee ", "JO@Acme.com"),
            &sender(),
            Some(("Summit", 2026)),
        );
        let out = render(
            "{{recipient_first_name}}|{{RECIPIENT_LAST_NAME}}|{{ company_name }}|{{recipient_email}}|{{sender_first_name}}|{{event_name}} {{event_year}}|{{Company-Name}}",
            &values,
        );
        assert_eq!(
            out,
            "Jo|Anne Lee|Acme|jo@acme.com|Mary Ann|Summit 2026|{{Company-Name}}"
        );
        let nameless = MergeValues::new(&card("", "", "x@y.com"), &sender(), None);
        assert_eq!(
            render(
                "Hi {{recipient_first_name}} of {{company_name}}{{event_name}}",
                &nameless
            ),
            "Hi your of your organization"
        );
        let company_only = MergeValues::new(&card("Acme Corp", "", "x@y.com"), &sender(), None);
        assert_eq!(render("{{contact_name}}", &company_only), "Acme Corp");
    }

    #[test]
    fn sender_names_come_from_the_claims_or_the_email() {
        let s = sender();
        assert_eq!((s.first_name.as_str(), s.last_name.as_str()), ("Mary Ann", "Smith"));
        let derived = Sender::from_claims("jo.van_der-berg@example.org", "", "", "").unwrap();
        assert_eq!(derived.full_name, "jo van der berg");
        assert_eq!(
            (derived.first_name.as_str(), derived.last_name.as_str()),
            ("jo", "van der berg")
        );
        let err = Sender::from_claims("bob", "", "", "").unwrap_err();
        assert_eq!(
            err.message,
            "Unable to determine sender email from the signed-in account."
        );
    }

    #[test]
    fn send_requests_validate_in_order_and_dedupe_ids() {
        let parse = |v: Value| SendRequest::parse(v.as_object().unwrap());
        assert_eq!(parse(json!({})).unwrap_err().message, "'subject' is required.");
        assert_eq!(
            parse(json!({"subject": "s"})).unwrap_err().message,
            "'body' is required."
        );
        assert_eq!(
            parse(json!({"subject": "s", "body": "b", "partnerIds": [" ", 5]}))
                .unwrap_err()
                .message,
            "'partnerIds' must include at least one partner id."
        );
        let many: Vec<String> = (0..201).map(|i| format!("p{i}")).collect();
        let err = parse(json!({"subject": "s", "body": "b", "partnerIds": many})).unwrap_err();
        assert_eq!(err.data, json!({"recipientCount": 201, "maxRecipients": 200}));
        let ok = parse(json!({"subject": "s", "body": "b", "partnerIds": [" a ", "b", "a"], "eventId": ""})).unwrap();
        assert_eq!(ok.partner_ids, vec!["a", "b"]);
        assert_eq!(ok.event_id, None);
    }

    #[test]
    fn prechecks_skip_in_order_and_the_first_email_wins() {
        let mut partners = HashMap::new();
        for (id, email, archived) in [
            ("a", "one@x.com", false),
            ("b", "", false),
            ("c", "bad", false),
            ("d", "ONE@x.com", false),
            ("e", "gone@x.com", false),
            ("f", "old@x.com", true),
        ] {
            let mut c = card("Co", "", email);
            c.id = id.into();
            c.archived = archived;
            partners.insert(id.to_string(), c);
        }
        let ids: Vec<String> = ["a", "b", "c", "d", "e", "f", "z"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let suppressed = BTreeSet::from(["gone@x.com".to_string()]);
        let (skipped, eligible) = precheck(&ids, &partners, &suppressed, false);
        let statuses: Vec<&str> = skipped.iter().map(|r| r.status.as_str()).collect();
        assert_eq!(
            statuses,
            [
                "skipped_missing_email",
                "skipped_invalid_email",
                "skipped_duplicate_email",
                "skipped_suppressed",
                "skipped_archived",
                "skipped_missing_partner"
            ]
        );
        assert_eq!(eligible.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["a"]);
        let (_, with_archived) = precheck(&ids, &partners, &suppressed, true);
        assert_eq!(with_archived.len(), 2);
        assert_eq!(
            skipped[5].to_wire(),
            json!({"partnerId": "z", "status": "skipped_missing_partner", "message": "Partner no longer exists."})
        );
        assert!(skipped[0].to_wire().get("email").is_none());
    }

    #[test]
    fn the_summary_counts_each_outcome() {
        let r = |s| RecipientResult::new("p", Some(&card("c", "", "a@b.co")), s);
        let results = vec![
            r(RecipientStatus::Sent),
            r(RecipientStatus::WarningLogFailed),
            r(RecipientStatus::FailedSend),
            r(RecipientStatus::SkippedSuppressed),
            r(RecipientStatus::Queued),
        ];
        assert_eq!(
            summary(5, &results),
            json!({"totalRequested": 5, "totalEligible": 4, "sentCount": 2, "loggedCount": 1, "skippedCount": 1, "failedCount": 1, "warningCount": 1, "queuedCount": 1})
        );
        assert_eq!(
            send_message(&results),
            "Bulk email sent with warnings. Some history entries could not be logged."
        );
        assert_eq!(send_message(&results[..1]), "Bulk email sent successfully.");
    }

    #[test]
    fn html_is_the_escaped_text() {
        assert_eq!(text_to_html("<b>A & B</b>\nhi"), "&lt;b&gt;A &amp; B&lt;/b&gt;<br>\nhi");
    }

    #[test]
    fn empty_renders_fail() {
        let values = MergeValues::new(&card("Acme", "", "a@b.co"), &sender(), None);
        assert!(render_for("{{event_name}}", "body", &values).is_none());
        assert_eq!(
            render_for(" Hi {{company_name}} ", "b", &values).unwrap().subject,
            "Hi Acme"
        );
    }

    #[test]
    fn template_updates_need_a_field_and_restore_with_archived_false() {
        let parse = |v: Value| TemplateChanges::parse_update(v.as_object().unwrap());
        assert_eq!(
            parse(json!({})).unwrap_err().message,
            "At least one template field must be provided."
        );
        assert_eq!(parse(json!({"name": " "})).unwrap_err().message, "'name' is required.");
        assert_eq!(parse(json!({"archived": false})).unwrap().archived, Some(false));
    }
}
