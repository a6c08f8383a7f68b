//! Email sync (contract §7, issue 12): what an ingest payload means. Entries and their aliases,
//! address extraction, direction, which addresses are partner candidates, the dedupe key and the
//! timeline entry a matched message becomes. Pure: the meta function authenticates and stores.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::domain::ValidationError;
use crate::domain::normalize::{self, is_valid_email, iso_millis, truncate_chars};

/// Most entries one ingest request may carry (§7.2).
pub const MAX_ENTRIES: usize = 500;
/// Stored summaries are cut to this many characters (§7.2).
pub const STORED_SUMMARY_CHARS: usize = 2500;
/// Most unmatched addresses and errors a status or an answer lists (§7.2).
pub const MAX_UNMATCHED: usize = 25;
pub const MAX_ERRORS: usize = 15;
/// Most accounts the status lists as synced (§7.1).
pub const MAX_ACTORS: usize = 12;

/// The status message when the last ingest went well (§7.1).
pub const READY_MESSAGE: &str = "Ready to receive synced Gmail activity.";
/// The status message when the last sync of the newest mailbox failed (§7.1).
pub const FAILED_MESSAGE: &str = "Last sync failed.";
/// The 403 of a stage where ingest is not switched on (§7.2).
pub const DISABLED_MESSAGE: &str = "Partnership email sync is disabled.";

/// `PARTNERSHIPS_EMAIL_SYNC_ENABLED`: on only when it says so (`1/true/yes/on`). The old
/// service defaulted to on; an unauthenticated ingest must never be open by default (§14.2).
pub fn enabled_flag(raw: &str) -> bool {
    matches!(raw.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
}

/// `PARTNERSHIPS_EMAIL_SYNC_ALLOWED_DOMAINS`: a lower-cased comma list, `ubcbiztech.com` when
/// empty (§1.6).
pub fn allowed_domains(raw: &str) -> Vec<String> {
    let list: Vec<String> = raw
        .split(',')
        .map(|d| d.trim().trim_start_matches('@').to_lowercase())
        .filter(|d| !d.is_empty())
        .collect();
    if list.is_empty() {
        vec!["ubcbiztech.com".to_string()]
    } else {
        list
    }
}

/// Mail domains many unrelated people share: an address there never matches a partner by its
/// domain alone.
pub const PUBLIC_MAIL_DOMAINS: [&str; 16] = [
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "msn.com",
    "yahoo.com",
    "ymail.com",
    "icloud.com",
    "me.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "gmx.com",
    "mail.com",
    "zoho.com",
];

/// The domain of an address (after its last `@`), lower-cased.
pub fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
}

/// Whether a partner's address at this domain may match unknown addresses of the same domain.
pub fn domain_matchable(domain: &str) -> bool {
    !domain.is_empty() && !PUBLIC_MAIL_DOMAINS.contains(&domain)
}

/// Every address-looking substring of a string or a list of strings (`"Ann <a@b.com>, c@d.com"`),
/// lower-cased, valid and once each, in order of appearance (§7.2).
pub fn extract_addresses(value: Option<&Value>) -> Vec<String> {
    let texts: Vec<&str> = match value {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let mut seen = BTreeSet::new();
    let mut found = Vec::new();
    for text in texts {
        for token in text.split(|c: char| c.is_whitespace() || "<>,;\"'()[]".contains(c)) {
            let candidate = token.trim_matches(|c: char| c == '.' || c == ':').to_lowercase();
            if candidate.contains('@') && is_valid_email(&candidate) && seen.insert(candidate.clone()) {
                found.push(candidate);
            }
        }
    }
    found
}

fn first_present<'a>(entry: &'a Map<String, Value>, keys: &[&str]) -> Option<&'a Value> {
    keys.iter().filter_map(|k| entry.get(*k)).find(|v| !v.is_null())
}

fn text_of(entry: &Map<String, Value>, keys: &[&str], max: usize) -> String {
    keys.iter()
        .map(|k| normalize::text(entry.get(*k), max))
        .find(|v| !v.is_empty())
        .unwrap_or_default()
}

