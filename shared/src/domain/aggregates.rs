//! What the dashboard reads instead of every link in scope, and what each link change does to
//! it. The stream processor applies [`link_effects`] to the aggregates table; the same rules
//! build the aggregates from a set of links ([`EventAggregate::of_links`]), which is how the tests
//! state that the incremental aggregates equal a recount.
//!
//! - per event, counts and cents per status and the newest link activity;
//! - per event, the links with a follow-up date (by date) and the stale candidates (by their last
//!   touch): the action queue reads only those, never the event's other links;
//! - per year (and over all years), which partners have a link in which events, with counters of
//!   the partners that have one at all and one in an event that is not archived;
//! - per event (and for the communications without one), day tallies of the follow-ups and of the
//!   stale candidates' last touches, so the dashboard counts what is due without reading it, and
//!   the open communication follow-ups by date, so it reads only the ones it shows.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::benefits::Fulfilment;
use super::link::PartnerEventLink;
use super::normalize::{is_calendar_date, is_secured_status, stored_status, truncate_chars};
use super::records::{Communication, EventRef};

/// Statuses that can go stale (custom statuses never do).
pub fn stale_eligible(status: &str) -> bool {
    matches!(
        status,
        "prospecting" | "pitched" | "reached_out" | "shortlist" | "in_conversation" | "followed_up" | "confirmed"
    )
}

/// Deals that are over: their follow-ups no longer need doing.
pub fn is_closed_status(status: &str) -> bool {
    matches!(status, "paid" | "declined" | "backed_out")
}

/// A `YYYY-MM-DD` date as the dashboard reads one: the first 10 characters, a real calendar day.
pub fn parse_date(text: Option<&str>) -> Option<NaiveDate> {
    let cut = truncate_chars(text?, 10);
    if !is_calendar_date(cut) {
        return None;
    }
    NaiveDate::parse_from_str(cut, "%Y-%m-%d").ok()
}

/// What the dashboard needs of one link: the projection kept on the due and stale rows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LinkFacts {
    pub id: String,
    pub partner_id: String,
    pub event_id: String,
    pub event_year: i32,
    pub event_id_year: String,
    pub event_name: String,
    pub status: String,
    pub amount: Option<f64>,
    /// The package tier sold (renewals show last year's).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub package_tier: String,
    pub follow_up_date: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The deal's benefit records (what a secured deal still owes is read from them).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub fulfilment: BTreeMap<String, Fulfilment>,
    /// The partner's names, kept on the queue row by the stream processor (never on the link).
    #[serde(flatten)]
    pub partner: PartnerNames,
}

/// A partner's names as a queue row shows them, at the partner's `version` (0 = not recorded).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PartnerNames {
    #[serde(rename = "partnerCompany", skip_serializing_if = "String::is_empty")]
    pub company: String,
    #[serde(rename = "partnerContactName", skip_serializing_if = "String::is_empty")]
    pub contact_name: String,
    #[serde(rename = "partnerVersion", skip_serializing_if = "is_zero")]
    pub version: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl PartnerNames {
    /// Whether the row carries them.
    pub fn recorded(&self) -> bool {
        self.version > 0
    }
}

impl From<&PartnerEventLink> for LinkFacts {
    fn from(link: &PartnerEventLink) -> Self {
        Self {
            id: link.id.clone(),
            partner_id: link.partner_id.clone(),
            event_id: link.event_id.clone(),
            event_year: link.event_year,
            event_id_year: link.event_id_year.clone(),
            event_name: link.event_name.clone(),
            status: link.status.clone(),
            amount: link.amount,
            package_tier: link.package_tier.clone(),
            follow_up_date: link.follow_up_date.clone(),
            created_at: link.created_at,
            updated_at: link.updated_at,
            fulfilment: link.fulfilment.clone(),
            partner: PartnerNames::default(),
        }
    }
}

impl LinkFacts {
    /// `updatedAt || createdAt`.
    pub fn touched(&self) -> i64 {
        super::touched_at(self.updated_at, self.created_at)
    }

    /// The status re-normalized on read (§3.3).
    pub fn normalized_status(&self) -> String {
        stored_status(Some(&self.status))
    }

    /// The amount in cents (0 when none).
    pub fn cents(&self) -> i64 {
        super::amount_cents(self.amount)
    }

    /// The follow-up date, when it is a real day.
    pub fn due(&self) -> Option<NaiveDate> {
        parse_date(self.follow_up_date.as_deref())
    }

