//! Input normalization rules of contract §3, as pure functions over JSON values.
//!
//! Each rule either yields the normalized value or a [`ValidationError`] carrying the contract's
//! exact message and, in `data`, only the offending field (never the whole body).

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::ValidationError;
use super::money::{MAX_AMOUNT, has_at_most_two_decimals};

/// A body field of a partial update: absent, explicitly cleared (`null`/`""`), or set.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Field<T> {
    /// The key was not in the body: leave the stored value alone.
    #[default]
    Missing,
    /// The key was `null` or `""`: store null.
    Null,
    /// A valid value.
    Set(T),
}

impl<T> Field<T> {
    /// The value as an option, treating `Missing` and `Null` alike.
    pub fn into_option(self) -> Option<T> {
        match self {
            Field::Set(v) => Some(v),
            _ => None,
        }
    }

    /// Whether the body mentioned this field at all.
    pub fn is_provided(&self) -> bool {
        !matches!(self, Field::Missing)
    }
}

/// Keeps at most `max` characters.
pub fn truncate_chars(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((byte, _)) => &text[..byte],
        None => text,
    }
}

/// §3.1: non-strings count as empty; strings are trimmed, then cut to `max` characters.
pub fn text(value: Option<&Value>, max: usize) -> String {
    match value {
        Some(Value::String(s)) => truncate_chars(s.trim(), max).trim_end().to_string(),
        _ => String::new(),
    }
}

/// A text field of a request body, validated strictly (a deliberate fix of §14.12): absent is
/// `Missing`, `null` is `Null`, a string is trimmed and must fit `max` characters, and any other
/// JSON type is rejected rather than silently read as empty.
pub fn body_text(value: Option<&Value>, field: &str, max: usize) -> Result<Field<String>, ValidationError> {
    match value {
        None => Ok(Field::Missing),
        Some(Value::Null) => Ok(Field::Null),
        Some(Value::String(s)) => {
            let trimmed = s.trim();
            if trimmed.chars().count() > max {
                return Err(ValidationError::new(
                    format!("'{field}' must be at most {max} characters."),
                    json!({ field: format!("{}…", truncate_chars(trimmed, 40)) }),
                ));
            }
            Ok(Field::Set(trimmed.to_string()))
        }
        Some(_) => Err(ValidationError::new(
            format!("'{field}' must be a string."),
            field_data(field, value),
        )),
    }
}

/// §3.1 for required fields: `'<field>' is required.` when the normalized text is empty.
pub fn required_text(value: Option<&Value>, field: &str, max: usize) -> Result<String, ValidationError> {
    let normalized = text(value, max);
    if normalized.is_empty() {
        return Err(ValidationError::new(
            format!("'{field}' is required."),
            field_data(field, value),
        ));
    }
    Ok(normalized)
}

/// §3.2: cut to `input_max`, lower-case, runs outside `[a-z0-9]` become `_`, trim `_`, cut to `max`.
pub fn slugify(raw: &str, input_max: usize, max: usize) -> String {
    let cut = truncate_chars(raw.trim(), input_max).to_lowercase();
    let mut slug = String::with_capacity(cut.len());
    let mut pending_separator = false;
    for ch in cut.chars() {
        if ch.is_ascii_lowercase() || ch.is_ascii_digit() {
            if pending_separator && !slug.is_empty() {
                slug.push('_');
            }
            pending_separator = false;
            slug.push(ch);
        } else {
            pending_separator = true;
        }
    }
    truncate_chars(&slug, max).trim_end_matches('_').to_string()
}

/// §3.2 for a required slug: 406 `'<field>' must include at least one letter or number.`
pub fn slug_field(value: Option<&Value>, field: &str, input_max: usize, max: usize) -> Result<String, ValidationError> {
    let slug = slugify(&text(value, input_max), input_max, max);
    if slug.is_empty() {
        return Err(ValidationError::new(
            format!("'{field}' must include at least one letter or number."),
            field_data(field, value),
        ));
    }
    Ok(slug)
}

