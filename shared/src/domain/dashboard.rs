//! The revenue-vs-goal dashboard of contract §6, as pure functions: parameter clamping, scoping,
//! goal pace, pipeline shares, per-event revenue and the action queue. Money is summed in
//! cents; percentages are clamped ratios × 100 rounded to 2 decimals.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use serde_json::{Map, Value, json};

use super::aggregates::{
    CommFacts, DayTallies, EventAggregate, LinkFacts, PartnerNames, QueueKey, Tally, comm_effects, link_effects,
    parse_date, stale_eligible,
};
use super::benefits::{Benefit, BenefitCatalog};
use super::event::{PartnershipEvent, compare_events};
use super::forecast::Probabilities;
use super::money::{from_cents, sum_cents, to_cents};
use super::normalize::{is_lost_status, is_secured_status, slug_label, stored_status, text};
use super::partner::Partner;

/// Days without activity after which an open deal is stale, and after which it is overdue.
const STALE_DAYS: i64 = 14;
const STALE_OVERDUE_DAYS: i64 = 30;

/// Validated dashboard parameters (§6.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DashboardParams {
    pub year: Option<i32>,
    pub event_id: Option<String>,
    pub include_archived: bool,
    pub upcoming_window_days: i64,
    pub action_limit: usize,
    /// Only the partners this email owns (issue 15's `owner=me`), resolved by the caller.
    pub owner: Option<String>,
}

/// An integer parameter clamped to `[min, max]`; a non-integer gives `default`, an empty value
/// counts as 0 (so it clamps to `min`), as the peer's `Number("")` did.
fn clamped(raw: Option<&String>, min: i64, max: i64, default: i64) -> i64 {
    let Some(raw) = raw else { return default };
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return min.max(0);
    }
    match trimmed.parse::<f64>() {
        Ok(n) if n.fract() == 0.0 && n.is_finite() => (n as i64).clamp(min, max),
        _ => default,
    }
}

impl DashboardParams {
    /// Parses the query; invalid years are silently ignored, numbers clamped.
    pub fn parse(params: &HashMap<String, String>) -> Self {
        let year = params
            .get("year")
            .map(|y| y.trim().to_lowercase())
            .filter(|y| !y.is_empty() && y != "all" && y != "auto")
            .and_then(|y| y.parse::<f64>().ok())
            .filter(|y| y.fract() == 0.0 && (2000.0..=2100.0).contains(y))
            .map(|y| y as i32);
        let event_id = Some(text(
            params.get("eventId").map(|v| Value::String(v.clone())).as_ref(),
            120,
        ))
        .filter(|e| !e.is_empty());
        Self {
            year,
            event_id,
            include_archived: super::normalize::query_boolean(params.get("includeArchived").map(String::as_str))
                == Some(true),
            upcoming_window_days: clamped(params.get("upcomingWindowDays"), 7, 90, 21),
            action_limit: clamped(params.get("actionLimit"), 10, 200, 40) as usize,
            owner: None,
        }
    }
}

/// A ratio as a percentage: clamped to [0, 1], × 100, rounded to 2 decimals.
pub fn pct(ratio: f64) -> f64 {
    if !ratio.is_finite() {
        return 0.0;
    }
    (ratio.clamp(0.0, 1.0) * 10_000.0).round() / 100.0
}

fn midnight_ms(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc().timestamp_millis())
        .unwrap_or(0)
}

/// The fraction of `year` elapsed at `today` (0 before Jan 1, 1 after Dec 31 23:59:59.999Z).
pub fn year_fraction(year: i32, today: NaiveDate) -> f64 {
    let start = Utc
        .with_ymd_and_hms(year, 1, 1, 0, 0, 0)
        .single()
        .map(|t| t.timestamp_millis());
    let end = Utc
        .with_ymd_and_hms(year + 1, 1, 1, 0, 0, 0)
        .single()
        .map(|t| t.timestamp_millis() - 1);
    let (Some(start), Some(end)) = (start, end) else {
        return 0.0;
    };
    ((midnight_ms(today) - start) as f64 / (end - start) as f64).clamp(0.0, 1.0)
}

/// The expected fraction of an event's goal secured by `today` (§6.3 `targetRatio`): across the
/// outreach (or start) to end window, else across the event's calendar year.
pub fn target_ratio(event: &PartnershipEvent, today: NaiveDate) -> f64 {
    let start = parse_date(event.outreach_start_date.as_deref()).or_else(|| parse_date(event.start_date.as_deref()));
    let end = parse_date(event.end_date.as_deref());
    match (start, end) {
        (Some(start), Some(end)) => {
            let total = midnight_ms(end) - midnight_ms(start);
            if total <= 0 {
                return if today >= end { 1.0 } else { 0.0 };
            }
            ((midnight_ms(today) - midnight_ms(start)) as f64 / total as f64).clamp(0.0, 1.0)
        }
        _ if event.year != 0 => year_fraction(event.year, today),
        _ => 0.0,
    }
}

/// `ahead` / `on_track` / `behind` / `not_started` / `no_goal`.
pub fn pace_status(has_goal: bool, progress: f64, expected: f64) -> &'static str {
    if !has_goal {
        "no_goal"
    } else if expected <= 0.0 {
        "not_started"
    } else if progress >= expected + 0.08 {
        "ahead"
    } else if progress >= expected - 0.05 {
        "on_track"
    } else {
        "behind"
    }
}

/// Goal pace figures shared by `annual` and each `revenueByEvent` row.
fn goal_block(goal_cents: i64, secured_cents: i64, expected: f64) -> Map<String, Value> {
    let mut block = Map::new();
    if goal_cents <= 0 {
        for key in [
            "progressToGoalPct",
            "expectedProgressPct",
            "expectedSecuredByNow",
            "paceDelta",
            "onTrack",
        ] {
            block.insert(key.into(), Value::Null);
        }
        block.insert("remainingToGoal".into(), json!(0.0));
        return block;
    }
    let progress = secured_cents as f64 / goal_cents as f64;
    let expected_cents = (goal_cents as f64 * expected).round() as i64;
    block.insert(
        "remainingToGoal".into(),
        json!(from_cents(goal_cents.saturating_sub(secured_cents).max(0))),
    );
    block.insert("progressToGoalPct".into(), json!(pct(progress)));
    block.insert("expectedProgressPct".into(), json!(pct(expected)));
    block.insert("expectedSecuredByNow".into(), json!(from_cents(expected_cents)));
    block.insert(
        "paceDelta".into(),
        json!(from_cents(secured_cents.saturating_sub(expected_cents))),
    );
    block.insert("onTrack".into(), json!(progress + 0.05 >= expected));
    block
}

/// Sums over a set of links, in cents.
#[derive(Debug, Default, Clone, Copy)]
struct Sums {
    count: i64,
    confirmed: i64,
    paid: i64,
    secured_count: i64,
    committed: i64,
    secured: i64,
    lost: i64,
}

impl Sums {
    fn add(&mut self, link: &LinkFacts) {
        let mut one = EventAggregate::default();
        one.by_status.insert(
            link.normalized_status(),
            super::aggregates::StatusTotals {
                count: 1,
                cents: link.cents(),
            },
        );
        self.add_aggregate(&one);
    }

    fn add_aggregate(&mut self, aggregate: &EventAggregate) {
        for (status, totals) in &aggregate.by_status {
            let status = stored_status(Some(status));
            self.count += totals.count;
            self.confirmed += if status == "confirmed" { totals.count } else { 0 };
            self.paid += if status == "paid" { totals.count } else { 0 };
            self.committed = self.committed.saturating_add(totals.cents);
            if is_secured_status(&status) {
                self.secured = self.secured.saturating_add(totals.cents);
                self.secured_count += totals.count;
            } else if is_lost_status(&status) {
                self.lost = self.lost.saturating_add(totals.cents);
            }
        }
    }

    fn minus(&self, other: &Self) -> Self {
        Self {
            count: self.count - other.count,
            confirmed: self.confirmed - other.confirmed,
            paid: self.paid - other.paid,
            secured_count: self.secured_count - other.secured_count,
            committed: self.committed.saturating_sub(other.committed),
            secured: self.secured.saturating_sub(other.secured),
            lost: self.lost.saturating_sub(other.lost),
        }
    }

    fn open(&self) -> i64 {
        self.committed.saturating_sub(self.secured).saturating_sub(self.lost)
    }

