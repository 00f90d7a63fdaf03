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
    async fn commit(&self, jobs: &[crate::group_commit::Job]) -> StoreResult<Vec<StoreResult<Vec<Sequenced>>>> {
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
        let writes = jobs.iter().zip(&conflict).filter(|(_, c)| !**c).flat_map(|(j, _)| &j.entities);
        crate::entity_state::lock_in_order(&mut tx, &writes.collect::<Vec<_>>()).await?;
        let stale = crate::entity_state::apply_group::<Postgres>(&mut tx, jobs, &conflict).await?;
        let kept: Vec<&crate::group_commit::Job> =
            jobs.iter().enumerate().filter(|(i, _)| !conflict[*i] && !stale[*i]).map(|(_, j)| j).collect();
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
        let sequenced = insert_delivery_rows(&mut tx, &rows).await?;
        tx.commit().await?;
        Ok(crate::group_commit::outcomes(jobs, &conflict, &stale, sequenced))
    }
}

/// Inserts deliveries of events already stored, in one statement, in the caller's transaction: `(event row id,
/// delivery, now)`, with no attempts, created at `now`. Ordered deliveries get their entity's next sequences first
/// ([`place_ordered`]); what was decided for them is returned, in the rows' order.
pub async fn insert_delivery_rows(
    tx: &mut PgConnection,
    rows: &[(Uuid, &NewDelivery, DateTime<Utc>)],
) -> StoreResult<Vec<Sequenced>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let placed = place_ordered(tx, rows).await?;
    let stored: Vec<_> = rows.iter().zip(&placed).map(|((_, d, _), p)| crate::batch::placed_row(d, *p)).collect();
    sqlx::query(
        "INSERT INTO deliveries (id, event, webhook_id, application_id, sandbox, state, attempts, \
         next_attempt_at, owner, created, updated, entity_key, sequence) \
         SELECT id, event, webhook_id, application_id, sandbox, state, 0, next_attempt_at, owner, created, created, \
         entity_key, sequence \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::bool[], $6::int4[], $7::int8[], \
         $8::text[], $9::int8[], $10::text[], $11::int8[]) AS d(id, event, webhook_id, application_id, sandbox, state, \
         next_attempt_at, owner, created, entity_key, sequence)",
    )
    .bind(rows.iter().map(|(_, d, _)| d.id.0).collect::<Vec<Uuid>>())
    .bind(rows.iter().map(|(event, _, _)| *event).collect::<Vec<Uuid>>())
    .bind(rows.iter().map(|(_, d, _)| d.webhook_id.0).collect::<Vec<Uuid>>())
    .bind(rows.iter().map(|(_, d, _)| d.application_id.0).collect::<Vec<Uuid>>())
    .bind(rows.iter().map(|(_, d, _)| d.sandbox).collect::<Vec<bool>>())
    .bind(stored.iter().map(|(state, ..)| state.code()).collect::<Vec<i32>>())
    .bind(stored.iter().map(|(_, due, ..)| *due).collect::<Vec<Option<i64>>>())
    .bind(stored.iter().map(|(_, _, owner, _)| *owner).collect::<Vec<Option<&str>>>())
    .bind(rows.iter().map(|(_, _, now)| micros(*now)).collect::<Vec<i64>>())
    .bind(rows.iter().map(|(_, d, _)| d.entity_key.as_deref()).collect::<Vec<Option<&str>>>())
    .bind(stored.iter().map(|(.., sequence)| *sequence).collect::<Vec<Option<i64>>>())
    .execute(tx)
    .await?;
    Ok(crate::batch::sequenced(rows, &placed))
}

