//! Indicators from summed counts, with the formulas of `reports.proto`:
//! 响应率 = accepted_on_time / dispatched; 办结率 = closed / (received − merged);
//! 按时办结率 = closed_on_time / (closed + open_overdue); 满意率 = (satisfied +
//! basically_satisfied) / rated; 返工率 = reworked / disposed; average and p90 handling time
//! of closed tickets in working hours. A rate is unset when its denominator is 0.

use gridloop_proto::v1::Indicators;

use crate::facts::BUCKET_MINUTES;
use crate::query::Tally;

fn ratio(num: i64, den: i64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

fn u(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Nearest-rank 90th percentile of the bucketed handling times, in working hours: the lower
/// edge of the bucket holding the ⌈0.9·n⌉-th smallest time (resolution 0.1 working hour).
pub fn p90_hours(t: &Tally) -> Option<f64> {
    let n: i64 = t.hist.values().sum();
    if n <= 0 {
        return None;
    }
    let rank = (n * 9 + 9) / 10;
    let mut seen = 0;
    for (bucket, count) in &t.hist {
        seen += count;
        if seen >= rank {
            return Some(f64::from(*bucket * BUCKET_MINUTES) / 60.0);
        }
    }
    None
}

pub fn indicators(t: &Tally) -> Indicators {
    let c = &t.counts;
    let rated = c.satisfied + c.basically_satisfied + c.dissatisfied;
    Indicators {
        received: u(c.received),
        dispatched: u(c.dispatched),
        merged: u(c.merged),
        closed: u(c.closed),
        open: u(c.received - c.merged - c.closed),
        open_overdue: u(c.open_overdue),
        accepted_on_time: u(c.accepted_on_time),
        closed_on_time: u(c.closed_on_time),
        disposed: u(c.disposed),
        reworked: u(c.reworked),
        rated: u(rated),
        satisfied: u(c.satisfied),
        basically_satisfied: u(c.basically_satisfied),
        dissatisfied: u(c.dissatisfied),
        closed_by_exemption: u(c.closed_by_exemption),
        response_rate: ratio(c.accepted_on_time, c.dispatched),
        closure_rate: ratio(c.closed, c.received - c.merged),
        on_time_closure_rate: ratio(c.closed_on_time, c.closed + c.open_overdue),
        satisfaction_rate: ratio(c.satisfied + c.basically_satisfied, rated),
        rework_rate: ratio(c.reworked, c.disposed),
        avg_handling_working_hours: ratio(c.handling_minutes, c.closed).map(|m| m / 60.0),
        p90_handling_working_hours: p90_hours(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p90_is_nearest_rank_over_buckets() {
        let mut t = Tally::default();
        // Ten closed tickets in buckets 0..10 (0.0 h .. 0.9 h): rank 9 is bucket 8.
        for b in 0..10 {
            t.hist.insert(b, 1);
        }
        assert_eq!(p90_hours(&t), Some(0.8));
        t.hist.insert(100, 90);
        // 100 tickets: rank 90 falls in bucket 100 = 10 working hours.
        assert_eq!(p90_hours(&t), Some(10.0));
        assert_eq!(p90_hours(&Tally::default()), None);
    }

    #[test]
    fn rates_are_unset_without_denominator() {
        let i = indicators(&Tally::default());
        assert_eq!(i.closure_rate, None);
        assert_eq!(i.on_time_closure_rate, None);
        assert_eq!(i.avg_handling_working_hours, None);
    }
}