    /// The money figures `annual` and each `revenueByEvent` row share.
    fn money(&self, goal_cents: i64) -> Map<String, Value> {
        let mut block = Map::new();
        block.insert("goalAmount".into(), json!(from_cents(goal_cents)));
        block.insert("committedAmount".into(), json!(from_cents(self.committed)));
        block.insert("securedAmount".into(), json!(from_cents(self.secured)));
        block.insert(
            "pipelineAmount".into(),
            json!(from_cents(self.committed.saturating_sub(self.secured).max(0))),
        );
        block.insert("openPipelineAmount".into(), json!(from_cents(self.open())));
        block
    }
}

/// What the dashboard reads, already narrowed to the scope by the caller: aggregates kept by
/// the stream processor and the first rows of the action queue, never every link in scope.
#[derive(Debug, Default)]
pub struct DashboardData {
    /// Every event (the scope universe; a small table).
    pub events: Vec<PartnershipEvent>,
    /// Status totals and last link activity of the scoped events and the selected year's.
    pub aggregates: HashMap<String, EventAggregate>,
    /// Day tallies of the scoped events and of the communication queues in scope.
    pub tallies: HashMap<QueueKey, DayTallies>,
    /// Deleted events that communications may still name, with their year.
    pub orphans: Vec<(String, i32)>,
    /// Rows of the action queue: at least its first `actionLimit` in queue order (all of them
    /// when computed from the records).
    pub candidates: Vec<Candidate>,
    /// Every link of the archived partners (the `activePartners` figures leave them out).
    pub archived_partner_links: Vec<LinkFacts>,
    /// Distinct partners with a link in a scoped event (`totals.partnersInScope`).
    pub partners_in_scope: i64,
    /// Partners named on the action items.
    pub partners: HashMap<String, Partner>,
    /// All partners / archived partners (the meta counters).
    pub partner_count: i64,
    pub archived_partner_count: i64,
    /// The stage's win probability per status (`weightedPipelineAmount`).
    pub probabilities: Probabilities,
}

/// Where `totals.partnersInScope` comes from, decided by the scope alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartnersInScope {
    /// Nothing in scope.
    None,
    /// One event: its links, one per partner.
    Event(String),
    /// The partners with a link in a year's events (`None` = every year), counting archived
    /// events' links only when `include_archived`.
    Members { year: Option<i32>, include_archived: bool },
}

/// The days the action queue is cut at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueDays {
    pub today: NaiveDate,
    /// The last day of the upcoming window.
    pub window_end: NaiveDate,
    /// Deals last touched before this day are stale…
    pub stale_before: NaiveDate,
    /// …and before this one, overdue.
    pub stale_overdue_before: NaiveDate,
}

impl QueueDays {
    pub fn of(params: &DashboardParams, now: DateTime<Utc>) -> Self {
        let today = now.date_naive();
        Self {
            today,
            window_end: today + chrono::Duration::days(params.upcoming_window_days),
            stale_before: today - chrono::Duration::days(STALE_DAYS - 1),
            stale_overdue_before: today - chrono::Duration::days(STALE_OVERDUE_DAYS - 1),
        }
    }

    /// The last touch (epoch ms) of a stale deal.
    pub fn stale_until_ms(&self) -> i64 {
        midnight_ms(self.stale_before) - 1
    }

    /// The last touch (epoch ms) of an overdue stale deal.
    pub fn stale_overdue_until_ms(&self) -> i64 {
        midnight_ms(self.stale_overdue_before) - 1
    }

    /// The earliest day the counts look before: its year's tallies and later ones are read day
    /// by day, earlier years as sums.
    pub fn first_day_counted(&self) -> NaiveDate {
        self.stale_overdue_before
    }
}

/// A row the action queue may show: a link's follow-up or stale deal, or a communication's
/// follow-up.
#[derive(Debug, Clone, PartialEq)]
pub enum Candidate {
    Link(LinkFacts),
    Comm(CommFacts),
    /// A secured deal at an event that has started, with benefits still owed (issue 16.3).
    Benefit(BenefitsOwed),
}

/// A secured deal's outstanding benefits, and the day its event started.
#[derive(Debug, Clone, PartialEq)]
pub struct BenefitsOwed {
    pub link: LinkFacts,
    pub owed: Vec<Benefit>,
    pub event_start: NaiveDate,
}

/// The benefit items of `links` (a scope's secured deals): each secured deal at an event of
/// `events` that has started by `today` whose tier's benefits are not all done or not
/// applicable.
pub fn benefits_owed<'a>(
    links: impl IntoIterator<Item = &'a LinkFacts>,
    events: &[PartnershipEvent],
    today: NaiveDate,
) -> Vec<Candidate> {
    let catalog = BenefitCatalog::of(events);
    let started: HashMap<&str, NaiveDate> = events
        .iter()
        .filter_map(|e| Some((e.id.as_str(), parse_day(e.start_date.as_deref())?)))
        .filter(|(_, start)| *start <= today)
        .collect();
    links
        .into_iter()
        .filter_map(|link| {
            let event_start = *started.get(link.event_id.as_str())?;
            let owed: Vec<Benefit> = catalog
                .outstanding(&link.event_id, &link.package_tier, &link.status, &link.fulfilment)
                .into_iter()
                .cloned()
                .collect();
            (!owed.is_empty()).then(|| {
                Candidate::Benefit(BenefitsOwed {
                    link: link.clone(),
                    owed,
                    event_start,
                })
            })
        })
        .collect()
}

fn parse_day(raw: Option<&str>) -> Option<NaiveDate> {
    let raw = raw?.trim();
    NaiveDate::parse_from_str(raw.get(..10).unwrap_or(raw), "%Y-%m-%d").ok()
}

/// Where an action item sorts (§6.3): overdue first, then by priority, then by due date
/// (undated last), then the most recently touched first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionKey {
    pub overdue: bool,
    pub priority: u8,
    pub due: Option<NaiveDate>,
    pub updated_at: i64,
}

impl Ord for ActionKey {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .overdue
            .cmp(&self.overdue)
            .then(self.priority.cmp(&other.priority))
            .then_with(|| match (self.due, other.due) {
                (Some(x), Some(y)) => x.cmp(&y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            })
            .then(other.updated_at.cmp(&self.updated_at))
    }
}

impl PartialOrd for ActionKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Candidate {
    /// Its place in the queue at `days`, or `None` when it is no action item.
    pub fn action_key(&self, days: &QueueDays) -> Option<ActionKey> {
        let dated = |due: NaiveDate, updated_at: i64, upcoming_priority: fn(i64) -> u8| {
            (due <= days.window_end).then(|| {
                let overdue = due < days.today;
                ActionKey {
                    overdue,
                    priority: if overdue {
                        0
                    } else {
                        upcoming_priority(days_between(days.today, due))
                    },
                    due: Some(due),
                    updated_at,
                }
            })
        };
        match self {
            Candidate::Link(link) => match link.due() {
                Some(due) => dated(due, link.touched(), |days| match days {
                    ..=2 => 1,
                    3..=7 => 2,
                    _ => 3,
                }),
                None => {
                    let touched = DateTime::<Utc>::from_timestamp_millis(link.touched())?.date_naive();
                    if !stale_eligible(&link.normalized_status()) || touched >= days.stale_before {
                        return None;
                    }
                    let overdue = touched < days.stale_overdue_before;
                    Some(ActionKey {
                        overdue,
                        priority: if overdue { 1 } else { 2 },
                        due: None,
                        updated_at: link.touched(),
                    })
                }
            },
            Candidate::Comm(comm) => dated(comm.due()?, comm.updated_at, |days| if days <= 2 { 1 } else { 2 }),
            // Owed since the event began: overdue, just after the overdue follow-ups.
            Candidate::Benefit(owed) => (owed.event_start <= days.today).then(|| ActionKey {
                overdue: true,
                priority: 1,
                due: Some(owed.event_start),
                updated_at: owed.link.touched(),
            }),
        }
    }

    pub fn partner_id(&self) -> &str {
        match self {
            Candidate::Link(link) => &link.partner_id,
            Candidate::Comm(comm) => &comm.partner_id,
            Candidate::Benefit(owed) => &owed.link.partner_id,
        }
    }

    /// The partner's names its queue row carries, if it does.
    pub fn partner_names(&self) -> Option<&PartnerNames> {
        let names = match self {
            Candidate::Link(link) => &link.partner,
            Candidate::Comm(comm) => &comm.partner,
            Candidate::Benefit(owed) => &owed.link.partner,
        };
        names.recorded().then_some(names)
    }
}

