//! Partner merge (issue 16.5), as a pure plan: what merging partner `from` into the survivor
//! moves, which deal of an event both have is kept (the more advanced one — amounts are never
//! summed; the pair is reported), which of the survivor's empty fields the merged partner fills,
//! and the tags both end with.

use serde_json::{Value, json};

use super::link::PartnerEventLink;
use super::normalize::{stored_status, with_alumni_tag};
use super::partner::{Partner, PartnerChanges};

/// How far along the pipeline a status is (a deal lost ranks lowest; a team's own status just
/// above the first contact).
pub fn status_rank(status: &str) -> u8 {
    match stored_status(Some(status)).as_str() {
        "declined" | "backed_out" => 0,
        "prospecting" => 1,
        "reached_out" => 3,
        "pitched" => 4,
        "followed_up" => 5,
        "in_conversation" => 6,
        "shortlist" => 7,
        "confirmed" => 8,
        "paid" => 9,
        _ => 2,
    }
}

/// An event both partners have a deal at.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkConflict {
    /// The survivor's link (kept, with the winner's deal).
    pub survivor: PartnerEventLink,
    /// The merged partner's link (deleted).
    pub merged: PartnerEventLink,
    /// Whether the merged partner's deal is the more advanced (its deal replaces the survivor's).
    pub merged_wins: bool,
}

impl LinkConflict {
    /// The conflict as the answer reports it.
    pub fn to_json(&self) -> Value {
        let deal = |l: &PartnerEventLink| json!({"linkId": l.id, "status": stored_status(Some(&l.status)), "amount": l.amount, "packageTier": l.package_tier});
        let (kept, dropped) = if self.merged_wins {
            ("merged", "survivor")
        } else {
            ("survivor", "merged")
        };
        json!({
            "eventId": self.survivor.event_id,
            "eventName": self.survivor.event_name,
            "kept": kept,
            "survivorDeal": deal(&self.survivor),
            "mergedDeal": deal(&self.merged),
            "message": format!(
                "Both partners have a deal at this event: the {kept}'s ({}) is kept, the {dropped}'s is dropped; amounts are not summed.",
                stored_status(Some(if self.merged_wins { &self.merged.status } else { &self.survivor.status }))
            ),
        })
    }

    /// The survivor's link after the merge: the merged deal's status, tier, amount, role, notes
    /// and follow-up when it wins, else unchanged.
    pub fn kept_link(&self) -> PartnerEventLink {
        if !self.merged_wins {
            return self.survivor.clone();
        }
        PartnerEventLink {
            status: self.merged.status.clone(),
            package_tier: self.merged.package_tier.clone(),
            amount: self.merged.amount,
            role: self.merged.role.clone(),
            notes: self.merged.notes.clone(),
            follow_up_date: self.merged.follow_up_date.clone(),
            ..self.survivor.clone()
        }
    }
}

/// What merging does to the links: the merged partner's links to move to the survivor (as new
/// links of the survivor), and the events both have.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkPlan {
    pub moves: Vec<PartnerEventLink>,
    pub conflicts: Vec<LinkConflict>,
}

/// Plans the links: every link of `merged_links` moves unless the survivor has one to the same
/// event; then the more advanced status wins (a tie keeps the survivor's).
pub fn plan_links(survivor_links: &[PartnerEventLink], merged_links: &[PartnerEventLink]) -> LinkPlan {
    let mut plan = LinkPlan::default();
    for link in merged_links {
        match survivor_links.iter().find(|s| s.event_id == link.event_id) {
            None => plan.moves.push(link.clone()),
            Some(survivor) => plan.conflicts.push(LinkConflict {
                survivor: survivor.clone(),
                merged: link.clone(),
                merged_wins: status_rank(&link.status) > status_rank(&survivor.status),
            }),
        }
    }
    plan
}

