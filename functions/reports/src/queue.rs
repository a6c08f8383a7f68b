//! The action queue's first rows, read lazily from the queue partitions in scope.
//!
//! Each partition of the aggregates table yields its rows in queue order (`ActionKey`): due
//! follow-ups by date (overdue first, then priorities that only grow with the date), stale deals
//! newest touch first, overdue ones and the others read as two ranges. A k-way merge takes the
//! smallest head until `actionLimit` rows are taken, reading each partition a page at a time, so
//! what is read grows with the rows shown and the partitions in scope, not with what is due.
//! Rows of one due date sort by their last touch, so a date is read whole before any of it is
//! taken.

use std::collections::HashMap;

use chrono::NaiveDate;
use shared::domain::aggregates::{CommFacts, DayTallies, LinkFacts, QueueKey, Tally};
use shared::domain::dashboard::{ActionKey, Candidate, QueueDays};
use shared::store::aggregates::{comm_due_pk, due_pk, stale_pk};
use shared::store::{Item, Store, StoreError};

/// What a partition's rows are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rows {
    /// Links with a follow-up, by date.
    LinkDue,
    /// Stale candidates, newest touch first.
    Stale,
    /// Open communication follow-ups, by date.
    CommDue,
}

/// One partition range being merged.
#[derive(Debug)]
pub struct Source {
    pk: String,
    range: (String, String),
    rows: Rows,
    /// Rows the tallies say it holds (a hint: tallies and rows are written apart).
    expected: i64,
    read: i64,
    buffer: Vec<(ActionKey, Candidate)>,
    next: Option<Item>,
    done: bool,
}

impl Source {
    fn new(pk: String, range: (String, String), rows: Rows, expected: i64) -> Self {
        Self {
            pk,
            range,
            rows,
            expected,
            read: 0,
            buffer: Vec::new(),
            next: None,
            done: expected <= 0,
        }
    }

    fn dated(&self) -> bool {
        self.rows != Rows::Stale
    }

    /// Whether its next row can be chosen: read, and for a dated partition its whole date read.
    fn head_ready(&self) -> bool {
        match self.buffer.first() {
            None => self.done,
            Some((first, _)) => self.done || !self.dated() || self.buffer.iter().any(|(k, _)| k.due != first.due),
        }
    }

    /// Index of its smallest row of the head date (the head row for a stale partition).
    fn head(&self) -> Option<usize> {
        let (first, _) = self.buffer.first()?;
        if !self.dated() {
            return Some(0);
        }
        self.buffer
            .iter()
            .enumerate()
            .filter(|(_, (k, _))| k.due == first.due)
            .min_by(|a, b| a.1.0.cmp(&b.1.0))
            .map(|(i, _)| i)
    }

    async fn fetch(&mut self, store: &Store, page: usize, days: &QueueDays) -> Result<(), StoreError> {
        let range = (self.range.0.as_str(), self.range.1.as_str());
        let newest_first = self.rows == Rows::Stale;
        let start = self.next.take();
        let (candidates, next) = match self.rows {
            Rows::LinkDue | Rows::Stale => {
                let (rows, next) = store
                    .queue_page::<LinkFacts>(&self.pk, range, newest_first, page, start)
                    .await?;
                (rows.into_iter().map(Candidate::Link).collect::<Vec<_>>(), next)
            }
            Rows::CommDue => {
                let (rows, next) = store
                    .queue_page::<CommFacts>(&self.pk, range, newest_first, page, start)
                    .await?;
                (rows.into_iter().map(Candidate::Comm).collect(), next)
            }
        };
        self.read += candidates.len() as i64;
        self.buffer
            .extend(candidates.into_iter().filter_map(|c| Some((c.action_key(days)?, c))));
        self.done = next.is_none();
        self.next = next;
        Ok(())
    }
}

/// A date's rows sort after every key starting with it.
fn through(day: NaiveDate) -> String {
    format!("{}#{}", day.format("%Y-%m-%d"), char::MAX)
}

fn touched_key(ms: i64) -> String {
    format!("{:015}", ms.max(0))
}

/// The partitions the queue of the scope is read from: each scoped event's due follow-ups and
/// stale deals (overdue and not), and each communication queue's follow-ups — those the tallies
/// say are not empty.
pub fn sources(
    link_queues: &[String],
    comm_queues: &[QueueKey],
    tallies: &HashMap<QueueKey, DayTallies>,
    days: &QueueDays,
) -> Vec<Source> {
    let none = DayTallies::default();
    let tallies_of = |key: &QueueKey| tallies.get(key).unwrap_or(&none);
    let due_end = days.window_end + chrono::Duration::days(1);
    let overdue_until = days.stale_overdue_until_ms();
    let stale_until = days.stale_until_ms();
    let mut sources = Vec::new();
    for event_id in link_queues {
        let t = tallies_of(&QueueKey::Event(event_id.clone()));
        let stale_overdue = t.before(days.stale_overdue_before).get(Tally::Stale);
        let stale = t.before(days.stale_before).get(Tally::Stale);
        sources.push(Source::new(
            due_pk(event_id),
            ("0".into(), through(days.window_end)),
            Rows::LinkDue,
            t.before(due_end).get(Tally::LinkDue),
        ));
        sources.push(Source::new(
            stale_pk(event_id),
            ("0".into(), format!("{}#{}", touched_key(overdue_until), char::MAX)),
            Rows::Stale,
            stale_overdue,
        ));
        sources.push(Source::new(
            stale_pk(event_id),
            (
                format!("{}#", touched_key(overdue_until + 1)),
                format!("{}#{}", touched_key(stale_until), char::MAX),
            ),
            Rows::Stale,
            stale - stale_overdue,
        ));
    }
    for key in comm_queues {
        sources.push(Source::new(
            comm_due_pk(key),
            ("0".into(), through(days.window_end)),
            Rows::CommDue,
            tallies_of(key).before(due_end).get(Tally::CommDue),
        ));
    }
    sources
}

/// The first `limit` rows of the queue over `sources` (more when the last ones tie).
pub async fn first_rows(
    store: &Store,
    mut sources: Vec<Source>,
    limit: usize,
    days: &QueueDays,
) -> Result<Vec<Candidate>, StoreError> {
    let active = sources.iter().filter(|s| !s.done).count().max(1);
    let share = limit.div_ceil(active) + 1;
    let mut taken = Vec::new();
    while taken.len() < limit {
        // Read until every partition's head can be compared.
        loop {
            let wanted = limit - taken.len();
            let fetches = sources.iter_mut().filter(|s| !s.head_ready()).map(|s| {
                // A later page reads what the limit may still take from it; one that only
                // completes the head date reads a couple of rows at a time.
                let page = if s.read == 0 {
                    share
                } else {
                    wanted.saturating_sub(s.buffer.len()) + 1
                };
                let remaining = usize::try_from(s.expected - s.read).unwrap_or(0) + 1;
                let page = page.min(remaining).max(2);
                s.fetch(store, page, days)
            });
            let fetched = futures::future::try_join_all(fetches).await?;
            if fetched.is_empty() {
                break;
            }
        }
        let best = sources
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.head().map(|h| (i, h)))
            .min_by(|a, b| sources[a.0].buffer[a.1].0.cmp(&sources[b.0].buffer[b.1].0));
        let Some((source, row)) = best else { break };
        taken.push(sources[source].buffer.remove(row).1);
    }
    Ok(taken)
}