/// One message of a payload, normalized (§7.2 aliases).
#[derive(Debug, Clone, PartialEq)]
pub struct SyncEntry {
    pub index: usize,
    pub subject: String,
    pub summary: String,
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    pub bcc: Vec<String>,
    /// The entry's own valid `actorEmail`/`userEmail`, if any.
    pub actor: Option<String>,
    pub message_id: Option<String>,
    pub thread_id: Option<String>,
    pub provider: String,
    pub source_method: String,
    /// When it happened, if the entry says (else the time of the ingest).
    pub occurred_at: Option<DateTime<Utc>>,
    /// `inbound`/`outbound` as the payload labels it.
    pub labelled_direction: Option<String>,
    pub event_id: Option<String>,
}

/// `occurredAt`/`date`/`timestamp`: an ISO date-time, or epoch milliseconds.
fn occurred_at(entry: &Map<String, Value>) -> Option<DateTime<Utc>> {
    match first_present(entry, &["occurredAt", "date", "timestamp"])? {
        Value::Number(n) => n.as_i64().and_then(DateTime::<Utc>::from_timestamp_millis),
        Value::String(s) => normalize::parse_date_time(s.trim()).or_else(|| {
            DateTime::parse_from_rfc2822(s.trim())
                .ok()
                .map(|d| d.with_timezone(&Utc))
        }),
        _ => None,
    }
}

impl SyncEntry {
    /// Normalizes entry `index` of a payload.
    pub fn parse(index: usize, entry: &Map<String, Value>) -> Self {
        let optional = |keys: &[&str], max: usize| Some(text_of(entry, keys, max)).filter(|v| !v.is_empty());
        let lower = |keys: &[&str], default: &str| {
            optional(keys, 80)
                .map(|v| v.to_lowercase())
                .unwrap_or_else(|| default.to_string())
        };
        Self {
            index,
            subject: text_of(entry, &["subject", "title", "snippetSubject"], 180),
            summary: text_of(
                entry,
                &["summary", "snippet", "bodySnippet", "preview", "bodyPreview"],
                3000,
            ),
            from: extract_addresses(first_present(entry, &["fromEmail", "from", "sender", "senderEmail"])),
            to: extract_addresses(first_present(
                entry,
                &["toEmails", "to", "recipients", "recipientEmails"],
            )),
            cc: extract_addresses(first_present(entry, &["ccEmails", "cc"])),
            bcc: extract_addresses(first_present(entry, &["bccEmails", "bcc"])),
            actor: optional(&["actorEmail", "userEmail"], 180)
                .map(|a| a.to_lowercase())
                .filter(|a| is_valid_email(a)),
            message_id: optional(&["externalMessageId", "messageId", "gmailMessageId", "id"], 240),
            thread_id: optional(&["externalThreadId", "threadId", "gmailThreadId"], 240),
            provider: lower(&["provider", "sourceProvider"], "gmail"),
            source_method: lower(&["source", "sourceMethod"], "gmail_apps_script"),
            occurred_at: occurred_at(entry),
            labelled_direction: optional(&["direction"], 20)
                .map(|d| d.to_lowercase())
                .filter(|d| d == "inbound" || d == "outbound"),
            event_id: optional(&["eventId"], 120),
        }
    }
}

/// The entries of a payload: `entries`, else `events`, else the payload itself (§7.2 step 4).
pub fn payload_entries(payload: &Map<String, Value>) -> Result<Vec<Map<String, Value>>, ValidationError> {
    let list: Vec<Map<String, Value>> = match (payload.get("entries"), payload.get("events")) {
        (Some(Value::Array(items)), _) | (_, Some(Value::Array(items))) => {
            items.iter().filter_map(Value::as_object).cloned().collect()
        }
        _ => vec![payload.clone()],
    };
    if list.is_empty() {
        return Err(ValidationError::new("No email sync entries were provided.", json!({})));
    }
    if list.len() > MAX_ENTRIES {
        return Err(ValidationError::new(
            format!("At most {MAX_ENTRIES} email entries can be synced per request."),
            json!({"count": list.len()}),
        ));
    }
    Ok(list)
}

