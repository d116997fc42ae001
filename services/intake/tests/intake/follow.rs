//! Intake follows the loop: the other services' events, fed onto the test's stream as their
//! relays would publish them, move intake's view; GetTicket and FindTickets answer from it,
//! and a repeat merges only into a ticket still open.

use std::time::Duration;

use chrono::Utc;
use gridloop_platform::nats::Bus;
use gridloop_platform::{outbox, testing};
use gridloop_proto::v1::ticket_event::Body;
use gridloop_proto::v1::*;
use sqlx::Connection;

use crate::support::*;

const GRID: &str = "341504100201";
const WORKER: &str = "w-0001";

/// The events routing and closure send as a ticket runs its loop to a satisfied write-off.
fn the_loop() -> Vec<(&'static str, Body)> {
    let now = Utc::now();
    vec![
        (
            "routing",
            Body::Dispatched(TicketDispatched {
                grid_code: GRID.into(),
                grid_name: "幸福村3组".into(),
                worker_id: WORKER.into(),
                attempt: 1,
                deadlines: Some(Deadlines {
                    respond_by: Some(gridloop_proto::ts(now + chrono::Duration::hours(2))),
                    dispose_by: Some(gridloop_proto::ts(now + chrono::Duration::days(5))),
                }),
                ..Default::default()
            }),
        ),
        (
            "routing",
            Body::Accepted(TicketAccepted {
                worker_id: WORKER.into(),
                grid_code: GRID.into(),
                attempt: 1,
                on_time: true,
            }),
        ),
        (
            "closure",
            Body::Disposed(TicketDisposed {
                worker_id: WORKER.into(),
                grid_code: GRID.into(),
                disposal_type: DisposalType::Resolved as i32,
                result: "已上门调解, 双方达成一致".into(),
                disposed_at: Some(gridloop_proto::ts(now)),
                ..Default::default()
            }),
        ),
        (
            "closure",
            Body::FeedbackRecorded(TicketFeedbackRecorded {
                rating: Rating::Satisfied as i32,
                reached: true,
                ..Default::default()
            }),
        ),
        (
            "closure",
            Body::Closed(TicketClosed {
                basis: Some(ticket_closed::Basis::Rating(Rating::Satisfied as i32)),
                on_time: true,
                grid_code: GRID.into(),
                worker_id: WORKER.into(),
                ..Default::default()
            }),
        ),
    ]
}

async fn bus(h: &Harness) -> Bus {
    Bus::connect(&h.env.config("intake")).await.expect("NATS")
}