/// Gives each ordered delivery of `rows` its entity's next sequence and says whether it must wait
/// ([`crate::batch::placements`]). The upsert of the keys' last sequences locks their rows, in one order, until the
/// transaction ends: a concurrent insert for the same entity (another node's group) waits, and so does a head's end
/// ([`promote_next`]), so that the look for open deliveries that follows, a statement of its own and so with a
/// fresh snapshot, sees whatever those committed.
async fn place_ordered(
    tx: &mut PgConnection,
    rows: &[(Uuid, &NewDelivery, DateTime<Utc>)],
) -> StoreResult<Vec<Option<herald_domain::ordering::Placement>>> {
    let keys = crate::batch::order_keys(rows);
    if keys.iter().all(Option::is_none) {
        return Ok(vec![None; rows.len()]);
    }
    let counts = crate::batch::order_counts(&keys);
    let hooks: Vec<Uuid> = counts.iter().map(|((w, _), _)| w.0).collect();
    let names: Vec<&str> = counts.iter().map(|((_, k), _)| *k).collect();
    let answered: Vec<(Uuid, String, i64)> = sqlx::query_as(
        "INSERT INTO entity_sequences (webhook_id, entity_key, last) \
         SELECT * FROM UNNEST($1::uuid[], $2::text[], $3::int8[]) AS k(webhook_id, entity_key, n) \
         ORDER BY webhook_id, entity_key COLLATE \"C\" \
         ON CONFLICT (webhook_id, entity_key) DO UPDATE SET last = entity_sequences.last + excluded.last \
         RETURNING webhook_id, entity_key, last",
    )
    .bind(&hooks)
    .bind(&names)
    .bind(counts.iter().map(|(_, n)| *n).collect::<Vec<i64>>())
    .fetch_all(&mut *tx)
    .await?;
    let busy: Vec<(Uuid, String)> = sqlx::query_as(&format!(
        "SELECT k.webhook_id, k.entity_key FROM UNNEST($1::uuid[], $2::text[]) AS k(webhook_id, entity_key) \
         WHERE EXISTS (SELECT 1 FROM deliveries d WHERE d.webhook_id = k.webhook_id AND d.entity_key = k.entity_key \
         AND d.state IN ({}))",
        DeliveryState::OPEN_SQL
    ))
    .bind(&hooks)
    .bind(&names)
    .fetch_all(&mut *tx)
    .await?;
    let wanted: std::collections::HashMap<(Uuid, &str), crate::batch::OrderKey<'_>> =
        counts.iter().map(|((w, k), _)| ((w.0, *k), (*w, *k))).collect();
    let last = answered.iter().filter_map(|(w, k, n)| Some((*wanted.get(&(*w, k.as_str()))?, *n))).collect();
    let open = busy.iter().filter_map(|(w, k)| wanted.get(&(*w, k.as_str())).copied()).collect();
    Ok(crate::batch::placements(&keys, &counts, &last, &open))
}

