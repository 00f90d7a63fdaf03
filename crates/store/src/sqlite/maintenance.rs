//! Replay, webhook health, metrics, retention and analytics on SQLite: the slow side of events, deliveries and
//! attempts. Reads go through the reader pool; pruning writes in batches of [`PRUNE_BATCH`] rows, one statement and
//! transaction each, so that the single writer connection goes back to the hot path between them.

use chrono::{DateTime, Utc};
use herald_domain::WebhookId;
use sqlx::sqlite::SqlitePool;
use sqlx::{QueryBuilder, Row, Sqlite};

use crate::codec::{id, micros, uuid};
use crate::*;

use super::SqliteStore;

pub async fn replay_candidates(
    reader: &SqlitePool,
    webhook: WebhookId,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    states: &[DeliveryState],
    limit: u32,
) -> StoreResult<Vec<ReplayCandidate>> {
    if states.is_empty() {
        return Ok(Vec::new());
    }
    // With MIN(), SQLite takes the bare columns from the row holding the minimum: the event's earliest delivery.
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
        "SELECT d.event, d.application_id, d.sandbox, e.topic_id, e.customer_id, MIN(d.created) AS first FROM deliveries d \
         JOIN events e ON e.id = d.event WHERE d.webhook_id = ",
    );
    q.push_bind(webhook.to_string()).push(" AND d.state IN (");
    let mut sep = q.separated(", ");
    for s in states {
        sep.push_bind(*s as i64);
    }
    q.push(")");
    if let Some(from) = from {
        q.push(" AND d.created >= ").push_bind(micros(from));
    }
    if let Some(to) = to {
        q.push(" AND d.created <= ").push_bind(micros(to));
    }
    q.push(" GROUP BY d.event ORDER BY first, d.event LIMIT ").push_bind(limit as i64);
    let rows = q.build().fetch_all(reader).await?;
    rows.iter()
        .map(|row| {
            Ok(ReplayCandidate {
                event: uuid(row.try_get("event")?)?,
                application_id: id(row.try_get("application_id")?)?,
                sandbox: row.try_get("sandbox")?,
                topic_id: row.try_get("topic_id")?,
                customer_id: row.try_get("customer_id")?,
            })
        })
        .collect()
}

pub async fn disable_failing_webhooks(
    writer: &SqlitePool,
    failing_before: DateTime<Utc>,
    reason: &str,
    now: DateTime<Utc>,
) -> StoreResult<Vec<WebhookId>> {
    let mut tx = writer.begin().await?;
    let disabled: Vec<String> = sqlx::query_scalar(
        "UPDATE webhooks SET active = 0, disabled_reason = ?, modified = ? \
         WHERE active = 1 AND deleted IS NULL AND failing_since IS NOT NULL AND failing_since < ? RETURNING id",
    )
    .bind(reason)
    .bind(micros(now))
    .bind(micros(failing_before))
    .fetch_all(&mut *tx)
    .await?;
    if !disabled.is_empty() {
        SqliteStore::bump_routing_version(&mut tx).await?;
    }
    tx.commit().await?;
    let mut ids = disabled.iter().map(|w| id(w)).collect::<StoreResult<Vec<WebhookId>>>()?;
    ids.sort();
    Ok(ids)
}

/// Counts in one statement, each a range scan of a partial index: `deliveries_free` (pending, nobody holds them)
/// and `deliveries_held` (pending, held: being attempted, so due) for the queue, `webhooks_failing` for health.
pub async fn stats(reader: &SqlitePool, now: DateTime<Utc>) -> StoreResult<StoreStats> {
    let row = sqlx::query(
        "SELECT \
         (SELECT COUNT(*) FROM deliveries WHERE state = 0 AND owner IS NULL AND next_attempt_at <= ?) \
         + (SELECT COUNT(*) FROM deliveries WHERE state = 0 AND owner IS NOT NULL) AS due, \
         (SELECT COUNT(*) FROM deliveries WHERE state = 0 AND owner IS NULL AND next_attempt_at > ?) AS scheduled, \
         (SELECT COUNT(*) FROM webhooks WHERE active = 1 AND deleted IS NULL AND failing_since IS NOT NULL) \
         AS failing",
    )
    .bind(micros(now))
    .bind(micros(now))
    .fetch_one(reader)
    .await?;
    Ok(StoreStats {
        due: row.try_get::<i64, _>("due")? as u64,
        scheduled: row.try_get::<i64, _>("scheduled")? as u64,
        failing_webhooks: row.try_get::<i64, _>("failing")? as u64,
    })
}