/// §3.2 for an optional slug with a default used when the input is empty.
pub fn slug_or_default(
    value: Option<&Value>,
    field: &str,
    input_max: usize,
    max: usize,
    default: &str,
) -> Result<String, ValidationError> {
    if text(value, input_max).is_empty() {
        return Ok(default.to_string());
    }
    slug_field(value, field, input_max, max)
}

/// Canonical partnership statuses, in display order (§3.3).
pub const CANONICAL_STATUSES: [&str; 10] = [
    "prospecting",
    "pitched",
    "reached_out",
    "shortlist",
    "in_conversation",
    "followed_up",
    "confirmed",
    "paid",
    "declined",
    "backed_out",
];

/// The status given to links without one.
pub const DEFAULT_STATUS: &str = "reached_out";

/// Whether a status slug is one of the ten canonical ones.
pub fn is_canonical_status(status: &str) -> bool {
    CANONICAL_STATUSES.contains(&status)
}

/// Secured statuses count toward secured revenue.
pub fn is_secured_status(status: &str) -> bool {
    matches!(status, "confirmed" | "paid")
}

/// Lost deals: money that will not come.
pub fn is_lost_status(status: &str) -> bool {
    matches!(status, "declined" | "backed_out")
}

/// §3.3: empty → `reached_out`; aliases and custom text both reduce to the slug of the lower-cased text.
pub fn status(value: Option<&Value>) -> Result<String, ValidationError> {
    let raw = text(value, 80);
    if raw.is_empty() {
        return Ok(DEFAULT_STATUS.to_string());
    }
    let slug = slugify(&raw, 80, 60);
    if slug.is_empty() {
        return Err(ValidationError::new(
            "'status' must include at least one letter or number.",
            field_data("status", value),
        ));
    }
    Ok(slug)
}

/// §3.3 `normalizeStoredStatus`: like [`status`], but anything invalid reads as the default.
pub fn stored_status(raw: Option<&str>) -> String {
    let value = raw.map(|s| Value::String(s.to_string()));
    status(value.as_ref()).unwrap_or_else(|_| DEFAULT_STATUS.to_string())
}

/// §3.3 label rule: split on `_`, capitalise each part, join with spaces.
pub fn slug_label(slug: &str) -> String {
    slug.split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// §3.4: a tier slug (input cut to 80, slug ≤ 50); empty gives `""`.
pub fn tier(value: Option<&Value>, field: &str) -> Result<String, ValidationError> {
    if text(value, 80).is_empty() {
        return Ok(String::new());
    }
    slug_field(value, field, 80, 50)
}

/// §3.4 on read: a stored tier re-normalized, `""` when there is none or it cannot be slugged.
pub fn stored_tier(raw: Option<&str>) -> String {
    raw.map(|s| slugify(s, 80, 50)).unwrap_or_default()
}

/// Tag literal that mirrors the `isAlumni` flag.
pub const ALUMNI_TAG: &str = "alumni-partner";
const MAX_TAGS: usize = 30;
const MAX_TAG_LEN: usize = 40;

/// §3.6: an array or comma-separated string; items ≤ 40 characters, empties dropped,
/// case-insensitive dedupe keeping the first spelling, at most 30. Other types give `[]`.
pub fn tags(value: Option<&Value>) -> Vec<String> {
    let items: Vec<Value> = match value {
        Some(Value::Array(items)) => items.clone(),
        Some(Value::String(s)) => s.split(',').map(|part| Value::String(part.to_string())).collect(),
        _ => return Vec::new(),
    };
    let mut seen = std::collections::HashSet::new();
    items
        .iter()
        .map(|item| text(Some(item), MAX_TAG_LEN))
        .filter(|tag| !tag.is_empty() && seen.insert(tag.to_lowercase()))
        .take(MAX_TAGS)
        .collect()
}

/// §3.6 alumni rule: every case variant of the alumni tag is removed, then it is appended when
/// `is_alumni`. Deliberate fix (§14.12): the list never exceeds 30 tags — the alumni tag takes
/// the last slot rather than becoming a 31st.
pub fn with_alumni_tag(mut tags: Vec<String>, is_alumni: bool) -> Vec<String> {
    tags.retain(|tag| !tag.eq_ignore_ascii_case(ALUMNI_TAG));
    if is_alumni {
        tags.truncate(MAX_TAGS - 1);
        tags.push(ALUMNI_TAG.to_string());
    }
    tags
}

/// §3.7 email: trimmed, ≤ 180, lower-cased; validated when non-empty.
pub fn email(value: Option<&Value>, field: &str) -> Result<String, ValidationError> {
    let normalized = text(value, 180).to_lowercase();
    if normalized.is_empty() || is_valid_email(&normalized) {
        return Ok(normalized);
    }
    Err(ValidationError::new(
        format!("'{field}' is invalid."),
        field_data(field, value),
    ))
}

/// The conventional address grammar of §3.7 (quoted or dot-atom local part; IPv4 literal or
/// dotted labels ending in an alphabetic TLD of two or more letters).
pub fn is_valid_email(address: &str) -> bool {
    let Some(at) = address.rfind('@') else {
        return false;
    };
    let (local, domain) = (&address[..at], &address[at + 1..]);
    let local_ok = if local.len() >= 3 && local.starts_with('"') && local.ends_with('"') {
        true
    } else {
        !local.is_empty()
            && local.split('.').all(|atom| {
                !atom.is_empty()
                    && atom
                        .chars()
                        .all(|c| !c.is_whitespace() && !"<>()[]\\.,;:@\"".contains(c))
            })
    };
    local_ok && (is_ipv4_literal(domain) || is_dotted_domain(domain))
}

fn is_ipv4_literal(domain: &str) -> bool {
    let Some(inner) = domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) else {
        return false;
    };
    let parts: Vec<&str> = inner.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
}

