//! Outbox → relay → JetStream → inbox consumer: exactly once, in commit order, through the
//! failures the design names.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gridloop_platform::inbox::{self, Consumer};
use gridloop_platform::nats::Bus;
use gridloop_platform::outbox::{self, Relay, RelayOptions};
use gridloop_platform::testing::{TestEnv, stream_events};
use gridloop_proto::v1::TicketAccepted;
use gridloop_proto::v1::ticket_event::Body;
use tokio_util::sync::CancellationToken;

use crate::support::*;

const WAIT: Duration = Duration::from_secs(30);

fn tickets(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("t-{}", i % 7)).collect()
}

#[tokio::test]
async fn committed_events_arrive_once_in_commit_order_and_rollbacks_never() {
    let env = TestEnv::new().await;
    let svc = service(&env, "obx").await;

    // Interleave committed and rolled-back transactions.
    let mut expected = Vec::new();
    for (i, t) in tickets(40).into_iter().enumerate() {
        let ev = outbox::new_event(
            "test",
            &ticket(&t),
            Body::Accepted(TicketAccepted::default()),
        );
        let mut tx = svc.pool.begin().await.unwrap();
        outbox::enqueue(&mut tx, &ev).await.unwrap();
        if i % 5 == 4 {
            tx.rollback().await.unwrap();
        } else {
            tx.commit().await.unwrap();
            expected.push(ev.event_id);
        }
    }

    let stop = CancellationToken::new();
    tokio::spawn(
        Relay::new(svc.pool.clone(), svc.bus.clone(), RelayOptions::default()).run(stop.clone()),
    );
    spawn_recorder(&svc, &stop);

    wait_for("all committed events applied", WAIT, || async {
        applied(&svc.pool).await.len() >= expected.len()
    })
    .await;
    // Anything extra (a rolled-back event, a duplicate) would have arrived by now too.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(applied(&svc.pool).await, expected);
    assert_eq!(stream_len(&svc.bus).await, expected.len() as u64);
    assert_eq!(outbox::pending(&svc.pool).await.unwrap(), 0);
    stop.cancel();
}

