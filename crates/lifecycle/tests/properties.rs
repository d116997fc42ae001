//! Properties of the loop and of working-time deadlines, over generated inputs.

use chrono::{DateTime, Datelike, Days, NaiveDate, TimeDelta, Utc};
use gridloop_lifecycle::calendar::shanghai;
use gridloop_lifecycle::{
    Assignment, Calendar, Clock, CloseBasis, DisposalKind, Event, ExemptionKind, Feedback,
    FeedbackState, LoopState, Rating, SlaSpan, State, apply,
};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

// ---------------------------------------------------------------- events

/// Ids from tiny pools, so that accepts match dispatches often enough to get far.
fn id(prefix: &'static str) -> impl Strategy<Value = String> {
    (1..=2u8).prop_map(move |n| format!("{prefix}{n}"))
}

fn rating() -> impl Strategy<Value = Rating> {
    prop_oneof![
        Just(Rating::Satisfied),
        Just(Rating::BasicallySatisfied),
        Just(Rating::Dissatisfied),
    ]
}

fn disposal() -> impl Strategy<Value = DisposalKind> {
    prop_oneof![
        Just(DisposalKind::Resolved),
        Just(DisposalKind::Unresolvable)
    ]
}

fn basis() -> impl Strategy<Value = CloseBasis> {
    let kind = prop_oneof![
        Just(ExemptionKind::CitizenUnreachable),
        Just(ExemptionKind::Unresolvable)
    ];
    let reason = prop_oneof![Just(String::new()), Just("verified by s1".to_string())];
    prop_oneof![
        2 => Just(CloseBasis::Rating),
        1 => (kind, reason).prop_map(|(kind, reason)| CloseBasis::Exemption { kind, reason }),
    ]
}

/// Any event, weighted towards the ones that move a ticket forward.
fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        1 => Just(Event::discovered()),
        1 => id("t").prop_map(|parent| Event::Discovered { split_from: Some(parent) }),
        1 => id("t").prop_map(|parent| Event::Merged { parent }),
        4 => (id("g"), id("w")).prop_map(|(grid, worker)| Event::Dispatched { grid, worker }),
        4 => id("w").prop_map(|worker| Event::Accepted { worker }),
        1 => Just(Event::Returned { reason: "not my grid".into() }),
        1 => id("g").prop_map(|to_grid| Event::Transferred { to_grid }),
        1 => Just(Event::Unroutable { reason: "nobody on duty".into() }),
        4 => disposal().prop_map(|kind| Event::Disposed { kind }),
        3 => rating().prop_map(|r| Event::FeedbackRecorded { feedback: Feedback::Rated(r) }),
        2 => Just(Event::FeedbackRecorded { feedback: Feedback::Unreached }),
        4 => basis().prop_map(|basis| Event::Closed { basis }),
        3 => Just(Event::Reopened),
        1 => prop_oneof![Just(Clock::Respond), Just(Clock::Dispose), Just(Clock::Feedback)]
            .prop_map(|clock| Event::Overdue { clock }),
        1 => id("g").prop_map(|grid| Event::Escalated { grid }),
        1 => Just(Event::Violation { reason: "rejected".into() }),
    ]
}

fn events(max: usize) -> impl Strategy<Value = Vec<Event>> {
    prop::collection::vec(event(), 0..max)
}

/// One step of a replay: the state before, the event, and the state after if it applied.
struct Step {
    before: LoopState,
    event: Event,
    after: Option<LoopState>,
}

/// Applies `events` in order to a discovered ticket, skipping violations, as the tracker does.
fn replay(events: &[Event]) -> (LoopState, Vec<Step>) {
    let mut lp = LoopState::new();
    let mut steps = Vec::with_capacity(events.len());
    for event in events {
        let after = apply(&lp, event).ok();
        steps.push(Step {
            before: lp.clone(),
            event: event.clone(),
            after: after.clone(),
        });
        if let Some(next) = after {
            lp = next;
        }
    }
    (lp, steps)
}

/// The names of the states visited, consecutive repeats collapsed.
fn path(steps: &[Step]) -> Vec<&'static str> {
    let mut names = vec!["DISCOVERED"];
    for next in steps.iter().filter_map(|s| s.after.as_ref()) {
        let name = next.state.name();
        if names.last() != Some(&name) {
            names.push(name);
        }
    }
    names
}

