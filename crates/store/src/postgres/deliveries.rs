//! Events, deliveries, attempts and node leases on PostgreSQL: the hot path, one statement per kind of row.
//!
//! Batches travel as arrays (`UNNEST`), so that a statement's text, and so its prepared plan, is the same whatever
//! the batch size, and no batch meets the limit of 65,535 bound parameters.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use herald_domain::WebhookId;
use sqlx::postgres::{PgConnection, PgPool};
use sqlx::{Postgres, Row};
use uuid::Uuid;

use super::PgStore;
use crate::backend::{Backend, Claim};
use crate::catalogue::Catalogue;
use crate::codec::{lease_cutoff, micros, opt_time, NODE_FORGET_AFTER_MICROS};
use crate::group_commit::GroupCommit;
use crate::*;

/// The PostgreSQL side of the group commit (`crate::group_commit`): one transaction, rows sent as arrays.
pub struct PgCommitter {
    pub pool: PgPool,
}

#[async_trait::async_trait]
impl crate::group_commit::Committer for PgCommitter {
    async fn commit(&self, jobs: &[crate::group_commit::Job]) -> StoreResult<Vec<StoreResult<()>>> {
        let mut tx = self.pool.begin().await?;
        // Keys in one order in every group, so that two groups in flight with the same retried keys cannot deadlock.
        let mut keyed: Vec<(usize, &crate::group_commit::StoredKey)> =
            jobs.iter().enumerate().filter_map(|(i, j)| j.idempotency.as_ref().map(|k| (i, k))).collect();
        keyed.sort_by(|a, b| a.1.key.cmp(&b.1.key));
        let mut conflict = vec![false; jobs.len()];
        for (i, k) in keyed {
            // An expired key is new again at once: replaced, not a conflict until the upkeep deletes it.
            let done = sqlx::query(
                "INSERT INTO idempotency_keys (key, response, body_hash, created) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (key) DO UPDATE SET response = excluded.response, body_hash = excluded.body_hash, \
                 created = excluded.created WHERE idempotency_keys.created < $5",
            )
            .bind(&k.key)
            .bind(&k.response)
            .bind(&k.body_hash)
            .bind(micros(jobs[i].now))
            .bind(micros(k.expired_before))
            .execute(&mut *tx)
            .await?;
            conflict[i] = done.rows_affected() == 0;
        }
        let outcomes: Vec<StoreResult<()>> = conflict
            .iter()
            .map(|c| match c {
                true => Err(StoreError::Conflict("a request with this idempotency key is stored".into())),
                false => Ok(()),
            })
            .collect();
        let kept: Vec<&crate::group_commit::Job> =
            jobs.iter().zip(&conflict).filter(|(_, c)| !**c).map(|(j, _)| j).collect();
        let events: Vec<(&NewEvent, DateTime<Utc>)> =
            kept.iter().flat_map(|j| j.events.iter().map(move |e| (e, j.now))).collect();
        if !events.is_empty() {
            sqlx::query(
                "INSERT INTO events (id, event_id, topic_id, customer_id, entity_id, event_time, body, created) \
                 SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::int8[], \
                 $7::text[], $8::int8[])",
            )
            .bind(events.iter().map(|(e, _)| e.id).collect::<Vec<Uuid>>())
            .bind(events.iter().map(|(e, _)| e.event_id.0).collect::<Vec<Uuid>>())
            .bind(events.iter().map(|(e, _)| e.topic_id.as_str()).collect::<Vec<&str>>())
            .bind(events.iter().map(|(e, _)| e.customer_id.as_str()).collect::<Vec<&str>>())
            .bind(events.iter().map(|(e, _)| e.entity_id.as_deref()).collect::<Vec<Option<&str>>>())
            .bind(events.iter().map(|(e, _)| micros(e.event_time)).collect::<Vec<i64>>())
            .bind(events.iter().map(|(e, _)| e.body.as_str()).collect::<Vec<&str>>())
            .bind(events.iter().map(|(_, now)| micros(*now)).collect::<Vec<i64>>())
            .execute(&mut *tx)
            .await?;
        }
        let rows: Vec<(Uuid, &NewDelivery, DateTime<Utc>)> =
            events.iter().flat_map(|(e, now)| e.deliveries.iter().map(move |d| (e.id, d, *now))).collect();
        insert_delivery_rows(&mut tx, &rows).await?;
        tx.commit().await?;
        Ok(outcomes)
    }
}

