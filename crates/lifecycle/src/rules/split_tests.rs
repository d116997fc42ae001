//! A repeat merged into a ticket that was closed first is split off as its own ticket.

use super::*;

fn merged_into(parent: &str) -> LoopState {
    apply(
        &LoopState::new(),
        &Event::Merged {
            parent: parent.into(),
        },
    )
    .unwrap()
}

fn split_from(parent: &str) -> Event {
    Event::Discovered {
        split_from: Some(parent.into()),
    }
}

#[test]
fn a_merged_repeat_splits_off_its_own_parent_to_discovered() {
    let child = merged_into("p1");
    let split = apply(&child, &split_from("p1")).unwrap();
    assert_eq!(split, LoopState::new(), "a fresh discovered ticket");
    // From there it runs the loop like any ticket.
    let dispatched = apply(
        &split,
        &Event::Dispatched {
            grid: "g1".into(),
            worker: "w1".into(),
        },
    )
    .unwrap();
    assert_eq!(dispatched.state.name(), "REPORTED");
}

#[test]
fn a_split_must_name_the_parent_it_was_merged_into() {
    assert_eq!(
        apply(&merged_into("p1"), &split_from("p2"))
            .unwrap_err()
            .to_string(),
        "cannot discover: ticket is MERGED (merged into p1, not p2)"
    );
    // A plain `discovered` does not leave MERGED either.
    assert_eq!(
        apply(&merged_into("p1"), &Event::discovered())
            .unwrap_err()
            .to_string(),
        "cannot discover: ticket is MERGED (terminal)"
    );
}

#[test]
fn a_split_applies_only_to_a_merged_ticket() {
    assert_eq!(
        apply(&LoopState::new(), &split_from("p1"))
            .unwrap_err()
            .to_string(),
        "cannot discover: ticket is DISCOVERED (already discovered)"
    );
    assert_eq!(
        LoopState::start(&split_from("p1")).unwrap_err().to_string(),
        "cannot discover: ticket is UNKNOWN (split from p1, but never merged)"
    );
    let closed = LoopState {
        state: State::Closed {
            basis: CloseBasis::Rating,
            rating: None,
        },
        ..LoopState::new()
    };
    assert_eq!(
        apply(&closed, &split_from("p1")).unwrap_err().to_string(),
        "cannot discover: ticket is CLOSED (terminal)"
    );
}

#[test]
fn a_split_happens_once() {
    let split = apply(&merged_into("p1"), &split_from("p1")).unwrap();
    assert_eq!(
        apply(&split, &split_from("p1")).unwrap_err().to_string(),
        "cannot discover: ticket is DISCOVERED (already discovered)"
    );
}
