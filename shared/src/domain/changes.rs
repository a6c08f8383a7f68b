//! What a batch of changes from a table's stream does to the aggregates the stream processor
//! keeps. Pure: the processor parses the stream's images into these types and writes the
//! result; nothing here touches AWS.

use serde::Deserialize;

/// The one thing the partner counters need from a partner image. Lenient on purpose: an image
/// the processor cannot read as a partner still counts as a partner (it exists), never fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct PartnerPresence {
    #[serde(deserialize_with = "lenient_bool")]
    pub archived: bool,
}

fn lenient_bool<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(serde_json::Value::deserialize(deserializer)?.as_bool().unwrap_or(false))
}

/// One item's change: its image before (`None` when it was created) and after (`None` when it
/// was deleted).
#[derive(Debug, Clone, PartialEq)]
pub struct Change<T> {
    pub old: Option<T>,
    pub new: Option<T>,
}

/// How the partner counters move.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PartnerCountsDelta {
    pub partners: i64,
    pub archived: i64,
}

impl PartnerCountsDelta {
    /// Whether nothing moves (no write needed).
    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }
}

fn counted(presence: Option<&PartnerPresence>) -> PartnerCountsDelta {
    presence.map_or(PartnerCountsDelta::default(), |p| PartnerCountsDelta {
        partners: 1,
        archived: i64::from(p.archived),
    })
}

/// The partner counters' move over a batch of partner changes, in any order: each change
/// contributes what its new image counts minus what its old image counted.
pub fn partner_counts_delta(changes: &[Change<PartnerPresence>]) -> PartnerCountsDelta {
    changes.iter().fold(PartnerCountsDelta::default(), |sum, change| {
        let (after, before) = (counted(change.new.as_ref()), counted(change.old.as_ref()));
        PartnerCountsDelta {
            partners: sum.partners + after.partners - before.partners,
            archived: sum.archived + after.archived - before.archived,
        }
    })
}

/// Stream sequence numbers are decimal strings of varying length; compared as numbers.
pub fn sequence_after(sequence: &str, than: &str) -> bool {
    let trim = |s: &str| s.trim_start_matches('0').to_string();
    let (a, b) = (trim(sequence), trim(than));
    (a.len(), a.as_str()) > (b.len(), b.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACTIVE: PartnerPresence = PartnerPresence { archived: false };
    const ARCHIVED: PartnerPresence = PartnerPresence { archived: true };

    fn change(old: Option<PartnerPresence>, new: Option<PartnerPresence>) -> Change<PartnerPresence> {
        Change { old, new }
    }

    #[test]
    fn a_created_partner_counts_once() {
        let delta = partner_counts_delta(&[change(None, Some(ACTIVE))]);
        assert_eq!(
            delta,
            PartnerCountsDelta {
                partners: 1,
                archived: 0
            }
        );
    }

    #[test]
    fn archiving_and_restoring_move_only_the_archived_count() {
        assert_eq!(
            partner_counts_delta(&[change(Some(ACTIVE), Some(ARCHIVED))]),
            PartnerCountsDelta {
                partners: 0,
                archived: 1
            }
        );
        assert_eq!(
            partner_counts_delta(&[change(Some(ARCHIVED), Some(ACTIVE))]),
            PartnerCountsDelta {
                partners: 0,
                archived: -1
            }
        );
    }

    #[test]
    fn an_edit_that_keeps_the_flag_moves_nothing() {
        assert!(partner_counts_delta(&[change(Some(ACTIVE), Some(ACTIVE))]).is_zero());
    }

    #[test]
    fn a_deleted_archived_partner_leaves_both_counts() {
        assert_eq!(
            partner_counts_delta(&[change(Some(ARCHIVED), None)]),
            PartnerCountsDelta {
                partners: -1,
                archived: -1
            }
        );
    }

    #[test]
    fn a_batch_sums_its_changes() {
        let batch = [
            change(None, Some(ACTIVE)),
            change(None, Some(ACTIVE)),
            change(Some(ACTIVE), Some(ARCHIVED)),
        ];
        assert_eq!(
            partner_counts_delta(&batch),
            PartnerCountsDelta {
                partners: 2,
                archived: 1
            }
        );
    }

    #[test]
    fn unreadable_flags_count_as_active() {
        let presence: PartnerPresence = serde_json::from_value(serde_json::json!({"archived": "yes"})).unwrap();
        assert_eq!(presence, ACTIVE);
    }

    #[test]
    fn sequences_compare_as_numbers() {
        assert!(sequence_after("000000000000000000010", "000000000000000000009"));
        assert!(sequence_after("100", "99"));
        assert!(!sequence_after("99", "100"));
        assert!(!sequence_after("42", "0042"));
    }
}