    /// Whether the link can go stale: no follow-up date and a status that goes stale.
    pub fn stale_candidate(&self) -> bool {
        self.due().is_none() && stale_eligible(&self.normalized_status())
    }

    /// Sort key of its due row: the date, then the link id.
    pub fn due_key(&self) -> Option<String> {
        self.due().map(|d| format!("{}#{}", d.format("%Y-%m-%d"), self.id))
    }

    /// Sort key of its row among its event's secured deals (what renewals start from): the
    /// partner, then the link; only a confirmed or paid deal has one.
    pub fn secured_key(&self) -> Option<String> {
        is_secured_status(&self.normalized_status()).then(|| format!("{}#{}", self.partner_id, self.id))
    }

    /// Sort key of its stale-candidate row: the last touch (15 digits, so keys order as
    /// numbers), then the link id.
    pub fn stale_key(&self) -> Option<String> {
        self.stale_candidate()
            .then(|| format!("{:015}#{}", self.touched().max(0), self.id))
    }
}

/// One status's count and cents on an event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusTotals {
    pub count: i64,
    pub cents: i64,
}

/// An event's link aggregate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventAggregate {
    /// Per normalized status.
    pub by_status: BTreeMap<String, StatusTotals>,
    /// The newest `updatedAt || createdAt` of any link written to the event.
    pub last_link_activity_at: i64,
}

impl EventAggregate {
    /// The aggregate of `links` (one event's), as the processor's increments must add up to.
    pub fn of_links<'a>(links: impl IntoIterator<Item = &'a LinkFacts>) -> Self {
        let mut aggregate = Self::default();
        for link in links {
            let totals = aggregate.by_status.entry(link.normalized_status()).or_default();
            totals.count += 1;
            totals.cents = totals.cents.saturating_add(link.cents());
            aggregate.last_link_activity_at = aggregate.last_link_activity_at.max(link.touched());
        }
        aggregate
    }
}

/// A row of a per-event partition (due follow-ups or stale candidates).
#[derive(Debug, Clone, PartialEq)]
pub struct RowKey {
    pub event_id: String,
    pub sort: String,
}

/// A partner's link to an event, counted per year and over all years.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Membership {
    /// `Some(year)`, or `None` for the all-years partition.
    pub year: Option<i32>,
    pub partner_id: String,
    pub event_id: String,
}

/// A status total moved on an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusDelta {
    pub event_id: String,
    pub status: String,
    pub count: i64,
    pub cents: i64,
}

/// Everything one link change does to the aggregates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkEffects {
    pub status_deltas: Vec<StatusDelta>,
    /// `(event, touched)` of the new image.
    pub activity: Option<(String, i64)>,
    pub due_remove: Option<RowKey>,
    pub due_put: Option<(RowKey, LinkFacts)>,
    pub stale_remove: Option<RowKey>,
    pub stale_put: Option<(RowKey, LinkFacts)>,
    /// The row among its event's secured deals.
    pub secured_remove: Option<RowKey>,
    pub secured_put: Option<(RowKey, LinkFacts)>,
    pub memberships_removed: Vec<Membership>,
    pub memberships_added: Vec<Membership>,
    pub tallies: Vec<TallyDelta>,
}

fn memberships(link: &LinkFacts) -> BTreeSet<Membership> {
    let member = |year: Option<i32>| Membership {
        year,
        partner_id: link.partner_id.clone(),
        event_id: link.event_id.clone(),
    };
    let mut set = BTreeSet::from([member(None)]);
    if link.event_year != 0 {
        set.insert(member(Some(link.event_year)));
    }
    set
}

