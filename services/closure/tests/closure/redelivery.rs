//! Redelivered and repeated events change nothing.

use gridloop_platform::outbox::new_event;
use gridloop_proto::v1 as pb;
use prost::Message as _;
use uuid::Uuid;

use crate::support::*;

#[tokio::test]
async fn redelivered_events_change_nothing() {
    let h = start().await;
    let id = Uuid::now_v7();
    h.feed(
        id,
        dispatched(WORKER, 1, chrono::Utc::now() + chrono::Duration::days(3)),
    )
    .await;
    let accept = h.feed(id, accepted(WORKER, 1)).await;
    let before = h.counts().await;

    // The same event again, past the stream's duplicate window (no Nats-Msg-Id), as a
    // redelivery after a lost ack would look: the inbox drops it.
    h.bus
        .js
        .publish(h.bus.subject("accepted"), accept.encode_to_vec().into())
        .await
        .unwrap()
        .await
        .unwrap();
    // A second, different `accepted` for the same dispatch: the rules refuse it.
    let repeat = new_event("routing", &id.to_string(), accepted(WORKER, 1));
    h.feed_event(&repeat).await;
    // A later event of another ticket: once it is applied, the ones before it were handled.
    h.feed(
        Uuid::now_v7(),
        dispatched("w-marker", 1, chrono::Utc::now()),
    )
    .await;

    let after = h.counts().await;
    assert_eq!(
        after.tickets[..1],
        before.tickets[..1].to_vec()[..],
        "ticket row unchanged"
    );
    // The refused repeat is reported (one `violation` in the outbox), nothing else written.
    assert_eq!(
        (after.disposals, after.feedback, after.ledger, after.outbox),
        (0, 0, 0, 1)
    );
    let reported: Vec<String> = sqlx::query_scalar("SELECT subject FROM outbox")
        .fetch_all(&h.pool)
        .await
        .unwrap();
    assert_eq!(reported, ["violation"]);
    let copies: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox WHERE event_id = $1")
        .bind(Uuid::parse_str(&accept.event_id).unwrap())
        .fetch_one(&h.pool)
        .await
        .unwrap();
    assert_eq!(copies, 1);
    let accepted_on_stream = h.events(id, "accepted", 3).await;
    assert_eq!(
        accepted_on_stream.len(),
        3,
        "the stream did deliver the repeats"
    );

    // The view still works: the accepted worker's disposal is taken in, once even when the
    // stream delivers it again.
    let d = h.dispose(id).await;
    h.bus
        .js
        .publish(h.bus.subject("disposed"), d.encode_to_vec().into())
        .await
        .unwrap()
        .await
        .unwrap();
    h.feed(
        Uuid::now_v7(),
        dispatched("w-marker-2", 1, chrono::Utc::now()),
    )
    .await;
    let view = h.view(id).await;
    assert_eq!(view.state, pb::LifecycleState::Disposed as i32);
    assert_eq!(view.worker_id, WORKER);
    assert_eq!(view.disposals.len(), 1);
}
