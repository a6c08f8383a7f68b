//! The action queue's rows: the day tallies say which days of which partitions hold the first
//! `actionLimit` items (`domain::dashboard::queue_reach`), and only those days are read, every
//! range at once. Each scoped event has its due follow-ups (by date) and its stale deals (by last
//! touch, overdue and not as two ranges); each communication queue its open follow-ups.

use std::collections::HashMap;

use chrono::NaiveDate;
use shared::domain::aggregates::{CommFacts, DayTallies, LinkFacts, QueueKey};
use shared::domain::dashboard::{Candidate, QueueDays, QueueRows, Reach, queue_reach};
use shared::store::aggregates::{comm_due_pk, due_pk, stale_pk};
use shared::store::{Store, StoreError};

/// Every row of a date sorts after a key made of that date alone and before this one.
fn through(day: NaiveDate) -> String {
    format!("{}#{}", day.format("%Y-%m-%d"), char::MAX)
}

fn touched_key(ms: i64) -> String {
    format!("{:015}", ms.max(0))
}

fn midnight_ms(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp_millis())
}

/// One range of a queue partition.
struct Range {
    pk: String,
    rows: QueueRows,
}

/// The rows of the queue's first `limit` items (and the rest of the last day reached) over the
/// scoped events' partitions (`link_queues`) and the communication queues in scope.
pub async fn first_rows(
    store: &Store,
    link_queues: &[String],
    comm_queues: &[QueueKey],
    tallies: &HashMap<QueueKey, DayTallies>,
    days: &QueueDays,
    limit: usize,
) -> Result<Vec<Candidate>, StoreError> {
    let mut ranges = Vec::new();
    for id in link_queues {
        ranges.push((
            QueueKey::Event(id.clone()),
            Range {
                pk: due_pk(id),
                rows: QueueRows::LinkDue,
            },
        ));
        for rows in [QueueRows::StaleOverdue, QueueRows::Stale] {
            ranges.push((QueueKey::Event(id.clone()), Range { pk: stale_pk(id), rows }));
        }
    }
    for key in comm_queues {
        ranges.push((
            key.clone(),
            Range {
                pk: comm_due_pk(key),
                rows: QueueRows::CommDue,
            },
        ));
    }
    let none = DayTallies::default();
    let counted: Vec<(QueueRows, &DayTallies)> = ranges
        .iter()
        .map(|(key, range)| (range.rows, tallies.get(key).unwrap_or(&none)))
        .collect();
    let reach = queue_reach(&counted, days, limit);
    let overdue_until = days.stale_overdue_until_ms();
    let stale_until = days.stale_until_ms();
    let reads = ranges.iter().zip(reach).filter_map(|((_, range), reach)| {
        let (from, to) = match (range.rows, reach) {
            (_, Reach::Nothing) => return None,
            (QueueRows::LinkDue | QueueRows::CommDue, Reach::Through(day)) => ("0".to_string(), through(day)),
            (QueueRows::LinkDue | QueueRows::CommDue, _) => ("0".to_string(), through(days.window_end)),
            (QueueRows::StaleOverdue, reach) => (
                match reach {
                    Reach::Since(day) => touched_key(midnight_ms(day)),
                    _ => "0".to_string(),
                },
                format!("{}#{}", touched_key(overdue_until), char::MAX),
            ),
            (QueueRows::Stale, reach) => (
                touched_key(match reach {
                    Reach::Since(day) => midnight_ms(day).max(overdue_until + 1),
                    _ => overdue_until + 1,
                }),
                format!("{}#{}", touched_key(stale_until), char::MAX),
            ),
        };
        Some(async move {
            let bounds = (from.as_str(), to.as_str());
            Ok::<_, StoreError>(match range.rows {
                QueueRows::CommDue => store
                    .queue_rows::<CommFacts>(&range.pk, bounds)
                    .await?
                    .into_iter()
                    .map(Candidate::Comm)
                    .collect::<Vec<_>>(),
                _ => store
                    .queue_rows::<LinkFacts>(&range.pk, bounds)
                    .await?
                    .into_iter()
                    .map(Candidate::Link)
                    .collect(),
            })
        })
    });
    let rows = futures::future::try_join_all(reads).await?;
    Ok(rows.into_iter().flatten().collect())
}