/// The only moves between differently named states.
const EDGES: [(&str, &str); 7] = [
    ("DISCOVERED", "REPORTED"),
    ("DISCOVERED", "MERGED"),
    ("MERGED", "DISCOVERED"),
    ("REPORTED", "DISPOSED"),
    ("DISPOSED", "FEEDBACK"),
    ("FEEDBACK", "REPORTED"),
    ("FEEDBACK", "CLOSED"),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Every move between states is one of the loop's edges, so CLOSED is reached only as
    /// ... → REPORTED → DISPOSED → FEEDBACK → CLOSED; and DISPOSED is entered only from an
    /// accepted dispatch.
    #[test]
    fn closed_only_through_reported_disposed_feedback(events in events(120)) {
        let (last, steps) = replay(&events);
        let names = path(&steps);
        for pair in names.windows(2) {
            prop_assert!(EDGES.contains(&(pair[0], pair[1])), "illegal move {pair:?} in {names:?}");
        }
        if last.state.name() == "CLOSED" {
            prop_assert_eq!(&names[names.len() - 4..], ["REPORTED", "DISPOSED", "FEEDBACK", "CLOSED"]);
        }
        for step in &steps {
            if let Some(after) = &step.after
                && after.state.name() == "DISPOSED"
                && step.before.state.name() != "DISPOSED"
            {
                let accepted = matches!(
                    step.before.state,
                    State::Reported(Assignment::Dispatched { accepted: true, .. })
                );
                prop_assert!(accepted, "disposed from {:?}", step.before.state);
            }
        }
    }

    /// Once CLOSED or MERGED, every event is a violation that names the terminal state — but
    /// for the split of a MERGED repeat naming its own parent, which discovers it afresh.
    #[test]
    fn terminal_states_absorb(prefix in prop_oneof![closing_path(), merging_path()], rest in events(40)) {
        let (terminal, _) = replay(&prefix);
        prop_assert!(terminal.state.is_terminal(), "prefix ended in {:?}", terminal.state);
        let split = match &terminal.state {
            State::Merged { parent } => Some(Event::Discovered { split_from: Some(parent.clone()) }),
            _ => None,
        };
        let rest: Vec<Event> = rest.into_iter().take_while(|e| Some(e) != split.as_ref()).collect();
        let (last, steps) = replay(&[prefix.clone(), rest.clone()].concat());
        prop_assert_eq!(&last, &terminal);
        if let Some(split) = split {
            let (after, _) = replay(&[prefix, rest, vec![split]].concat());
            prop_assert_eq!(after, LoopState::new());
        }
        for step in steps.iter().filter(|s| s.before.state.is_terminal()) {
            prop_assert!(step.after.is_none(), "{} applied to {:?}", step.event.kind(), step.before.state);
            let violation = apply(&step.before, &step.event).unwrap_err();
            prop_assert_eq!(violation.state, terminal.state.name());
            prop_assert_eq!(violation.event, step.event.kind());
        }
    }

    /// Each applied DISSATISFIED rating is answered by exactly one of: a reopen (counted in
    /// `rework_count`), an exemption close (the closed state keeps the DISSATISFIED rating), or
    /// nothing yet (the ticket still stands in FEEDBACK rated DISSATISFIED). Reopens apply only
    /// to a DISSATISFIED rating, so `rework_count` = applied reopens = dissatisfied ratings that
    /// were followed by a reopen.
    #[test]
    fn rework_count_matches_dissatisfied_ratings_followed_by_reopen(events in events(160)) {
        let (last, steps) = replay(&events);
        let applied = || steps.iter().filter(|s| s.after.is_some());
        let dissatisfied = applied()
            .filter(|s| s.event == Event::FeedbackRecorded { feedback: Feedback::Rated(Rating::Dissatisfied) })
            .count();
        let reopens: Vec<&Step> = applied().filter(|s| s.event == Event::Reopened).collect();
        for reopen in &reopens {
            let dissatisfied_before = matches!(
                reopen.before.state,
                State::Feedback { outcome: FeedbackState::Rated(Rating::Dissatisfied), .. }
            );
            prop_assert!(dissatisfied_before);
        }
        prop_assert_eq!(last.rework_count as usize, reopens.len());
        let pending = matches!(
            last.state,
            State::Feedback { outcome: FeedbackState::Rated(Rating::Dissatisfied), .. }
                | State::Closed { rating: Some(Rating::Dissatisfied), .. }
        );
        prop_assert_eq!(dissatisfied, reopens.len() + usize::from(pending));
    }

    /// The other counters count exactly the applied events they name.
    #[test]
    fn counters_count_applied_events(events in events(120)) {
        let (last, steps) = replay(&events);
        let count = |kind: &str| steps.iter().filter(|s| s.after.is_some() && s.event.kind() == kind).count();
        prop_assert_eq!(last.return_count as usize, count("returned"));
        prop_assert_eq!(last.transfer_count as usize, count("transferred"));
        prop_assert_eq!(last.overdue_count as usize, count("overdue"));
        prop_assert_eq!(last.escalation_count as usize, count("escalated"));
        let unreached = steps
            .iter()
            .filter(|s| s.after.is_some() && s.event == Event::FeedbackRecorded { feedback: Feedback::Unreached })
            .count();
        prop_assert_eq!(last.unreached_callbacks as usize, unreached);
    }
}