fn is_dotted_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let Some((tld, rest)) = labels.split_last() else {
        return false;
    };
    !rest.is_empty()
        && tld.len() >= 2
        && tld.bytes().all(|b| b.is_ascii_alphabetic())
        && rest
            .iter()
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// §3.7 date: cut to 10 characters, `YYYY-MM-DD`, and (a deliberate fix) a real calendar date.
pub fn date(value: Option<&Value>, field: &str) -> Result<Field<String>, ValidationError> {
    let invalid = || {
        ValidationError::new(
            format!("'{field}' must be in YYYY-MM-DD format."),
            field_data(field, value),
        )
    };
    match value {
        None => Ok(Field::Missing),
        Some(Value::Null) => Ok(Field::Null),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Field::Null),
        Some(Value::String(s)) => {
            let cut = truncate_chars(s.trim(), 10);
            if is_calendar_date(cut) {
                Ok(Field::Set(cut.to_string()))
            } else {
                Err(invalid())
            }
        }
        Some(_) => Err(invalid()),
    }
}

/// Whether `text` is exactly `YYYY-MM-DD` and names a day that exists.
pub fn is_calendar_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                *b == b'-'
            } else {
                b.is_ascii_digit()
            }
        })
        && NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok()
}

/// §3.7 ISO date-time: parsed leniently, stored as UTC ISO with milliseconds and `Z`.
pub fn date_time(value: Option<&Value>, field: &str) -> Result<Field<String>, ValidationError> {
    let invalid = || {
        ValidationError::new(
            format!("'{field}' must be a valid ISO date/time."),
            field_data(field, value),
        )
    };
    match value {
        None => Ok(Field::Missing),
        Some(Value::Null) => Ok(Field::Null),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(Field::Null),
        Some(Value::String(s)) => parse_date_time(truncate_chars(s.trim(), 64))
            .map(|t| Field::Set(iso_millis(t)))
            .ok_or_else(invalid),
        Some(_) => Err(invalid()),
    }
}

/// Parses the ISO-8601 forms clients send; a time without an offset is taken as UTC (as on Lambda).
pub fn parse_date_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
    }
    DateTime::parse_from_rfc2822(text).ok().map(|t| t.with_timezone(&Utc))
}