/// What replacing `old` by `new` (either absent: a create or a delete) does to the aggregates.
pub fn link_effects(old: Option<&LinkFacts>, new: Option<&LinkFacts>) -> LinkEffects {
    let mut effects = LinkEffects::default();
    for (link, sign) in [(old, -1), (new, 1)] {
        if let Some(link) = link {
            effects.status_deltas.push(StatusDelta {
                event_id: link.event_id.clone(),
                status: link.normalized_status(),
                count: sign,
                cents: sign * link.cents(),
            });
        }
    }
    // A change that moves no total (a note edited) leaves the status rows alone.
    if let [a, b] = effects.status_deltas.as_slice()
        && a.event_id == b.event_id
        && a.status == b.status
        && a.cents + b.cents == 0
    {
        effects.status_deltas.clear();
    }
    effects.activity = new.map(|l| (l.event_id.clone(), l.touched()));
    let row = |link: &LinkFacts, key: Option<String>| {
        key.map(|sort| RowKey {
            event_id: link.event_id.clone(),
            sort,
        })
    };
    let old_due = old.and_then(|l| row(l, l.due_key()));
    let new_due = new.and_then(|l| row(l, l.due_key()).map(|k| (k, l.clone())));
    effects.due_remove = old_due.filter(|k| new_due.as_ref().is_none_or(|(n, _)| n != k));
    effects.due_put = new_due;
    let old_stale = old.and_then(|l| row(l, l.stale_key()));
    let new_stale = new.and_then(|l| row(l, l.stale_key()).map(|k| (k, l.clone())));
    effects.stale_remove = old_stale.filter(|k| new_stale.as_ref().is_none_or(|(n, _)| n != k));
    effects.stale_put = new_stale;
    let old_secured = old.and_then(|l| row(l, l.secured_key()));
    let new_secured = new.and_then(|l| row(l, l.secured_key()).map(|k| (k, l.clone())));
    effects.secured_remove = old_secured.filter(|k| new_secured.as_ref().is_none_or(|(n, _)| n != k));
    effects.secured_put = new_secured;
    let before = old.map(memberships).unwrap_or_default();
    let after = new.map(memberships).unwrap_or_default();
    effects.memberships_removed = before.difference(&after).cloned().collect();
    effects.memberships_added = after.difference(&before).cloned().collect();
    effects.tallies = summed_tallies(
        [(old, -1), (new, 1)]
            .into_iter()
            .filter_map(|(link, sign)| Some(link_tallies(link?, sign)))
            .flatten()
            .collect::<Vec<_>>()
            .iter(),
    );
    effects
}

/// What one link adds (`sign` 1) to or takes (−1) from its event's day tallies: its follow-up
/// on its date (and as open unless the deal is over), or, as a stale candidate, its last touch.
fn link_tallies(link: &LinkFacts, sign: i64) -> Vec<TallyDelta> {
    let key = QueueKey::Event(link.event_id.clone());
    let delta = |day: NaiveDate, tally: Tally| TallyDelta {
        key: key.clone(),
        day,
        tally,
        delta: sign,
    };
    let mut tallies = Vec::new();
    if let Some(due) = link.due() {
        tallies.push(delta(due, Tally::LinkDue));
        if !is_closed_status(&link.normalized_status()) {
            tallies.push(delta(due, Tally::LinkDueOpen));
        }
    } else if link.stale_candidate()
        && let Some(day) = day_of_millis(link.touched())
    {
        tallies.push(delta(day, Tally::Stale));
    }
    tallies
}

/// The UTC day of an epoch-milliseconds instant.
pub fn day_of_millis(ms: i64) -> Option<NaiveDate> {
    DateTime::<Utc>::from_timestamp_millis(ms).map(|t| t.date_naive())
}

/// What is tallied per day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tally {
    /// Links with a follow-up that day.
    LinkDue,
    /// Those of them whose deal is not over.
    LinkDueOpen,
    /// Stale candidates last touched that day.
    Stale,
    /// Open communication follow-ups that day.
    CommDue,
}

impl Tally {
    pub const ALL: [Tally; 4] = [Tally::LinkDue, Tally::LinkDueOpen, Tally::Stale, Tally::CommDue];

    /// Its attribute name on a stored tally row.
    pub fn attr(self) -> &'static str {
        match self {
            Tally::LinkDue => "ld",
            Tally::LinkDueOpen => "lo",
            Tally::Stale => "st",
            Tally::CommDue => "cd",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One count per [`Tally`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts([i64; 4]);

impl Counts {
    pub fn get(&self, tally: Tally) -> i64 {
        self.0[tally.index()]
    }

    pub fn add(&mut self, tally: Tally, n: i64) {
        self.0[tally.index()] = self.0[tally.index()].saturating_add(n);
    }

    fn plus(&mut self, other: &Counts) {
        for tally in Tally::ALL {
            self.add(tally, other.get(tally));
        }
    }
}

/// Whose tallies and queue rows: an event's (also one deleted since), or the communications'
/// without an event.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QueueKey {
    Event(String),
    General,
}

impl QueueKey {
    fn of(event: &EventRef) -> Self {
        event.id().map_or(Self::General, |id| Self::Event(id.to_string()))
    }
}

/// A tally moved on a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TallyDelta {
    pub key: QueueKey,
    pub day: NaiveDate,
    pub tally: Tally,
    pub delta: i64,
}

/// Tally deltas summed per key, day and tally (zero sums dropped).
pub fn summed_tallies<'a>(deltas: impl IntoIterator<Item = &'a TallyDelta>) -> Vec<TallyDelta> {
    let mut sums: BTreeMap<(QueueKey, NaiveDate, Tally), i64> = BTreeMap::new();
    for d in deltas {
        *sums.entry((d.key.clone(), d.day, d.tally)).or_default() += d.delta;
    }
    sums.into_iter()
        .filter(|(_, delta)| *delta != 0)
        .map(|((key, day, tally), delta)| TallyDelta { key, day, tally, delta })
        .collect()
}

