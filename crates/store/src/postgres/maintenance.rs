//! Replay, webhook health, metrics, retention and analytics on PostgreSQL: the slow side of events, deliveries and
//! attempts. Pruning works in batches of [`PRUNE_BATCH`] rows, one statement and transaction each, locking with
//! `SKIP LOCKED` so that nodes pruning at once share the work instead of waiting on each other.

use chrono::{DateTime, Utc};
use herald_domain::WebhookId;
use sqlx::postgres::PgPool;
use sqlx::{Postgres, QueryBuilder, Row};
use uuid::Uuid;

use crate::codec::micros;
use crate::*;

use super::PgStore;

pub async fn replay_candidates(
    pool: &PgPool,
    webhook: WebhookId,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    states: &[DeliveryState],
    limit: u32,
) -> StoreResult<Vec<ReplayCandidate>> {
    if states.is_empty() {
        return Ok(Vec::new());
    }
    // DISTINCT ON keeps each event's earliest matching delivery; the outer query orders events by it.
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT first.event, first.application_id, first.sandbox, e.topic_id, e.customer_id FROM (SELECT DISTINCT ON \
         (d.event) d.event, d.application_id, d.sandbox, d.created FROM deliveries d WHERE d.webhook_id = ",
    );
    q.push_bind(webhook.0)
        .push(" AND d.state = ANY(")
        .push_bind(states.iter().map(|s| *s as i32).collect::<Vec<i32>>());
    q.push(")");
    if let Some(from) = from {
        q.push(" AND d.created >= ").push_bind(micros(from));
    }
    if let Some(to) = to {
        q.push(" AND d.created <= ").push_bind(micros(to));
    }
    q.push(
        " ORDER BY d.event, d.created) first JOIN events e ON e.id = first.event \
             ORDER BY first.created, first.event LIMIT ",
    )
    .push_bind(limit as i64);
    let rows = q.build().fetch_all(pool).await?;
    rows.iter()
        .map(|row| {
            Ok(ReplayCandidate {
                event: row.try_get("event")?,
                application_id: row.try_get::<Uuid, _>("application_id")?.into(),
                sandbox: row.try_get("sandbox")?,
                topic_id: row.try_get("topic_id")?,
                customer_id: row.try_get("customer_id")?,
            })
        })
        .collect()
}

pub async fn disable_failing_webhooks(
    pool: &PgPool,
    failing_before: DateTime<Utc>,
    reason: &str,
    now: DateTime<Utc>,
) -> StoreResult<Vec<WebhookId>> {
    let mut tx = pool.begin().await?;
    // A webhook another node disables first is re-checked after its lock is released, and then no longer active.
    let disabled: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE webhooks SET active = FALSE, disabled_reason = $1, modified = $2 \
         WHERE active AND deleted IS NULL AND failing_since IS NOT NULL AND failing_since < $3 RETURNING id",
    )
    .bind(reason)
    .bind(micros(now))
    .bind(micros(failing_before))
    .fetch_all(&mut *tx)
    .await?;
    if !disabled.is_empty() {
        PgStore::bump_routing_version(&mut tx).await?;
    }
    tx.commit().await?;
    let mut ids: Vec<WebhookId> = disabled.into_iter().map(WebhookId::from).collect();
    ids.sort();
    Ok(ids)
}

/// Counts in one statement (one snapshot), each a range scan of a partial index: `deliveries_free` (pending,
/// nobody holds them) and `deliveries_held` (pending, held: being attempted, so due) for the queue,
/// `webhooks_failing` for health.
pub async fn stats(pool: &PgPool, now: DateTime<Utc>) -> StoreResult<StoreStats> {
    let row = sqlx::query(
        "SELECT \
         (SELECT COUNT(*) FROM deliveries WHERE state = 0 AND owner IS NULL AND next_attempt_at <= $1) \
         + (SELECT COUNT(*) FROM deliveries WHERE state = 0 AND owner IS NOT NULL) AS due, \
         (SELECT COUNT(*) FROM deliveries WHERE state = 0 AND owner IS NULL AND next_attempt_at > $1) AS scheduled, \
         (SELECT COUNT(*) FROM webhooks WHERE active AND deleted IS NULL AND failing_since IS NOT NULL) AS failing",
    )
    .bind(micros(now))
    .fetch_one(pool)
    .await?;
    Ok(StoreStats {
        due: row.try_get::<i64, _>("due")? as u64,
        scheduled: row.try_get::<i64, _>("scheduled")? as u64,
        failing_webhooks: row.try_get::<i64, _>("failing")? as u64,
    })
}