proptest! {
    /// A replayed state survives a JSON round trip, so services can store it as it is.
    #[test]
    fn loop_state_round_trips_through_json(events in events(80)) {
        let (last, _) = replay(&events);
        let json = serde_json::to_string(&last).unwrap();
        prop_assert_eq!(serde_json::from_str::<LoopState>(&json).unwrap(), last);
    }
}

/// Random detours that end CLOSED.
fn closing_path() -> impl Strategy<Value = Vec<Event>> {
    (rating(), prop::bool::ANY).prop_map(|(first, rework)| {
        let mut events = vec![
            Event::Dispatched {
                grid: "g1".into(),
                worker: "w1".into(),
            },
            Event::Accepted {
                worker: "w1".into(),
            },
            Event::Disposed {
                kind: DisposalKind::Unresolvable,
            },
            Event::FeedbackRecorded {
                feedback: Feedback::Rated(first),
            },
        ];
        if first == Rating::Dissatisfied && rework {
            events.push(Event::Reopened);
            events.push(Event::Accepted {
                worker: "w1".into(),
            });
            events.push(Event::Disposed {
                kind: DisposalKind::Resolved,
            });
            events.push(Event::FeedbackRecorded {
                feedback: Feedback::Rated(Rating::Satisfied),
            });
        }
        let basis = if first == Rating::Dissatisfied && !rework {
            CloseBasis::Exemption {
                kind: ExemptionKind::Unresolvable,
                reason: "confirmed".into(),
            }
        } else {
            CloseBasis::Rating
        };
        events.push(Event::Closed { basis });
        events
    })
}

fn merging_path() -> impl Strategy<Value = Vec<Event>> {
    id("t").prop_map(|parent| vec![Event::Merged { parent }])
}

/// The arbitrary-sequence generator is not vacuous: it reaches every terminal state.
#[test]
fn generated_sequences_reach_closed_and_merged() {
    let mut runner = TestRunner::deterministic();
    let strategy = events(120);
    let (mut closed, mut merged, mut reworked) = (0, 0, 0);
    for _ in 0..1000 {
        let events = strategy.new_tree(&mut runner).unwrap().current();
        let (last, _) = replay(&events);
        match last.state.name() {
            "CLOSED" => closed += 1,
            "MERGED" => merged += 1,
            _ => {}
        }
        if last.rework_count > 0 {
            reworked += 1;
        }
    }
    assert!(closed >= 50, "only {closed} of 1000 reached CLOSED");
    assert!(merged >= 10, "only {merged} of 1000 reached MERGED");
    assert!(reworked >= 50, "only {reworked} of 1000 were reworked");
}

// ---------------------------------------------------------------- working time

/// Any instant in 2026–2027.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    let from = local_midnight(NaiveDate::from_ymd_opt(2026, 1, 1).unwrap());
    let to = local_midnight(NaiveDate::from_ymd_opt(2028, 1, 1).unwrap());
    (from.timestamp()..to.timestamp()).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
}

