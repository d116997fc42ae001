//! What a closed ticket must look like in every service.

use gridloop_proto::v1::*;
use gridloop_system_tests::System;

/// Where and how a ticket was closed.
pub struct Closed<'a> {
    pub ticket: &'a str,
    pub channel: Channel,
    /// Grid holding it at closing.
    pub grid: &'a str,
    /// Worker who disposed it last.
    pub worker: &'a str,
    pub rating: Rating,
    pub rework: u32,
    /// Every event of the ticket, in order, by kind.
    pub kinds: &'a [&'a str],
}

/// Asserts the ticket is CLOSED in the tracker with exactly `kinds` as its timeline (the
/// same as on the stream, none a violation), written off once in closure's ledger, and
/// counted as received and closed at its grid in the report.
pub async fn assert_closed_everywhere(sys: &System, c: &Closed<'_>) {
    sys.settle().await;

    // Tracker: the authority on the loop.
    let status = sys.loop_status(c.ticket).await;
    assert_eq!(status.state(), LifecycleState::Closed, "tracker state");
    assert_eq!(
        (status.grid_code.as_str(), status.rework_count),
        (c.grid, c.rework),
        "tracker's grid and rework count"
    );
    let timeline = sys.timeline(c.ticket).await;
    let kinds: Vec<&str> = timeline.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, c.kinds, "timeline of {}", c.ticket);
    assert_eq!(
        sys.kinds_on_stream(c.ticket).await,
        c.kinds,
        "the timeline is the stream's history of the ticket"
    );
    for e in &timeline {
        assert!(!e.violation, "{} rejected: {}", e.kind, e.violation_reason);
    }
    let last = timeline.last().expect("a timeline");
    assert_eq!(last.to_state(), LifecycleState::Closed);
    assert_eq!(timeline[0].to_state(), LifecycleState::Discovered);

    // Closure: one write-off in the ledger, on the rating.
    let entries = sys.ledger_entries(c.ticket).await;
    assert_eq!(entries.len(), 1, "one ledger entry");
    let e = &entries[0];
    assert_eq!(
        (e.grid_code.as_str(), e.worker_id.as_str(), e.rework_count),
        (c.grid, c.worker, c.rework),
        "ledger entry's grid, worker and rework count"
    );
    assert_eq!(
        e.basis,
        Some(ledger_entry::Basis::Rating(c.rating as i32)),
        "closed on the rating"
    );
    assert_eq!(e.channel(), c.channel);
    assert!(e.on_time, "closed well before the dispose deadline");
    let view = sys.closure_of(c.ticket).await;
    assert_eq!(view.state(), LifecycleState::Closed);
    assert_eq!(
        view.ledger_entry.as_ref().map(|l| &l.entry_id),
        Some(&e.entry_id)
    );

    // Reports: received and closed at the grid holding it, in the period.
    let t = sys.totals(c.grid).await;
    assert_eq!(
        (t.received, t.closed, t.open),
        (1, 1, 0),
        "report of {}",
        c.grid
    );
    assert_eq!(t.dispatched, 1);
    assert_eq!(t.disposed, 1);
    assert_eq!(t.closed_on_time, 1);
    assert_eq!(t.reworked, u64::from(c.rework > 0));
    assert_eq!(t.closure_rate, Some(1.0));
    assert_eq!(t.on_time_closure_rate, Some(1.0));
    let satisfied_ratings = match c.rating {
        Rating::Satisfied => (1, 0),
        _ => (0, 1),
    };
    assert_eq!(
        (t.satisfied, t.basically_satisfied),
        satisfied_ratings,
        "the closing rating is counted"
    );
    assert_eq!(
        t.rated,
        t.satisfied + t.basically_satisfied + t.dissatisfied
    );
}

/// The row of `key` in a report.
pub fn row<'a>(r: &'a GetReportResponse, key: &str) -> Option<&'a Indicators> {
    r.rows
        .iter()
        .find(|row| row.key == key)
        .and_then(|row| row.indicators.as_ref())
}
