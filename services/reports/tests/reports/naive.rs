//! The from-scratch recomputation the reports must equal: fold every event into one record
//! per ticket, then count the tickets of a scope directly from the proto's definitions.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use gridloop_lifecycle::calendar::Calendar;
use gridloop_proto::from_ts;
use gridloop_proto::v1 as pb;
use pb::ticket_event::Body;

#[derive(Clone, Default, Debug)]
pub struct Ticket {
    pub received: Option<DateTime<Utc>>,
    pub grid: String,
    pub worker: String,
    pub category: String,
    pub channel: i32,
    pub dispatched: bool,
    pub accepted_on_time: bool,
    pub merged: bool,
    pub disposed: bool,
    pub reworked: bool,
    pub overdue: bool,
    pub closed: bool,
    pub on_time: bool,
    pub exempt: bool,
    pub closed_at: Option<DateTime<Utc>>,
    pub ratings: Vec<pb::Rating>,
}

pub fn fold(events: &[pb::TicketEvent]) -> HashMap<String, Ticket> {
    let mut m: HashMap<String, Ticket> = HashMap::new();
    for e in events {
        let at = e.occurred_at.as_ref().and_then(from_ts);
        let parent_grid = match &e.body {
            Some(Body::Merged(x)) => m.get(&x.parent_ticket_id).map(|p| p.grid.clone()),
            _ => None,
        };
        let t = m.entry(e.ticket_id.clone()).or_default();
        match e.body.as_ref().unwrap() {
            Body::Discovered(d) => {
                t.received = d.received_at.as_ref().and_then(from_ts);
                t.category = d.category.clone().unwrap().code;
                t.channel = d.channel;
                if t.grid.is_empty() && !t.dispatched {
                    t.grid = d.location.clone().unwrap_or_default().grid_code;
                }
            }
            Body::Merged(x) => {
                t.merged = true;
                t.received = x.received_at.as_ref().and_then(from_ts);
                t.category = x.category.clone().unwrap().code;
                t.channel = x.channel;
                t.grid = match parent_grid {
                    Some(g) if !g.is_empty() => g,
                    _ => x.location.clone().unwrap_or_default().grid_code,
                };
            }
            Body::Dispatched(d) => {
                t.dispatched = true;
                t.grid = d.grid_code.clone();
                t.worker = d.worker_id.clone();
            }
            Body::Accepted(a) => t.accepted_on_time |= a.attempt == 1 && a.on_time,
            Body::Transferred(x) => {
                t.grid = x.to_grid_code.clone();
                t.worker.clear();
            }
            Body::Unroutable(u) => {
                t.grid = u.fallback_grid_code.clone();
                t.worker.clear();
            }
            Body::Disposed(_) => t.disposed = true,
            Body::FeedbackRecorded(f) => {
                let r = pb::Rating::try_from(f.rating).unwrap();
                if r != pb::Rating::Unspecified {
                    t.ratings.push(r);
                }
            }
            Body::Reopened(_) => t.reworked = true,
            Body::Overdue(_) => t.overdue = true,
            Body::Closed(c) => {
                t.closed = true;
                t.on_time = c.on_time;
                t.exempt = matches!(c.basis, Some(pb::ticket_closed::Basis::Exemption(_)));
                t.closed_at = at;
                t.grid = c.grid_code.clone();
                t.worker = c.worker_id.clone();
            }
            _ => {}
        }
    }
    m
}

/// Which tickets and how they are grouped.
pub struct Scope<'a> {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub root: &'a str,
    pub categories: &'a [&'a str],
    pub channels: &'a [pb::Channel],
    pub worker: Option<&'a str>,
}

pub fn day(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&gridloop_lifecycle::calendar::shanghai())
        .date_naive()
}

/// Indicators per key (`key` of a ticket) and of the whole scope.
pub fn report(
    tickets: &HashMap<String, Ticket>,
    s: &Scope<'_>,
    key: impl Fn(&Ticket) -> String,
) -> (BTreeMap<String, pb::Indicators>, pb::Indicators) {
    let cal = Calendar::china_default();
    let mut groups: BTreeMap<String, Vec<&Ticket>> = BTreeMap::new();
    let mut all = Vec::new();
    for t in tickets.values() {
        let Some(r) = t.received else { continue };
        let d = day(r);
        if d < s.from || d > s.to || !t.grid.starts_with(s.root) {
            continue;
        }
        if !s.categories.is_empty() && !s.categories.contains(&t.category.as_str()) {
            continue;
        }
        if !s.channels.is_empty() && !s.channels.iter().any(|c| *c as i32 == t.channel) {
            continue;
        }
        if s.worker.is_some_and(|w| w != t.worker) {
            continue;
        }
        groups.entry(key(t)).or_default().push(t);
        all.push(t);
    }
    let rows = groups
        .into_iter()
        .map(|(k, ts)| (k, indicators(&ts, &cal)))
        .collect();
    (rows, indicators(&all, &cal))
}

