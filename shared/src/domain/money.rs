//! Money: every amount the API accepts is bounded, and every sum of amounts or counters
//! saturates instead of overflowing, so no stored item — even one written before the bounds, or
//! outside the API — can make a read fail.

use serde::{Deserialize, Deserializer};

/// The largest amount (link `amount`, tier `defaultAmount`, `sponsorshipGoal`) the API accepts.
pub const MAX_AMOUNT: f64 = 1_000_000_000.0;

/// [`MAX_AMOUNT`] in cents.
pub const MAX_CENTS: i64 = 100_000_000_000;

/// Whether `amount` has at most two decimals, judged on its shortest round-trip text (what the
/// client typed: `12.34` yes, `12.345` no).
pub fn has_at_most_two_decimals(amount: f64) -> bool {
    let text = amount.to_string();
    text.split_once('.').is_none_or(|(_, fraction)| fraction.len() <= 2)
}

/// An amount in whole cents, clamped to `0..=MAX_CENTS` (a stored amount beyond the bounds
/// counts as the bound; NaN counts as nothing).
pub fn to_cents(amount: f64) -> i64 {
    if !amount.is_finite() {
        return 0;
    }
    ((amount * 100.0).round() as i64).clamp(0, MAX_CENTS)
}

/// Cents back to a JSON-friendly amount.
pub fn from_cents(cents: i64) -> f64 {
    cents as f64 / 100.0
}

/// Sums cents without ever overflowing.
pub fn sum_cents(values: impl IntoIterator<Item = i64>) -> i64 {
    values.into_iter().fold(0, i64::saturating_add)
}

/// Reads a stored integer counter whatever DynamoDB holds: beyond `i64` it saturates, a
/// fraction truncates; a read never fails on a counter's size.
pub fn saturating_i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Stored {
        Int(i64),
        Unsigned(u64),
        Float(f64),
    }
    Ok(match Option::<Stored>::deserialize(deserializer)? {
        Some(Stored::Int(n)) => n,
        Some(Stored::Unsigned(n)) => i64::try_from(n).unwrap_or(i64::MAX),
        Some(Stored::Float(f)) if f.is_nan() => 0,
        Some(Stored::Float(f)) => f as i64,
        None => 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_are_clamped_to_the_bounds() {
        assert_eq!(to_cents(12.34), 1234);
        assert_eq!(to_cents(9.3e16), MAX_CENTS);
        assert_eq!(to_cents(-5.0), 0);
        assert_eq!(to_cents(f64::NAN), 0);
    }

    #[test]
    fn sums_saturate() {
        assert_eq!(sum_cents([i64::MAX, 1, 2]), i64::MAX);
        assert_eq!(sum_cents([1, 2]), 3);
    }

    #[test]
    fn decimals_are_counted_as_typed() {
        assert!(has_at_most_two_decimals(12.34));
        assert!(has_at_most_two_decimals(999_999_999.99));
        assert!(has_at_most_two_decimals(5.0));
        assert!(!has_at_most_two_decimals(12.345));
        assert!(!has_at_most_two_decimals(0.001));
    }

    #[test]
    fn stored_counters_beyond_i64_saturate() {
        #[derive(Deserialize)]
        struct Row {
            #[serde(deserialize_with = "saturating_i64")]
            n: i64,
        }
        let read = |text: &str| serde_json::from_str::<Row>(text).map(|r| r.n).unwrap();
        assert_eq!(read(r#"{"n": 18600000000000000000000}"#), i64::MAX);
        assert_eq!(read(r#"{"n": 18446744073709551615}"#), i64::MAX);
        assert_eq!(read(r#"{"n": -3}"#), -3);
        assert_eq!(read(r#"{"n": 2.5}"#), 2);
    }
}