/// Inserts deliveries of events already stored, in one statement, in the caller's transaction: `(event row id,
/// delivery, now)`, with no attempts, created at `now`.
pub async fn insert_delivery_rows(
    tx: &mut PgConnection,
    rows: &[(Uuid, &NewDelivery, DateTime<Utc>)],
) -> StoreResult<()> {
    if rows.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO deliveries (id, event, webhook_id, application_id, sandbox, state, attempts, \
         next_attempt_at, owner, created, updated) \
         SELECT id, event, webhook_id, application_id, sandbox, state, 0, next_attempt_at, owner, created, created \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::bool[], $6::int4[], $7::int8[], \
         $8::text[], $9::int8[]) AS d(id, event, webhook_id, application_id, sandbox, state, next_attempt_at, owner, \
         created)",
    )
    .bind(rows.iter().map(|(_, d, _)| d.id.0).collect::<Vec<Uuid>>())
    .bind(rows.iter().map(|(event, _, _)| *event).collect::<Vec<Uuid>>())
    .bind(rows.iter().map(|(_, d, _)| d.webhook_id.0).collect::<Vec<Uuid>>())
    .bind(rows.iter().map(|(_, d, _)| d.application_id.0).collect::<Vec<Uuid>>())
    .bind(rows.iter().map(|(_, d, _)| d.sandbox).collect::<Vec<bool>>())
    .bind(rows.iter().map(|(_, d, _)| d.state.code()).collect::<Vec<i32>>())
    .bind(rows.iter().map(|(_, d, _)| d.next_attempt_at.map(micros)).collect::<Vec<Option<i64>>>())
    .bind(rows.iter().map(|(_, d, _)| d.owner.as_deref()).collect::<Vec<Option<&str>>>())
    .bind(rows.iter().map(|(_, _, now)| micros(*now)).collect::<Vec<i64>>())
    .execute(tx)
    .await?;
    Ok(())
}

/// The claimant's heartbeat: the start of both claim statements.
macro_rules! claim_alive {
    () => {
        "\
WITH alive AS (
    INSERT INTO nodes (id, heartbeat) VALUES ($1, $2)
    ON CONFLICT (id) DO UPDATE SET heartbeat = GREATEST(nodes.heartbeat, EXCLUDED.heartbeat)
), "
    };
}

/// Deliveries held under lapsed leases, and the claim itself: the end of both claim statements.
macro_rules! claim_rest {
    () => {
        "expired AS (
    SELECT d.id, d.next_attempt_at FROM deliveries d
    WHERE d.state = {pending} AND d.owner IS NOT NULL AND d.updated < $3 AND d.next_attempt_at <= $2
      AND (d.owner = $1 OR NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = d.owner AND n.heartbeat >= $3))
      AND d.webhook_id <> ALL($4)
    ORDER BY d.next_attempt_at
    LIMIT $5
    FOR UPDATE OF d SKIP LOCKED
), due AS (
    SELECT id, next_attempt_at FROM free UNION ALL SELECT id, next_attempt_at FROM expired
    ORDER BY next_attempt_at
    LIMIT $5
)
UPDATE deliveries d SET owner = $1, updated = $2
FROM due, events e
WHERE d.id = due.id AND e.id = d.event
RETURNING d.id, d.event, d.webhook_id, d.application_id, d.sandbox, d.attempts, e.body"
    };
}