/// Each statement takes a cutoff and a batch size; the partial indexes `events_unpruned` and `attempts_unpruned`
/// hold only what is still to prune, so a batch never walks past rows pruned before.
const PRUNE_EVENT_BODIES: &str = "UPDATE events SET body = NULL WHERE id IN (SELECT e.id FROM events e \
     WHERE e.created < ? AND e.body IS NOT NULL \
     AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event = e.id AND d.state = 0) LIMIT ?)";
const PRUNE_RESPONSES: &str = "UPDATE attempts SET response = NULL WHERE id IN (SELECT id FROM attempts \
     WHERE started < ? AND response IS NOT NULL LIMIT ?)";
const PRUNE_KEYS: &str =
    "DELETE FROM idempotency_keys WHERE key IN (SELECT key FROM idempotency_keys WHERE created < ? LIMIT ?)";

pub async fn prune(writer: &SqlitePool, before: DateTime<Utc>, keys_before: DateTime<Utc>) -> StoreResult<PruneReport> {
    Ok(PruneReport {
        event_bodies: in_batches(writer, PRUNE_EVENT_BODIES, micros(before)).await?,
        responses: in_batches(writer, PRUNE_RESPONSES, micros(before)).await?,
        idempotency_keys: in_batches(writer, PRUNE_KEYS, micros(keys_before)).await?,
    })
}

/// Runs `sql` (a cutoff and a batch size) until a batch changes fewer rows than the batch size; each run is its
/// own transaction. Returns the rows changed in all.
async fn in_batches(writer: &SqlitePool, sql: &str, cutoff: i64) -> StoreResult<u64> {
    let mut total = 0;
    loop {
        let done = sqlx::query(sql).bind(cutoff).bind(i64::from(PRUNE_BATCH)).execute(writer).await?;
        total += done.rows_affected();
        if done.rows_affected() < u64::from(PRUNE_BATCH) {
            return Ok(total);
        }
    }
}

pub async fn attempt_counts(reader: &SqlitePool, f: &CountFilter) -> StoreResult<Vec<AttemptCount>> {
    let (key, join) = match f.group_by {
        CountGroup::Day => ("strftime('%Y-%m-%d', a.started / 1000000, 'unixepoch')", false),
        CountGroup::Customer => ("e.customer_id", true),
        CountGroup::Topic => ("e.topic_id", true),
        CountGroup::Webhook => ("a.webhook_id", false),
    };
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
        "SELECT {key} AS k, COUNT(*) AS attempts, SUM(CASE WHEN a.outcome = 'delivered' THEN 1 ELSE 0 END) \
         AS successes FROM attempts a"
    ));
    if join {
        q.push(" JOIN events e ON e.id = a.event");
    }
    q.push(" WHERE 1 = 1");
    if let Some(v) = f.application_id {
        q.push(" AND a.application_id = ").push_bind(v.to_string());
    }
    if let Some(v) = f.from {
        q.push(" AND a.started >= ").push_bind(micros(v));
    }
    if let Some(v) = f.to {
        q.push(" AND a.started <= ").push_bind(micros(v));
    }
    // Text compares byte by byte (BINARY), as PostgreSQL's "C" collation does.
    q.push(" GROUP BY k ORDER BY k");
    let rows = q.build().fetch_all(reader).await?;
    rows.iter()
        .map(|row| {
            let attempts: i64 = row.try_get("attempts")?;
            let successes: i64 = row.try_get("successes")?;
            Ok(AttemptCount {
                key: row.try_get("k")?,
                attempts: attempts as u64,
                successes: successes as u64,
                failures: (attempts - successes) as u64,
            })
        })
        .collect()
}
