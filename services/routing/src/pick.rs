//! Choosing the worker at a grid (AB岗): the A post if on duty and under capacity, else the B
//! post, else the grid's chief, else the chiefs further up. Ties go to the fewest open tasks,
//! then the staff number, so the same state always gives the same choice. Pure: the caller
//! loads the candidates.

use chrono::{DateTime, Utc};
use gridloop_lifecycle::calendar::shanghai;
use gridloop_proto::v1::WorkerRole;
use uuid::Uuid;

use crate::domain::PostKind;

/// A worker who could take the task, with what decides whether they can.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    pub worker_id: Uuid,
    pub staff_no: String,
    pub role: WorkerRole,
    pub on_duty: bool,
    pub leave_from: Option<DateTime<Utc>>,
    pub leave_until: Option<DateTime<Utc>>,
    pub duty_reason: String,
    /// 0 means no limit.
    pub capacity: i32,
    pub open_tasks: i64,
}

impl Candidate {
    pub fn on_leave(&self, now: DateTime<Utc>) -> bool {
        match (self.leave_from, self.leave_until) {
            (Some(from), Some(until)) => from <= now && now < until,
            (None, Some(until)) => now < until,
            _ => false,
        }
    }

    /// On duty and not on leave (capacity aside).
    pub fn present(&self, now: DateTime<Utc>) -> bool {
        self.on_duty && !self.on_leave(now)
    }

    /// Why this worker cannot take a task now, or `None` when they can.
    pub fn unavailable(&self, now: DateTime<Utc>, excluded: &[Uuid]) -> Option<String> {
        if excluded.contains(&self.worker_id) {
            return Some("returned it".into());
        }
        if !self.on_duty {
            return Some(if self.duty_reason.is_empty() {
                "off duty".into()
            } else {
                format!("off duty ({})", self.duty_reason)
            });
        }
        if self.on_leave(now) {
            let until = self
                .leave_until
                .map(|u| u.with_timezone(&shanghai()).format("%m-%d").to_string())
                .unwrap_or_default();
            return Some(format!("on leave until {until}"));
        }
        if self.capacity > 0 && self.open_tasks >= i64::from(self.capacity) {
            return Some(format!(
                "at capacity ({}/{})",
                self.open_tasks, self.capacity
            ));
        }
        None
    }
}

/// One step of the chain: who holds it and how it is named in reasons.
#[derive(Clone, Debug)]
pub struct Tier {
    pub label: String,
    pub post: Option<PostKind>,
    /// Grid of the chosen worker (differs from the dispatch grid for an ancestor's chief).
    pub grid_code: String,
    pub candidates: Vec<Candidate>,
}

/// The chosen worker and why.
#[derive(Clone, Debug)]
pub struct Choice {
    pub worker: Candidate,
    pub post: Option<PostKind>,
    pub reason: String,
}

/// Walks the tiers in order; the first with an available candidate wins. The reason lists
/// why every earlier tier was passed over, e.g. "A post on leave until 11-23; B post chosen".
pub fn choose(tiers: &[Tier], now: DateTime<Utc>, excluded: &[Uuid]) -> Result<Choice, String> {
    let mut passed = Vec::new();
    for tier in tiers {
        if tier.candidates.is_empty() {
            passed.push(format!("no {}", tier.label));
            continue;
        }
        let best = tier
            .candidates
            .iter()
            .filter(|c| c.unavailable(now, excluded).is_none())
            .min_by(|a, b| {
                a.open_tasks
                    .cmp(&b.open_tasks)
                    .then_with(|| a.staff_no.cmp(&b.staff_no))
            });
        match best {
            Some(w) => {
                passed.push(format!("{} chosen", tier.label));
                return Ok(Choice {
                    worker: w.clone(),
                    post: tier.post,
                    reason: passed.join("; "),
                });
            }
            None => {
                let why: Vec<String> = tier
                    .candidates
                    .iter()
                    .filter_map(|c| c.unavailable(now, excluded))
                    .collect();
                passed.push(format!("{} {}", tier.label, why.join(", ")));
            }
        }
    }
    Err(passed.join("; "))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn cand(n: u128, open: i64) -> Candidate {
        Candidate {
            worker_id: Uuid::from_u128(n),
            staff_no: format!("S{n:03}"),
            role: WorkerRole::GridWorker,
            on_duty: true,
            leave_from: None,
            leave_until: None,
            duty_reason: String::new(),
            capacity: 0,
            open_tasks: open,
        }
    }

    fn tier(label: &str, post: Option<PostKind>, c: Vec<Candidate>) -> Tier {
        Tier {
            label: label.into(),
            post,
            grid_code: "g".into(),
            candidates: c,
        }
    }

    #[test]
    fn leave_sends_it_to_b_and_says_so() {
        let now = Utc.with_ymd_and_hms(2026, 11, 20, 2, 0, 0).unwrap();
        let mut a = cand(1, 0);
        a.leave_from = Some(now - chrono::Duration::days(1));
        a.leave_until = Some(Utc.with_ymd_and_hms(2026, 11, 23, 1, 0, 0).unwrap());
        let b = cand(2, 4);
        let tiers = [
            tier("A post", Some(PostKind::A), vec![a]),
            tier("B post", Some(PostKind::B), vec![b.clone()]),
        ];
        let c = choose(&tiers, now, &[]).unwrap();
        assert_eq!(c.worker.worker_id, b.worker_id);
        assert_eq!(c.post, Some(PostKind::B));
        assert_eq!(c.reason, "A post on leave until 11-23; B post chosen");
    }

    #[test]
    fn ties_go_to_fewest_open_then_staff_no() {
        let now = Utc::now();
        let tiers = [tier(
            "A post",
            Some(PostKind::A),
            vec![cand(3, 2), cand(2, 1), cand(1, 1)],
        )];
        assert_eq!(
            choose(&tiers, now, &[]).unwrap().worker.worker_id,
            Uuid::from_u128(1)
        );
    }

    #[test]
    fn nobody_available_explains_every_tier() {
        let now = Utc::now();
        let mut full = cand(1, 5);
        full.capacity = 5;
        let err = choose(
            &[
                tier("A post", Some(PostKind::A), vec![full]),
                tier("B post", Some(PostKind::B), vec![]),
            ],
            now,
            &[],
        )
        .unwrap_err();
        assert_eq!(err, "A post at capacity (5/5); no B post");
    }
}
