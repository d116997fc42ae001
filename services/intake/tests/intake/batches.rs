//! Submissions arriving together are recorded together (group commit): the per-submission
//! rules must hold inside one batch and across batches recorded at the same time.

use std::collections::HashSet;

use crate::support::*;
use gridloop_proto::v1::ticket_event::Body;
use gridloop_proto::v1::*;

/// Forty repeats of one citizen at once: one ticket, 39 merged into it, every count 1..=39
/// given exactly once — whether they shared a batch or raced in different ones.
#[tokio::test]
async fn concurrent_repeats_of_one_citizen_count_up_once_each() {
    let h = start().await;
    let requests = (0..40)
        .map(|i| hotline(&format!("RB-{i}"), "13700001111", "environment"))
        .collect();
    let answers = accepted_at_once(&h, requests).await;
    let parents: HashSet<&str> = answers.iter().map(|a| a.ticket_id.as_str()).collect();
    assert_eq!(parents.len(), 1, "every repeat follows the one open ticket");
    assert_eq!(with_outcome(&answers, SubmitOutcome::Created), 1);
    let mut counts: Vec<u32> = answers
        .iter()
        .filter(|a| a.outcome() == SubmitOutcome::Merged)
        .map(|a| a.repeat_count)
        .collect();
    counts.sort_unstable();
    assert_eq!(counts, (1..=39).collect::<Vec<u32>>());

    let stored: i32 = sqlx::query_scalar(
        "SELECT repeat_count FROM intake.tickets WHERE parent_ticket_id IS NULL",
    )
    .fetch_one(&h.db)
    .await
    .unwrap();
    assert_eq!(stored, 39);
    assert_eq!(h.count("tickets").await, 40);
    assert_eq!(h.published("discovered").await.len(), 1);
    let mut published: Vec<u32> = h
        .published("merged")
        .await
        .into_iter()
        .map(|e| match e.body {
            Some(Body::Merged(m)) => m.repeat_count,
            other => panic!("not a merge: {other:?}"),
        })
        .collect();
    published.sort_unstable();
    assert_eq!(published, (1..=39).collect::<Vec<u32>>());
}

/// A category retired behind this process's cached catalogue (as through another replica) is
/// refused inside the batch, naming the field, with nothing written for it; the submissions
/// recorded alongside it are unaffected.
#[tokio::test]
async fn a_submission_refused_inside_a_batch_fails_alone() {
    let mut h = start().await;
    // Warm the cache with both categories.
    for (id, cat) in [("WARM-1", "environment"), ("WARM-2", "municipal")] {
        h.client
            .submit_hotline_ticket(req(hotline(id, "13600000000", cat), &operator()))
            .await
            .unwrap();
    }
    sqlx::query("UPDATE intake.categories SET active = false WHERE code = 'municipal'")
        .execute(&h.db)
        .await
        .unwrap();

    let requests = (0..30)
        .map(|i| {
            let category = if i % 3 == 0 {
                "municipal"
            } else {
                "environment"
            };
            hotline(&format!("MIX-{i}"), &format!("1390000{i:04}"), category)
        })
        .collect();
    let answers = submit_at_once(&h, requests).await;
    for (i, answer) in answers.iter().enumerate() {
        if i % 3 == 0 {
            let err = answer.as_ref().expect_err("retired category refused");
            assert_invalid(err, "category_code");
        } else {
            let ok = answer.as_ref().expect("accepted");
            assert_eq!(ok.outcome(), SubmitOutcome::Created);
        }
    }
    let refused: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM intake.tickets WHERE external_id LIKE 'MIX-%' AND category_code = 'municipal'",
    )
    .fetch_one(&h.db)
    .await
    .unwrap();
    assert_eq!(refused, 0, "nothing written for a refused submission");
    assert_eq!(h.count("tickets").await, 2 + 20);
    assert_eq!(h.published("discovered").await.len(), 2 + 20);
}

/// A submission that makes its whole batch fail in the database (here a trigger standing in
/// for any unexpected error) fails alone: the batch is recorded again one by one, the others
/// are accepted once each, and nothing of the failing one is written.
#[tokio::test]
async fn a_batch_that_fails_is_recorded_one_by_one() {
    let h = start().await;
    sqlx::raw_sql(
        "CREATE FUNCTION intake.refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN \
           IF NEW.external_id = 'POISON' THEN RAISE EXCEPTION 'poisoned submission'; END IF; \
           RETURN NEW; \
         END $$; \
         CREATE TRIGGER refuse_poison BEFORE INSERT ON intake.tickets \
           FOR EACH ROW EXECUTE FUNCTION intake.refuse_poison();",
    )
    .execute(&h.db)
    .await
    .unwrap();

    let requests = (0..24)
        .map(|i| {
            let id = if i == 12 {
                "POISON".to_string()
            } else {
                format!("OK-{i}")
            };
            hotline(&id, &format!("1380000{i:04}"), "environment")
        })
        .collect();
    let answers = submit_at_once(&h, requests).await;
    for (i, answer) in answers.iter().enumerate() {
        if i == 12 {
            let err = answer.as_ref().expect_err("the poisoned submission fails");
            assert_eq!(err.code(), tonic::Code::Internal, "{err:?}");
            assert!(
                !err.message().contains("poisoned"),
                "no internals leak: {err:?}"
            );
        } else {
            let ok = answer.as_ref().expect("the others are accepted");
            assert_eq!(ok.outcome(), SubmitOutcome::Created);
        }
    }
    assert_eq!(h.count("tickets").await, 23);
    let events = h.published("discovered").await;
    assert_eq!(events.len(), 23, "each accepted ticket published once");
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM intake.tickets WHERE external_id = 'POISON'")
            .fetch_one(&h.db)
            .await
            .unwrap();
    assert_eq!(stored, 0);
}