/// For each ordered delivery that ended in `attempts`: the waiting delivery of its entity with the lowest sequence
/// becomes due, unless the entity's lowest open delivery is still pending (see `herald_domain::ordering`). The keys'
/// rows are locked first, in the order [`place_ordered`] locks them, so that a concurrent insert for the same
/// entity either committed before (its waiting delivery is seen here) or sees this end (and stores its delivery as
/// the new head).
async fn promote_next(tx: &mut PgConnection, attempts: &[AttemptRecord]) -> StoreResult<()> {
    let ended = crate::batch::ended_keys(attempts);
    if ended.is_empty() {
        return Ok(());
    }
    let hooks: Vec<Uuid> = ended.iter().map(|((w, _), _)| w.0).collect();
    let names: Vec<&str> = ended.iter().map(|((_, k), _)| *k).collect();
    sqlx::query(
        "SELECT 1 FROM entity_sequences s JOIN UNNEST($1::uuid[], $2::text[]) AS k(webhook_id, entity_key) \
         ON s.webhook_id = k.webhook_id AND s.entity_key = k.entity_key \
         ORDER BY s.webhook_id, s.entity_key COLLATE \"C\" FOR UPDATE OF s",
    )
    .bind(&hooks)
    .bind(&names)
    .execute(&mut *tx)
    .await?;
    sqlx::query(&format!(
        "UPDATE deliveries d SET state = {pending}, next_attempt_at = k.at, updated = k.at \
         FROM UNNEST($1::uuid[], $2::text[], $3::int8[]) AS k(webhook_id, entity_key, at) \
         WHERE d.id = (SELECT w.id FROM deliveries w WHERE w.webhook_id = k.webhook_id \
         AND w.entity_key = k.entity_key AND w.state IN ({open}) ORDER BY w.sequence LIMIT 1) \
         AND d.state = {waiting}",
        pending = DeliveryState::Pending.sql(),
        open = DeliveryState::OPEN_SQL,
        waiting = DeliveryState::Waiting.sql(),
    ))
    .bind(&hooks)
    .bind(&names)
    .bind(ended.iter().map(|(_, at)| *at).collect::<Vec<i64>>())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The claimant's heartbeat, when the claim writes it (see `crate::liveness`): the first part of a claim statement.
const CLAIM_ALIVE: &str = "
alive AS (
    INSERT INTO nodes (id, heartbeat) VALUES ($1, $2)
    ON CONFLICT (id) DO UPDATE SET heartbeat = GREATEST(nodes.heartbeat, EXCLUDED.heartbeat)
), ";

/// The deliveries nobody holds, due now, earliest first: one index range scan (migration 0003).
///
/// `SKIP LOCKED` lets concurrent claimants pass over each other's rows instead of waiting or taking them twice.
const CLAIM_FREE: &str = "
free AS (
    SELECT d.id, d.next_attempt_at FROM deliveries d
    WHERE d.state = {pending} AND d.owner IS NULL AND d.next_attempt_at <= $2 AND d.webhook_id <> ALL($4)
    ORDER BY d.next_attempt_at
    LIMIT $5
    FOR UPDATE OF d SKIP LOCKED
), ";

/// [`CLAIM_FREE`] when the earliest due rows are all excluded webhooks' backlog (see [`window_blocked`]): each
/// other webhook's earliest rows, one index seek per webhook (`deliveries_free_by_webhook`, migration 0004), of
/// which only the earliest `$5` are locked: locking every webhook's `$5` would mark up to `$5` rows per webhook for
/// a claim that returns `$5`. A candidate another claimant locked meanwhile is skipped (this claim returns fewer);
/// one it claimed fails the re-checked conditions.
const CLAIM_FREE_BY_WEBHOOK: &str = "
free AS (
    SELECT d.id, d.next_attempt_at FROM deliveries d
    WHERE d.id IN (
        SELECT x.id FROM webhooks w CROSS JOIN LATERAL (
            SELECT c.id, c.next_attempt_at FROM deliveries c
            WHERE c.webhook_id = w.id AND c.state = {pending} AND c.owner IS NULL AND c.next_attempt_at <= $2
            ORDER BY c.next_attempt_at
            LIMIT $5
        ) x
        WHERE w.id <> ALL($4)
        ORDER BY x.next_attempt_at
        LIMIT $5
    )
    AND d.state = {pending} AND d.owner IS NULL AND d.next_attempt_at <= $2
    FOR UPDATE OF d SKIP LOCKED
), ";

/// Deliveries held under lapsed leases, and the claim itself: the end of every claim statement.
///
/// A row another claimant committed after this statement's snapshot is re-checked against the new row version;
/// that version has `updated` = the new claim's time, which fails `updated < cutoff`, so a fresh claim is never
/// taken for an expired one even when this statement's snapshot does not yet see the new holder's heartbeat.
const CLAIM_REST: &str = "
expired AS (
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
RETURNING d.id, d.event, d.webhook_id, d.application_id, d.sandbox, d.attempts, d.entity_key, d.sequence, e.body";

/// The four claim statements, one statement each: `[by webhook][with the heartbeat]`, from the deliveries nobody
/// holds and those held since before the cutoff by a node not seen since (two index range scans, migration 0003).
static CLAIMS: LazyLock<[[String; 2]; 2]> = LazyLock::new(|| {
    let statement = |free: &str, alive: bool| {
        let text = format!("WITH {}{free}{CLAIM_REST}", if alive { CLAIM_ALIVE } else { "" });
        text.replace("{pending}", DeliveryState::Pending.sql())
    };
    [
        [statement(CLAIM_FREE, false), statement(CLAIM_FREE, true)],
        [statement(CLAIM_FREE_BY_WEBHOOK, false), statement(CLAIM_FREE_BY_WEBHOOK, true)],
    ]
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
        let rows = sqlx::query(&CLAIMS[usize::from(by_webhook)][usize::from(c.heartbeat)])
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
                    order: crate::codec::entity_order(row.try_get("entity_key")?, row.try_get("sequence")?),
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
         outcome, status_code, error, response, url, retry_after) \
         SELECT * FROM UNNEST($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::int4[], $6::int8[], $7::int8[], \
         $8::text[], $9::int4[], $10::text[], $11::text[], $12::text[], $13::text[])",
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
        .bind(attempts.iter().map(|a| a.retry_after.as_deref()).collect::<Vec<Option<&str>>>())
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
        // After the webhook rows: every recording transaction locks webhooks, then entities (here, then for the
        // ordered deliveries of operational events), each in one order.
        promote_next(&mut tx, attempts).await?;
        crate::catalogue::operational::record_transitions::<Postgres>(&mut tx, attempts, &announced).await?;
        tx.commit().await?;
        Ok(())
    }

    fn commits(&self) -> &GroupCommit {
        &self.commits
    }

    fn liveness(&self) -> &crate::liveness::Liveness {
        &self.liveness
    }
}