/// The action items shown: the candidates in queue order, cut at `limit` (ties keep the
/// candidates' order, so the cut is the same wherever it is taken).
pub fn shown_items<'a>(candidates: &'a [Candidate], days: &QueueDays, limit: usize) -> Vec<(ActionKey, &'a Candidate)> {
    let mut queue: Vec<(ActionKey, &Candidate)> = candidates
        .iter()
        .filter_map(|c| Some((c.action_key(days)?, c)))
        .collect();
    queue.sort_by_key(|(key, _)| *key);
    queue.truncate(limit);
    queue
}

/// What a range of a queue partition holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueRows {
    /// Links with a follow-up, by date.
    LinkDue,
    /// Open communication follow-ups, by date.
    CommDue,
    /// Stale deals untouched for [`STALE_OVERDUE_DAYS`] days or more, newest touch first.
    StaleOverdue,
    /// The other stale deals, newest touch first.
    Stale,
}

/// Which rows of a queue range the first `actionLimit` items can come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    Nothing,
    /// Dated rows up to this day, included.
    Through(NaiveDate),
    /// Stale rows last touched on this day or later.
    Since(NaiveDate),
    /// The whole range.
    All,
}

/// Where one day's rows of `rows` sort in the queue: an [`ActionKey`] without its last-touch
/// tie-break, as a tuple that orders the same way. `None` = the earlier years' rows, summed.
fn bucket(rows: QueueRows, day: Option<NaiveDate>, days: &QueueDays) -> Option<(u8, u8, u8, i64)> {
    let ordinal = |d: NaiveDate| i64::from(d.num_days_from_ce());
    match (rows, day) {
        (QueueRows::LinkDue | QueueRows::CommDue, None) => Some((0, 0, 0, i64::MIN)),
        (QueueRows::LinkDue | QueueRows::CommDue, Some(day)) if day <= days.window_end => {
            let candidate = match rows {
                QueueRows::LinkDue => Candidate::Link(LinkFacts {
                    follow_up_date: Some(day.format("%Y-%m-%d").to_string()),
                    ..Default::default()
                }),
                _ => Candidate::Comm(CommFacts {
                    follow_up_date: Some(day.format("%Y-%m-%d").to_string()),
                    ..Default::default()
                }),
            };
            let key = candidate.action_key(days)?;
            Some((u8::from(!key.overdue), key.priority, 0, ordinal(day)))
        }
        (QueueRows::StaleOverdue, None) => Some((0, 1, 1, i64::MAX)),
        (QueueRows::StaleOverdue, Some(day)) if day < days.stale_overdue_before => Some((0, 1, 1, -ordinal(day))),
        (QueueRows::Stale, Some(day)) if day >= days.stale_overdue_before && day < days.stale_before => {
            Some((1, 2, 1, -ordinal(day)))
        }
        _ => None,
    }
}

/// From the day tallies alone, which rows of each queue range hold the first `limit` items:
/// the days are walked in queue order across every range until `limit` rows are passed, and the
/// last day reached is taken whole (its rows sort by their last touch, which only reading tells).
/// So reading what this answers reads the items shown and the rest of one day, not every row due.
pub fn queue_reach(ranges: &[(QueueRows, &DayTallies)], days: &QueueDays, limit: usize) -> Vec<Reach> {
    let mut entries = Vec::new();
    for (index, (rows, tallies)) in ranges.iter().enumerate() {
        let tally = match rows {
            QueueRows::LinkDue => Tally::LinkDue,
            QueueRows::CommDue => Tally::CommDue,
            QueueRows::StaleOverdue | QueueRows::Stale => Tally::Stale,
        };
        let dated = std::iter::once((None, tallies.earlier.get(tally)))
            .chain(tallies.days.iter().map(|(day, counts)| (Some(*day), counts.get(tally))));
        for (day, count) in dated.filter(|(_, n)| *n > 0) {
            if let Some(key) = bucket(*rows, day, days) {
                entries.push((key, index, day, count));
            }
        }
    }
    entries.sort_by_key(|e| e.0);
    let mut passed = 0;
    let boundary = entries.iter().find_map(|(key, _, _, count)| {
        passed += count;
        (passed >= limit as i64).then_some(*key)
    });
    let before_first_day = NaiveDate::from_ymd_opt(days.first_day_counted().year(), 1, 1)
        .map(|d| d - chrono::Duration::days(1))
        .unwrap_or(days.first_day_counted());
    let mut reach = vec![Reach::Nothing; ranges.len()];
    for (_, index, day, _) in entries.iter().filter(|e| boundary.is_none_or(|b| e.0 <= b)) {
        let widened = match (ranges[*index].0, day, reach[*index]) {
            (_, _, Reach::All) => Reach::All,
            (QueueRows::LinkDue | QueueRows::CommDue, day, current) => {
                let day = day.unwrap_or(before_first_day);
                match current {
                    Reach::Through(d) if d >= day => current,
                    _ => Reach::Through(day),
                }
            }
            (_, None, _) => Reach::All,
            (_, Some(day), Reach::Since(d)) if d <= *day => Reach::Since(d),
            (_, Some(day), _) => Reach::Since(*day),
        };
        reach[*index] = widened;
    }
    reach
}

/// The dashboard's data computed from the records themselves: what the stream processor's
/// aggregates add up to, and every queue row in scope. Tests state the dashboard's rules with
/// it; the caller adds the archived partners' links, the partners and the counters.
pub fn data_from_records(
    events: Vec<PartnershipEvent>,
    links: &[LinkFacts],
    communications: &[CommFacts],
    params: &DashboardParams,
    now: DateTime<Utc>,
) -> DashboardData {
    let scope = Scope::of(&events, params);
    let scoped: BTreeSet<&str> = scope.scoped.iter().map(|e| e.id.as_str()).collect();
    let days = QueueDays::of(params, now);
    let mut by_event: HashMap<&str, Vec<&LinkFacts>> = HashMap::new();
    for link in links {
        by_event.entry(link.event_id.as_str()).or_default().push(link);
    }
    let aggregates = by_event
        .iter()
        .map(|(id, links)| (id.to_string(), EventAggregate::of_links(links.iter().copied())))
        .collect();
    let mut tallies: HashMap<QueueKey, DayTallies> = HashMap::new();
    let link_tallies = links.iter().flat_map(|l| link_effects(None, Some(l)).tallies);
    let comm_tallies = communications.iter().flat_map(|c| comm_effects(None, Some(c)).tallies);
    for delta in link_tallies.chain(comm_tallies) {
        tallies
            .entry(delta.key)
            .or_default()
            .add(delta.day, delta.tally, delta.delta);
    }
    let known: BTreeSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let orphans: Vec<(String, i32)> = communications
        .iter()
        .filter_map(|c| Some((c.event.id()?, c.event.event_year.unwrap_or(0))))
        .filter(|(id, _)| !known.contains(id))
        .map(|(id, year)| (id.to_string(), year))
        .collect::<BTreeMap<_, _>>()
        .into_iter()
        .collect();
    let comm_keys: BTreeSet<QueueKey> = scope.communication_queues(params, &orphans).into_iter().collect();
    let in_scope: Vec<&LinkFacts> = links.iter().filter(|l| scoped.contains(l.event_id.as_str())).collect();
    let candidates = in_scope
        .iter()
        .map(|l| Candidate::Link((*l).clone()))
        .chain(
            communications
                .iter()
                .filter(|c| comm_keys.contains(&c.key()))
                .map(|c| Candidate::Comm(c.clone())),
        )
        .chain(benefits_owed(in_scope.iter().copied(), &events, days.today))
        .filter(|c| c.action_key(&days).is_some())
        .collect();
    DashboardData {
        aggregates,
        tallies,
        orphans,
        candidates,
        partners_in_scope: in_scope.iter().map(|l| &l.partner_id).collect::<BTreeSet<_>>().len() as i64,
        events,
        ..Default::default()
    }
}

/// Which events the dashboard covers, decided from the events alone (§6.2), so the caller can
/// read just their links.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    pub selected_year: Option<i32>,
    pub available_years: Vec<i32>,
    /// Scoped events, in display order.
    pub scoped: Vec<PartnershipEvent>,
    /// Events of the selected year counted by `annual`.
    pub annual: Vec<PartnershipEvent>,
}