/// Formats a time as JavaScript's `toISOString` does (`2025-01-05T10:00:00.000Z`).
pub fn iso_millis(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// ISO string of an epoch-millisecond timestamp.
pub fn iso_from_millis(millis: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .map(iso_millis)
        .unwrap_or_default()
}

/// JavaScript's `Number(value)` for the JSON types a client may send; `None` when it is NaN.
fn js_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => {
            let t = s.trim();
            if t.is_empty() {
                return Some(0.0);
            }
            if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                return u64::from_str_radix(hex, 16).ok().map(|n| n as f64);
            }
            let looks_numeric = t.bytes().all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
            if looks_numeric { t.parse::<f64>().ok() } else { None }
        }
        _ => None,
    }
}

/// §3.7 year: `Number(value)` must be an integer in 2000–2100.
pub fn year(value: Option<&Value>, field: &str, required: bool) -> Result<Field<i32>, ValidationError> {
    let empty =
        matches!(value, None | Some(Value::Null)) || matches!(value, Some(Value::String(s)) if s.trim().is_empty());
    if empty {
        if required {
            return Err(ValidationError::new(
                format!("'{field}' is required."),
                field_data(field, value),
            ));
        }
        return Ok(if value.is_none() { Field::Missing } else { Field::Null });
    }
    match value.and_then(js_number) {
        Some(n) if n.fract() == 0.0 && (2000.0..=2100.0).contains(&n) => Ok(Field::Set(n as i32)),
        _ => Err(ValidationError::new(
            format!("'{field}' must be a valid year."),
            field_data(field, value),
        )),
    }
}

/// §3.7 amount: null or `""` clear it; otherwise a finite number ≥ 0 (the contract's message
/// otherwise, `-0` included), and — bounds we add so no amount can poison a sum — at most
/// [`MAX_AMOUNT`] with at most 2 decimals.
pub fn amount(value: Option<&Value>, field: &str) -> Result<Field<f64>, ValidationError> {
    match value {
        None => Ok(Field::Missing),
        Some(Value::Null) => Ok(Field::Null),
        Some(Value::String(s)) if s.is_empty() => Ok(Field::Null),
        Some(v) => match js_number(v) {
            Some(n) if n.is_finite() && n >= 0.0 && n.is_sign_positive() => {
                if n <= MAX_AMOUNT && has_at_most_two_decimals(n) {
                    Ok(Field::Set(n))
                } else {
                    Err(ValidationError::new(
                        format!("'{field}' must be at most 1,000,000,000 with at most 2 decimals."),
                        field_data(field, value),
                    ))
                }
            }
            _ => Err(ValidationError::new(
                format!("'{field}' must be a non-negative number."),
                field_data(field, value),
            )),
        },
    }
}

/// Whether a JSON number's text is one DynamoDB can store: zero (never `-0`), or a magnitude
/// from 1e-130 to below 1e126. Judged on the text, before any rounding to `f64` hides `1e-400`
/// as 0 or refuses `1e309`.
pub fn dynamo_number_ok(text: &str) -> bool {
    let text = text.trim();
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(at) => (&unsigned[..at], &unsigned[at + 1..]),
        None => (unsigned, "0"),
    };
    let Ok(exponent) = exponent.trim_start_matches('+').parse::<i64>() else {
        return false;
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: Vec<u8> = int_part.bytes().chain(frac_part.bytes()).collect();
    if !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let Some(first) = digits.iter().position(|&d| d != b'0') else {
        return !negative;
    };
    // value = digits × 10^(exponent − frac len); the leading digit's power of ten:
    let magnitude = (digits.len() - 1 - first) as i64 + exponent - frac_part.len() as i64;
    (-130..=125).contains(&magnitude)
}

/// §3.7 body boolean: must be a JSON boolean when present.
pub fn boolean(value: Option<&Value>, field: &str) -> Result<Option<bool>, ValidationError> {
    match value {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(ValidationError::new(
            format!("'{field}' must be a boolean."),
            field_data(field, value),
        )),
    }
}

/// §3.7 query boolean: `true`/`false` in any case; anything else is ignored.
pub fn query_boolean(raw: Option<&str>) -> Option<bool> {
    match raw.map(|s| s.trim().to_ascii_lowercase()).as_deref() {
        Some("true") => Some(true),
        Some("false") => Some(false),
        _ => None,
    }
}