/// Publishes `events` about `ticket` in order, after intake's own events are on the stream
/// (routing acts only on a `discovered` it has read, so its events always come after).
async fn feed(h: &Harness, ticket: &str, events: Vec<(&'static str, Body)>) {
    h.published("discovered").await;
    let bus = bus(h).await;
    for (producer, body) in events {
        let event = outbox::new_event(producer, ticket, body);
        testing::publish(&bus, &event).await.expect("published");
    }
}

async fn get(h: &Harness, ticket: &str) -> GetTicketResponse {
    h.client
        .clone()
        .get_ticket(req(
            GetTicketRequest {
                ticket_id: ticket.into(),
            },
            &operator(),
        ))
        .await
        .expect("the ticket")
        .into_inner()
}

/// Waits (bounded) until intake shows `ticket` in `state`; returns what it shows.
async fn until_state(h: &Harness, ticket: &str, state: LifecycleState) -> GetTicketResponse {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let got = get(h, ticket).await;
        if got.ticket.as_ref().map(|t| t.state()) == Some(state) {
            return got;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{ticket} never showed {state:?}: {got:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn submit(h: &Harness, msg: SubmitHotlineTicketRequest) -> SubmitTicketResponse {
    h.client
        .clone()
        .submit_hotline_ticket(req(msg, &operator()))
        .await
        .expect("accepted")
        .into_inner()
}

#[tokio::test]
async fn get_ticket_shows_where_the_loop_stands() {
    let h = start().await;
    let t = submit(&h, hotline("LP-1", "13812345678", "neighbor_dispute")).await;
    let id = t.ticket_id.as_str();
    let mut steps = the_loop().into_iter();
    feed(&h, id, steps.by_ref().take(2).collect()).await;

    // Dispatched and accepted: the grid, the worker and the deadlines.
    let got = until_state(&h, id, LifecycleState::Reported).await;
    wait_for("the acceptance", Duration::from_secs(30), || async {
        get(&h, id).await.ticket.unwrap().accepted
    })
    .await;
    let ticket = got.ticket.unwrap();
    assert_eq!(
        (ticket.grid_code.as_str(), ticket.worker_id.as_str()),
        (GRID, WORKER)
    );
    let deadlines = ticket.deadlines.expect("deadlines");
    assert!(deadlines.respond_by.is_some() && deadlines.dispose_by.is_some());
    assert!(ticket.closed_at.is_none());

    // Disposed, rated and written off.
    feed(&h, id, steps.collect()).await;
    let got = until_state(&h, id, LifecycleState::Closed).await;
    let ticket = got.ticket.unwrap();
    assert!(ticket.closed_at.is_some());
    assert_eq!(ticket.grid_code, GRID);
    assert_eq!(ticket.worker_id, WORKER);
    let disposal = ticket.disposal.clone().expect("the disposal");
    assert_eq!(disposal.disposal_type(), DisposalType::Resolved);
    assert_eq!(disposal.result, "已上门调解, 双方达成一致");
    assert_eq!(ticket.rating(), Rating::Satisfied);
    assert_eq!(
        ticket.close_basis,
        Some(ticket::CloseBasis::ClosedOnRating(Rating::Satisfied as i32))
    );
    let kinds: Vec<&str> = got.history.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "discovered",
            "dispatched",
            "accepted",
            "disposed",
            "feedback_recorded",
            "closed"
        ]
    );
    assert!(
        got.history[1].summary.contains("幸福村3组"),
        "{:?}",
        got.history
    );

    // FindTickets tells the same, by phone and by the hotline's own id.
    let by_phone = h
        .client
        .clone()
        .find_tickets(req(
            FindTicketsRequest {
                phone: "13812345678".into(),
                ..Default::default()
            },
            &operator(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_phone.tickets.len(), 1);
    assert_eq!(by_phone.tickets[0].state(), LifecycleState::Closed);
    let by_id = h
        .client
        .clone()
        .find_tickets(req(
            FindTicketsRequest {
                channel: Channel_::Hotline12345 as i32,
                external_id: "LP-1".into(),
                ..Default::default()
            },
            &operator(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_id.tickets.len(), 1);
    assert_eq!(by_id.tickets[0].closed_at, ticket.closed_at);
    // The view is the lifecycle's state, readable as the verify tool reads it.
    let state: String = sqlx::query_scalar(
        "SELECT loop_state->'state'->'closed'->>'rating' FROM intake.ticket_loop \
         WHERE ticket_id = $1::uuid",
    )
    .bind(id)
    .fetch_one(&h.db)
    .await
    .unwrap();
    assert_eq!(state, "SATISFIED");
}

#[tokio::test]
async fn a_repeat_after_the_write_off_is_a_new_ticket() {
    let h = start().await;
    let first = submit(&h, hotline("RC-1", "13812345678", "environment")).await;
    feed(&h, &first.ticket_id, the_loop()).await;
    until_state(&h, &first.ticket_id, LifecycleState::Closed).await;

    // The same caller about the same matter, after the write-off: a ticket of its own.
    let again = submit(&h, hotline("RC-2", "13812345678", "environment")).await;
    assert_eq!(again.outcome(), SubmitOutcome::Created);
    assert_ne!(again.ticket_id, first.ticket_id);
    assert_eq!(again.repeat_count, 0);
    let got = until_state(&h, &again.ticket_id, LifecycleState::Discovered).await;
    assert!(got.ticket.unwrap().parent_ticket_id.is_empty());
    // And repeats join the new, open ticket.
    let third = submit(&h, hotline("RC-3", "13812345678", "environment")).await;
    assert_eq!(third.outcome(), SubmitOutcome::Merged);
    assert_eq!(third.ticket_id, again.ticket_id);
    assert_eq!(h.published("discovered").await.len(), 2);
}

#[tokio::test]
async fn a_one_key_press_after_the_write_off_is_a_new_ticket() {
    let h = start().await;
    h.client
        .clone()
        .register_device(req(
            RegisterDeviceRequest {
                device_id: "DEV-LP".into(),
                address: "幸福村3组12号".into(),
                grid_code: GRID.into(),
                contact_phone: "13611112222".into(),
                contact_name: "王秀英".into(),
                ..Default::default()
            },
            &admin(),
        ))
        .await
        .expect("registered");
    let press = |id: &str| SubmitOneKeyCallRequest {
        device_id: "DEV-LP".into(),
        press_id: id.into(),
        pressed_at: Some(now_ts()),
        voice_note_url: String::new(),
    };
    let mut client = h.client.clone();
    let first = client
        .submit_one_key_call(req(press("P-1"), &service()))
        .await
        .unwrap()
        .into_inner();
    let merged = client
        .submit_one_key_call(req(press("P-2"), &service()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(merged.outcome(), SubmitOutcome::Merged, "open: a repeat");
    feed(&h, &first.ticket_id, the_loop()).await;
    until_state(&h, &first.ticket_id, LifecycleState::Closed).await;

    let again = client
        .submit_one_key_call(req(press("P-3"), &service()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.outcome(), SubmitOutcome::Created);
    assert_ne!(again.ticket_id, first.ticket_id);
}

/// The race: intake merges a repeat while closure's write-off of the parent is already on the
/// stream but not yet applied by intake. Made deterministic by holding the parent's view row,
/// which intake's consumer must lock to apply the write-off: the repeat is merged (intake's
/// view says open) and its `merged` lands on the stream after the `closed`.
#[tokio::test]
async fn a_repeat_merged_before_the_write_off_was_seen_is_filed_as_its_own_ticket() {
    let h = start().await;
    let parent = submit(&h, hotline("RX-1", "13812345678", "environment")).await;
    let p = parent.ticket_id.clone();
    let mut steps = the_loop();
    let closed = steps.pop().expect("the write-off");
    feed(&h, &p, steps).await;
    until_state(&h, &p, LifecycleState::Feedback).await;

    let mut hold = sqlx::PgConnection::connect(&h.env.database_url)
        .await
        .unwrap();
    let mut held = hold.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM intake.ticket_loop WHERE ticket_id = $1::uuid FOR UPDATE")
        .bind(&p)
        .execute(&mut *held)
        .await
        .unwrap();
    feed(&h, &p, vec![closed]).await;
    let repeat = submit(&h, hotline("RX-2", "13812345678", "environment")).await;
    // The caller is told what intake knew: merged into the open ticket, with its own id.
    assert_eq!(repeat.outcome(), SubmitOutcome::Merged);
    assert_eq!(repeat.ticket_id, p);
    let child = repeat.merged_ticket_id.clone();
    h.published("merged").await;
    held.rollback().await.unwrap();

    // The write-off came first on the stream: the repeat is filed as a ticket of its own.
    let got = until_state(&h, &child, LifecycleState::Discovered).await;
    let ticket = got.ticket.unwrap();
    assert_eq!(ticket.split_from_ticket_id, p);
    assert!(ticket.parent_ticket_id.is_empty());
    let kinds: Vec<&str> = got.history.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["discovered", "merged", "discovered"]);
    assert_eq!(got.history[2].related_ticket_id, p);
    let split = h.published("discovered").await;
    let split: Vec<&TicketEvent> = split.iter().filter(|e| e.ticket_id == child).collect();
    assert_eq!(split.len(), 1, "one discovered for the split repeat");
    let Some(Body::Discovered(d)) = &split[0].body else {
        panic!("not a discovered body")
    };
    assert_eq!(d.split_from_ticket_id, p);
    assert_eq!(d.external_id, "RX-2");
    assert_eq!(d.contact.as_ref().unwrap().masked_phone, "138****5678");
    assert_no_phone(split[0], "13812345678");
    // A retry of the submission now follows the repeat's own ticket.
    let retry = submit(&h, hotline("RX-2", "13812345678", "environment")).await;
    assert_eq!(retry.outcome(), SubmitOutcome::Replayed);
    assert_eq!(retry.ticket_id, child);
    // It waits there as an open ticket: the next repeat joins it, not the closed one.
    let next = submit(&h, hotline("RX-3", "13812345678", "environment")).await;
    assert_eq!(
        (next.outcome(), next.ticket_id.as_str()),
        (SubmitOutcome::Merged, child.as_str())
    );

    // The closed parent lists the repeat as filed apart and does not count it.
    let got = until_state(&h, &p, LifecycleState::Closed).await;
    assert_eq!(got.ticket.unwrap().repeat_count, 0);
    let filed_apart = got
        .history
        .iter()
        .find(|e| e.related_ticket_id == child)
        .expect("the repeat in the parent's history");
    assert!(filed_apart.summary.contains("另行立单"), "{filed_apart:?}");
    // Found by the hotline's own id of the repeat, filed as its own ticket.
    let by_id = h
        .client
        .clone()
        .find_tickets(req(
            FindTicketsRequest {
                channel: Channel_::Hotline12345 as i32,
                external_id: "RX-2".into(),
                ..Default::default()
            },
            &operator(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_id.tickets[0].ticket_id, child);
    assert_eq!(by_id.tickets[0].split_from_ticket_id, p);
}