fn indicators(ts: &[&Ticket], cal: &Calendar) -> pb::Indicators {
    let count = |f: &dyn Fn(&Ticket) -> bool| ts.iter().filter(|t| f(t)).count() as u64;
    let received = ts.len() as u64;
    let merged = count(&|t| t.merged);
    let closed = count(&|t| t.closed);
    let open_overdue = count(&|t| !t.closed && !t.merged && t.overdue);
    let dispatched = count(&|t| t.dispatched);
    let accepted_on_time = count(&|t| t.dispatched && t.accepted_on_time);
    let closed_on_time = count(&|t| t.closed && t.on_time);
    let disposed = count(&|t| t.disposed);
    let reworked = count(&|t| t.reworked);
    let ratings = |r: pb::Rating| -> u64 {
        ts.iter()
            .map(|t| t.ratings.iter().filter(|x| **x == r).count() as u64)
            .sum()
    };
    let (sat, basic, dis) = (
        ratings(pb::Rating::Satisfied),
        ratings(pb::Rating::BasicallySatisfied),
        ratings(pb::Rating::Dissatisfied),
    );
    let rated = sat + basic + dis;
    let mut minutes: Vec<i64> = ts
        .iter()
        .filter(|t| t.closed)
        .map(|t| {
            let h = cal
                .working_hours_between(t.received.unwrap(), t.closed_at.unwrap())
                .max(0.0);
            (h * 60.0 + 1e-9).floor() as i64
        })
        .collect();
    minutes.sort();
    let rate = |n: u64, d: u64| (d > 0).then(|| n as f64 / d as f64);
    let p90 = (!minutes.is_empty()).then(|| {
        let rank = (minutes.len() * 9).div_ceil(10);
        let m = minutes[rank - 1];
        ((m / 6) * 6) as f64 / 60.0
    });
    pb::Indicators {
        received,
        dispatched,
        merged,
        closed,
        open: received - merged - closed,
        open_overdue,
        accepted_on_time,
        closed_on_time,
        disposed,
        reworked,
        rated,
        satisfied: sat,
        basically_satisfied: basic,
        dissatisfied: dis,
        closed_by_exemption: count(&|t| t.closed && t.exempt),
        response_rate: rate(accepted_on_time, dispatched),
        closure_rate: rate(closed, received - merged),
        on_time_closure_rate: rate(closed_on_time, closed + open_overdue),
        satisfaction_rate: rate(sat + basic, rated),
        rework_rate: rate(reworked, disposed),
        avg_handling_working_hours: (closed > 0)
            .then(|| minutes.iter().sum::<i64>() as f64 / closed as f64 / 60.0),
        p90_handling_working_hours: p90,
    }
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => (x - y).abs() < 1e-9,
        _ => false,
    }
}

/// Panics with both sides when the indicators differ.
pub fn assert_same(what: &str, got: &pb::Indicators, want: &pb::Indicators) {
    let mut g = *got;
    let mut w = *want;
    let rates_ok = close(g.response_rate, w.response_rate)
        && close(g.closure_rate, w.closure_rate)
        && close(g.on_time_closure_rate, w.on_time_closure_rate)
        && close(g.satisfaction_rate, w.satisfaction_rate)
        && close(g.rework_rate, w.rework_rate)
        && close(g.avg_handling_working_hours, w.avg_handling_working_hours)
        && close(g.p90_handling_working_hours, w.p90_handling_working_hours);
    for i in [&mut g, &mut w] {
        i.response_rate = None;
        i.closure_rate = None;
        i.on_time_closure_rate = None;
        i.satisfaction_rate = None;
        i.rework_rate = None;
        i.avg_handling_working_hours = None;
        i.p90_handling_working_hours = None;
    }
    assert!(
        rates_ok && g == w,
        "{what}: report differs from the recomputation\n report: {got:?}\n naive:  {want:?}"
    );
}