impl Scope {
    /// Scopes `events` by the parameters.
    pub fn of(events: &[PartnershipEvent], params: &DashboardParams) -> Self {
        let visible: Vec<&PartnershipEvent> = events
            .iter()
            .filter(|e| params.include_archived || !e.archived)
            .collect();
        let years: BTreeSet<i32> = visible.iter().map(|e| e.year).filter(|y| *y != 0).collect();
        let available_years: Vec<i32> = years.into_iter().rev().collect();
        let selected_year = match (params.year, &params.event_id) {
            (Some(year), _) => Some(year),
            (None, Some(id)) => visible.iter().find(|e| &e.id == id).map(|e| e.year),
            (None, None) => available_years.first().copied(),
        };
        let mut scoped: Vec<PartnershipEvent> = visible
            .iter()
            .filter(|e| {
                params.year.is_none_or(|y| e.year == y) && params.event_id.as_ref().is_none_or(|id| &e.id == id)
            })
            .map(|e| (*e).clone())
            .collect();
        scoped.sort_by(compare_events);
        let annual = match selected_year {
            Some(year) => visible
                .iter()
                .filter(|e| e.year == year)
                .map(|e| (*e).clone())
                .collect(),
            None => Vec::new(),
        };
        Self {
            selected_year,
            available_years,
            scoped,
            annual,
        }
    }

    /// Ids of every event whose aggregates the dashboard needs.
    pub fn event_ids(&self) -> BTreeSet<String> {
        self.scoped.iter().chain(&self.annual).map(|e| e.id.clone()).collect()
    }

    /// How to count the distinct partners of the scope (one event, a year, or every year).
    pub fn partners_in_scope(&self, params: &DashboardParams) -> PartnersInScope {
        match (&params.event_id, self.scoped.as_slice()) {
            (_, []) => PartnersInScope::None,
            (Some(_), [event]) => PartnersInScope::Event(event.id.clone()),
            _ => PartnersInScope::Members {
                year: params.year,
                include_archived: params.include_archived,
            },
        }
    }

    /// The communication queues in scope: the scoped events', the one without an event when
    /// neither an event nor a year is asked for, and those of deleted events (`orphans`, none of
    /// them a current event) that match the asked event and year.
    pub fn communication_queues(&self, params: &DashboardParams, orphans: &[(String, i32)]) -> Vec<QueueKey> {
        let mut keys: Vec<QueueKey> = self.scoped.iter().map(|e| QueueKey::Event(e.id.clone())).collect();
        if params.event_id.is_none() && params.year.is_none() {
            keys.push(QueueKey::General);
        }
        keys.extend(
            orphans
                .iter()
                .filter(|(id, year)| {
                    params.event_id.as_ref().is_none_or(|want| want == id) && params.year.is_none_or(|y| y == *year)
                })
                .map(|(id, _)| QueueKey::Event(id.clone())),
        );
        keys
    }
}

fn days_between(from: NaiveDate, to: NaiveDate) -> i64 {
    (to - from).num_days()
}

/// A queue's follow-ups and stale deals as the dashboard counts them at `days`.
#[derive(Debug, Default)]
struct FollowUps {
    /// Due before today.
    overdue: super::aggregates::Counts,
    /// Due from today to the window's end.
    upcoming: super::aggregates::Counts,
    /// Stale deals, and those of them overdue.
    stale: i64,
    stale_overdue: i64,
}

impl FollowUps {
    fn of(tallies: &DayTallies, days: &QueueDays) -> Self {
        Self {
            overdue: tallies.before(days.today),
            upcoming: tallies.between(days.today, days.window_end),
            stale: tallies.before(days.stale_before).get(Tally::Stale),
            stale_overdue: tallies.before(days.stale_overdue_before).get(Tally::Stale),
        }
    }

    fn plus(&mut self, other: &Self) {
        for tally in Tally::ALL {
            self.overdue.add(tally, other.overdue.get(tally));
            self.upcoming.add(tally, other.upcoming.get(tally));
        }
        self.stale += other.stale;
        self.stale_overdue += other.stale_overdue;
    }
}

fn partner_labels(partner: Option<&Partner>) -> (String, String) {
    partner.map_or_else(|| labels("", ""), |p| labels(&p.company, &p.contact_name))
}

fn labels(company: &str, contact: &str) -> (String, String) {
    let or = |text: &str, unknown: &str| {
        Some(text.trim())
            .filter(|t| !t.is_empty())
            .unwrap_or(unknown)
            .to_string()
    };
    (or(company, "Unknown company"), or(contact, "Unknown contact"))
}

/// One action item as the client shows it (§6.3).
fn action_item(
    candidate: &Candidate,
    key: &ActionKey,
    days: &QueueDays,
    events_by_id: &HashMap<&str, &PartnershipEvent>,
    partners: &HashMap<String, Partner>,
) -> Map<String, Value> {
    let (company, contact) = match candidate.partner_names() {
        Some(names) => labels(&names.company, &names.contact_name),
        None => partner_labels(partners.get(candidate.partner_id())),
    };
    let due_date = key.due.map(|d| d.format("%Y-%m-%d").to_string());
    let days_until_due = key.due.map(|d| days_between(days.today, d));
    let mut item = match candidate {
        Candidate::Link(link) => {
            let event_name = events_by_id
                .get(link.event_id.as_str())
                .map(|e| e.name.clone())
                .filter(|n| !n.trim().is_empty())
                .or_else(|| Some(link.event_name.clone()).filter(|n| !n.trim().is_empty()))
                .unwrap_or_else(|| "Unknown event".into());
            let status = stored_status(Some(&link.status));
            let (id, kind, description) = match key.due {
                Some(_) => (
                    format!("link-follow-up-{}", link.id),
                    "follow_up",
                    format!("{event_name} • {}", slug_label(&status)),
                ),
                None => (
                    format!("link-stale-{}", link.id),
                    "stale_pipeline",
                    format!(
                        "{event_name} • {} • No follow-up set for {} days",
                        slug_label(&status),
                        stale_days(link, days)
                    ),
                ),
            };
            let mut item = json!({
                "source": "partner_link", "sourceId": link.id,
                "title": format!("{company} ({contact})"),
                "partnerId": link.partner_id, "partnerName": company, "companyName": company,
                "eventId": link.event_id, "eventIdYear": link.event_id_year, "eventName": event_name, "eventYear": link.event_year,
                "status": status, "statusLabel": slug_label(&status),
                "amount": link.amount.filter(|a| a.is_finite()).unwrap_or(0.0),
                "updatedAt": link.touched(),
                "id": id, "type": kind, "priority": key.priority, "isOverdue": key.overdue,
                "dueDate": due_date, "daysUntilDue": days_until_due,
            });
            if key.due.is_none() {
                item["staleDays"] = json!(stale_days(link, days));
            }
            item["description"] = json!(description);
            item
        }
        Candidate::Benefit(owed) => {
            let link = &owed.link;
            let event_name = events_by_id
                .get(link.event_id.as_str())
                .map(|e| e.name.clone())
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| link.event_name.clone());
            let status = stored_status(Some(&link.status));
            let labels: Vec<&str> = owed.owed.iter().map(|b| b.label.as_str()).collect();
            json!({
                "id": format!("benefit-{}", link.id), "source": "partner_link", "sourceId": link.id,
                "type": "benefit_fulfilment", "priority": key.priority, "isOverdue": key.overdue,
                "dueDate": due_date, "daysUntilDue": days_until_due,
                "title": format!("{company} ({contact})"),
                "description": format!("{event_name} • {} outstanding: {}", owed.owed.len(), labels.join(", ")),
                "partnerId": link.partner_id, "partnerName": company, "companyName": company,
                "eventId": link.event_id, "eventIdYear": link.event_id_year, "eventName": event_name, "eventYear": link.event_year,
                "status": status, "statusLabel": slug_label(&status),
                "amount": link.amount.filter(|a| a.is_finite()).unwrap_or(0.0),
                "updatedAt": link.touched(),
                "benefitsOutstanding": owed.owed,
            })
        }
        Candidate::Comm(comm) => {
            let event = comm.event.id().and_then(|id| events_by_id.get(id));
            let event_name = event
                .map(|e| e.name.clone())
                .or_else(|| comm.event.event_name.clone())
                .filter(|n| !n.trim().is_empty());
            let subject = Some(comm.subject.trim())
                .filter(|s| !s.is_empty())
                .unwrap_or("Follow-up needed");
            json!({
                "id": format!("comm-follow-up-{}", comm.id), "source": "communication", "sourceId": comm.id,
                "type": "communication_follow_up", "priority": key.priority, "isOverdue": key.overdue,
                "dueDate": due_date, "daysUntilDue": days_until_due,
                "title": format!("{company} ({contact})"),
                "description": format!("{subject} • {}", event_name.clone().unwrap_or_else(|| "General".into())),
                "partnerId": comm.partner_id, "partnerName": company, "companyName": company,
                "eventId": comm.event.id(), "eventIdYear": event.map(|e| e.event_id_year()).or_else(|| comm.event.event_id_year.clone()),
                "eventName": event_name, "eventYear": event.map(|e| e.year).or(comm.event.event_year),
                "status": null, "statusLabel": null, "amount": null, "updatedAt": comm.updated_at,
            })
        }
    };
    item.as_object_mut().map(std::mem::take).unwrap_or_default()
}