/// One statement: the claimant's heartbeat, then the claim, from two index range scans (migration 0003): the
/// deliveries nobody holds, due now, and those held since before the cutoff by a node not seen since.
///
/// `SKIP LOCKED` lets concurrent claimants pass over each other's rows instead of waiting or taking them twice.
/// A row another claimant committed after this statement's snapshot is re-checked against the new row version;
/// that version has `updated` = the new claim's time, which fails `updated < cutoff`, so a fresh claim is never
/// taken for an expired one even when this statement's snapshot does not yet see the new holder's heartbeat.
static CLAIM_DUE: LazyLock<String> = LazyLock::new(|| {
    format!(
        concat!(
            claim_alive!(),
            "free AS (
    SELECT d.id, d.next_attempt_at FROM deliveries d
    WHERE d.state = {pending} AND d.owner IS NULL AND d.next_attempt_at <= $2 AND d.webhook_id <> ALL($4)
    ORDER BY d.next_attempt_at
    LIMIT $5
    FOR UPDATE OF d SKIP LOCKED
), ",
            claim_rest!()
        ),
        pending = DeliveryState::Pending.sql()
    )
});

/// [`CLAIM_DUE`] when the earliest due rows are all excluded webhooks' backlog (see [`window_blocked`]): each
/// other webhook's earliest rows, one index seek per webhook (`deliveries_free_by_webhook`, migration 0004).
static CLAIM_DUE_BY_WEBHOOK: LazyLock<String> = LazyLock::new(|| {
    format!(
        concat!(
            claim_alive!(),
            "free AS (
    SELECT x.id, x.next_attempt_at FROM webhooks w CROSS JOIN LATERAL (
        SELECT d.id, d.next_attempt_at FROM deliveries d
        WHERE d.webhook_id = w.id AND d.state = {pending} AND d.owner IS NULL AND d.next_attempt_at <= $2
        ORDER BY d.next_attempt_at
        LIMIT $5
        FOR UPDATE OF d SKIP LOCKED
    ) x
    WHERE w.id <> ALL($4)
    ORDER BY x.next_attempt_at
    LIMIT $5
), ",
            claim_rest!()
        ),
        pending = DeliveryState::Pending.sql()
    )
});

/// Whether the earliest due deliveries nobody holds are so much excluded webhooks' backlog that a claim in time
/// order would walk more than `crate::batch::claim_window(limit)` of them: one bounded index scan, one row. Only picks the
/// claim's plan; either plan claims correctly.
async fn window_blocked(pool: &PgPool, now: DateTime<Utc>, limit: u32, exclude: &[WebhookId]) -> StoreResult<bool> {
    let window = crate::batch::claim_window(limit);
    let (seen, usable): (i64, i64) = sqlx::query_as(&format!(
        "SELECT COUNT(*), COUNT(*) FILTER (WHERE webhook_id <> ALL($2)) FROM (SELECT webhook_id FROM deliveries \
         WHERE state = {} AND owner IS NULL AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $3) w",
        DeliveryState::Pending.sql()
    ))
    .bind(micros(now))
    .bind(exclude.iter().map(|w| w.0).collect::<Vec<Uuid>>())
    .bind(window)
    .fetch_one(pool)
    .await?;
    Ok(crate::batch::window_blocked(seen, usable, limit))
}

/// PostgreSQL behind `Store`: the catalogue on the shared pool, and the hot path of this file.
#[async_trait::async_trait]
impl Backend for PgStore {
    type Db = Postgres;