#[tokio::test]
async fn relay_waits_out_an_unreachable_nats_and_loses_nothing() {
    let env = TestEnv::new().await;
    let svc = service(&env, "obx").await;
    let proxy = Proxy::start(&env.nats_url).await;
    let mut cut_cfg = svc.cfg.clone();
    cut_cfg.nats_url = proxy.url.clone();
    let cut_bus = Bus::connect(&cut_cfg).await.unwrap();

    let stop = CancellationToken::new();
    spawn_recorder(&svc, &stop);
    let relay = Relay::new(
        svc.pool.clone(),
        cut_bus,
        RelayOptions {
            poll: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
            ..Default::default()
        },
    );
    tokio::spawn(relay.run(stop.clone()));

    let first = enqueue_committed(&svc.pool, &tickets(5)).await;
    wait_for("first events applied", WAIT, || async {
        applied(&svc.pool).await.len() == 5
    })
    .await;

    proxy.set_up(false);
    let second = enqueue_committed(&svc.pool, &tickets(12)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        outbox::pending(&svc.pool).await.unwrap(),
        12,
        "nothing is marked sent while NATS is away"
    );
    assert_eq!(stream_len(&svc.bus).await, 5);

    proxy.set_up(true);
    wait_for("events after the outage applied", WAIT, || async {
        applied(&svc.pool).await.len() >= 17
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let expected: Vec<String> = first.into_iter().chain(second).collect();
    assert_eq!(applied(&svc.pool).await, expected);
    assert_eq!(stream_len(&svc.bus).await, 17);
    stop.cancel();
}

#[tokio::test]
async fn relay_killed_between_publish_and_mark_duplicates_nothing() {
    let env = TestEnv::new().await;
    let svc = service(&env, "obx").await;
    let expected = enqueue_committed(&svc.pool, &tickets(10)).await;

    let relay = Relay::new(svc.pool.clone(), svc.bus.clone(), RelayOptions::default());
    relay.crash_after_next_publish();
    assert!(relay.publish_pending().await.is_err());
    assert_eq!(
        stream_len(&svc.bus).await,
        10,
        "the batch reached the stream"
    );
    assert_eq!(
        outbox::pending(&svc.pool).await.unwrap(),
        10,
        "but was never marked sent"
    );

    // A fresh relay (the restarted process) republishes; the stream drops the duplicates.
    let restarted = Relay::new(svc.pool.clone(), svc.bus.clone(), RelayOptions::default());
    assert_eq!(restarted.publish_pending().await.unwrap(), 10);
    assert_eq!(stream_len(&svc.bus).await, 10);
    assert_eq!(outbox::pending(&svc.pool).await.unwrap(), 0);

    let stop = CancellationToken::new();
    spawn_recorder(&svc, &stop);
    wait_for("events applied", WAIT, || async {
        applied(&svc.pool).await.len() >= 10
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(applied(&svc.pool).await, expected);

    // Replay republishes every sent row; consumers' inboxes drop what they already applied.
    let since = chrono::Utc::now() - chrono::Duration::hours(1);
    assert_eq!(outbox::replay_since(&svc.pool, since).await.unwrap(), 10);
    assert_eq!(restarted.publish_pending().await.unwrap(), 10);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(applied(&svc.pool).await, expected);
    stop.cancel();
}

#[tokio::test]
async fn a_consumer_dying_after_a_commit_applies_nothing_twice_and_skips_nothing() {
    let env = TestEnv::new().await;
    let svc = service(&env, "obx").await;
    let expected = enqueue_committed(&svc.pool, &tickets(10)).await;
    let relay = Relay::new(svc.pool.clone(), svc.bus.clone(), RelayOptions::default());
    assert_eq!(relay.publish_pending().await.unwrap(), 10);

    // The first process commits what it received and dies.
    let stop = CancellationToken::new();
    Consumer::new(
        svc.pool.clone(),
        svc.bus.clone(),
        consumer_opts(&svc.cfg),
        Recorder,
    )
    .die_after_commit()
    .run(stop.clone())
    .await;
    let first = applied(&svc.pool).await;
    assert!(!first.is_empty());
    assert_eq!(first, expected[..first.len()].to_vec());
    assert_eq!(
        inbox::stored_position(&svc.pool, "obx").await.unwrap(),
        first.len() as u64,
        "the position is the last committed event"
    );

    // Its replacement carries on from the stored position.
    spawn_recorder(&svc, &stop);
    wait_for("remaining events applied", WAIT, || async {
        inbox::stored_position(&svc.pool, "obx").await.unwrap() >= 10
    })
    .await;
    assert_eq!(applied(&svc.pool).await, expected);
    stop.cancel();
}

#[tokio::test]
async fn a_failed_transaction_is_retried_before_any_later_event_is_applied() {
    let env = TestEnv::new().await;
    let svc = service(&env, "obx").await;
    let mut names = tickets(5);
    names.push("flaky".into());
    names.extend(tickets(20));
    let expected = enqueue_committed(&svc.pool, &names).await;
    let relay = Relay::new(svc.pool.clone(), svc.bus.clone(), RelayOptions::default());
    assert_eq!(relay.publish_pending().await.unwrap(), names.len());

    let stop = CancellationToken::new();
    let failures = Arc::new(AtomicUsize::new(2));
    tokio::spawn(
        Consumer::new(
            svc.pool.clone(),
            svc.bus.clone(),
            consumer_opts(&svc.cfg),
            Flaky {
                failures: failures.clone(),
            },
        )
        .run(stop.clone()),
    );
    wait_for("every event applied", WAIT, || async {
        inbox::stored_position(&svc.pool, "obx").await.unwrap() >= names.len() as u64
    })
    .await;
    assert_eq!(failures.load(Ordering::SeqCst), 0, "it did fail twice");
    assert_eq!(
        applied(&svc.pool).await,
        expected,
        "applied in stream order"
    );
    assert!(inbox::dead_letters(&svc.pool, 10).await.unwrap().is_empty());
    stop.cancel();
}

#[tokio::test]
async fn a_database_outage_mid_stream_reorders_and_dead_letters_nothing() {
    let env = TestEnv::new().await;
    let svc = service(&env, "obx").await;
    // The consumer reaches PostgreSQL through a proxy the test cuts; the relay does not.
    let proxy = Proxy::start(&env.database_url).await;
    let mut cut_cfg = svc.cfg.clone();
    cut_cfg.database_url = proxy.url.clone().into();
    let cut_pool = gridloop_platform::db::setup(&cut_cfg, &MIGRATOR)
        .await
        .expect("schema through the proxy");
    let stop = CancellationToken::new();
    tokio::spawn(
        Consumer::new(cut_pool, svc.bus.clone(), consumer_opts(&svc.cfg), Recorder)
            .run(stop.clone()),
    );
    let relay = Relay::new(svc.pool.clone(), svc.bus.clone(), RelayOptions::default());
    let mut expected = enqueue_committed(&svc.pool, &tickets(20)).await;
    relay.publish_pending().await.unwrap();
    wait_for("first events applied", WAIT, || async {
        applied(&svc.pool).await.len() == 20
    })
    .await;

    proxy.set_up(false);
    expected.extend(enqueue_committed(&svc.pool, &tickets(30)).await);
    relay.publish_pending().await.unwrap();
    // Long enough for every attempt budget to run out, were an outage counted as attempts.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        applied(&svc.pool).await.len(),
        20,
        "nothing applied while cut off"
    );

    proxy.set_up(true);
    wait_for("events after the outage applied", WAIT, || async {
        inbox::stored_position(&svc.pool, "obx").await.unwrap() >= 50
    })
    .await;
    assert_eq!(applied(&svc.pool).await, expected);
    assert!(inbox::dead_letters(&svc.pool, 10).await.unwrap().is_empty());
    stop.cancel();
}

#[tokio::test]
async fn two_consumers_of_one_service_never_interleave_or_repeat() {
    let env = TestEnv::new().await;
    let svc = service(&env, "obx").await;
    let stop = CancellationToken::new();
    // Two replicas both believing they lead, as after a lost lock connection.
    spawn_recorder(&svc, &stop);
    spawn_recorder(&svc, &stop);
    let relay = Relay::new(svc.pool.clone(), svc.bus.clone(), RelayOptions::default());
    let mut expected = Vec::new();
    for _ in 0..6 {
        expected.extend(enqueue_committed(&svc.pool, &tickets(15)).await);
        relay.publish_pending().await.unwrap();
    }
    wait_for("every event applied", WAIT, || async {
        inbox::stored_position(&svc.pool, "obx").await.unwrap() >= expected.len() as u64
    })
    .await;
    assert_eq!(applied(&svc.pool).await, expected);
    stop.cancel();
}

#[tokio::test]
async fn an_event_that_keeps_failing_is_dead_lettered_and_the_rest_flow() {
    let env = TestEnv::new().await;
    let svc = service(&env, "obx").await;
    let mut names = vec!["a".to_string(), "poison".to_string(), "b".to_string()];
    names.extend(tickets(3));
    let ids = enqueue_committed(&svc.pool, &names).await;
    let expected: Vec<String> = ids
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, id)| id.clone())
        .collect();

    let stop = CancellationToken::new();
    tokio::spawn(
        Relay::new(svc.pool.clone(), svc.bus.clone(), RelayOptions::default()).run(stop.clone()),
    );
    let mut opts = consumer_opts(&svc.cfg);
    opts.max_deliveries = 2;
    tokio::spawn(
        Consumer::new(svc.pool.clone(), svc.bus.clone(), opts, Recorder).run(stop.clone()),
    );

    wait_for("poison dead-lettered", WAIT, || async {
        !inbox::dead_letters(&svc.pool, 10).await.unwrap().is_empty()
    })
    .await;
    wait_for("others applied", WAIT, || async {
        applied(&svc.pool).await.len() >= expected.len()
    })
    .await;
    // The refusal is reported on the stream for the tracker's ListViolations; the recorder
    // refuses that event too (same ticket), which is dead-lettered without a second report.
    wait_for("the violation dead-lettered as well", WAIT, || async {
        inbox::dead_letters(&svc.pool, 10).await.unwrap().len() == 2
    })
    .await;
    let violation = stream_events(&svc.bus, Some("violation"))
        .await
        .into_iter()
        .find_map(|m| match m.event.body {
            Some(Body::Violation(v)) => Some(v),
            _ => None,
        })
        .expect("a violation event");
    assert_eq!(violation.rejected_event_id, ids[1]);
    assert_eq!(violation.detected_by, "obx");
    assert!(violation.reason.contains("cannot be applied"));
    let mut dead = inbox::dead_letters(&svc.pool, 10).await.unwrap();
    dead.retain(|d| d.event_id == ids[1]);
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].event_id, ids[1]);
    assert_eq!(dead[0].deliveries, 2);
    assert!(dead[0].error.contains("cannot be applied"));
    let mut got = applied(&svc.pool).await;
    got.sort();
    let mut want = expected.clone();
    want.sort();
    assert_eq!(got, want);
    stop.cancel();
}