/// Whole days since a deal was last touched.
fn stale_days(link: &LinkFacts, days: &QueueDays) -> i64 {
    DateTime::<Utc>::from_timestamp_millis(link.touched()).map_or(0, |t| days_between(t.date_naive(), days.today))
}

/// Builds the whole dashboard response (§6.3) plus the companion fields of §14.5–§14.7.
pub fn dashboard(data: &DashboardData, params: &DashboardParams, now: DateTime<Utc>) -> Value {
    let days = QueueDays::of(params, now);
    let today = days.today;
    let today_text = today.format("%Y-%m-%d").to_string();
    let no_tallies = DayTallies::default();
    let tallies_of = |key: &QueueKey| data.tallies.get(key).unwrap_or(&no_tallies);
    let scope = Scope::of(&data.events, params);
    let events_by_id: HashMap<&str, &PartnershipEvent> = data.events.iter().map(|e| (e.id.as_str(), e)).collect();
    let scoped_ids: BTreeSet<&str> = scope.scoped.iter().map(|e| e.id.as_str()).collect();
    let annual_ids: BTreeSet<&str> = scope.annual.iter().map(|e| e.id.as_str()).collect();
    let in_scope = |link: &&LinkFacts| scoped_ids.contains(link.event_id.as_str());
    let no_aggregate = EventAggregate::default();
    let aggregate_of = |id: &str| data.aggregates.get(id).unwrap_or(&no_aggregate);

    // totals and pipeline over the scoped events' aggregates
    let mut totals = Sums::default();
    let weighted_of = |aggregate: &EventAggregate| data.probabilities.weighted_cents(aggregate);
    let mut weighted_total = 0i64;
    let mut by_status: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for event in &scope.scoped {
        let aggregate = aggregate_of(&event.id);
        totals.add_aggregate(aggregate);
        weighted_total = weighted_total.saturating_add(weighted_of(aggregate));
        for (status, t) in &aggregate.by_status {
            let entry = by_status.entry(stored_status(Some(status))).or_default();
            entry.0 += t.count;
            entry.1 = entry.1.saturating_add(t.cents);
        }
    }
    // The same figures without the archived partners' links (a minority, read as links).
    let mut archived_sums = Sums::default();
    let mut archived_partners_in_scope = BTreeSet::new();
    for link in data.archived_partner_links.iter().filter(in_scope) {
        archived_sums.add(link);
        archived_partners_in_scope.insert(link.partner_id.as_str());
    }
    let active = totals.minus(&archived_sums);
    let active_partners_in_scope = (data.partners_in_scope - archived_partners_in_scope.len() as i64).max(0);
    let mut pipeline_rows: Vec<(String, String, i64, i64)> = by_status
        .into_iter()
        .filter(|(_, (count, cents))| *count > 0 || *cents > 0)
        .map(|(status, (count, cents))| {
            let label = slug_label(&status);
            (status, label, count, cents)
        })
        .collect();
    pipeline_rows.sort_by(|a, b| b.3.cmp(&a.3).then(b.2.cmp(&a.2)).then_with(|| a.1.cmp(&b.1)));
    let share = |part: i64, whole: i64| {
        if whole == 0 {
            0.0
        } else {
            pct(part as f64 / whole as f64)
        }
    };
    let by_status_json: Vec<Value> = pipeline_rows
        .iter()
        .map(|(status, label, count, cents)| {
            json!({
                "status": status, "label": label, "count": count, "amount": from_cents(*cents),
                "isSecured": is_secured_status(status),
                "shareByCountPct": share(*count, totals.count),
                "shareByAmountPct": share(*cents, totals.committed),
            })
        })
        .collect();

    // annual goal pace over the selected year's events
    let annual = match scope.selected_year {
        None => {
            let mut block = json!({"year": null, "goalAmount": 0.0, "committedAmount": 0.0, "securedAmount": 0.0, "pipelineAmount": 0.0, "openPipelineAmount": 0.0, "weightedPipelineAmount": 0.0})
                .as_object()
                .cloned()
                .unwrap_or_default();
            block.extend(goal_block(0, 0, 0.0));
            block
        }
        Some(year) => {
            let goal = sum_cents(scope.annual.iter().filter_map(|e| e.sponsorship_goal).map(to_cents));
            let mut sums = Sums::default();
            annual_ids.iter().for_each(|id| sums.add_aggregate(aggregate_of(id)));
            let weighted = annual_ids
                .iter()
                .map(|id| weighted_of(aggregate_of(id)))
                .fold(0i64, i64::saturating_add);
            let mut block = Map::new();
            block.insert("year".into(), json!(year));
            block.extend(sums.money(goal));
            block.insert("weightedPipelineAmount".into(), json!(from_cents(weighted)));
            block.extend(goal_block(goal, sums.secured, year_fraction(year, today)));
            block
        }
    };

    // revenue by event
    let revenue: Vec<Value> = scope
        .scoped
        .iter()
        .map(|event| {
            let aggregate = aggregate_of(&event.id);
            let mut sums = Sums::default();
            sums.add_aggregate(aggregate);
            let last_activity = event.updated_at.max(aggregate.last_link_activity_at);
            let follow_ups = FollowUps::of(tallies_of(&QueueKey::Event(event.id.clone())), &days);
            let goal = event.sponsorship_goal.map(to_cents).unwrap_or(0);
            let expected = target_ratio(event, today);
            let progress = if goal > 0 {
                sums.secured as f64 / goal as f64
            } else {
                0.0
            };
            let name = if event.name.trim().is_empty() {
                "Untitled Event".to_string()
            } else {
                event.name.clone()
            };
            let mut row = json!({
                "eventId": event.id,
                "eventIdYear": event.event_id_year(),
                "eventName": name,
                "eventYear": event.year,
                "archived": event.archived,
                "hasGoal": goal > 0,
            })
            .as_object()
            .cloned()
            .unwrap_or_default();
            row.extend(sums.money(goal));
            row.insert(
                "weightedPipelineAmount".into(),
                json!(from_cents(weighted_of(aggregate))),
            );
            row.extend(goal_block(goal, sums.secured, expected));
            row.insert("paceStatus".into(), json!(pace_status(goal > 0, progress, expected)));
            row.insert("relationshipCount".into(), json!(sums.count));
            row.insert("confirmedCount".into(), json!(sums.confirmed));
            row.insert("paidCount".into(), json!(sums.paid));
            row.insert(
                "upcomingFollowUps".into(),
                json!(follow_ups.upcoming.get(Tally::LinkDue)),
            );
            row.insert("overdueFollowUps".into(), json!(follow_ups.overdue.get(Tally::LinkDue)));
            row.insert(
                "openUpcomingFollowUps".into(),
                json!(follow_ups.upcoming.get(Tally::LinkDueOpen)),
            );
            row.insert(
                "openOverdueFollowUps".into(),
                json!(follow_ups.overdue.get(Tally::LinkDueOpen)),
            );
            row.insert("lastActivityAt".into(), json!(last_activity));
            Value::Object(row)
        })
        .collect();

    // the action queue: counted from the tallies, the items from the rows read
    let mut counted = FollowUps::default();
    for event in &scope.scoped {
        counted.plus(&FollowUps::of(tallies_of(&QueueKey::Event(event.id.clone())), &days));
    }
    let mut comm = FollowUps::default();
    for key in scope.communication_queues(params, &data.orphans) {
        comm.plus(&FollowUps::of(tallies_of(&key), &days));
    }
    let link_due = |c: &FollowUps, tally| c.overdue.get(tally) + c.upcoming.get(tally);
    let comm_overdue = comm.overdue.get(Tally::CommDue);
    let comm_upcoming = comm.upcoming.get(Tally::CommDue);
    // Counted before the cut: the client shows "2 overdue, 3 upcoming" as the truth about the
    // scope, and capped at actionLimit they would lie (a fix over the old service).
    let upcoming = counted.upcoming.get(Tally::LinkDue) + comm_upcoming;
    let overdue = counted.overdue.get(Tally::LinkDue) + comm_overdue + counted.stale_overdue;
    let open_upcoming = counted.upcoming.get(Tally::LinkDueOpen) + comm_upcoming;
    let open_overdue = counted.overdue.get(Tally::LinkDueOpen) + comm_overdue;
    // Every benefit item is read (the started events' secured deals), so it is counted whole.
    let benefit_items = data
        .candidates
        .iter()
        .filter(|c| matches!(c, Candidate::Benefit(_)) && c.action_key(&days).is_some())
        .count() as i64;
    let total_items = link_due(&counted, Tally::LinkDue) + counted.stale + comm_overdue + comm_upcoming + benefit_items;
    let action_items: Vec<Value> = shown_items(&data.candidates, &days, params.action_limit)
        .into_iter()
        .map(|(key, candidate)| Value::Object(action_item(candidate, &key, &days, &events_by_id, &data.partners)))
        .collect();

    json!({
        "generatedAt": super::normalize::iso_millis(now),
        "scope": {
            "selectedYear": scope.selected_year,
            "requestedYear": params.year,
            "requestedEventId": params.event_id,
            "includeArchived": params.include_archived,
            "upcomingWindowDays": params.upcoming_window_days,
            "actionLimit": params.action_limit,
            "availableYears": scope.available_years,
            "scopedEventCount": scope.scoped.len(),
            "today": today_text,
            "owner": params.owner,
        },
        "totals": {
            "partnerCount": data.partner_count,
            "activePartnerCount": data.partner_count - data.archived_partner_count,
            "archivedPartnerCount": data.archived_partner_count,
            "partnersInScope": data.partners_in_scope,
            "relationshipCount": totals.count,
            "securedRelationshipCount": totals.secured_count,
            "pipelineAmount": from_cents(totals.committed),
            "securedAmount": from_cents(totals.secured),
            "upcomingFollowUps": upcoming,
            "overdueFollowUps": overdue,
            "actionItemCount": action_items.len(),
            "openPipelineAmount": from_cents(totals.open()),
            "weightedPipelineAmount": from_cents(weighted_total),
            "lostAmount": from_cents(totals.lost),
            "actionItemTotal": total_items,
            "overdueBenefitItems": benefit_items,
            "openUpcomingFollowUps": open_upcoming,
            "openOverdueFollowUps": open_overdue,
            "activePartners": {
                "partnersInScope": active_partners_in_scope,
                "relationshipCount": active.count,
                "pipelineAmount": from_cents(active.committed),
                "securedAmount": from_cents(active.secured),
                "openPipelineAmount": from_cents(active.open()),
            },
        },
        "annual": annual,
        "pipeline": {
            "totalCount": totals.count,
            "totalAmount": from_cents(totals.committed),
            "securedAmount": from_cents(totals.secured),
            "openPipelineAmount": from_cents(totals.open()),
            "byStatus": by_status_json,
        },
        "revenueByEvent": revenue,
        "actionItems": action_items,
    })
}

