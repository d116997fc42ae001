//! What a batch of submissions becomes, decided from what the database held once the batch's
//! locks were granted ([`Found`]) — as if the submissions were recorded one after another:
//! a retry is replayed, a retired category refused, a repeat merged into the earliest open
//! ticket (an earlier submission of the same batch included), anything else a new ticket.
//!
//! Pure: no database here, so every rule is unit-tested below.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use gridloop_proto::v1::Urgency;
use uuid::Uuid;

/// What planning needs to know of one submission.
#[derive(Clone, Debug)]
pub struct Keys<'a> {
    pub channel: i16,
    pub external_id: &'a str,
    pub citizen_key: Option<&'a str>,
    pub household_key: Option<&'a str>,
    pub category_code: &'a str,
    pub received_at: DateTime<Utc>,
}

impl Keys<'_> {
    /// Same citizen or same household: a repeat if the category matches too.
    fn same_submitter(&self, other: &Keys<'_>) -> bool {
        (self.citizen_key.is_some() && self.citizen_key == other.citizen_key)
            || (self.household_key.is_some() && self.household_key == other.household_key)
    }
}

/// A ticket accepted before, as a retry of its submission is answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub ticket_id: Uuid,
    pub parent: Option<Uuid>,
    pub urgency: Urgency,
    /// The repeat count of the ticket followed: its own, or its parent's when merged.
    pub repeats: u32,
}

/// A stored open ticket a submission would repeat, locked by the batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenTicket {
    pub ticket_id: Uuid,
    pub received_at: DateTime<Utc>,
    pub repeat_count: u32,
}

/// What the database held for a batch, read under the batch's locks.
#[derive(Clone, Debug, Default)]
pub struct Found {
    /// The database's clock at the start of the transaction (the repeat window ends there).
    pub now: DateTime<Utc>,
    /// Stored tickets by (channel, external id).
    pub stored: HashMap<(i16, String), Stored>,
    /// Per submission: the earliest stored open ticket it would repeat.
    pub open: Vec<Option<OpenTicket>>,
    /// The batch's categories that are still active.
    pub active: HashSet<String>,
}

/// Where a replayed submission's first answer comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Earlier {
    Stored(Stored),
    /// The submission at this index of the same batch.
    InBatch(usize),
}

/// What becomes of one submission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A new open ticket.
    Create { id: Uuid },
    /// A new ticket merged into `parent`, whose repeat count becomes `count`.
    Merge { id: Uuid, parent: Uuid, count: u32 },
    /// Accepted before: the first answer again.
    Replay(Earlier),
    /// Its category is no longer in use; nothing is written for it.
    Retired,
}

/// The batch's steps, in submission order, and each parent's repeats: how many it gains in
/// this batch and its count after it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub gained: HashMap<Uuid, u32>,
    pub after: HashMap<Uuid, u32>,
}

