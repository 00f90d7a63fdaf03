//! Replay, webhook health, metrics, retention and analytics: the slow side of events, deliveries and attempts.
//! Pruning works in batches of [`PRUNE_BATCH`] rows, one statement and transaction each, so that SQLite's single
//! writer goes back to the hot path between them, and (with `SKIP LOCKED`) PostgreSQL nodes pruning at once share
//! the work instead of waiting on each other.

use chrono::{DateTime, Utc};
use herald_domain::WebhookId;

use super::logs::push_attempt_filter;
use super::{bump_routing_version, Catalogue};
use crate::codec::micros;
use crate::dialect::{sql, Sql};
use crate::*;

/// A live webhook with a failing streak: the condition of the partial index `webhooks_failing`, word for word, as
/// SQLite uses a partial index only for a query that repeats its condition (`active` is not `active = 1` to it).
pub(super) const FAILING: &str = "active AND deleted IS NULL AND failing_since IS NOT NULL";

impl<DB: Sql> Catalogue<'_, DB> {
    pub async fn replay_candidates(
        &self,
        webhook: WebhookId,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        states: &[DeliveryState],
        limit: u32,
    ) -> StoreResult<Vec<ReplayCandidate>> {
        if states.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = replay_statement::<DB>(webhook, from, to, states, limit);
        let mut conn = self.reader.acquire().await?;
        let rows = q.all(&mut *conn).await?;
        rows.iter()
            .map(|row| {
                Ok(ReplayCandidate {
                    event: DB::get_id(row, "event")?,
                    application_id: DB::get_id(row, "application_id")?.into(),
                    sandbox: DB::flag(row, "sandbox")?,
                    topic_id: DB::text(row, "topic_id")?,
                    customer_id: DB::text(row, "customer_id")?,
                })
            })
            .collect()
    }

    pub async fn disable_failing_webhooks(
        &self,
        failing_before: DateTime<Utc>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<WebhookId>> {
        let mut tx = self.writer.begin().await?;
        // On PostgreSQL, a webhook another node disables first is re-checked after its lock is released, and then
        // no longer active.
        // `failing_announced = now`: the streak is announced (by `webhooks.disabled`), and the UI's banner shows the
        // webhook until it is modified after now.
        let disabled = sql::<DB>("UPDATE webhooks SET active = FALSE, disabled_reason = ")
            .arg(reason)
            .push(", modified = ")
            .arg(micros(now))
            .push(", failing_announced = ")
            .arg(micros(now))
            .push(format!(" WHERE {FAILING} AND failing_since < "))
            .arg(micros(failing_before))
            .push(" RETURNING id, application_id, url, failing_since, disabled_reason")
            .all(&mut *tx)
            .await?;
        if !disabled.is_empty() {
            super::operational::announce_disabled::<DB>(&mut *tx, &disabled, now).await?;
            bump_routing_version::<DB>(&mut *tx).await?;
        }
        tx.commit().await?;
        let mut ids =
            disabled.iter().map(|r| Ok(DB::get_id(r, "id")?.into())).collect::<StoreResult<Vec<WebhookId>>>()?;
        ids.sort();
        Ok(ids)
    }

    /// Counts in one statement (one snapshot), each a range scan of a partial index: `deliveries_free` (pending,
    /// nobody holds them) and the held index (pending, held: being attempted, so due) for the queue,
    /// `deliveries_waiting_by_event` for the waiting ordered deliveries, `webhooks_failing` for health.
    pub async fn stats(&self, now: DateTime<Utc>) -> StoreResult<StoreStats> {
        let pending = DeliveryState::Pending.sql();
        let row = sql::<DB>(format!(
            "SELECT (SELECT COUNT(*) FROM deliveries WHERE state = {pending} AND owner IS NULL AND next_attempt_at <= "
        ))
        .arg(micros(now))
        .push(format!(
            ") + (SELECT COUNT(*) FROM deliveries WHERE state = {pending} AND owner IS NOT NULL) AS due, \
             (SELECT COUNT(*) FROM deliveries WHERE state = {pending} AND owner IS NULL AND next_attempt_at > "
        ))
        .arg(micros(now))
        .push(format!(
            ") AS scheduled, \
             (SELECT COUNT(*) FROM deliveries WHERE state = {waiting} AND entity_key IS NOT NULL) AS waiting, \
             (SELECT COUNT(*) FROM webhooks WHERE {FAILING}) AS failing",
            waiting = DeliveryState::Waiting.sql()
        ))
        .optional(&mut *self.reader.acquire().await?)
        .await?
        .ok_or(StoreError::NotFound)?;
        Ok(StoreStats {
            due: DB::int(&row, "due")? as u64,
            scheduled: DB::int(&row, "scheduled")? as u64,
            waiting: DB::int(&row, "waiting")? as u64,
            failing_webhooks: DB::int(&row, "failing")? as u64,
        })
    }

    pub async fn prune(&self, before: DateTime<Utc>, keys_before: DateTime<Utc>) -> StoreResult<PruneReport> {
        // The partial indexes `events_unpruned` and `attempts_unpruned` hold only what is still to prune, so a batch
        // never walks past rows pruned before. On PostgreSQL, events are locked `FOR UPDATE`, which conflicts with
        // the `FOR KEY SHARE` lock the foreign-key check of a concurrent `insert_deliveries` holds on them: an
        // event being given a new (pending) delivery is skipped.
        let (pending, waiting, lock) = (DeliveryState::Pending.sql(), DeliveryState::Waiting.sql(), DB::SKIP_LOCKED);
        // One test per open state, so that each reads its partial index (`deliveries_pending_by_event`,
        // `deliveries_waiting_by_event`).
        let event_bodies = format!(
            "UPDATE events SET body = NULL WHERE id IN (SELECT e.id FROM events e WHERE e.body IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event = e.id AND d.state = {pending}) \
             AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event = e.id AND d.state = {waiting}) \
             AND e.created < "
        );
        let responses = "UPDATE attempts SET response = NULL WHERE id IN (SELECT id FROM attempts \
                         WHERE response IS NOT NULL AND started < ";
        let keys = "DELETE FROM idempotency_keys WHERE key IN (SELECT key FROM idempotency_keys WHERE created < ";
        Ok(PruneReport {
            event_bodies: self.in_batches(&event_bodies, micros(before), lock).await?,
            responses: self.in_batches(responses, micros(before), lock).await?,
            idempotency_keys: self.in_batches(keys, micros(keys_before), lock).await?,
        })
    }

    /// Runs `head` (a statement ending in `… < `) with the cutoff, a batch limit and `lock`, until a batch changes
    /// fewer rows than the batch size (nothing left, or the rest locked by another node pruning); each run is its
    /// own transaction. Returns the rows changed in all.
    async fn in_batches(&self, head: &str, cutoff: i64, lock: &str) -> StoreResult<u64> {
        let mut total = 0;
        loop {
            let mut conn = self.writer.acquire().await?;
            let mut q = sql::<DB>(head);
            q.arg(cutoff).push(" LIMIT ").arg(i64::from(PRUNE_BATCH)).push(lock).push(")");
            let done = q.run(&mut *conn).await?;
            total += done;
            if done < u64::from(PRUNE_BATCH) {
                return Ok(total);
            }
        }
    }

    pub async fn attempt_counts(&self, f: &CountFilter) -> StoreResult<Vec<AttemptCount>> {
        let (key, join) = match f.group_by {
            CountGroup::Day => (DB::ATTEMPT_DAY, false),
            CountGroup::Customer => ("e.customer_id", true),
            CountGroup::Topic => ("e.topic_id", true),
            CountGroup::Webhook => (DB::ATTEMPT_WEBHOOK_TEXT, false),
        };
        // Keys sort byte by byte on both, whatever the database's collation.
        let mut q = sql::<DB>(format!(
            "SELECT ({key}) COLLATE {} AS k, COUNT(*) AS attempts, \
             SUM(CASE WHEN a.outcome = 'delivered' THEN 1 ELSE 0 END) AS successes FROM attempts a",
            DB::BYTE_ORDER
        ));
        if join {
            q.push(" JOIN events e ON e.id = a.event");
        }
        // The attempts of the logs' filter, by application and time only (so no `events` column unless joined).
        let window =
            AttemptFilter { application_id: f.application_id, from: f.from, to: f.to, ..AttemptFilter::default() };
        q.push(" WHERE TRUE");
        push_attempt_filter(&mut q, &window);
        q.push(" GROUP BY 1 ORDER BY 1");
        let mut conn = self.reader.acquire().await?;
        let rows = q.all(&mut *conn).await?;
        rows.iter()
            .map(|row| {
                let attempts = DB::int(row, "attempts")?;
                let successes = DB::int(row, "successes")?;
                Ok(AttemptCount {
                    key: DB::text(row, "k")?,
                    attempts: attempts as u64,
                    successes: successes as u64,
                    failures: (attempts - successes) as u64,
                })
            })
            .collect()
    }
}

/// The statement of [`Catalogue::replay_candidates`] (`states` not empty).
pub(super) fn replay_statement<'a, DB: Sql>(
    webhook: WebhookId,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    states: &[DeliveryState],
    limit: u32,
) -> crate::dialect::Stmt<'a, DB> {
    // Each event's earliest matching delivery (`n = 1`); the outer query orders events by it.
    let mut q = sql::<DB>(
        "SELECT first.event, first.application_id, first.sandbox, e.topic_id, e.customer_id FROM (SELECT \
         d.event, d.application_id, d.sandbox, d.created, ROW_NUMBER() OVER (PARTITION BY d.event ORDER BY \
         d.created) AS n FROM deliveries d WHERE d.webhook_id = ",
    );
    q.arg(webhook.0).push(" AND d.state IN (").args(states.iter().map(|s| s.code())).push(")");
    if let Some(from) = from {
        q.push(" AND d.created >= ").arg(micros(from));
    }
    if let Some(to) = to {
        q.push(" AND d.created <= ").arg(micros(to));
    }
    q.push(") first JOIN events e ON e.id = first.event WHERE first.n = 1 ORDER BY first.created, first.event LIMIT ")
        .arg(i64::from(limit));
    q
}
