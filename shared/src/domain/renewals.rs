//! Renewals (issue 16.2): the partners who secured a deal in an earlier year and have not been
//! signed up for any event of the year asked about — last year's sponsors to call first.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use super::aggregates::LinkFacts;
use super::event::PartnershipEvent;

/// The event ids whose secured deals a renewal list starts from: every event of an earlier year,
/// or, for `edition_of`, the previous edition of that event — the events of the same name
/// (letter case and spacing aside) in the latest earlier year that has one.
pub fn source_events(events: &[PartnershipEvent], year: i32, edition_of: Option<&PartnershipEvent>) -> Vec<String> {
    let earlier = events.iter().filter(|e| e.year < year);
    match edition_of {
        None => earlier.map(|e| e.id.clone()).collect(),
        Some(event) => {
            let name = edition_name(&event.name);
            let same: Vec<&PartnershipEvent> = earlier.filter(|e| edition_name(&e.name) == name).collect();
            let latest = same.iter().map(|e| e.year).max();
            same.iter()
                .filter(|e| Some(e.year) == latest)
                .map(|e| e.id.clone())
                .collect()
        }
    }
}

/// An event's name as editions share it.
fn edition_name(name: &str) -> String {
    name.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// Each partner's last secured deal: the latest year, then the larger amount, then the newest.
pub fn last_secured_per_partner(deals: &[LinkFacts]) -> Vec<LinkFacts> {
    let mut best: BTreeMap<&str, &LinkFacts> = BTreeMap::new();
    for deal in deals {
        let keep = best
            .get(deal.partner_id.as_str())
            .is_none_or(|current| later_deal(deal, current) == Ordering::Greater);
        if keep {
            best.insert(&deal.partner_id, deal);
        }
    }
    best.into_values().cloned().collect()
}

fn later_deal(a: &LinkFacts, b: &LinkFacts) -> Ordering {
    a.event_year
        .cmp(&b.event_year)
        .then(a.cents().cmp(&b.cents()))
        .then(a.touched().cmp(&b.touched()))
}

/// The candidates whose partner has no link in the year (`linked`: the partners with one).
pub fn not_renewed(candidates: Vec<LinkFacts>, linked: &BTreeSet<String>) -> Vec<LinkFacts> {
    candidates
        .into_iter()
        .filter(|c| !linked.contains(&c.partner_id))
        .collect()
}

/// Renewal order: the largest last amount first, then by company.
pub fn renewal_order(a: (&LinkFacts, &str), b: (&LinkFacts, &str)) -> Ordering {
    b.0.cents()
        .cmp(&a.0.cents())
        .then_with(|| a.1.to_lowercase().cmp(&b.1.to_lowercase()))
        .then_with(|| a.0.partner_id.cmp(&b.0.partner_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, name: &str, year: i32) -> PartnershipEvent {
        PartnershipEvent {
            id: id.into(),
            name: name.into(),
            year,
            ..Default::default()
        }
    }

    fn deal(partner: &str, year: i32, amount: f64) -> LinkFacts {
        LinkFacts {
            id: format!("{partner}-{year}-{amount}"),
            partner_id: partner.into(),
            event_year: year,
            status: "paid".into(),
            amount: Some(amount),
            ..Default::default()
        }
    }

    #[test]
    fn a_year_starts_from_every_earlier_event() {
        let events = [
            event("a", "Summit", 2024),
            event("b", "Gala", 2025),
            event("c", "Summit", 2026),
        ];
        assert_eq!(source_events(&events, 2026, None), ["a", "b"]);
    }

    #[test]
    fn an_event_starts_from_its_previous_edition_only() {
        let events = [
            event("s24", "Summit", 2024),
            event("s25", " summit ", 2025),
            event("g25", "Gala", 2025),
            event("s26", "Summit", 2026),
        ];
        assert_eq!(source_events(&events, 2026, Some(&events[3])), ["s25"]);
        assert!(
            source_events(&events, 2025, Some(&events[2])).is_empty(),
            "a first edition"
        );
    }

    #[test]
    fn a_partners_last_deal_is_its_latest_year_then_its_largest() {
        let deals = [
            deal("p", 2024, 9000.0),
            deal("p", 2025, 1000.0),
            deal("p", 2025, 3000.0),
            deal("q", 2023, 5.0),
        ];
        let last = last_secured_per_partner(&deals);
        assert_eq!(last.len(), 2);
        assert_eq!((last[0].event_year, last[0].amount), (2025, Some(3000.0)));
    }

    #[test]
    fn a_partner_with_a_link_this_year_is_not_a_renewal() {
        let linked = BTreeSet::from(["p".to_string()]);
        let left = not_renewed(vec![deal("p", 2025, 1.0), deal("q", 2025, 1.0)], &linked);
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].partner_id, "q");
    }

    #[test]
    fn renewals_come_largest_first_then_by_company() {
        let (a, b, c) = (deal("a", 2025, 100.0), deal("b", 2025, 500.0), deal("c", 2025, 100.0));
        let mut rows = [(&a, "Zed"), (&b, "Mid"), (&c, "alpha")];
        rows.sort_by(|x, y| renewal_order(*x, *y));
        let order: Vec<&str> = rows.iter().map(|(_, name)| *name).collect();
        assert_eq!(order, ["Mid", "alpha", "Zed"]);
    }
}
