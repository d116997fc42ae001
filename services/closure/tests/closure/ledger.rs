//! The 台账: append-only in the database, and read by grid subtree, dates and pages.

use chrono::{Datelike, Utc};
use gridloop_platform::auth::Role;
use gridloop_proto::v1 as pb;
use sqlx::{Connection, PgConnection};
use tonic::Code;

use crate::support::*;

async fn closed_ticket(h: &Harness) -> uuid::Uuid {
    let id = h.accepted_ticket().await;
    h.dispose(id).await;
    h.client
        .clone()
        .submit_feedback(req(rating(id, pb::Rating::Satisfied), &citizen(CITIZEN)))
        .await
        .unwrap();
    id
}

/// SQLSTATE and message. The trigger raises 42501 as well, so the message tells the
/// revoked privilege ("permission denied for table ledger") from the trigger.
fn sqlstate(e: sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => {
            format!("{} {}", db.code().unwrap_or_default(), db.message())
        }
        other => panic!("expected a database error, got {other}"),
    }
}

#[tokio::test]
async fn the_ledger_refuses_update_and_delete_in_the_database() {
    let h = start().await;
    let id = closed_ticket(&h).await;

    // The service's own role (the pool closure runs on).
    let update = sqlx::query("UPDATE ledger SET on_time = NOT on_time WHERE ticket_id = $1")
        .bind(id)
        .execute(&h.pool)
        .await
        .unwrap_err();
    assert_eq!(sqlstate(update), "42501 permission denied for table ledger");
    let delete = sqlx::query("DELETE FROM ledger WHERE ticket_id = $1")
        .bind(id)
        .execute(&h.pool)
        .await
        .unwrap_err();
    assert_eq!(sqlstate(delete), "42501 permission denied for table ledger");
    let truncate = sqlx::query("TRUNCATE ledger")
        .execute(&h.pool)
        .await
        .unwrap_err();
    assert_eq!(
        sqlstate(truncate),
        "42501 permission denied for table ledger"
    );

    // Even the administrator (who owns the table) hits the trigger.
    let mut admin = PgConnection::connect(&h.env.database_url).await.unwrap();
    let err = sqlx::query("UPDATE closure.ledger SET rework_count = 7")
        .execute(&mut admin)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    let err = sqlx::query("DELETE FROM closure.ledger")
        .execute(&mut admin)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");

    let n: i64 =
        sqlx::query_scalar("SELECT count(*) FROM ledger WHERE ticket_id = $1 AND rework_count = 0")
            .bind(id)
            .fetch_one(&h.pool)
            .await
            .unwrap();
    assert_eq!(n, 1, "the entry is untouched");
}

#[tokio::test]
async fn get_ledger_pages_a_grid_subtree_and_date_range() {
    let h = start().await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(closed_ticket(&h).await.to_string());
    }
    let leader = token(Role::Leader, "leader-1", &[TOWN]);
    let mut c = h.client.clone();

    let first = c
        .get_ledger(req(
            pb::GetLedgerRequest {
                page_size: 2,
                ..Default::default()
            },
            &leader,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first.entries.len(), 2);
    assert!(!first.next_page_token.is_empty());
    let second = c
        .get_ledger(req(
            pb::GetLedgerRequest {
                page_size: 2,
                page_token: first.next_page_token.clone(),
                ..Default::default()
            },
            &leader,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.entries.len(), 1);
    assert!(second.next_page_token.is_empty());
    let listed: Vec<String> = first
        .entries
        .iter()
        .chain(&second.entries)
        .map(|e| e.ticket_id.clone())
        .collect();
    assert_eq!(listed, ids, "oldest first, each once");

    // The village subtree explicitly; a grid outside the caller's scope is refused.
    let village = c
        .get_ledger(req(
            pb::GetLedgerRequest {
                grid_code: GRID.into(),
                ..Default::default()
            },
            &leader,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(village.entries.len(), 3);
    let outside = c
        .get_ledger(req(
            pb::GetLedgerRequest {
                grid_code: "341599".into(),
                ..Default::default()
            },
            &leader,
        ))
        .await
        .unwrap_err();
    assert_eq!(outside.code(), Code::PermissionDenied);
    let elsewhere = token(Role::Supervisor, "sup-x", &["341599"]);
    let none = c
        .get_ledger(req(pb::GetLedgerRequest::default(), &elsewhere))
        .await
        .unwrap()
        .into_inner();
    assert!(none.entries.is_empty());

    // Dates are Shanghai calendar days.
    let today = Utc::now()
        .with_timezone(&gridloop_lifecycle::calendar::shanghai())
        .date_naive();
    let day = |d: chrono::NaiveDate| pb::Date {
        year: d.year(),
        month: d.month() as i32,
        day: d.day() as i32,
    };
    let range = |d: chrono::NaiveDate| pb::GetLedgerRequest {
        dates: Some(pb::DateRange {
            start: Some(day(d)),
            end: Some(day(d)),
        }),
        ..Default::default()
    };
    let todays = c
        .get_ledger(req(range(today), &leader))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(todays.entries.len(), 3);
    let yesterday = today.pred_opt().unwrap();
    let old = c
        .get_ledger(req(range(yesterday), &leader))
        .await
        .unwrap()
        .into_inner();
    assert!(old.entries.is_empty());
}