fn local_midnight(date: NaiveDate) -> DateTime<Utc> {
    date.and_hms_opt(0, 0, 0)
        .unwrap()
        .and_local_timezone(shanghai())
        .unwrap()
        .to_utc()
}

/// The shipped calendar, sometimes with random extra days off and make-up days in 2026–2027.
fn calendar() -> impl Strategy<Value = Calendar> {
    let day = (0..730u64, prop::bool::ANY);
    prop::collection::vec(day, 0..60).prop_map(|days| {
        let start = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let csv: String = days
            .into_iter()
            .map(|(offset, off)| {
                let date = start.checked_add_days(Days::new(offset)).unwrap();
                let kind = if off { "holiday" } else { "workday" };
                format!("{date},{kind},generated\n")
            })
            .collect();
        Calendar::china_default().with_csv(&csv).unwrap()
    })
}

fn span() -> impl Strategy<Value = SlaSpan> {
    prop_oneof![
        (0..200u32).prop_map(SlaSpan::WorkingHours),
        (0..40u32).prop_map(SlaSpan::WorkingDays),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Working-hour and working-day deadlines fall inside working time of a working day, and
    /// never before their start.
    #[test]
    fn working_deadlines_fall_in_working_time(cal in calendar(), start in instant(), span in span()) {
        let deadline = span.deadline_from(start, &cal);
        let local = deadline.with_timezone(&shanghai());
        prop_assert!(cal.is_working_day(local.date_naive()), "{span} from {start} is {local} ({})", local.weekday());
        prop_assert!(cal.is_working_time(deadline), "{span} from {start} is {local}");
        prop_assert!(deadline >= start);
    }

    /// Natural hours are clock hours, whatever the day.
    #[test]
    fn natural_hours_are_clock_hours(start in instant(), n in 0..100u32) {
        let deadline = SlaSpan::Hours(n).deadline_from(start, &Calendar::china_default());
        prop_assert_eq!(deadline - start, TimeDelta::hours(i64::from(n)));
    }

    /// Natural minutes are clock minutes too, and sixty of them are an hour.
    #[test]
    fn natural_minutes_are_clock_minutes(start in instant(), n in 0..10_000u32) {
        let cal = Calendar::china_default();
        let deadline = SlaSpan::Minutes(n).deadline_from(start, &cal);
        prop_assert_eq!(deadline - start, TimeDelta::minutes(i64::from(n)));
        prop_assert_eq!(
            SlaSpan::Minutes(n * 60).deadline_from(start, &cal),
            SlaSpan::Hours(n).deadline_from(start, &cal)
        );
    }

    /// More working hours never give an earlier deadline, and exactly the hours asked for lie
    /// between the start and the deadline.
    #[test]
    fn add_working_hours_is_monotonic(cal in calendar(), start in instant(), a in 0..300u32, b in 0..300u32) {
        let (lo, hi) = (a.min(b), a.max(b));
        let (d_lo, d_hi) = (cal.add_working_hours(start, lo), cal.add_working_hours(start, hi));
        prop_assert!(d_lo <= d_hi);
        if lo < hi {
            prop_assert!(d_lo < d_hi);
        }
        prop_assert_eq!(cal.working_time_between(start, d_hi), TimeDelta::hours(i64::from(hi)));
        prop_assert_eq!(cal.working_time_between(d_lo, d_hi), TimeDelta::hours(i64::from(hi - lo)));
    }

    /// More working days never give an earlier deadline; each further whole day is a later
    /// close. (0 days, the rest of the running day, coincides with 1 day when the clock starts
    /// outside working time: there is no partial day then.)
    #[test]
    fn add_working_days_is_monotonic(cal in calendar(), start in instant(), a in 0..40u32, b in 0..40u32) {
        let (lo, hi) = (a.min(b), a.max(b));
        let (d_lo, d_hi) = (cal.add_working_days(start, lo), cal.add_working_days(start, hi));
        prop_assert!(d_lo <= d_hi);
        if 1 <= lo && lo < hi {
            prop_assert!(d_lo.date_naive() < d_hi.date_naive());
        }
    }
}