/// The `data` of a field error: just that field and the value sent.
pub fn field_data(field: &str, value: Option<&Value>) -> Value {
    json!({ field: value.cloned().unwrap_or(Value::Null) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value {
        Value::String(text.to_string())
    }

    #[test]
    fn text_trims_truncates_and_ignores_non_strings() {
        assert_eq!(text(Some(&s("  Acme  ")), 140), "Acme");
        assert_eq!(text(Some(&s("abcdef")), 3), "abc");
        assert_eq!(text(Some(&json!(123)), 140), "");
        assert_eq!(text(Some(&json!(true)), 140), "");
        assert_eq!(text(None, 140), "");
        assert_eq!(text(Some(&s("éèà")), 2), "éè");
    }

    #[test]
    fn body_text_is_strict_about_types_and_length() {
        assert_eq!(body_text(None, "notes", 5).unwrap(), Field::Missing);
        assert_eq!(body_text(Some(&Value::Null), "notes", 5).unwrap(), Field::Null);
        assert_eq!(
            body_text(Some(&s(" hi ")), "notes", 5).unwrap(),
            Field::Set("hi".into())
        );
        assert_eq!(
            body_text(Some(&s("toolong")), "notes", 5).unwrap_err().message,
            "'notes' must be at most 5 characters."
        );
        assert_eq!(
            body_text(Some(&json!(5)), "notes", 5).unwrap_err().message,
            "'notes' must be a string."
        );
    }

    #[test]
    fn required_text_names_the_field() {
        let err = required_text(Some(&json!(123)), "company", 140).unwrap_err();
        assert_eq!(err.message, "'company' is required.");
        assert_eq!(err.data, json!({"company": 123}));
    }

    #[test]
    fn slugify_follows_the_contract() {
        assert_eq!(slugify("Gold Plus", 80, 50), "gold_plus");
        assert_eq!(slugify("  --Reached-Out!! ", 80, 60), "reached_out");
        assert_eq!(slugify("Café Crème", 80, 50), "caf_cr_me");
        assert_eq!(slugify("___", 80, 50), "");
        assert_eq!(slugify(&"a".repeat(100), 80, 50).len(), 50);
        assert_eq!(slugify(&format!("{}_b", "a".repeat(49)), 80, 50), "a".repeat(49));
    }

    #[test]
    fn slug_errors_name_the_field() {
        let err = slug_field(Some(&s("!!!")), "channel", 40, 40).unwrap_err();
        assert_eq!(err.message, "'channel' must include at least one letter or number.");
        assert_eq!(
            slug_or_default(None, "documentType", 50, 50, "general").unwrap(),
            "general"
        );
    }

    #[test]
    fn status_defaults_aliases_and_custom_values() {
        assert_eq!(status(None).unwrap(), "reached_out");
        assert_eq!(status(Some(&s(""))).unwrap(), "reached_out");
        assert_eq!(status(Some(&s("In Conversation"))).unwrap(), "in_conversation");
        assert_eq!(status(Some(&s("backed out"))).unwrap(), "backed_out");
        assert_eq!(status(Some(&s("Reached-Out"))).unwrap(), "reached_out");
        assert_eq!(status(Some(&s("Waiting on Legal"))).unwrap(), "waiting_on_legal");
        assert_eq!(
            status(Some(&s("???"))).unwrap_err().message,
            "'status' must include at least one letter or number."
        );
        assert_eq!(stored_status(Some("???")), "reached_out");
        assert_eq!(stored_status(None), "reached_out");
        assert_eq!(stored_status(Some("PAID")), "paid");
    }

    #[test]
    fn labels_capitalise_each_part() {
        assert_eq!(slug_label("backed_out"), "Backed Out");
        assert_eq!(slug_label("my_custom"), "My Custom");
        assert_eq!(slug_label("gold_plus"), "Gold Plus");
        assert_eq!(slug_label(""), "");
    }

    #[test]
    fn tiers_slug_or_empty() {
        assert_eq!(tier(Some(&s("Gold Plus")), "tier").unwrap(), "gold_plus");
        assert_eq!(tier(None, "tier").unwrap(), "");
        assert_eq!(
            tier(Some(&s("%%")), "tier").unwrap_err().message,
            "'tier' must include at least one letter or number."
        );
        assert_eq!(stored_tier(Some("Silver ")), "silver");
    }

    #[test]
    fn tags_dedupe_case_insensitively_and_cap() {
        assert_eq!(
            tags(Some(&json!(["AI", " ai ", "Fintech", "", 5]))),
            vec!["AI", "Fintech"]
        );
        assert_eq!(tags(Some(&s("a, b,,A"))), vec!["a", "b"]);
        assert_eq!(tags(Some(&json!({"a": 1}))), Vec::<String>::new());
        let many: Vec<String> = (0..40).map(|i| format!("t{i}")).collect();
        assert_eq!(tags(Some(&json!(many))).len(), 30);
        assert_eq!(tags(Some(&json!(["x".repeat(50)])))[0].len(), 40);
    }

    #[test]
    fn alumni_tag_mirrors_the_flag_and_never_makes_31() {
        let t = with_alumni_tag(vec!["Alumni-Partner".into(), "ai".into()], true);
        assert_eq!(t, vec!["ai", "alumni-partner"]);
        assert_eq!(
            with_alumni_tag(vec!["alumni-partner".into()], false),
            Vec::<String>::new()
        );
        let thirty: Vec<String> = (0..30).map(|i| format!("t{i}")).collect();
        let t = with_alumni_tag(thirty, true);
        assert_eq!(t.len(), 30);
        assert_eq!(t.last().map(String::as_str), Some("alumni-partner"));
    }

    #[test]
    fn email_rules() {
        assert_eq!(
            email(Some(&s(" Jane@Example.ORG ")), "email").unwrap(),
            "jane@example.org"
        );
        assert_eq!(email(None, "email").unwrap(), "");
        assert_eq!(
            email(Some(&s("bad")), "email").unwrap_err().message,
            "'email' is invalid."
        );
        for ok in ["a.b@c.io", "\"x y\"@d.com", "u@[10.0.0.1]", "a-b@sub-d.example.co"] {
            assert!(is_valid_email(ok), "{ok}");
        }
        for bad in ["a@b", "a..b@c.io", "a@b.c", "a b@c.io", "@c.io", "a@-.c1", "a@b.c0m"] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn dates_are_cut_and_calendar_checked() {
        assert_eq!(
            date(Some(&s("2025-01-05T10:00Z")), "followUpDate").unwrap(),
            Field::Set("2025-01-05".into())
        );
        assert_eq!(date(None, "d").unwrap(), Field::Missing);
        assert_eq!(date(Some(&Value::Null), "d").unwrap(), Field::Null);
        assert_eq!(date(Some(&s("")), "d").unwrap(), Field::Null);
        let err = date(Some(&s("2025-02-31")), "followUpDate").unwrap_err();
        assert_eq!(err.message, "'followUpDate' must be in YYYY-MM-DD format.");
        assert!(date(Some(&json!(20250101)), "d").is_err());
        assert!(date(Some(&s("2025-1-05")), "d").is_err());
        assert!(date(Some(&s("2024-02-29")), "d").is_ok());
    }

    #[test]
    fn date_times_become_utc_iso() {
        assert_eq!(
            date_time(Some(&s("2025-03-01T10:00:00-08:00")), "occurredAt").unwrap(),
            Field::Set("2025-03-01T18:00:00.000Z".into())
        );
        assert_eq!(
            date_time(Some(&s("2025-03-01")), "occurredAt").unwrap(),
            Field::Set("2025-03-01T00:00:00.000Z".into())
        );
        assert_eq!(
            date_time(Some(&s("2025-03-01T10:00")), "occurredAt").unwrap(),
            Field::Set("2025-03-01T10:00:00.000Z".into())
        );
        assert_eq!(
            date_time(Some(&s("yesterday")), "occurredAt").unwrap_err().message,
            "'occurredAt' must be a valid ISO date/time."
        );
        assert!(date_time(Some(&json!(5)), "occurredAt").is_err());
        assert_eq!(date_time(Some(&Value::Null), "occurredAt").unwrap(), Field::Null);
    }

    #[test]
    fn years() {
        assert_eq!(year(Some(&json!(2025)), "year", true).unwrap(), Field::Set(2025));
        assert_eq!(year(Some(&s("2026")), "year", true).unwrap(), Field::Set(2026));
        assert_eq!(year(None, "year", true).unwrap_err().message, "'year' is required.");
        assert_eq!(
            year(Some(&json!(1999)), "year", true).unwrap_err().message,
            "'year' must be a valid year."
        );
        assert_eq!(
            year(Some(&json!(2025.5)), "year", true).unwrap_err().message,
            "'year' must be a valid year."
        );
        assert_eq!(
            year(Some(&Value::Null), "linkedMainEventYear", false).unwrap(),
            Field::Null
        );
        assert_eq!(year(Some(&s("")), "linkedMainEventYear", false).unwrap(), Field::Null);
    }

    #[test]
    fn amounts() {
        assert_eq!(amount(Some(&json!(12.34)), "amount").unwrap(), Field::Set(12.34));
        assert_eq!(
            amount(Some(&json!(12.345)), "amount").unwrap_err().message,
            "'amount' must be at most 1,000,000,000 with at most 2 decimals."
        );
        assert_eq!(amount(Some(&json!(1e9)), "amount").unwrap(), Field::Set(1e9));
        assert!(amount(Some(&json!(1_000_000_000.01)), "amount").is_err());
        assert!(amount(Some(&json!(9.3e16)), "sponsorshipGoal").is_err());
        assert!(amount(Some(&s("1e126")), "amount").is_err());
        assert_eq!(
            amount(Some(&json!(-0.0)), "amount").unwrap_err().message,
            "'amount' must be a non-negative number."
        );
        assert_eq!(amount(Some(&s("1500")), "amount").unwrap(), Field::Set(1500.0));
        assert_eq!(amount(Some(&s(" ")), "amount").unwrap(), Field::Set(0.0));
        assert_eq!(amount(Some(&json!(true)), "amount").unwrap(), Field::Set(1.0));
        assert_eq!(amount(Some(&Value::Null), "amount").unwrap(), Field::Null);
        assert_eq!(amount(Some(&s("")), "amount").unwrap(), Field::Null);
        assert_eq!(amount(None, "amount").unwrap(), Field::Missing);
        let err = amount(Some(&json!(-1)), "amount").unwrap_err();
        assert_eq!(err.message, "'amount' must be a non-negative number.");
        assert_eq!(err.data, json!({"amount": -1}));
        assert!(amount(Some(&s("12abc")), "amount").is_err());
        assert!(amount(Some(&s("Infinity")), "amount").is_err());
        assert!(amount(Some(&json!([1])), "amount").is_err());
    }

    #[test]
    fn dynamo_numbers_are_judged_on_their_text() {
        for ok in [
            "0",
            "0.0",
            "12.34",
            "-5",
            "1e125",
            "9.99e125",
            "1e-130",
            "123456789e117",
            "0.001e-127",
        ] {
            assert!(dynamo_number_ok(ok), "{ok}");
        }
        for bad in [
            "1e126",
            "1e309",
            "-0",
            "-0.0",
            "1e-400",
            "0.0001e-127",
            "1e99999999999999999999",
            "-1e200",
        ] {
            assert!(!dynamo_number_ok(bad), "{bad}");
        }
    }

    #[test]
    fn booleans() {
        assert_eq!(boolean(Some(&json!(true)), "isAlumni").unwrap(), Some(true));
        assert_eq!(boolean(None, "isAlumni").unwrap(), None);
        assert_eq!(
            boolean(Some(&s("true")), "isAlumni").unwrap_err().message,
            "'isAlumni' must be a boolean."
        );
        assert_eq!(query_boolean(Some("TRUE")), Some(true));
        assert_eq!(query_boolean(Some("False")), Some(false));
        assert_eq!(query_boolean(Some("yes")), None);
    }
}