/// Each statement takes a cutoff (`$1`) and a batch size (`$2`); the partial indexes `events_unpruned` and
/// `attempts_unpruned` hold only what is still to prune, so a batch never walks past rows pruned before.
///
/// Events are locked `FOR UPDATE`, which conflicts with the `FOR KEY SHARE` lock the foreign-key check of a
/// concurrent `insert_deliveries` holds on them: an event being given a new (pending) delivery is skipped.
const PRUNE_EVENT_BODIES: &str = "UPDATE events SET body = NULL WHERE id IN (SELECT e.id FROM events e \
     WHERE e.created < $1 AND e.body IS NOT NULL \
     AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event = e.id AND d.state = 0) \
     LIMIT $2 FOR UPDATE SKIP LOCKED)";
const PRUNE_RESPONSES: &str = "UPDATE attempts SET response = NULL WHERE id IN (SELECT id FROM attempts \
     WHERE started < $1 AND response IS NOT NULL LIMIT $2 FOR UPDATE SKIP LOCKED)";
const PRUNE_KEYS: &str = "DELETE FROM idempotency_keys WHERE key IN (SELECT key FROM idempotency_keys \
     WHERE created < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)";

pub async fn prune(pool: &PgPool, before: DateTime<Utc>, keys_before: DateTime<Utc>) -> StoreResult<PruneReport> {
    Ok(PruneReport {
        event_bodies: in_batches(pool, PRUNE_EVENT_BODIES, micros(before)).await?,
        responses: in_batches(pool, PRUNE_RESPONSES, micros(before)).await?,
        idempotency_keys: in_batches(pool, PRUNE_KEYS, micros(keys_before)).await?,
    })
}

/// Runs `sql` until a batch changes fewer rows than the batch size (nothing left, or the rest locked by another
/// node pruning); each run is its own transaction. Returns the rows changed in all.
async fn in_batches(pool: &PgPool, sql: &str, cutoff: i64) -> StoreResult<u64> {
    let mut total = 0;
    loop {
        let done = sqlx::query(sql).bind(cutoff).bind(i64::from(PRUNE_BATCH)).execute(pool).await?;
        total += done.rows_affected();
        if done.rows_affected() < u64::from(PRUNE_BATCH) {
            return Ok(total);
        }
    }
}

pub async fn attempt_counts(pool: &PgPool, f: &CountFilter) -> StoreResult<Vec<AttemptCount>> {
    // The day as SQLite computes it: whole seconds (integer division), in UTC.
    let (key, join) = match f.group_by {
        CountGroup::Day => ("to_char(to_timestamp(a.started / 1000000) AT TIME ZONE 'UTC', 'YYYY-MM-DD')", false),
        CountGroup::Customer => ("e.customer_id", true),
        CountGroup::Topic => ("e.topic_id", true),
        CountGroup::Webhook => ("a.webhook_id::text", false),
    };
    // "C": keys sort byte by byte, as on SQLite, whatever the database's collation.
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "SELECT ({key}) COLLATE \"C\" AS k, COUNT(*) AS attempts, \
         COUNT(*) FILTER (WHERE a.outcome = 'delivered') AS successes FROM attempts a"
    ));
    if join {
        q.push(" JOIN events e ON e.id = a.event");
    }
    q.push(" WHERE TRUE");
    if let Some(v) = f.application_id {
        q.push(" AND a.application_id = ").push_bind(v.0);
    }
    if let Some(v) = f.from {
        q.push(" AND a.started >= ").push_bind(micros(v));
    }
    if let Some(v) = f.to {
        q.push(" AND a.started <= ").push_bind(micros(v));
    }
    q.push(" GROUP BY 1 ORDER BY 1");
    let rows = q.build().fetch_all(pool).await?;
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
