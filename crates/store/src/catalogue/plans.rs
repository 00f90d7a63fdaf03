//! The plans SQLite picks for the statements that no index holds whole: they must read only the indexes meant for
//! them (see docs/STORAGE.md), never every delivery. A plan that falls back to a scan of the table answers the same
//! rows, so only the plan shows it.

use chrono::Utc;
use herald_domain::{ApplicationId, WebhookId};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Row, Sqlite};
use uuid::Uuid;

use super::applications::{application_webhooks, cancel_open};
use super::maintenance::{replay_statement, FAILING};
use crate::dialect::{sql, Stmt};
use crate::DeliveryState;

/// A connection to a new in-memory database with Herald's schema.
async fn schema() -> SqliteConnection {
    let mut conn = SqliteConnectOptions::new().in_memory(true).connect().await.expect("an in-memory database");
    sqlx::migrate!("./migrations/sqlite").run(&mut conn).await.expect("migrates");
    conn
}

/// The lines of `statement`'s query plan, each as SQLite words it (`SEARCH d USING INDEX …`, `SCAN …`).
async fn plan(conn: &mut SqliteConnection, statement: Stmt<'_, Sqlite>) -> Vec<String> {
    let rows = statement.explained("EXPLAIN QUERY PLAN ").all(conn).await.expect("explains");
    rows.iter().map(|r| r.get::<String, _>("detail")).collect()
}

/// Every step of `plan` that reads `deliveries` goes through one of `indexes`, and together they use each of them.
fn reads_deliveries_only_through(plan: &[String], indexes: &[&str]) {
    let reads: Vec<&String> = plan.iter().filter(|l| l.contains(" deliveries") || l.contains(" d ")).collect();
    for line in &reads {
        assert!(indexes.iter().any(|i| line.contains(&format!("INDEX {i}"))), "{line} in {plan:#?}");
    }
    for index in indexes {
        assert!(reads.iter().any(|l| l.contains(&format!("INDEX {index}"))), "no {index} in {plan:#?}");
    }
}

#[tokio::test]
async fn cancelling_a_webhooks_or_an_applications_deliveries_reads_the_indexes_of_open_deliveries_only() {
    let mut conn = schema().await;
    let webhook = Uuid::now_v7();
    let open =
        ["sqlite_autoindex_deliveries_1", "deliveries_free_by_webhook", "deliveries_held", "deliveries_open_by_entity"];

    let one = plan(
        &mut conn,
        cancel_open(Utc::now(), |q| {
            q.arg(webhook);
        }),
    )
    .await;
    let all = plan(&mut conn, cancel_open(Utc::now(), |q| application_webhooks(q, ApplicationId(webhook)))).await;

    reads_deliveries_only_through(&one, &open);
    reads_deliveries_only_through(&all, &open);
}

#[tokio::test]
async fn a_replay_window_reads_the_deliveries_created_within_it() {
    let mut conn = schema().await;
    let (from, to) = (Utc::now() - chrono::Duration::hours(1), Utc::now());
    let states = [DeliveryState::Failed, DeliveryState::Dead];

    let window = plan(&mut conn, replay_statement(WebhookId(Uuid::now_v7()), Some(from), Some(to), &states, 10)).await;
    let since = plan(&mut conn, replay_statement(WebhookId(Uuid::now_v7()), Some(from), None, &states, 10)).await;

    assert!(
        window.iter().any(|l| l.contains("SEARCH d USING INDEX deliveries_by_created (created>? AND created<?)")),
        "{window:#?}"
    );
    assert!(since.iter().any(|l| l.contains("SEARCH d USING INDEX deliveries_by_created (created>?)")), "{since:#?}");
}

#[tokio::test]
async fn the_failing_webhooks_are_read_through_their_partial_index() {
    let mut conn = schema().await;

    let count = plan(&mut conn, sql(format!("SELECT COUNT(*) FROM webhooks WHERE {FAILING}"))).await;
    let mut before = sql(format!("SELECT id FROM webhooks WHERE {FAILING} AND failing_since < "));
    before.arg(0i64);
    let disable = plan(&mut conn, before).await;

    assert_eq!(count, vec!["SEARCH webhooks USING INDEX webhooks_failing (failing_since>?)"]);
    assert_eq!(disable, vec!["SEARCH webhooks USING INDEX webhooks_failing (failing_since>? AND failing_since<?)"]);
}