/// One key's day tallies: every day from some date on, and the sum of all days before it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DayTallies {
    /// The days before the first of `days` that were read (whole years).
    pub earlier: Counts,
    pub days: BTreeMap<NaiveDate, Counts>,
}

impl DayTallies {
    pub fn add(&mut self, day: NaiveDate, tally: Tally, n: i64) {
        self.days.entry(day).or_default().add(tally, n);
    }

    /// Everything before `day` (which must not precede the days read).
    pub fn before(&self, day: NaiveDate) -> Counts {
        let mut sum = self.earlier;
        self.days.range(..day).for_each(|(_, c)| sum.plus(c));
        sum
    }

    /// Everything from `first` to `last`, both included.
    pub fn between(&self, first: NaiveDate, last: NaiveDate) -> Counts {
        let mut sum = Counts::default();
        if first <= last {
            self.days.range(first..=last).for_each(|(_, c)| sum.plus(c));
        }
        sum
    }
}

/// What the dashboard needs of one communication: the projection kept on its queue row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CommFacts {
    pub id: String,
    pub partner_id: String,
    pub subject: String,
    pub follow_up_date: Option<String>,
    pub follow_up_done: bool,
    #[serde(flatten)]
    pub event: EventRef,
    pub updated_at: i64,
    #[serde(flatten)]
    pub partner: PartnerNames,
}

impl From<&Communication> for CommFacts {
    fn from(comm: &Communication) -> Self {
        Self {
            id: comm.id.clone(),
            partner_id: comm.partner_id.clone(),
            subject: comm.subject.clone(),
            follow_up_date: comm.follow_up_date.clone(),
            follow_up_done: comm.follow_up_done,
            event: comm.event.clone(),
            updated_at: comm.audit.updated_at,
            partner: PartnerNames::default(),
        }
    }
}

impl CommFacts {
    /// The day of its open follow-up (none once done).
    pub fn due(&self) -> Option<NaiveDate> {
        if self.follow_up_done {
            return None;
        }
        parse_date(self.follow_up_date.as_deref())
    }

    /// Whose queue it is in.
    pub fn key(&self) -> QueueKey {
        QueueKey::of(&self.event)
    }

    /// Sort key of its queue row: the date, then the communication id.
    pub fn due_key(&self) -> Option<String> {
        self.due().map(|d| format!("{}#{}", d.format("%Y-%m-%d"), self.id))
    }
}

/// Everything one communication change does to the aggregates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommEffects {
    pub due_remove: Option<(QueueKey, String)>,
    pub due_put: Option<(QueueKey, String, CommFacts)>,
    pub tallies: Vec<TallyDelta>,
}

/// What replacing `old` by `new` (either absent) does to the open follow-ups.
pub fn comm_effects(old: Option<&CommFacts>, new: Option<&CommFacts>) -> CommEffects {
    let row = |c: &CommFacts| c.due_key().map(|sort| (c.key(), sort));
    let old_row = old.and_then(row);
    let new_row = new.and_then(|c| row(c).map(|(key, sort)| (key, sort, c.clone())));
    let tallies: Vec<TallyDelta> = [(old, -1), (new, 1)]
        .into_iter()
        .filter_map(|(comm, sign)| {
            let comm = comm?;
            Some(TallyDelta {
                key: comm.key(),
                day: comm.due()?,
                tally: Tally::CommDue,
                delta: sign,
            })
        })
        .collect();
    CommEffects {
        due_remove: old_row.filter(|(k, s)| new_row.as_ref().is_none_or(|(nk, ns, _)| (nk, ns) != (k, s))),
        due_put: new_row,
        tallies: summed_tallies(&tallies),
    }
}

