use super::*;
use crate::event::Clock;

fn dispatched(worker: &str) -> Event {
    Event::Dispatched {
        grid: "g1".into(),
        worker: worker.into(),
    }
}

fn accepted(worker: &str) -> Event {
    Event::Accepted {
        worker: worker.into(),
    }
}

fn disposed(kind: DisposalKind) -> Event {
    Event::Disposed { kind }
}

fn rated(rating: Rating) -> Event {
    Event::FeedbackRecorded {
        feedback: Feedback::Rated(rating),
    }
}

fn unreached() -> Event {
    Event::FeedbackRecorded {
        feedback: Feedback::Unreached,
    }
}

fn exemption(kind: ExemptionKind) -> Event {
    Event::Closed {
        basis: CloseBasis::Exemption {
            kind,
            reason: "confirmed by supervisor s1".into(),
        },
    }
}

fn close_by_rating() -> Event {
    Event::Closed {
        basis: CloseBasis::Rating,
    }
}

fn run(events: &[Event]) -> Result<LoopState, Violation> {
    events
        .iter()
        .try_fold(LoopState::new(), |lp, event| apply(&lp, event))
}

fn ok(events: &[Event]) -> LoopState {
    run(events).unwrap_or_else(|v| panic!("{v}"))
}

fn err(events: &[Event]) -> String {
    match run(events) {
        Ok(lp) => panic!("accepted, now {:?}", lp.state),
        Err(v) => v.to_string(),
    }
}

/// Dispatched to w1 and accepted.
fn at_work() -> Vec<Event> {
    vec![dispatched("w1"), accepted("w1")]
}

fn disposed_with(kind: DisposalKind) -> Vec<Event> {
    let mut events = at_work();
    events.push(disposed(kind));
    events
}

fn with(mut events: Vec<Event>, more: &[Event]) -> Vec<Event> {
    events.extend_from_slice(more);
    events
}

#[test]
fn full_loop_closes_on_satisfied_rating() {
    for rating in [Rating::Satisfied, Rating::BasicallySatisfied] {
        let lp = ok(&with(
            disposed_with(DisposalKind::Resolved),
            &[rated(rating), close_by_rating()],
        ));
        assert_eq!(
            lp.state,
            State::Closed {
                basis: CloseBasis::Rating,
                rating: Some(rating)
            }
        );
    }
}

#[test]
fn only_the_first_event_may_be_discovered() {
    assert_eq!(LoopState::start(&Event::discovered()), Ok(LoopState::new()));
    assert_eq!(
        LoopState::start(&dispatched("w1")).unwrap_err().to_string(),
        "cannot dispatch: ticket is UNKNOWN (no discovered event yet)"
    );
    assert_eq!(
        err(&[Event::discovered()]),
        "cannot discover: ticket is DISCOVERED (already discovered)"
    );
}

#[test]
fn merge_only_from_discovered() {
    let merge = Event::Merged {
        parent: "t0".into(),
    };
    assert_eq!(
        ok(std::slice::from_ref(&merge)).state,
        State::Merged {
            parent: "t0".into()
        }
    );
    assert_eq!(
        err(&[dispatched("w1"), merge]),
        "cannot merge: ticket is REPORTED (only a DISCOVERED ticket can be merged)"
    );
}

#[test]
fn repeats_join_only_open_tickets() {
    let lp = LoopState::new().record_repeat().unwrap();
    assert_eq!(lp.repeat_count, 1);
    let closed = ok(&with(
        disposed_with(DisposalKind::Resolved),
        &[rated(Rating::Satisfied), close_by_rating()],
    ));
    assert_eq!(
        closed.record_repeat().unwrap_err().to_string(),
        "cannot take a repeat complaint: ticket is CLOSED (terminal)"
    );
}

#[test]
fn accept_only_by_the_assigned_worker_once() {
    assert_eq!(
        err(&[dispatched("w1"), accepted("w2")]),
        "cannot accept: ticket is REPORTED (dispatched to w1, not w2)"
    );
    assert_eq!(
        err(&[accepted("w1")]),
        "cannot accept: ticket is DISCOVERED (not dispatched)"
    );
    assert_eq!(
        err(&with(at_work(), &[accepted("w1")])),
        "cannot accept: ticket is REPORTED (already accepted)"
    );
}

