//! Response orderings of contract §3.8.
//!
//! Collation (§14.25): strings are compared after lower-casing, by Unicode code point. That is
//! deterministic for every script and identical to the peer's UTF-16 code-unit order for ASCII
//! and for all text outside the astral planes.

use std::cmp::Ordering;

use super::normalize::truncate_chars;

/// The partner sort key: company (trimmed, lower-cased, ≤ 140), contact name, then newest first.
pub fn compare_partners(a: (&str, &str, i64), b: (&str, &str, i64)) -> Ordering {
    let key = |company: &str, contact: &str| {
        (
            truncate_chars(company.trim(), 140).to_lowercase(),
            contact.trim().to_lowercase(),
        )
    };
    key(a.0, a.1).cmp(&key(b.0, b.1)).then(b.2.cmp(&a.2))
}

/// Newest first by `updatedAt || createdAt`.
pub fn newest_first(a_touched: i64, b_touched: i64) -> Ordering {
    b_touched.cmp(&a_touched)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partners_sort_by_company_then_contact_then_newest() {
        let mut rows = vec![
            ("beta", "Z", 1),
            ("Alpha", "b", 1),
            ("alpha ", "a", 1),
            ("alpha", "a", 5),
        ];
        rows.sort_by(|a, b| compare_partners(*a, *b));
        assert_eq!(
            rows,
            vec![
                ("alpha", "a", 5),
                ("alpha ", "a", 1),
                ("Alpha", "b", 1),
                ("beta", "Z", 1)
            ]
        );
    }

    #[test]
    fn non_ascii_orders_deterministically_after_ascii() {
        let mut rows = [("Zeta", "", 0), ("Émile", "", 0), ("apple", "", 0)];
        rows.sort_by(|a, b| compare_partners(*a, *b));
        assert_eq!(rows[0].0, "apple");
        assert_eq!(rows[1].0, "Zeta");
        assert_eq!(rows[2].0, "Émile");
    }

    #[test]
    fn newest_first_orders_descending() {
        let mut v = vec![1, 3, 2];
        v.sort_by(|a, b| newest_first(*a, *b));
        assert_eq!(v, vec![3, 2, 1]);
    }
}