#[cfg(test)]
mod tests {
    use super::super::link::PartnerEventLink;
    use super::super::records::Communication;
    use super::*;

    const DAY_MS: i64 = 86_400_000;

    fn params(pairs: &[(&str, &str)]) -> DashboardParams {
        DashboardParams::parse(&pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn at(text: &str) -> DateTime<Utc> {
        date(text).and_hms_opt(15, 30, 0).unwrap().and_utc()
    }

    fn ms(text: &str) -> i64 {
        midnight_ms(date(text)) + 3_600_000
    }

    #[test]
    fn parameters_clamp_and_default() {
        assert_eq!(params(&[]).upcoming_window_days, 21);
        assert_eq!(params(&[]).action_limit, 40);
        assert_eq!(
            params(&[("upcomingWindowDays", "")]).upcoming_window_days,
            7,
            "empty counts as 0"
        );
        assert_eq!(params(&[("upcomingWindowDays", "3")]).upcoming_window_days, 7);
        assert_eq!(params(&[("upcomingWindowDays", "365")]).upcoming_window_days, 90);
        assert_eq!(params(&[("upcomingWindowDays", "12.5")]).upcoming_window_days, 21);
        assert_eq!(params(&[("upcomingWindowDays", "abc")]).upcoming_window_days, 21);
        assert_eq!(params(&[("actionLimit", "5")]).action_limit, 10);
        assert_eq!(params(&[("actionLimit", "500")]).action_limit, 200);
        assert_eq!(params(&[("year", "all")]).year, None);
        assert_eq!(params(&[("year", "AUTO")]).year, None);
        assert_eq!(params(&[("year", "1999")]).year, None, "invalid years are ignored");
        assert_eq!(params(&[("year", "2026")]).year, Some(2026));
        assert_eq!(params(&[("eventId", "  e1 ")]).event_id.as_deref(), Some("e1"));
        assert!(params(&[("includeArchived", "TRUE")]).include_archived);
    }

    #[test]
    fn percentages_round_to_two_decimals_and_clamp() {
        assert_eq!(pct(0.375), 37.5);
        assert_eq!(pct(1.7), 100.0);
        assert_eq!(pct(-0.2), 0.0);
        assert_eq!(pct(1.0 / 3.0), 33.33);
        assert_eq!(pct(2.0 / 3.0), 66.67);
    }

    #[test]
    fn year_fraction_at_utc_midnight() {
        assert_eq!(year_fraction(2026, date("2026-01-01")), 0.0);
        assert_eq!(year_fraction(2026, date("2025-12-31")), 0.0);
        assert_eq!(year_fraction(2026, date("2027-01-01")), 1.0);
        let mid = year_fraction(2026, date("2026-07-02"));
        // 182 days of 365 days less one millisecond
        assert!((mid - 182.0 * DAY_MS as f64 / (365.0 * DAY_MS as f64 - 1.0)).abs() < 1e-12);
    }

    #[test]
    fn target_ratio_uses_the_outreach_window() {
        let event = PartnershipEvent {
            year: 2026,
            outreach_start_date: Some("2026-01-01".into()),
            start_date: Some("2026-02-01".into()),
            end_date: Some("2026-01-11".into()),
            ..Default::default()
        };
        assert_eq!(target_ratio(&event, date("2026-01-06")), 0.5);
        assert_eq!(target_ratio(&event, date("2025-12-01")), 0.0);
        assert_eq!(target_ratio(&event, date("2026-03-01")), 1.0);
        let same_day = PartnershipEvent {
            start_date: Some("2026-05-05".into()),
            end_date: Some("2026-05-05".into()),
            year: 2026,
            ..Default::default()
        };
        assert_eq!(target_ratio(&same_day, date("2026-05-04")), 0.0);
        assert_eq!(target_ratio(&same_day, date("2026-05-05")), 1.0);
        let no_dates = PartnershipEvent {
            year: 2026,
            ..Default::default()
        };
        assert_eq!(target_ratio(&no_dates, date("2026-01-01")), 0.0);
        assert_eq!(target_ratio(&PartnershipEvent::default(), date("2026-01-01")), 0.0);
    }

    #[test]
    fn pace_thresholds() {
        assert_eq!(pace_status(false, 1.0, 0.5), "no_goal");
        assert_eq!(pace_status(true, 0.0, 0.0), "not_started");
        assert_eq!(pace_status(true, 0.58, 0.5), "ahead");
        assert_eq!(pace_status(true, 0.57, 0.5), "on_track");
        assert_eq!(pace_status(true, 0.45, 0.5), "on_track");
        assert_eq!(pace_status(true, 0.44, 0.5), "behind");
    }

    fn event(id: &str, year: i32, goal: Option<f64>, archived: bool) -> PartnershipEvent {
        PartnershipEvent {
            id: id.into(),
            name: format!("Event {id}"),
            year,
            sponsorship_goal: goal,
            outreach_start_date: Some(format!("{year}-01-01")),
            end_date: Some(format!("{year}-01-11")),
            archived,
            updated_at: 1,
            ..Default::default()
        }
    }

    fn link(
        partner: &str,
        event: &PartnershipEvent,
        status: &str,
        amount: Option<f64>,
        follow_up: Option<&str>,
        touched: i64,
    ) -> PartnerEventLink {
        PartnerEventLink {
            id: format!("{partner}::{}", event.id),
            partner_id: partner.into(),
            event_id: event.id.clone(),
            event_year: event.year,
            event_id_year: event.event_id_year(),
            event_name: event.name.clone(),
            status: status.into(),
            amount,
            follow_up_date: follow_up.map(str::to_string),
            created_at: touched,
            updated_at: touched,
            ..Default::default()
        }
    }

    /// The dashboard's inputs as links and records.
    struct Links {
        events: Vec<PartnershipEvent>,
        links: Vec<PartnerEventLink>,
        communications: Vec<Communication>,
        partners: HashMap<String, Partner>,
        partner_count: i64,
        archived_partner_count: i64,
    }

    /// The report over `d`'s links turned into the aggregates the stream processor keeps.
    fn report_of(d: &Links, params: &DashboardParams, now: DateTime<Utc>) -> Value {
        let facts: Vec<LinkFacts> = d.links.iter().map(LinkFacts::from).collect();
        let comms: Vec<CommFacts> = d.communications.iter().map(CommFacts::from).collect();
        let mut data = data_from_records(d.events.clone(), &facts, &comms, params, now);
        data.archived_partner_links = facts
            .iter()
            .filter(|l| d.partners.get(&l.partner_id).is_some_and(|p| p.archived))
            .cloned()
            .collect();
        data.partners = d.partners.clone();
        data.partner_count = d.partner_count;
        data.archived_partner_count = d.archived_partner_count;
        dashboard(&data, params, now)
    }

    fn data() -> Links {
        let e1 = event("e1", 2026, Some(10_000.0), false);
        let e2 = event("e2", 2026, None, false);
        let old = event("old", 2025, Some(1000.0), false);
        let gone = event("gone", 2026, Some(5000.0), true);
        let links = vec![
            link("p1", &e1, "paid", Some(3000.0), Some("2026-01-05"), ms("2026-01-01")),
            link(
                "p2",
                &e1,
                "confirmed",
                Some(1000.0),
                Some("2026-01-07"),
                ms("2026-01-02"),
            ),
            link("p3", &e1, "declined", Some(500.0), Some("2025-12-01"), ms("2025-11-01")),
            link("p4", &e1, "pitched", Some(1500.5), None, ms("2025-12-01")),
            link("p1", &e2, "reached_out", None, None, ms("2025-12-20")),
            link("p2", &e2, "my_custom", Some(100.0), None, ms("2025-10-01")),
            link("p3", &old, "paid", Some(900.0), None, ms("2025-05-01")),
            link("p4", &gone, "paid", Some(777.0), Some("2026-01-05"), ms("2026-01-01")),
        ];
        let partners = ["p1", "p2", "p3", "p4"]
            .iter()
            .map(|id| {
                (
                    id.to_string(),
                    Partner {
                        id: id.to_string(),
                        company: format!("Co {id}"),
                        contact_name: format!("C {id}"),
                        archived: *id == "p4",
                        ..Default::default()
                    },
                )
            })
            .collect();
        let comm = Communication {
            id: "c1".into(),
            partner_id: "p1".into(),
            subject: "".into(),
            follow_up_date: Some("2026-01-06".into()),
            audit: super::super::records::Audit {
                updated_at: 5,
                ..Default::default()
            },
            ..Default::default()
        };
        let done = Communication {
            id: "c2".into(),
            follow_up_done: true,
            ..comm.clone()
        };
        Links {
            events: vec![e1, e2, old, gone],
            links,
            communications: vec![comm, done],
            partners,
            partner_count: 4,
            archived_partner_count: 1,
        }
    }

    #[test]
    fn scope_defaults_to_the_latest_year_for_annual_but_all_years_elsewhere() {
        let d = data();
        let scope = Scope::of(&d.events, &params(&[]));
        assert_eq!(scope.selected_year, Some(2026));
        assert_eq!(scope.available_years, vec![2026, 2025]);
        assert_eq!(scope.scoped.len(), 3, "archived events excluded, every year kept");
        let by_event = Scope::of(&d.events, &params(&[("eventId", "old")]));
        assert_eq!(by_event.selected_year, Some(2025));
        assert_eq!(by_event.scoped.len(), 1);
        let archived = Scope::of(&d.events, &params(&[("eventId", "gone")]));
        assert_eq!(
            archived.selected_year, None,
            "an archived event is not selectable by default"
        );
        assert!(archived.scoped.is_empty());
        let with_archived = Scope::of(&d.events, &params(&[("includeArchived", "true")]));
        assert_eq!(with_archived.scoped.len(), 4);
    }

    #[test]
    fn dashboard_numbers_match_hand_computation() {
        let d = data();
        // No parameters: every non-archived event is in scope, `annual` covers the latest year.
        let report = report_of(&d, &params(&[]), at("2026-01-06"));
        assert_eq!(report["scope"]["selectedYear"], 2026);
        assert_eq!(report["scope"]["scopedEventCount"], 3);
        let totals = &report["totals"];
        assert_eq!(totals["relationshipCount"], 7);
        assert_eq!(totals["partnersInScope"], 4);
        assert_eq!(totals["securedRelationshipCount"], 3);
        assert_eq!(
            totals["pipelineAmount"], 7000.5,
            "every status, lost deals included (parity)"
        );
        assert_eq!(totals["securedAmount"], 4900.0);
        assert_eq!(totals["openPipelineAmount"], 1600.5, "neither secured nor lost");
        assert_eq!(totals["lostAmount"], 500.0);
        assert_eq!(
            (totals["partnerCount"].clone(), totals["activePartnerCount"].clone()),
            (json!(4), json!(3))
        );
        assert_eq!(totals["activePartners"]["relationshipCount"], 6, "p4 is archived");
        assert_eq!(totals["activePartners"]["pipelineAmount"], 5500.0);

        let annual = &report["annual"];
        assert_eq!(annual["year"], 2026);
        assert_eq!(
            annual["goalAmount"], 10_000.0,
            "the archived event's goal is not counted"
        );
        assert_eq!(annual["committedAmount"], 6100.5);
        assert_eq!(annual["securedAmount"], 4000.0);
        assert_eq!(annual["pipelineAmount"], 2100.5);
        assert_eq!(annual["remainingToGoal"], 6000.0);
        assert_eq!(annual["progressToGoalPct"], 40.0);
        // 5 days of a year of 365 days less one millisecond have elapsed on Jan 6.
        let expected = 5.0 * DAY_MS as f64 / (365.0 * DAY_MS as f64 - 1.0);
        assert_eq!(annual["expectedProgressPct"], 1.37);
        assert_eq!(
            annual["expectedSecuredByNow"],
            from_cents((1_000_000.0 * expected).round() as i64)
        );
        assert_eq!(annual["expectedSecuredByNow"], 136.99);
        assert_eq!(annual["paceDelta"], 3863.01);
        assert_eq!(annual["onTrack"], true);

        let pipeline = &report["pipeline"];
        let statuses: Vec<&str> = pipeline["byStatus"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["status"].as_str().unwrap())
            .collect();
        assert_eq!(
            statuses,
            ["paid", "pitched", "confirmed", "declined", "my_custom", "reached_out"]
        );
        assert_eq!(pipeline["byStatus"][0]["amount"], 3900.0);
        assert_eq!(pipeline["byStatus"][0]["shareByAmountPct"], 55.71);
        assert_eq!(pipeline["byStatus"][0]["shareByCountPct"], 28.57);
        assert_eq!(pipeline["byStatus"][0]["isSecured"], true);
        assert_eq!(pipeline["byStatus"][4]["label"], "My Custom");
        assert_eq!(
            pipeline["byStatus"][5]["amount"], 0.0,
            "a status with a count but no amount is listed"
        );

        let e1 = &report["revenueByEvent"][0];
        assert_eq!(e1["eventId"], "e1");
        assert_eq!(e1["committedAmount"], 6000.5);
        assert_eq!(e1["pipelineAmount"], 2000.5);
        assert_eq!(e1["progressToGoalPct"], 40.0);
        assert_eq!(
            e1["expectedProgressPct"], 50.0,
            "5 of the 10 days of the outreach window"
        );
        assert_eq!(e1["expectedSecuredByNow"], 5000.0);
        assert_eq!(e1["paceDelta"], -1000.0);
        assert_eq!(e1["paceStatus"], "behind");
        assert_eq!(e1["onTrack"], false);
        assert_eq!(e1["upcomingFollowUps"], 1);
        assert_eq!(e1["overdueFollowUps"], 2, "any status, parity");
        assert_eq!(
            e1["openOverdueFollowUps"], 0,
            "paid and declined deals have no open follow-up"
        );
        let e2 = &report["revenueByEvent"][1];
        assert_eq!(
            (
                e2["hasGoal"].clone(),
                e2["paceStatus"].clone(),
                e2["progressToGoalPct"].clone()
            ),
            (json!(false), json!("no_goal"), Value::Null)
        );
        assert_eq!(report["revenueByEvent"][2]["eventId"], "old", "year descending");

        let ids: Vec<&str> = report["actionItems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            ids,
            [
                "link-follow-up-p3::e1",
                "link-follow-up-p1::e1",
                "link-stale-p4::e1",
                "comm-follow-up-c1",
                "link-follow-up-p2::e1",
                "link-stale-p1::e2"
            ],
            "overdue first, then priority, then due date (dated before undated), then newest"
        );
        let first = &report["actionItems"][0];
        assert_eq!(
            (
                first["priority"].clone(),
                first["daysUntilDue"].clone(),
                first["isOverdue"].clone()
            ),
            (json!(0), json!(-36), json!(true))
        );
        assert_eq!(first["title"], "Co p3 (C p3)");
        assert_eq!(first["description"], "Event e1 • Declined");
        assert_eq!(first["amount"], 500.0);
        let stale = &report["actionItems"][2];
        assert_eq!(
            (
                stale["staleDays"].clone(),
                stale["priority"].clone(),
                stale["isOverdue"].clone()
            ),
            (json!(36), json!(1), json!(true))
        );
        assert_eq!(
            stale["description"],
            "Event e1 • Pitched • No follow-up set for 36 days"
        );
        assert_eq!(
            (stale["dueDate"].clone(), stale["daysUntilDue"].clone()),
            (Value::Null, Value::Null)
        );
        let comm = &report["actionItems"][3];
        assert_eq!(comm["description"], "Follow-up needed • General");
        assert_eq!(
            (
                comm["priority"].clone(),
                comm["daysUntilDue"].clone(),
                comm["status"].clone()
            ),
            (json!(1), json!(0), Value::Null)
        );
        assert_eq!(report["actionItems"][5]["priority"], 2, "stale under 30 days");
        assert_eq!(totals["overdueFollowUps"], 3, "stale ≥ 30 days included (parity)");
        assert_eq!(totals["upcomingFollowUps"], 2);
        assert_eq!(
            totals["openOverdueFollowUps"], 0,
            "closed deals are not open follow-ups"
        );
        assert_eq!(totals["openUpcomingFollowUps"], 2);
        assert_eq!(totals["actionItemCount"], 6);
    }

    #[test]
    fn communications_without_an_event_leave_an_event_or_year_scope() {
        let d = data();
        let report = report_of(&d, &params(&[("year", "2026")]), at("2026-01-06"));
        let ids: Vec<&str> = report["actionItems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap())
            .collect();
        assert!(!ids.contains(&"comm-follow-up-c1"));
        assert_eq!(report["totals"]["relationshipCount"], 6);
        assert_eq!(report["scope"]["requestedYear"], 2026);
    }

    #[test]
    fn the_action_limit_cuts_after_sorting() {
        let d = data();
        let report = report_of(
            &d,
            &params(&[("year", "2026"), ("actionLimit", "10")]),
            at("2026-01-06"),
        );
        assert_eq!(report["scope"]["actionLimit"], 10);
        let mut many = data();
        let e1 = many.events[0].clone();
        for i in 0..30 {
            many.links.push(link(
                &format!("x{i}"),
                &e1,
                "pitched",
                None,
                Some("2026-01-08"),
                ms("2026-01-01"),
            ));
        }
        let report = report_of(
            &many,
            &params(&[("year", "2026"), ("actionLimit", "10")]),
            at("2026-01-06"),
        );
        assert_eq!(report["actionItems"].as_array().unwrap().len(), 10);
        assert_eq!(
            report["totals"]["actionItemTotal"], 35,
            "the companion counts before the cut"
        );
        assert_eq!(
            (
                report["totals"]["upcomingFollowUps"].clone(),
                report["totals"]["overdueFollowUps"].clone()
            ),
            (json!(31), json!(3)),
            "every follow-up in scope is counted, not only the 10 shown"
        );
        assert_eq!(report["totals"]["openUpcomingFollowUps"], 31);
    }

    #[test]
    fn no_selected_year_zeroes_annual() {
        let report = dashboard(&DashboardData::default(), &params(&[]), at("2026-01-06"));
        assert_eq!(report["annual"]["year"], Value::Null);
        assert_eq!(report["annual"]["goalAmount"], 0.0);
        assert_eq!(report["annual"]["onTrack"], Value::Null);
        assert_eq!(report["scope"]["availableYears"], json!([]));
    }

    #[test]
    fn the_queue_puts_overdue_first_then_priority_then_date_then_the_newest_touch() {
        let days = QueueDays::of(&params(&[]), at("2026-01-06"));
        let key = |overdue, priority, due: Option<&str>, updated_at| ActionKey {
            overdue,
            priority,
            due: due.map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap()),
            updated_at,
        };
        let mut keys = [
            key(false, 2, None, 9),
            key(false, 1, Some("2026-01-07"), 1),
            key(true, 1, None, 3),
            key(true, 0, Some("2026-01-02"), 1),
            key(true, 0, Some("2026-01-02"), 8),
            key(true, 0, Some("2026-01-01"), 1),
            key(false, 2, Some("2026-01-20"), 1),
        ];
        keys.sort();
        let order: Vec<(bool, u8, i64)> = keys.iter().map(|k| (k.overdue, k.priority, k.updated_at)).collect();
        assert_eq!(
            order,
            vec![
                (true, 0, 1),
                (true, 0, 8),
                (true, 0, 1),
                (true, 1, 3),
                (false, 1, 1),
                (false, 2, 1),
                (false, 2, 9)
            ]
        );
        assert_eq!(
            keys[0].due,
            NaiveDate::from_ymd_opt(2026, 1, 1),
            "the oldest date first"
        );
        let stale = Candidate::Link(LinkFacts::from(&link(
            "p1",
            &event("e1", 2026, None, false),
            "pitched",
            None,
            None,
            ms("2025-12-01"),
        )));
        let stale_key = stale.action_key(&days).unwrap();
        assert!(stale_key.overdue && stale_key.priority == 1, "36 days untouched");
        let fresh = Candidate::Link(LinkFacts::from(&link(
            "p1",
            &event("e1", 2026, None, false),
            "pitched",
            None,
            None,
            ms("2026-01-01"),
        )));
        assert!(fresh.action_key(&days).is_none(), "5 days untouched is not stale");
    }

    fn tallies_on(tally: Tally, days: &[(&str, i64)]) -> DayTallies {
        let mut t = DayTallies::default();
        for (d, n) in days {
            t.add(NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap(), tally, *n);
        }
        t
    }

    #[test]
    fn the_queue_reads_up_to_the_day_that_fills_the_limit_in_every_partition() {
        let days = QueueDays::of(&params(&[]), at("2026-01-20"));
        let e1 = tallies_on(
            Tally::LinkDue,
            &[("2026-01-10", 3), ("2026-01-12", 4), ("2026-02-01", 9)],
        );
        let e2 = tallies_on(Tally::LinkDue, &[("2026-01-12", 2), ("2026-01-15", 6)]);
        let comms = tallies_on(Tally::CommDue, &[("2026-01-11", 1), ("2026-01-30", 2)]);
        let reach = queue_reach(
            &[
                (QueueRows::LinkDue, &e1),
                (QueueRows::LinkDue, &e2),
                (QueueRows::CommDue, &comms),
            ],
            &days,
            9,
        );
        // 3 (Jan 10) + 1 (Jan 11) + 6 (Jan 12, taken whole) passes 9.
        assert_eq!(
            reach,
            vec![
                Reach::Through(date("2026-01-12")),
                Reach::Through(date("2026-01-12")),
                Reach::Through(date("2026-01-11"))
            ]
        );
    }

    #[test]
    fn overdue_stale_deals_come_after_overdue_follow_ups_newest_touch_first() {
        let days = QueueDays::of(&params(&[]), at("2026-03-01"));
        let due = tallies_on(Tally::LinkDue, &[("2026-02-20", 2), ("2026-03-02", 5)]);
        let stale = tallies_on(Tally::Stale, &[("2025-12-01", 4), ("2026-01-10", 3), ("2026-02-10", 8)]);
        let ranges = [
            (QueueRows::LinkDue, &due),
            (QueueRows::StaleOverdue, &stale),
            (QueueRows::Stale, &stale),
        ];
        // 2 overdue follow-ups, then the overdue stale deals from the newest: Jan 10 fills 4.
        assert_eq!(
            queue_reach(&ranges, &days, 4),
            vec![
                Reach::Through(date("2026-02-20")),
                Reach::Since(date("2026-01-10")),
                Reach::Nothing
            ]
        );
        // A limit beyond everything in the window reads every range in full.
        assert_eq!(
            queue_reach(&ranges, &days, 100),
            vec![
                Reach::Through(date("2026-03-02")),
                Reach::Since(date("2025-12-01")),
                Reach::Since(date("2026-02-10"))
            ]
        );
    }
}