/// Who is on the organisation's side: the actor, or an address at an allowed domain.
#[derive(Debug, Clone)]
pub struct Insiders<'a> {
    pub actor: &'a str,
    pub domains: &'a [String],
}

impl Insiders<'_> {
    pub fn contains(&self, address: &str) -> bool {
        address == self.actor || self.domains.iter().any(|d| d == domain_of(address))
    }
}

/// `inbound` or `outbound`. The from addresses decide when there are any (§14.14: the script
/// labels a whole thread one way, so an exec's reply inside an inbox thread arrives "inbound"):
/// a message from someone inside is outbound, from anyone else inbound. Without a from address
/// the label stands; without either, inbound.
pub fn direction(entry: &SyncEntry, insiders: &Insiders<'_>) -> &'static str {
    if !entry.from.is_empty() {
        return if entry.from.iter().any(|a| insiders.contains(a)) {
            "outbound"
        } else {
            "inbound"
        };
    }
    match entry.labelled_direction.as_deref() {
        Some("outbound") => "outbound",
        _ => "inbound",
    }
}

/// The addresses that could be a partner: the senders of an inbound message, the recipients of an
/// outbound one, never someone inside (§14.14: colleagues are not "unmatched").
pub fn candidates(entry: &SyncEntry, direction: &str, insiders: &Insiders<'_>) -> Vec<String> {
    let pool: Vec<&String> = if direction == "inbound" {
        entry.from.iter().collect()
    } else {
        entry.to.iter().chain(&entry.cc).chain(&entry.bcc).collect()
    };
    let mut seen = BTreeSet::new();
    pool.into_iter()
        .filter(|a| !insiders.contains(a))
        .filter(|a| seen.insert((*a).clone()))
        .cloned()
        .collect()
}

fn hex20(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.finalize().iter().take(10).map(|b| format!("{b:02x}")).collect()
}

/// The communication id of `entry` on `partner_id`'s timeline (§2.6 form
/// `sync::<provider>::<partnerId>::<20 hex>`). The provider's message id decides when there is one,
/// so the same message sent three times is one row (§14.14); otherwise a hash of the content.
pub fn communication_id(entry: &SyncEntry, direction: &str, partner_id: &str) -> String {
    let digest = match &entry.message_id {
        Some(message_id) => hex20(&["message", &entry.provider, message_id, partner_id]),
        None => {
            let occurred = entry.occurred_at.map(iso_millis).unwrap_or_default();
            hex20(&[
                "content",
                &entry.provider,
                direction,
                &entry.from.join(","),
                &entry.to.join(","),
                &entry.subject,
                &entry.summary,
                &occurred,
                partner_id,
            ])
        }
    };
    format!("sync::{}::{partner_id}::{digest}", entry.provider)
}

/// The stored summary: the entry's, cut to 2,500 characters, or a line saying who wrote to whom.
pub fn stored_summary(entry: &SyncEntry, direction: &str, sender: &str, recipient: &str) -> String {
    if !entry.summary.is_empty() {
        return truncate_chars(&entry.summary, STORED_SUMMARY_CHARS).to_string();
    }
    let label = if direction == "inbound" { "Inbound" } else { "Outbound" };
    let or = |v: &str, fallback: &str| {
        if v.is_empty() {
            fallback.to_string()
        } else {
            v.to_string()
        }
    };
    format!(
        "{label} email synced automatically. {} -> {}.",
        or(sender, "Unknown sender"),
        or(recipient, "Unknown recipient")
    )
}

/// Who sent and who received, as the timeline shows it: an inbound message was received by the
/// exec (the actor), not by the partner who wrote it (§14.14).
pub fn sender_and_recipient(entry: &SyncEntry, direction: &str, actor: &str, partner_email: &str) -> (String, String) {
    let first_from = entry.from.first().cloned().unwrap_or_default();
    if direction == "inbound" {
        (
            if first_from.is_empty() {
                actor.to_string()
            } else {
                first_from
            },
            actor.to_string(),
        )
    } else {
        (
            if actor.is_empty() {
                first_from
            } else {
                actor.to_string()
            },
            partner_email.to_string(),
        )
    }
}

/// The seven counters of an ingest (§7.2); stored as top-level attributes of a mailbox's status
/// row (so each moves by `ADD`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct SyncStats {
    pub received: u64,
    pub processed: u64,
    pub imported: u64,
    pub duplicates: u64,
    pub unmatched: u64,
    pub skipped: u64,
    pub errors: u64,
}