/// The status deltas of a batch, summed per event and status (zero sums dropped).
pub fn summed_status_deltas<'a>(deltas: impl IntoIterator<Item = &'a StatusDelta>) -> Vec<StatusDelta> {
    let mut sums: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
    for d in deltas {
        let entry = sums.entry((d.event_id.clone(), d.status.clone())).or_default();
        entry.0 += d.count;
        entry.1 = entry.1.saturating_add(d.cents);
    }
    sums.into_iter()
        .filter(|(_, (count, cents))| *count != 0 || *cents != 0)
        .map(|((event_id, status), (count, cents))| StatusDelta {
            event_id,
            status,
            count,
            cents,
        })
        .collect()
}

/// A partner's membership row: the events it has a link to in one partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemberRow {
    pub events: BTreeSet<String>,
    pub version: u64,
}

/// How one partition's partner counters move when a member row goes from `before` to `after`.
/// `archived` says which events are archived (a partner counts as visible while one of its
/// events is not).
pub fn member_counter_delta(
    before: &BTreeSet<String>,
    after: &BTreeSet<String>,
    archived: &BTreeSet<String>,
) -> (i64, i64) {
    let counted = |events: &BTreeSet<String>| {
        (
            i64::from(!events.is_empty()),
            i64::from(events.iter().any(|e| !archived.contains(e))),
        )
    };
    let (all_before, visible_before) = counted(before);
    let (all_after, visible_after) = counted(after);
    (all_after - all_before, visible_after - visible_before)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(status: &str, amount: Option<f64>, follow_up: Option<&str>, touched: i64) -> LinkFacts {
        LinkFacts {
            id: "p1::e1".into(),
            partner_id: "p1".into(),
            event_id: "e1".into(),
            event_year: 2026,
            event_id_year: "e1#2026".into(),
            event_name: "Blueprint".into(),
            status: status.into(),
            amount,
            package_tier: String::new(),
            follow_up_date: follow_up.map(str::to_string),
            created_at: 1,
            updated_at: touched,
            fulfilment: BTreeMap::new(),
            partner: PartnerNames::default(),
        }
    }

    #[test]
    fn a_create_adds_its_status_activity_rows_and_memberships() {
        let new = link("pitched", Some(100.0), Some("2026-12-05"), 50);
        let effects = link_effects(None, Some(&new));
        assert_eq!(
            effects.status_deltas,
            vec![StatusDelta {
                event_id: "e1".into(),
                status: "pitched".into(),
                count: 1,
                cents: 10_000
            }]
        );
        assert_eq!(effects.activity, Some(("e1".into(), 50)));
        assert_eq!(
            effects.due_put.as_ref().map(|(k, _)| k.sort.as_str()),
            Some("2026-12-05#p1::e1")
        );
        assert!(
            effects.stale_put.is_none(),
            "a dated follow-up is not a stale candidate"
        );
        assert_eq!(effects.memberships_added.len(), 2, "the year and all years");
        assert!(effects.memberships_removed.is_empty());
    }

    #[test]
    fn a_status_change_moves_the_totals_between_statuses() {
        let old = link("pitched", Some(100.0), None, 10);
        let new = link("paid", Some(100.0), None, 20);
        let effects = link_effects(Some(&old), Some(&new));
        assert_eq!(effects.status_deltas.len(), 2);
        assert_eq!(effects.status_deltas[0].count, -1);
        assert_eq!(effects.status_deltas[1].status, "paid");
        assert_eq!(effects.stale_remove.map(|k| k.sort), Some(format!("{:015}#p1::e1", 10)));
        assert!(effects.stale_put.is_none(), "paid deals do not go stale");
        assert!(effects.memberships_added.is_empty() && effects.memberships_removed.is_empty());
    }

    #[test]
    fn an_edit_that_moves_no_total_writes_no_status_row() {
        let old = link("pitched", Some(100.0), None, 10);
        let new = LinkFacts {
            updated_at: 30,
            ..old.clone()
        };
        let effects = link_effects(Some(&old), Some(&new));
        assert!(effects.status_deltas.is_empty());
        assert!(
            effects.stale_remove.is_some() && effects.stale_put.is_some(),
            "the touch moved"
        );
    }

    #[test]
    fn moving_a_follow_up_replaces_its_row_and_keeping_it_rewrites_in_place() {
        let old = link("pitched", None, Some("2026-12-05"), 10);
        let moved = link("pitched", None, Some("2026-12-09"), 20);
        let effects = link_effects(Some(&old), Some(&moved));
        assert_eq!(
            effects.due_remove.map(|k| k.sort),
            Some("2026-12-05#p1::e1".to_string())
        );
        let same_day = link("shortlist", None, Some("2026-12-05"), 20);
        let effects = link_effects(Some(&old), Some(&same_day));
        assert!(effects.due_remove.is_none(), "same key: the put replaces it");
        assert_eq!(effects.due_put.map(|(_, f)| f.status), Some("shortlist".to_string()));
    }

    #[test]
    fn a_delete_undoes_the_create() {
        let old = link("confirmed", Some(40.0), None, 10);
        let effects = link_effects(Some(&old), None);
        assert_eq!(effects.status_deltas[0].count, -1);
        assert_eq!(effects.status_deltas[0].cents, -4_000);
        assert!(effects.activity.is_none());
        assert!(effects.stale_remove.is_some());
        assert_eq!(effects.memberships_removed.len(), 2);
    }

    #[test]
    fn a_year_change_moves_the_year_membership_only() {
        let old = link("pitched", None, None, 10);
        let new = LinkFacts {
            event_year: 2027,
            ..old.clone()
        };
        let effects = link_effects(Some(&old), Some(&new));
        assert_eq!(
            effects.memberships_removed.iter().map(|m| m.year).collect::<Vec<_>>(),
            vec![Some(2026)]
        );
        assert_eq!(
            effects.memberships_added.iter().map(|m| m.year).collect::<Vec<_>>(),
            vec![Some(2027)]
        );
    }

    #[test]
    fn batch_deltas_sum_and_cancel() {
        let a = link("pitched", Some(10.0), None, 1);
        let b = link("paid", Some(10.0), None, 2);
        let deltas: Vec<StatusDelta> = [link_effects(None, Some(&a)), link_effects(Some(&a), Some(&b))]
            .into_iter()
            .flat_map(|e| e.status_deltas)
            .collect();
        let summed = summed_status_deltas(&deltas);
        assert_eq!(summed.len(), 1, "pitched +1 −1 cancels");
        assert_eq!((summed[0].status.as_str(), summed[0].count), ("paid", 1));
    }

    #[test]
    fn member_counters_count_partners_not_links() {
        let set = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        let archived = set(&["old"]);
        assert_eq!(member_counter_delta(&set(&[]), &set(&["e1"]), &archived), (1, 1));
        assert_eq!(
            member_counter_delta(&set(&["e1"]), &set(&["e1", "e2"]), &archived),
            (0, 0)
        );
        assert_eq!(member_counter_delta(&set(&[]), &set(&["old"]), &archived), (1, 0));
        assert_eq!(
            member_counter_delta(&set(&["old"]), &set(&["old", "e1"]), &archived),
            (0, 1)
        );
        assert_eq!(member_counter_delta(&set(&["e1"]), &set(&[]), &archived), (-1, -1));
    }

    #[test]
    fn the_aggregate_of_links_sums_per_status() {
        let links = [
            link("pitched", Some(10.0), None, 5),
            link("pitched", Some(2.5), None, 9),
            link("paid", None, None, 7),
        ];
        let aggregate = EventAggregate::of_links(&links);
        assert_eq!(aggregate.by_status["pitched"], StatusTotals { count: 2, cents: 1_250 });
        assert_eq!(aggregate.by_status["paid"], StatusTotals { count: 1, cents: 0 });
        assert_eq!(aggregate.last_link_activity_at, 9);
    }

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_follow_up_is_tallied_on_its_day_and_as_open_until_the_deal_is_over() {
        let open = link("pitched", None, Some("2026-12-05"), 10);
        let tallies = link_effects(None, Some(&open)).tallies;
        let kinds: Vec<(Tally, i64)> = tallies.iter().map(|t| (t.tally, t.delta)).collect();
        assert_eq!(kinds, vec![(Tally::LinkDue, 1), (Tally::LinkDueOpen, 1)]);
        assert!(tallies.iter().all(|t| t.day == day("2026-12-05")));
        let paid = link("paid", None, Some("2026-12-05"), 20);
        let moved = link_effects(Some(&open), Some(&paid)).tallies;
        assert_eq!(
            moved.iter().map(|t| (t.tally, t.delta)).collect::<Vec<_>>(),
            vec![(Tally::LinkDueOpen, -1)],
            "still due that day, no longer open"
        );
    }

    #[test]
    fn a_stale_candidate_is_tallied_on_the_day_it_was_last_touched() {
        let at = |text: &str| day(text).and_hms_opt(12, 0, 0).unwrap().and_utc().timestamp_millis();
        let old = link("pitched", None, None, at("2026-10-01"));
        let touched = link("pitched", None, None, at("2026-11-20"));
        let tallies = link_effects(Some(&old), Some(&touched)).tallies;
        assert_eq!(
            tallies.iter().map(|t| (t.day, t.delta)).collect::<Vec<_>>(),
            vec![(day("2026-10-01"), -1), (day("2026-11-20"), 1)]
        );
        assert!(
            link_effects(None, Some(&link("paid", None, None, 5)))
                .tallies
                .is_empty(),
            "a paid deal never goes stale"
        );
    }

    #[test]
    fn day_tallies_count_before_a_day_and_between_two() {
        let mut tallies = DayTallies::default();
        tallies.earlier.add(Tally::LinkDue, 4);
        for (d, n) in [
            ("2026-11-30", 1),
            ("2026-12-01", 2),
            ("2026-12-02", 3),
            ("2026-12-20", 5),
        ] {
            tallies.add(day(d), Tally::LinkDue, n);
        }
        assert_eq!(
            tallies.before(day("2026-12-02")).get(Tally::LinkDue),
            7,
            "earlier years, then the days before"
        );
        assert_eq!(
            tallies
                .between(day("2026-12-02"), day("2026-12-20"))
                .get(Tally::LinkDue),
            8,
            "both ends included"
        );
        assert_eq!(
            tallies
                .between(day("2026-12-21"), day("2026-12-02"))
                .get(Tally::LinkDue),
            0
        );
        assert_eq!(
            tallies.before(day("2026-12-02")).get(Tally::Stale),
            0,
            "each tally apart"
        );
    }

    #[test]
    fn a_communication_follow_up_leaves_its_queue_when_done_and_moves_with_its_event() {
        let comm = CommFacts {
            id: "c1".into(),
            follow_up_date: Some("2026-12-05".into()),
            event: EventRef {
                event_id: Some("e1".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let created = comm_effects(None, Some(&comm));
        assert_eq!(
            created.due_put.as_ref().map(|(k, s, _)| (k.clone(), s.as_str())),
            Some((QueueKey::Event("e1".into()), "2026-12-05#c1"))
        );
        let done = CommFacts {
            follow_up_done: true,
            ..comm.clone()
        };
        let finished = comm_effects(Some(&comm), Some(&done));
        assert!(finished.due_put.is_none());
        assert_eq!(
            finished.due_remove,
            Some((QueueKey::Event("e1".into()), "2026-12-05#c1".into()))
        );
        assert_eq!(finished.tallies.iter().map(|t| t.delta).collect::<Vec<_>>(), vec![-1]);
        let general = CommFacts {
            event: EventRef::default(),
            ..comm.clone()
        };
        let moved = comm_effects(Some(&comm), Some(&general));
        assert_eq!(moved.due_remove.map(|(k, _)| k), Some(QueueKey::Event("e1".into())));
        assert_eq!(moved.due_put.map(|(k, _, _)| k), Some(QueueKey::General));
        assert_eq!(
            moved.tallies.len(),
            2,
            "out of the event's tallies, into the general ones"
        );
    }

    #[test]
    fn a_secured_deal_has_a_row_among_the_secured_and_loses_it_when_it_falls_through() {
        let pitched = link("pitched", Some(100.0), None, 10);
        let paid = LinkFacts {
            status: "paid".into(),
            ..pitched.clone()
        };
        let won = link_effects(Some(&pitched), Some(&paid));
        assert_eq!(
            won.secured_put.map(|(k, _)| k.sort),
            Some(format!("{}#{}", paid.partner_id, paid.id))
        );
        assert!(won.secured_remove.is_none());
        let lost = link_effects(Some(&paid), Some(&pitched));
        assert!(lost.secured_put.is_none() && lost.secured_remove.is_some());
        let deleted = link_effects(Some(&paid), None);
        assert!(deleted.secured_remove.is_some());
    }
}