    fn catalogue(&self) -> Catalogue<'_, Postgres> {
        Catalogue { writer: &self.pool, reader: &self.pool, sealer: &self.sealer }
    }

    async fn claim(&self, c: Claim<'_>) -> StoreResult<Vec<ClaimedDelivery>> {
        let (pool, owner, now, limit, exclude, lease) = (&self.pool, c.owner, c.now, c.limit, c.exclude, c.lease);
        let by_webhook = !exclude.is_empty() && window_blocked(pool, now, limit, exclude).await?;
        let rows = sqlx::query(if by_webhook { &CLAIM_DUE_BY_WEBHOOK } else { &CLAIM_DUE })
            .bind(owner)
            .bind(micros(now))
            .bind(lease_cutoff(now, lease))
            .bind(exclude.iter().map(|w| w.0).collect::<Vec<Uuid>>())
            .bind(limit as i64)
            .fetch_all(pool)
            .await?;
        // Deliveries of one event share its payload.
        let mut bodies: std::collections::HashMap<Uuid, std::sync::Arc<str>> = std::collections::HashMap::new();
        rows.iter()
            .map(|row| {
                let event: Uuid = row.try_get("event")?;
                let body = match bodies.get(&event) {
                    Some(b) => b.clone(),
                    None => {
                        let b: std::sync::Arc<str> =
                            row.try_get::<Option<String>, _>("body")?.unwrap_or_default().into();
                        bodies.insert(event, b.clone());
                        b
                    }
                };
                Ok(ClaimedDelivery {
                    id: row.try_get::<Uuid, _>("id")?.into(),
                    event,
                    webhook_id: row.try_get::<Uuid, _>("webhook_id")?.into(),
                    application_id: row.try_get::<Uuid, _>("application_id")?.into(),
                    sandbox: row.try_get("sandbox")?,
                    attempts: row.try_get::<i32, _>("attempts")? as u32,
                    body,
                })
            })
            .collect()
    }

    /// Records `node`'s sign of life at `now` (never moving it back) and forgets nodes silent for a week.
    async fn heartbeat(&self, node: &str, now: DateTime<Utc>) -> StoreResult<()> {
        let pool = &self.pool;
        sqlx::query(
            "WITH alive AS (INSERT INTO nodes (id, heartbeat) VALUES ($1, $2) \
         ON CONFLICT (id) DO UPDATE SET heartbeat = GREATEST(nodes.heartbeat, EXCLUDED.heartbeat)) \
         DELETE FROM nodes WHERE heartbeat < $3 AND id <> $1",
        )
        .bind(node)
        .bind(micros(now))
        .bind(micros(now).saturating_sub(NODE_FORGET_AFTER_MICROS))
        .execute(pool)
        .await?;
        Ok(())
    }

    /// The earliest due time of the deliveries nobody holds, but those of `exclude`.
    async fn next_due_at(&self, exclude: &[WebhookId]) -> StoreResult<Option<DateTime<Utc>>> {
        let pool = &self.pool;
        let next: Option<Option<i64>> = sqlx::query_scalar(&format!(
            "SELECT next_attempt_at FROM deliveries WHERE state = {} AND owner IS NULL AND webhook_id <> ALL($1) \
         ORDER BY next_attempt_at LIMIT 1",
            DeliveryState::Pending.sql()
        ))
        .bind(exclude.iter().map(|w| w.0).collect::<Vec<Uuid>>())
        .fetch_optional(pool)
        .await?;
        Ok(opt_time(next.flatten()))
    }

    async fn record_attempts(&self, attempts: &[AttemptRecord]) -> StoreResult<()> {
        let pool = &self.pool;
        if attempts.is_empty() {
            return Ok(());
        }
        let mut tx = pool.begin().await?;
        sqlx::query(
            "INSERT INTO attempts (delivery_id, event, webhook_id, application_id, attempt, started, duration_ms, \
         outcome, status_code, error, response, url) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::int4[], $6::int8[], $7::int8[], \
         $8::text[], $9::int4[], $10::text[], $11::text[], $12::text[])",
        )
        .bind(attempts.iter().map(|a| a.delivery_id.0).collect::<Vec<Uuid>>())
        .bind(attempts.iter().map(|a| a.event).collect::<Vec<Uuid>>())
        .bind(attempts.iter().map(|a| a.webhook_id.0).collect::<Vec<Uuid>>())
        .bind(attempts.iter().map(|a| a.application_id.0).collect::<Vec<Uuid>>())
        .bind(attempts.iter().map(|a| a.attempt as i32).collect::<Vec<i32>>())
        .bind(attempts.iter().map(|a| micros(a.started)).collect::<Vec<i64>>())
        .bind(attempts.iter().map(|a| a.duration_ms as i64).collect::<Vec<i64>>())
        .bind(attempts.iter().map(|a| a.outcome.as_str()).collect::<Vec<&str>>())
        .bind(attempts.iter().map(|a| a.status_code.map(i32::from)).collect::<Vec<Option<i32>>>())
        .bind(attempts.iter().map(|a| a.error.as_deref()).collect::<Vec<Option<&str>>>())
        .bind(attempts.iter().map(|a| a.response.as_deref()).collect::<Vec<Option<&str>>>())
        .bind(attempts.iter().map(|a| a.url.as_str()).collect::<Vec<&str>>())
        .execute(&mut *tx)
        .await?;

        for round in crate::batch::rounds(attempts) {
            sqlx::query(&format!(
                "UPDATE deliveries d SET state = v.state, attempts = GREATEST(d.attempts, v.attempt), \
             next_attempt_at = v.next_attempt_at, owner = NULL, updated = v.updated \
             FROM UNNEST($1::uuid[], $2::int4[], $3::int4[], $4::int8[], $5::int8[]) \
             AS v(id, state, attempt, next_attempt_at, updated) \
             WHERE d.id = v.id AND d.state IN ({}, v.state)",
                DeliveryState::Pending.sql()
            ))
            .bind(round.iter().map(|a| a.delivery_id.0).collect::<Vec<Uuid>>())
            .bind(round.iter().map(|a| a.new_state.code()).collect::<Vec<i32>>())
            .bind(round.iter().map(|a| a.attempt as i32).collect::<Vec<i32>>())
            .bind(round.iter().map(|a| a.next_attempt_at.map(micros)).collect::<Vec<Option<i64>>>())
            .bind(round.iter().map(|a| crate::batch::ended(a)).collect::<Vec<i64>>())
            .execute(&mut *tx)
            .await?;
        }

        let hooks = crate::batch::health(attempts);
        let ids: Vec<Uuid> = hooks.iter().map(|(id, _)| id.0).collect();
        // Webhook rows are shared by every node: lock them in one order so that concurrent batches cannot deadlock.
        // The lock also reads whether each webhook's failing streak is announced, for the operational events: no
        // statement more for a batch that changes no webhook's state, and a locked, current answer.
        let announced: std::collections::HashMap<WebhookId, bool> = sqlx::query(
            "SELECT id, failing_announced IS NOT NULL FROM webhooks WHERE id = ANY($1) ORDER BY id FOR UPDATE",
        )
        .bind(&ids)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| Ok((WebhookId(r.try_get::<Uuid, _>(0)?), r.try_get::<bool, _>(1)?)))
        .collect::<StoreResult<_>>()?;
        sqlx::query(
            "UPDATE webhooks w SET \
         last_success = CASE WHEN v.success IS NULL THEN w.last_success \
             ELSE GREATEST(COALESCE(w.last_success, 0), v.success) END, \
         failing_since = CASE WHEN v.success IS NULL THEN COALESCE(w.failing_since, v.failing) ELSE v.failing END \
         FROM UNNEST($1::uuid[], $2::int8[], $3::int8[]) AS v(id, success, failing) WHERE w.id = v.id",
        )
        .bind(&ids)
        .bind(hooks.iter().map(|(_, h)| h.success).collect::<Vec<Option<i64>>>())
        .bind(hooks.iter().map(|(_, h)| h.failing).collect::<Vec<Option<i64>>>())
        .execute(&mut *tx)
        .await?;
        crate::catalogue::operational::record_transitions::<Postgres>(&mut tx, attempts, &announced).await?;
        tx.commit().await?;
        Ok(())
    }

    fn commits(&self) -> &GroupCommit {
        &self.commits
    }
}