#[test]
fn unaccepted_dispatch_may_be_reassigned_but_accepted_one_not() {
    let lp = ok(&[dispatched("w1"), dispatched("w2"), accepted("w2")]);
    assert!(matches!(
        lp.state,
        State::Reported(Assignment::Dispatched { accepted: true, ref holder }) if holder.worker == "w2"
    ));
    assert_eq!(
        err(&with(at_work(), &[dispatched("w2")])),
        "cannot dispatch: ticket is REPORTED (accepted by w1; return or transfer it first)"
    );
}

#[test]
fn return_goes_back_to_waiting_for_dispatch() {
    let returned = Event::Returned {
        reason: "not my grid".into(),
    };
    for before in [vec![dispatched("w1")], at_work()] {
        let lp = ok(&with(before, std::slice::from_ref(&returned)));
        assert_eq!(
            lp.state,
            State::Reported(Assignment::Unassigned { grid: None })
        );
        assert_eq!(lp.return_count, 1);
    }
    let lp = ok(&[
        dispatched("w1"),
        returned.clone(),
        dispatched("w2"),
        accepted("w2"),
    ]);
    assert_eq!(lp.return_count, 1);
    assert_eq!(
        err(&[dispatched("w1"), returned.clone(), returned.clone()]),
        "cannot return: ticket is REPORTED (waiting for dispatch)"
    );
    assert_eq!(
        err(std::slice::from_ref(&returned)),
        "cannot return: ticket is DISCOVERED (not dispatched)"
    );
    assert_eq!(
        err(&with(disposed_with(DisposalKind::Resolved), &[returned])),
        "cannot return: ticket is DISPOSED (already disposed)"
    );
}

#[test]
fn transfer_waits_for_dispatch_in_the_new_grid() {
    let transfer = Event::Transferred {
        to_grid: "g2".into(),
    };
    let lp = ok(&with(at_work(), std::slice::from_ref(&transfer)));
    assert_eq!(
        lp.state,
        State::Reported(Assignment::Unassigned {
            grid: Some("g2".into())
        })
    );
    assert_eq!(lp.transfer_count, 1);
    // Routing may pass a returned ticket on to another grid before dispatching it again.
    let returned = Event::Returned {
        reason: "not my remit".into(),
    };
    assert_eq!(
        ok(&[dispatched("w1"), returned, transfer.clone()]).transfer_count,
        1
    );
    assert_eq!(
        err(std::slice::from_ref(&transfer)),
        "cannot transfer: ticket is DISCOVERED (not dispatched)"
    );
    assert_eq!(
        err(&with(disposed_with(DisposalKind::Resolved), &[transfer])),
        "cannot transfer: ticket is DISPOSED (already disposed)"
    );
}

#[test]
fn dispose_only_after_accept() {
    assert_eq!(
        err(&[dispatched("w1"), disposed(DisposalKind::Resolved)]),
        "cannot dispose: ticket is REPORTED (not accepted)"
    );
    assert_eq!(
        err(&with(
            disposed_with(DisposalKind::Resolved),
            &[disposed(DisposalKind::Resolved)]
        )),
        "cannot dispose: ticket is DISPOSED (already disposed)"
    );
    let lp = ok(&disposed_with(DisposalKind::Unresolvable));
    assert_eq!(
        lp.state,
        State::Disposed {
            holder: Holder {
                grid: "g1".into(),
                worker: "w1".into()
            },
            disposal: DisposalKind::Unresolvable
        }
    );
}

#[test]
fn feedback_only_after_dispose_and_a_rating_is_final() {
    assert_eq!(
        err(&with(at_work(), &[rated(Rating::Satisfied)])),
        "cannot record feedback: ticket is REPORTED (accepted, not disposed)"
    );
    assert_eq!(
        err(&with(
            disposed_with(DisposalKind::Resolved),
            &[rated(Rating::Satisfied), rated(Rating::Dissatisfied)]
        )),
        "cannot record feedback: ticket is FEEDBACK (already rated SATISFIED)"
    );
    assert_eq!(
        err(&with(
            disposed_with(DisposalKind::Resolved),
            &[rated(Rating::Satisfied), unreached()]
        )),
        "cannot record feedback: ticket is FEEDBACK (already rated SATISFIED)"
    );
}