impl SyncStats {
    /// The counters' attribute names, in the contract's order.
    pub const NAMES: [&'static str; 7] = [
        "received",
        "processed",
        "imported",
        "duplicates",
        "unmatched",
        "skipped",
        "errors",
    ];

    pub fn values(&self) -> [u64; 7] {
        [
            self.received,
            self.processed,
            self.imported,
            self.duplicates,
            self.unmatched,
            self.skipped,
            self.errors,
        ]
    }

    pub fn to_wire(&self) -> Value {
        Value::Object(
            Self::NAMES
                .iter()
                .zip(self.values())
                .map(|(k, v)| (k.to_string(), json!(v)))
                .collect(),
        )
    }

    pub fn add(&mut self, other: &SyncStats) {
        self.received += other.received;
        self.processed += other.processed;
        self.imported += other.imported;
        self.duplicates += other.duplicates;
        self.unmatched += other.unmatched;
        self.skipped += other.skipped;
        self.errors += other.errors;
    }
}

/// The `ingestUrl` of the status route (§7.1): the override, else the status request's own URL
/// with `/status` swapped for `/ingest`.
pub fn ingest_url(
    override_url: Option<&str>,
    proto: Option<&str>,
    host: Option<&str>,
    path: &str,
    stage: Option<&str>,
) -> String {
    if let Some(url) = override_url.filter(|u| !u.is_empty()) {
        return url.to_string();
    }
    let Some(host) = host.filter(|h| !h.is_empty()) else {
        return String::new();
    };
    let proto = proto.filter(|p| !p.is_empty()).unwrap_or("https");
    const STATUS: &str = "/partnerships/email/sync/status";
    const INGEST: &str = "/partnerships/email/sync/ingest";
    let path = if path.contains(STATUS) {
        path.replace(STATUS, INGEST)
    } else if host.starts_with("localhost") || host.starts_with("127.0.0.1") {
        match stage.filter(|s| !s.is_empty() && *s != "$default") {
            Some(stage) => format!("/{stage}{INGEST}"),
            None => INGEST.to_string(),
        }
    } else {
        INGEST.to_string()
    };
    format!("{proto}://{host}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(v: Value) -> SyncEntry {
        SyncEntry::parse(0, v.as_object().unwrap())
    }

    #[test]
    fn addresses_are_extracted_lower_cased_once_each() {
        let v = json!("Ann Lee <Ann@Acme.com>, bob@beta.io; \"Ann\" <ann@acme.com>, not-an-address");
        assert_eq!(extract_addresses(Some(&v)), vec!["ann@acme.com", "bob@beta.io"]);
        assert_eq!(extract_addresses(Some(&json!(["x@y.co", 5]))), vec!["x@y.co"]);
    }

    #[test]
    fn aliases_are_read_in_the_contract_order() {
        let e = entry(
            json!({"title": "T", "snippet": "S", "sender": "a@b.co", "recipients": ["c@d.co"], "gmailMessageId": "m1", "threadId": "t1", "sourceProvider": "Gmail", "timestamp": 1795608000000_i64, "direction": "OUTBOUND"}),
        );
        assert_eq!((e.subject.as_str(), e.summary.as_str()), ("T", "S"));
        assert_eq!(e.from, vec!["a@b.co"]);
        assert_eq!(e.to, vec!["c@d.co"]);
        assert_eq!(e.message_id.as_deref(), Some("m1"));
        assert_eq!(e.provider, "gmail");
        assert_eq!(e.source_method, "gmail_apps_script");
        assert_eq!(
            e.occurred_at.map(iso_millis).as_deref(),
            Some("2026-11-25T12:00:00.000Z")
        );
        assert_eq!(e.labelled_direction.as_deref(), Some("outbound"));
    }

    #[test]
    fn the_from_addresses_decide_the_direction_and_insiders_are_never_candidates() {
        let domains = vec!["example.org".to_string()];
        let insiders = Insiders {
            actor: "me@example.org",
            domains: &domains,
        };
        // The exec's own reply in an inbox thread, labelled inbound by the script.
        let reply = entry(
            json!({"from": "Me <me@example.org>", "to": "p@acme.com, colleague@example.org", "direction": "inbound"}),
        );
        assert_eq!(direction(&reply, &insiders), "outbound");
        assert_eq!(candidates(&reply, "outbound", &insiders), vec!["p@acme.com"]);
        let incoming = entry(json!({"from": "p@acme.com", "to": "me@example.org", "direction": "outbound"}));
        assert_eq!(direction(&incoming, &insiders), "inbound");
        assert_eq!(candidates(&incoming, "inbound", &insiders), vec!["p@acme.com"]);
        assert_eq!(
            direction(&entry(json!({"direction": "outbound"})), &insiders),
            "outbound"
        );
    }

    #[test]
    fn the_message_id_decides_the_dedupe_key() {
        let a = entry(json!({"messageId": "m1", "subject": "x", "occurredAt": "2026-01-01T00:00:00Z"}));
        let b = entry(json!({"messageId": "m1", "subject": "y"}));
        assert_eq!(
            communication_id(&a, "inbound", "p1"),
            communication_id(&b, "inbound", "p1")
        );
        assert_ne!(
            communication_id(&a, "inbound", "p1"),
            communication_id(&a, "inbound", "p2")
        );
        let c = entry(json!({"subject": "x", "summary": "s"}));
        let d = entry(json!({"subject": "x", "summary": "s"}));
        assert_eq!(
            communication_id(&c, "inbound", "p1"),
            communication_id(&d, "inbound", "p1")
        );
        assert!(communication_id(&c, "inbound", "p1").starts_with("sync::gmail::p1::"));
        assert_eq!(
            communication_id(&c, "inbound", "p1").len(),
            "sync::gmail::p1::".len() + 20
        );
    }

    #[test]
    fn payload_forms_and_limits() {
        let one = json!({"actorEmail": "a@b.co", "subject": "s"});
        assert_eq!(payload_entries(one.as_object().unwrap()).unwrap().len(), 1);
        let empty = json!({"entries": []});
        assert_eq!(
            payload_entries(empty.as_object().unwrap()).unwrap_err().message,
            "No email sync entries were provided."
        );
        let many: Vec<Value> = (0..501).map(|_| json!({})).collect();
        let err = payload_entries(json!({"events": many}).as_object().unwrap()).unwrap_err();
        assert_eq!(err.data, json!({"count": 501}));
    }

    #[test]
    fn the_ingest_url_follows_the_status_url() {
        assert_eq!(
            ingest_url(None, None, Some("api.x.org"), "/partnerships/email/sync/status", None),
            "https://api.x.org/partnerships/email/sync/ingest"
        );
        assert_eq!(
            ingest_url(Some("https://o/i"), None, Some("h"), "/", None),
            "https://o/i"
        );
        assert_eq!(
            ingest_url(None, None, None, "/partnerships/email/sync/status", None),
            ""
        );
        assert_eq!(
            ingest_url(None, Some("http"), Some("localhost:4000"), "/", Some("dev")),
            "http://localhost:4000/dev/partnerships/email/sync/ingest"
        );
    }

    #[test]
    fn the_enabled_flag_is_off_unless_it_says_on() {
        assert!(enabled_flag(" Yes "));
        assert!(!enabled_flag(""));
        assert!(!enabled_flag("maybe"));
        assert_eq!(allowed_domains(""), vec!["ubcbiztech.com"]);
    }

    #[test]
    fn inbound_mail_was_received_by_the_exec() {
        let e = entry(json!({"from": "p@acme.com"}));
        assert_eq!(
            sender_and_recipient(&e, "inbound", "me@example.org", "p@acme.com"),
            ("p@acme.com".to_string(), "me@example.org".to_string())
        );
        assert_eq!(
            stored_summary(&e, "inbound", "p@acme.com", "me@example.org"),
            "Inbound email synced automatically. p@acme.com -> me@example.org."
        );
    }
}