#[tokio::test]
async fn an_idle_relay_is_woken_by_the_commit_not_by_its_poll() {
    let env = TestEnv::new().await;
    let svc = service(&env, "obx").await;
    let stop = CancellationToken::new();
    // A poll this long means only the notification can deliver within the wait below.
    let opts = RelayOptions {
        poll: Duration::from_secs(600),
        ..Default::default()
    };
    tokio::spawn(Relay::new(svc.pool.clone(), svc.bus.clone(), opts).run(stop.clone()));
    spawn_recorder(&svc, &stop);
    wait_for("the relay to declare itself idle", WAIT, || async {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM outbox_relay_idle")
            .fetch_one(&svc.pool)
            .await
            .unwrap()
            == 1
    })
    .await;
    let expected = enqueue_committed(&svc.pool, &tickets(3)).await;
    wait_for("events delivered after a wake-up", WAIT, || async {
        applied(&svc.pool).await.len() >= 3
    })
    .await;
    assert_eq!(applied(&svc.pool).await, expected);
    stop.cancel();
}

#[tokio::test]
async fn an_event_of_a_ticket_id_that_is_not_a_uuid_is_acknowledged_without_a_handler() {
    let env = TestEnv::new().await;
    let svc = service(&env, "obx").await;
    let bad = outbox::new_event(
        "test",
        "not-a-uuid",
        Body::Accepted(TicketAccepted::default()),
    );
    let mut tx = svc.pool.begin().await.unwrap();
    outbox::enqueue(&mut tx, &bad).await.unwrap();
    tx.commit().await.unwrap();
    let expected = enqueue_committed(&svc.pool, &tickets(3)).await;

    let stop = CancellationToken::new();
    tokio::spawn(
        Relay::new(svc.pool.clone(), svc.bus.clone(), RelayOptions::default()).run(stop.clone()),
    );
    spawn_recorder(&svc, &stop);
    wait_for("the valid events applied", WAIT, || async {
        applied(&svc.pool).await.len() >= expected.len()
    })
    .await;
    // Never handed to the handler, not dead-lettered, and recorded so it is read once.
    assert_eq!(applied(&svc.pool).await, expected);
    assert!(inbox::dead_letters(&svc.pool, 10).await.unwrap().is_empty());
    let recorded: i64 = sqlx::query_scalar("SELECT count(*) FROM inbox WHERE event_id = $1")
        .bind(uuid::Uuid::parse_str(&bad.event_id).unwrap())
        .fetch_one(&svc.pool)
        .await
        .unwrap();
    assert_eq!(recorded, 1);
    stop.cancel();
}