#[test]
fn unreached_callbacks_count_up_until_the_citizen_is_reached() {
    let lp = ok(&with(
        disposed_with(DisposalKind::Resolved),
        &[unreached(), unreached(), rated(Rating::BasicallySatisfied)],
    ));
    assert_eq!(lp.unreached_callbacks, 2);
    assert!(matches!(
        lp.state,
        State::Feedback {
            outcome: FeedbackState::Rated(Rating::BasicallySatisfied),
            ..
        }
    ));
    let lp = ok(&with(
        disposed_with(DisposalKind::Resolved),
        &[unreached(), unreached(), unreached()],
    ));
    assert!(matches!(
        lp.state,
        State::Feedback {
            outcome: FeedbackState::Unreached { attempts: 3 },
            ..
        }
    ));
}

#[test]
fn close_needs_feedback_with_a_closing_rating() {
    assert_eq!(
        err(&with(
            disposed_with(DisposalKind::Resolved),
            &[close_by_rating()]
        )),
        "cannot close: ticket is DISPOSED (no feedback recorded)"
    );
    assert_eq!(
        err(&with(
            disposed_with(DisposalKind::Resolved),
            &[rated(Rating::Dissatisfied), close_by_rating()]
        )),
        "cannot close: ticket is FEEDBACK (rated DISSATISFIED; reopen for rework or close with an exemption)"
    );
    assert_eq!(
        err(&with(
            disposed_with(DisposalKind::Resolved),
            &[unreached(), close_by_rating()]
        )),
        "cannot close: ticket is FEEDBACK (no rating recorded, 1 unreached callback(s))"
    );
}

#[test]
fn unreachable_exemption_after_configured_attempts() {
    let two = with(
        disposed_with(DisposalKind::Resolved),
        &[unreached(), unreached()],
    );
    assert_eq!(
        err(&with(
            two.clone(),
            &[exemption(ExemptionKind::CitizenUnreachable)]
        )),
        "cannot close: ticket is FEEDBACK (2 of 3 unreached callbacks needed for the exemption)"
    );
    let lp = ok(&with(
        two.clone(),
        &[unreached(), exemption(ExemptionKind::CitizenUnreachable)],
    ));
    assert!(matches!(lp.state, State::Closed { rating: None, .. }));

    // Configured lower: two attempts suffice.
    let rules = Rules {
        callbacks_before_exemption: 2,
    };
    let lp = two
        .iter()
        .fold(LoopState::new(), |lp, e| rules.apply(&lp, e).unwrap());
    assert!(
        rules
            .apply(&lp, &exemption(ExemptionKind::CitizenUnreachable))
            .is_ok()
    );

    assert_eq!(
        err(&with(
            disposed_with(DisposalKind::Resolved),
            &[
                rated(Rating::Dissatisfied),
                exemption(ExemptionKind::CitizenUnreachable)
            ]
        )),
        "cannot close: ticket is FEEDBACK (citizen was reached and rated DISSATISFIED)"
    );
}

#[test]
fn unresolvable_exemption_only_for_unresolvable_disposals() {
    let lp = ok(&with(
        disposed_with(DisposalKind::Unresolvable),
        &[
            rated(Rating::Dissatisfied),
            exemption(ExemptionKind::Unresolvable),
        ],
    ));
    assert_eq!(
        lp.state,
        State::Closed {
            basis: CloseBasis::Exemption {
                kind: ExemptionKind::Unresolvable,
                reason: "confirmed by supervisor s1".into()
            },
            rating: Some(Rating::Dissatisfied)
        }
    );
    assert_eq!(
        err(&with(
            disposed_with(DisposalKind::Resolved),
            &[
                rated(Rating::Dissatisfied),
                exemption(ExemptionKind::Unresolvable)
            ]
        )),
        "cannot close: ticket is FEEDBACK (disposal was RESOLVED)"
    );
    // Still no skipping the feedback step.
    assert_eq!(
        err(&with(
            disposed_with(DisposalKind::Unresolvable),
            &[exemption(ExemptionKind::Unresolvable)]
        )),
        "cannot close: ticket is DISPOSED (no feedback recorded)"
    );
}

#[test]
fn an_exemption_needs_a_reason() {
    let blank = Event::Closed {
        basis: CloseBasis::Exemption {
            kind: ExemptionKind::Unresolvable,
            reason: "  ".into(),
        },
    };
    assert_eq!(
        err(&with(
            disposed_with(DisposalKind::Unresolvable),
            &[rated(Rating::Dissatisfied), blank]
        )),
        "cannot close: ticket is FEEDBACK (an exemption needs a reason)"
    );
}