/// Which submissions share no key — submission key, citizen, household — with an earlier one
/// of the batch. Such a submission cannot be a repeat or a retry of anything in the batch, so
/// whether it is new depends on the database alone: the first, set-based try of a batch.
pub fn first_of_their_kind(items: &[Keys<'_>]) -> Vec<bool> {
    let mut submissions: HashSet<(i16, &str)> = HashSet::new();
    let mut citizens: HashSet<&str> = HashSet::new();
    let mut households: HashSet<&str> = HashSet::new();
    items
        .iter()
        .map(|k| {
            let fresh = !submissions.contains(&(k.channel, k.external_id))
                && k.citizen_key.is_none_or(|c| !citizens.contains(c))
                && k.household_key.is_none_or(|h| !households.contains(h));
            submissions.insert((k.channel, k.external_id));
            citizens.extend(k.citizen_key);
            households.extend(k.household_key);
            fresh
        })
        .collect()
}

/// Plans `items` against `found`; `new_id` names each new ticket.
pub fn plan(
    items: &[Keys<'_>],
    found: &Found,
    window: Duration,
    mut new_id: impl FnMut() -> Uuid,
) -> Plan {
    let open_since = found.now - window;
    let mut plan = Plan::default();
    let mut seen: HashMap<(i16, &str), usize> = HashMap::new();
    // New open tickets of this batch: (index, id).
    let mut created: Vec<(usize, Uuid)> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let key = (item.channel, item.external_id);
        let step = if let Some(s) = found.stored.get(&(key.0, key.1.to_owned())) {
            Step::Replay(Earlier::Stored(s.clone()))
        } else if let Some(&j) = seen.get(&key) {
            Step::Replay(Earlier::InBatch(j))
        } else if !found.active.contains(item.category_code) {
            Step::Retired
        } else {
            seen.insert(key, i);
            let open = found.open.get(i).and_then(Option::as_ref);
            let stored = open.map(|o| (o.received_at, o.ticket_id));
            let in_batch = created
                .iter()
                .map(|&(j, id)| (&items[j], id))
                .filter(|(other, _)| {
                    other.category_code == item.category_code
                        && other.received_at >= open_since
                        && other.same_submitter(item)
                })
                .map(|(other, id)| (other.received_at, id));
            // The earliest open ticket, ties broken by id as the database orders them.
            match stored.into_iter().chain(in_batch).min() {
                Some((_, parent)) => {
                    *plan.gained.entry(parent).or_insert(0) += 1;
                    let base = open
                        .filter(|o| o.ticket_id == parent)
                        .map_or(0, |o| o.repeat_count);
                    let count = plan.after.entry(parent).or_insert(base);
                    *count += 1;
                    Step::Merge {
                        id: new_id(),
                        parent,
                        count: *count,
                    }
                }
                None => {
                    let id = new_id();
                    created.push((i, id));
                    Step::Create { id }
                }
            }
        };
        plan.steps.push(step);
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000 + minute * 60, 0).unwrap()
    }

    fn keys<'a>(ext: &'a str, citizen: Option<&'a str>, category: &'a str) -> Keys<'a> {
        Keys {
            channel: 1,
            external_id: ext,
            citizen_key: citizen,
            household_key: None,
            category_code: category,
            received_at: at(0),
        }
    }

    fn found(n: usize) -> Found {
        Found {
            now: at(10),
            open: vec![None; n],
            active: ["environment", "municipal"]
                .into_iter()
                .map(String::from)
                .collect(),
            ..Found::default()
        }
    }

    fn ids() -> impl FnMut() -> Uuid {
        let mut n = 0u128;
        move || {
            n += 1;
            Uuid::from_u128(n)
        }
    }

    #[test]
    fn repeats_inside_a_batch_merge_into_its_first_ticket() {
        let items = [
            keys("A", Some("c1"), "environment"),
            keys("B", Some("c1"), "environment"),
            keys("C", Some("c1"), "municipal"),
            keys("D", Some("c1"), "environment"),
        ];
        let p = plan(&items, &found(4), Duration::days(30), ids());
        let first = Uuid::from_u128(1);
        assert_eq!(p.steps[0], Step::Create { id: first });
        assert_eq!(
            p.steps[1],
            Step::Merge {
                id: Uuid::from_u128(2),
                parent: first,
                count: 1
            }
        );
        assert_eq!(
            p.steps[2],
            Step::Create {
                id: Uuid::from_u128(3)
            }
        );
        assert_eq!(
            p.steps[3],
            Step::Merge {
                id: Uuid::from_u128(4),
                parent: first,
                count: 2
            }
        );
        assert_eq!(p.gained, HashMap::from([(first, 2)]));
        assert_eq!(p.after, HashMap::from([(first, 2)]));
    }

    #[test]
    fn the_earliest_open_ticket_wins_stored_or_not() {
        // A stored open ticket of household hh-1, received at minute 5.
        let stored = OpenTicket {
            ticket_id: Uuid::from_u128(99),
            received_at: at(5),
            repeat_count: 4,
        };
        // X: citizen c1 alone, received (by the operator) at minute 1 — repeats nothing.
        let mut x = keys("X", Some("c1"), "environment");
        x.received_at = at(1);
        // B: citizen c1 in household hh-1 — repeats both; X is the earlier.
        let mut b = keys("B", Some("c1"), "environment");
        b.household_key = Some("hh-1");
        let mut f = found(2);
        f.open = vec![None, Some(stored)];
        let p = plan(&[x, b.clone()], &f, Duration::days(30), ids());
        assert_eq!(
            p.steps[0],
            Step::Create {
                id: Uuid::from_u128(1)
            }
        );
        assert!(
            matches!(p.steps[1], Step::Merge { parent, count: 1, .. } if parent == Uuid::from_u128(1))
        );
        // Received after the stored one, X would lose to it.
        let mut late = keys("X", Some("c1"), "environment");
        late.received_at = at(8);
        let p = plan(&[late, b], &f, Duration::days(30), ids());
        // Its count goes on from the stored one's.
        assert!(
            matches!(p.steps[1], Step::Merge { parent, count: 5, .. } if parent == Uuid::from_u128(99))
        );
        assert_eq!(p.after, HashMap::from([(Uuid::from_u128(99), 5)]));
    }

    #[test]
    fn retries_replay_and_retired_categories_are_refused() {
        let items = [
            keys("A", Some("c1"), "environment"),
            keys("A", Some("c1"), "environment"),
            keys("S", Some("c2"), "environment"),
            keys("R", Some("c3"), "retired"),
        ];
        let mut f = found(4);
        let stored = Stored {
            ticket_id: Uuid::from_u128(50),
            parent: None,
            urgency: Urgency::General,
            repeats: 3,
        };
        f.stored.insert((1, "S".into()), stored.clone());
        let p = plan(&items, &f, Duration::days(30), ids());
        assert_eq!(p.steps[1], Step::Replay(Earlier::InBatch(0)));
        assert_eq!(p.steps[2], Step::Replay(Earlier::Stored(stored)));
        assert_eq!(p.steps[3], Step::Retired);
        assert!(p.gained.is_empty());
    }

    #[test]
    fn households_match_and_old_tickets_do_not() {
        let mut old = keys("A", None, "environment");
        old.household_key = Some("hh-1");
        old.received_at = at(-100_000); // ~69 days before
        let mut press = keys("B", None, "environment");
        press.household_key = Some("hh-1");
        let mut again = keys("C", Some("c9"), "environment");
        again.household_key = Some("hh-1");
        let p = plan(&[old, press, again], &found(3), Duration::days(30), ids());
        assert!(matches!(p.steps[0], Step::Create { .. }));
        // Outside the window: the old ticket no longer takes repeats.
        assert!(matches!(p.steps[1], Step::Create { .. }));
        assert!(
            matches!(p.steps[2], Step::Merge { parent, count: 1, .. } if parent == Uuid::from_u128(2))
        );
    }

    #[test]
    fn only_submissions_sharing_no_key_with_earlier_ones_are_first_of_their_kind() {
        let mut press = keys("P", None, "environment");
        press.household_key = Some("hh-1");
        let mut caller_at_home = keys("Q", Some("c2"), "municipal");
        caller_at_home.household_key = Some("hh-1");
        let items = [
            keys("A", Some("c1"), "environment"),
            keys("B", Some("c1"), "municipal"), // same citizen, other category
            keys("A", Some("c9"), "environment"), // same submission key
            press,
            caller_at_home, // same household
            keys("C", None, "environment"),
            keys("D", Some("c3"), "environment"),
        ];
        assert_eq!(
            first_of_their_kind(&items),
            vec![true, false, false, true, false, true, true]
        );
    }

    #[test]
    fn a_submission_without_keys_is_nobodys_repeat() {
        let items = [
            keys("A", None, "environment"),
            keys("B", None, "environment"),
        ];
        let p = plan(&items, &found(2), Duration::days(30), ids());
        assert!(p.steps.iter().all(|s| matches!(s, Step::Create { .. })));
    }
}