/// The changes that fill the survivor's empty fields from the merged partner and union the tags
/// (and the alumni flag); `None` when nothing changes. The names of the filled fields come too.
pub fn survivor_changes(survivor: &Partner, merged: &Partner) -> (PartnerChanges, Vec<&'static str>) {
    let mut changes = PartnerChanges::default();
    let mut filled = Vec::new();
    let mut fill = |name: &'static str, mine: &str, theirs: &str, slot: &mut Option<String>| {
        if mine.trim().is_empty() && !theirs.trim().is_empty() {
            *slot = Some(theirs.to_string());
            filled.push(name);
        }
    };
    fill("email", &survivor.email, &merged.email, &mut changes.email);
    fill(
        "contactName",
        &survivor.contact_name,
        &merged.contact_name,
        &mut changes.contact_name,
    );
    fill("phone", &survivor.phone, &merged.phone, &mut changes.phone);
    fill(
        "contactRole",
        &survivor.contact_role,
        &merged.contact_role,
        &mut changes.contact_role,
    );
    fill("linkedin", &survivor.linkedin, &merged.linkedin, &mut changes.linkedin);
    fill("tier", &survivor.tier, &merged.tier, &mut changes.tier);
    fill("notes", &survivor.notes, &merged.notes, &mut changes.notes);
    let is_alumni = survivor.is_alumni || merged.is_alumni;
    let mut tags = survivor.tags.clone();
    for tag in &merged.tags {
        if !tags.iter().any(|t| t.eq_ignore_ascii_case(tag)) {
            tags.push(tag.clone());
        }
    }
    let tags = with_alumni_tag(tags, is_alumni);
    if tags != survivor.tags || is_alumni != survivor.is_alumni {
        changes.tags = Some(tags);
        changes.is_alumni = Some(is_alumni);
        filled.push("tags");
    }
    if survivor.owner_email.is_none() && merged.owner_email.is_some() {
        changes.owner_email = Some(merged.owner_email.clone());
        filled.push("ownerEmail");
    }
    (changes, filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(partner: &str, event: &str, status: &str, amount: f64) -> PartnerEventLink {
        PartnerEventLink {
            id: PartnerEventLink::id_for(partner, event),
            partner_id: partner.into(),
            event_id: event.into(),
            status: status.into(),
            amount: Some(amount),
            ..Default::default()
        }
    }

    #[test]
    fn links_to_new_events_move_and_shared_events_keep_the_more_advanced_deal() {
        let survivor = [link("s", "e1", "pitched", 100.0), link("s", "e2", "paid", 500.0)];
        let merged = [
            link("m", "e1", "confirmed", 300.0),
            link("m", "e2", "pitched", 900.0),
            link("m", "e3", "pitched", 1.0),
        ];
        let plan = plan_links(&survivor, &merged);
        assert_eq!(plan.moves.len(), 1);
        assert_eq!(plan.moves[0].event_id, "e3");
        assert_eq!(plan.conflicts.len(), 2);
        let e1 = &plan.conflicts[0];
        assert!(e1.merged_wins);
        assert_eq!(e1.kept_link().status, "confirmed");
        assert_eq!(e1.kept_link().amount, Some(300.0), "the winner's amount, not a sum");
        assert_eq!(e1.kept_link().id, "s::e1", "the survivor's link keeps its id");
        assert!(!plan.conflicts[1].merged_wins);
        assert_eq!(plan.conflicts[1].kept_link().amount, Some(500.0));
    }

    #[test]
    fn a_lost_deal_ranks_below_any_open_one() {
        assert!(status_rank("declined") < status_rank("prospecting"));
        assert!(status_rank("verbal_yes") < status_rank("pitched"));
        assert!(status_rank("confirmed") < status_rank("paid"));
    }

    #[test]
    fn the_survivor_keeps_its_fields_fills_its_blanks_and_unions_tags() {
        let survivor = Partner {
            email: "a@acme.com".into(),
            tags: vec!["ai".into()],
            ..Default::default()
        };
        let merged = Partner {
            email: "b@acme.com".into(),
            phone: "555".into(),
            tags: vec!["AI".into(), "fintech".into()],
            is_alumni: true,
            owner_email: Some("mia@example.org".into()),
            ..Default::default()
        };
        let (changes, filled) = survivor_changes(&survivor, &merged);
        assert_eq!(changes.email, None, "the survivor's email stays");
        assert_eq!(changes.phone.as_deref(), Some("555"));
        assert_eq!(changes.is_alumni, Some(true));
        let tags = changes.tags.unwrap();
        assert!(
            tags.contains(&"fintech".to_string()) && tags.iter().filter(|t| t.eq_ignore_ascii_case("ai")).count() == 1
        );
        assert_eq!(filled, ["phone", "tags", "ownerEmail"]);
    }
}