#[test]
fn dissatisfied_reopens_for_rework_with_the_same_worker_to_sign_again() {
    let lp = ok(&with(
        disposed_with(DisposalKind::Resolved),
        &[rated(Rating::Dissatisfied), Event::Reopened],
    ));
    assert_eq!(lp.rework_count, 1);
    assert_eq!(
        lp.state,
        State::Reported(Assignment::Dispatched {
            holder: Holder {
                grid: "g1".into(),
                worker: "w1".into()
            },
            accepted: false
        })
    );
    // Second round closes.
    let lp = ok(&with(
        disposed_with(DisposalKind::Resolved),
        &[
            rated(Rating::Dissatisfied),
            Event::Reopened,
            accepted("w1"),
            disposed(DisposalKind::Resolved),
            rated(Rating::Satisfied),
            close_by_rating(),
        ],
    ));
    assert_eq!(lp.rework_count, 1);
    assert_eq!(lp.state.name(), "CLOSED");
}

#[test]
fn only_dissatisfied_reopens() {
    assert_eq!(
        err(&with(
            disposed_with(DisposalKind::Resolved),
            &[rated(Rating::Satisfied), Event::Reopened]
        )),
        "cannot reopen: ticket is FEEDBACK (rated SATISFIED; only DISSATISFIED reopens)"
    );
    assert_eq!(
        err(&with(
            disposed_with(DisposalKind::Resolved),
            &[unreached(), Event::Reopened]
        )),
        "cannot reopen: ticket is FEEDBACK (no rating recorded; only DISSATISFIED reopens)"
    );
    assert_eq!(
        err(&with(
            disposed_with(DisposalKind::Resolved),
            &[Event::Reopened]
        )),
        "cannot reopen: ticket is DISPOSED (no feedback recorded)"
    );
}

#[test]
fn unroutable_is_informational_before_disposal() {
    let unroutable = Event::Unroutable {
        reason: "no worker on duty".into(),
    };
    assert_eq!(ok(std::slice::from_ref(&unroutable)), LoopState::new());
    let before = ok(&at_work());
    assert_eq!(
        ok(&with(at_work(), std::slice::from_ref(&unroutable))),
        before
    );
    assert_eq!(
        err(&with(disposed_with(DisposalKind::Resolved), &[unroutable])),
        "cannot mark unroutable: ticket is DISPOSED (already disposed)"
    );
}

#[test]
fn supervision_events_are_legal_until_terminal_and_only_count() {
    let info = [
        Event::Overdue {
            clock: Clock::Respond,
        },
        Event::Escalated { grid: "g0".into() },
        Event::Violation { reason: "x".into() },
    ];
    let prefix = with(
        disposed_with(DisposalKind::Resolved),
        &[rated(Rating::Satisfied)],
    );
    for n in 0..=prefix.len() {
        let before = ok(&prefix[..n]);
        let after = ok(&with(prefix[..n].to_vec(), &info));
        assert_eq!(after.state, before.state);
        assert_eq!(after.overdue_count, 1);
        assert_eq!(after.escalation_count, 1);
    }
}

#[test]
fn nothing_leaves_closed_or_merged() {
    let closed = with(
        disposed_with(DisposalKind::Resolved),
        &[rated(Rating::Satisfied), close_by_rating()],
    );
    let merged = vec![Event::Merged {
        parent: "t0".into(),
    }];
    let all = [
        Event::discovered(),
        Event::Merged { parent: "p".into() },
        dispatched("w1"),
        accepted("w1"),
        Event::Returned { reason: "r".into() },
        Event::Transferred {
            to_grid: "g".into(),
        },
        Event::Unroutable { reason: "r".into() },
        disposed(DisposalKind::Resolved),
        rated(Rating::Satisfied),
        close_by_rating(),
        Event::Reopened,
        Event::Overdue {
            clock: Clock::Dispose,
        },
        Event::Escalated { grid: "g".into() },
        Event::Violation { reason: "r".into() },
    ];
    let kinds: Vec<_> = all.iter().map(Event::kind).collect();
    assert_eq!(kinds, Event::KINDS);
    for terminal in [closed, merged] {
        let lp = ok(&terminal);
        for event in &all {
            let v = apply(&lp, event).unwrap_err();
            assert_eq!(v.event, event.kind());
            assert_eq!(v.detail, "terminal");
            assert_eq!(v.state, lp.state.name());
        }
    }
}
