//! Events, deliveries and attempts on SQLite: the hot path, written in batches.
//!
//! The multi-row statements of the hot path that can (`UPDATE OR FAIL`, `INSERT OR FAIL`) say what a constraint
//! failure does: stop the statement and keep its earlier rows. That spares SQLite a statement journal, a copy of
//! every page the statement changes that it would otherwise keep in case it had to undo the statement alone (the
//! default, `ABORT`): in the middle of a transaction, every such page was copied before each change (3 % of Herald's
//! CPU at full speed, 6 % of the claim statement's own time). Herald never goes on with a transaction after a failed
//! statement: the error rolls the whole transaction back, so `FAIL` and `ABORT` end the same. Inserts into tables with
//! foreign keys (deliveries, attempts) need the journal whatever their conflict clause, for the key checks.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::sqlite::SqlitePool;
use sqlx::{QueryBuilder, Row, Sqlite};

use crate::codec::{id, lease_cutoff, micros, opt_time, uuid, NODE_FORGET_AFTER_MICROS};
use crate::*;

/// SQLite allows 32,766 bound variables per statement; deliveries have 13 columns.
const DELIVERY_ROWS_PER_INSERT: usize = 1_000;

/// Inserts deliveries of events already stored, [`DELIVERY_ROWS_PER_INSERT`] per statement, in the caller's
/// transaction: `(event row id, delivery, now)`, with no attempts, created at `now`. Ordered deliveries get their
/// entity's next sequences first ([`place_ordered`]); what was decided for them is returned, in the rows' order.
pub async fn insert_delivery_rows(
    tx: &mut sqlx::SqliteConnection,
    rows: &[(uuid::Uuid, &NewDelivery, DateTime<Utc>)],
) -> StoreResult<Vec<Sequenced>> {
    let placed = place_ordered(tx, rows).await?;
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new("");
    push_delivery_inserts(&mut q, rows, &placed);
    if !rows.is_empty() {
        q.build().execute(&mut *tx).await?;
    }
    Ok(crate::batch::sequenced(rows, &placed))
}

/// The statements inserting `rows` as placed ([`place_ordered`]), each ending with `; `, onto `q`: one message to the
/// connection's thread runs them all (and whatever else `q` holds).
pub(super) fn push_delivery_inserts<'a>(
    q: &mut QueryBuilder<'a, Sqlite>,
    rows: &'a [(uuid::Uuid, &'a NewDelivery, DateTime<Utc>)],
    placed: &[Option<herald_domain::ordering::Placement>],
) {
    for (chunk, placed) in rows.chunks(DELIVERY_ROWS_PER_INSERT).zip(placed.chunks(DELIVERY_ROWS_PER_INSERT)) {
        let placed_rows: Vec<_> = chunk.iter().zip(placed.iter().copied()).collect();
        push_padded_insert(
            q,
            "INSERT INTO deliveries (id, event, webhook_id, application_id, sandbox, state, attempts, \
             next_attempt_at, owner, created, updated, entity_key, sequence)",
            13,
            placed_rows,
            |mut b, ((event, d, now), placement)| {
                let (state, due, owner, sequence) = crate::batch::placed_row(d, placement);
                b.push_bind(d.id.to_string())
                    .push_bind(event.to_string())
                    .push_bind(d.webhook_id.to_string())
                    .push_bind(d.application_id.to_string())
                    .push_bind(d.sandbox)
                    .push_bind(state.code())
                    .push_bind(0i64)
                    .push_bind(due)
                    .push_bind(owner)
                    .push_bind(micros(*now))
                    .push_bind(micros(*now))
                    .push_bind(d.entity_key.as_deref())
                    .push_bind(sequence);
            },
            "",
        );
    }
}

/// `VALUES (…), …` onto `q`: `rows`, then rows of `columns` `NULL`s up to [`padded`]`(rows.len())`, which match
/// nothing (`x = NULL` is never true) or a `WHERE column1 IS NOT NULL` drops. The statement's text then depends on the
/// size class of the batch rather than on its size, and stays prepared in the writer's cache: a group commit's or a
/// record batch's exact size varies with the load, and preparing every new size again (a multi-row statement parses
/// all its rows) took 3 % of Herald's CPU at one change per request.
pub(super) fn push_padded_values<'a, T>(
    q: &mut QueryBuilder<'a, Sqlite>,
    columns: usize,
    rows: impl IntoIterator<Item = T, IntoIter: ExactSizeIterator>,
    mut push: impl FnMut(sqlx::query_builder::Separated<'_, 'a, Sqlite, &'static str>, T),
) {
    let rows = rows.into_iter();
    let pad = padded(rows.len()) - rows.len();
    q.push_values(rows.map(Some).chain(std::iter::repeat_with(|| None).take(pad)), |mut b, row| match row {
        Some(row) => push(b, row),
        None => {
            for _ in 0..columns {
                b.push_bind(None::<i64>);
            }
        }
    });
}

/// `<insert> SELECT * FROM (VALUES …) WHERE column1 IS NOT NULL<tail>; ` onto `q`: `rows` (whose first column is never
/// `NULL`) padded by [`push_padded_values`]; `tail` an `ON CONFLICT` or `RETURNING` clause, or nothing.
pub(super) fn push_padded_insert<'a, T>(
    q: &mut QueryBuilder<'a, Sqlite>,
    insert: &str,
    columns: usize,
    rows: impl IntoIterator<Item = T, IntoIter: ExactSizeIterator>,
    push: impl FnMut(sqlx::query_builder::Separated<'_, 'a, Sqlite, &'static str>, T),
    tail: &str,
) {
    q.push(insert).push(" SELECT * FROM (");
    push_padded_values(q, columns, rows, push);
    q.push(") WHERE column1 IS NOT NULL").push(tail).push("; ");
}

/// For each ordered delivery that ended in `attempts`: the waiting delivery of its entity with the lowest sequence
/// becomes due, unless the entity's lowest open delivery is still pending (see `herald_domain::ordering`).
async fn promote_next(tx: &mut sqlx::SqliteConnection, attempts: &[AttemptRecord]) -> StoreResult<()> {
    let ended = crate::batch::ended_keys(attempts);
    for chunk in ended.chunks(KEYS_PER_STATEMENT) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new("WITH k(webhook_id, entity_key, at) AS (");
        q.push_values(chunk, |mut b, ((w, k), at)| {
            b.push_bind(w.to_string()).push_bind(*k).push_bind(*at);
        });
        q.push(format!(
            ") UPDATE deliveries SET state = {pending}, next_attempt_at = k.at, updated = k.at FROM k \
             WHERE deliveries.id = (SELECT w.id FROM deliveries w WHERE w.webhook_id = k.webhook_id \
             AND w.entity_key = k.entity_key AND w.state IN ({open}) ORDER BY w.sequence LIMIT 1) \
             AND deliveries.state = {waiting}",
            pending = DeliveryState::Pending.sql(),
            open = DeliveryState::OPEN_SQL,
            waiting = DeliveryState::Waiting.sql(),
        ));
        q.build().execute(&mut *tx).await?;
    }
    Ok(())
}

/// SQLite allows 32,766 bound variables per statement; a webhook's health takes 4 of them (3 in the update, 1 in
/// the read), for each row of a list padded to the next power of two.
const HEALTH_ROWS_PER_STATEMENT: usize = 4_096;

/// SQLite allows 32,766 bound variables per statement; a key is 3 of them.
const KEYS_PER_STATEMENT: usize = 5_000;

/// Gives each ordered delivery of `rows` its entity's next sequence and says whether it must wait
/// ([`crate::batch::placements`]): one upsert of the keys' last sequences, one look for their open deliveries.
/// SQLite's single writer makes the two one step.
pub(super) async fn place_ordered(
    tx: &mut sqlx::SqliteConnection,
    rows: &[(uuid::Uuid, &NewDelivery, DateTime<Utc>)],
) -> StoreResult<Vec<Option<herald_domain::ordering::Placement>>> {
    let keys = crate::batch::order_keys(rows);
    if keys.iter().all(Option::is_none) {
        return Ok(vec![None; rows.len()]);
    }
    let counts = crate::batch::order_counts(&keys);
    let mut last = HashMap::with_capacity(counts.len());
    let mut open = std::collections::HashSet::new();
    for chunk in counts.chunks(KEYS_PER_STATEMENT) {
        let mut q: QueryBuilder<Sqlite> =
            QueryBuilder::new("INSERT INTO entity_sequences (webhook_id, entity_key, last) ");
        q.push_values(chunk, |mut b, ((w, k), n)| {
            b.push_bind(w.to_string()).push_bind(*k).push_bind(*n);
        });
        q.push(
            " ON CONFLICT (webhook_id, entity_key) DO UPDATE SET last = entity_sequences.last + excluded.last \
             RETURNING webhook_id, entity_key, last",
        );
        let answered: Vec<(String, String, i64)> = q.build_query_as().fetch_all(&mut *tx).await?;
        let wanted: HashMap<(String, &str), crate::batch::OrderKey<'_>> =
            chunk.iter().map(|((w, k), _)| ((w.to_string(), *k), (*w, *k))).collect();
        for (w, k, n) in answered {
            if let Some(key) = wanted.get(&(w, k.as_str())) {
                last.insert(*key, n);
            }
        }
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new("WITH k(webhook_id, entity_key) AS (");
        q.push_values(chunk, |mut b, ((w, k), _)| {
            b.push_bind(w.to_string()).push_bind(*k);
        });
        q.push(format!(
            ") SELECT k.webhook_id, k.entity_key FROM k WHERE EXISTS (SELECT 1 FROM deliveries d \
             WHERE d.webhook_id = k.webhook_id AND d.entity_key = k.entity_key AND d.state IN ({}))",
            DeliveryState::OPEN_SQL
        ));
        let busy: Vec<(String, String)> = q.build_query_as().fetch_all(&mut *tx).await?;
        for (w, k) in busy {
            if let Some(key) = wanted.get(&(w, k.as_str())) {
                open.insert(*key);
            }
        }
    }
    Ok(crate::batch::placements(&keys, &counts, &last, &open))
}

pub async fn claim_due(writer: &Writer, c: &crate::backend::Claim<'_>) -> StoreResult<Vec<ClaimedDelivery>> {
    let mut conn = writer.relaxed().await?;
    let result = claim_in(&mut conn, c).await;
    writer.restore(&mut conn).await;
    result
}

async fn claim_in(
    conn: &mut sqlx::SqliteConnection,
    c: &crate::backend::Claim<'_>,
) -> StoreResult<Vec<ClaimedDelivery>> {
    let (owner, now, limit, exclude) = (c.owner, c.now, c.limit, c.exclude);
    let cutoff = lease_cutoff(now, c.lease);
    let mut tx = sqlx::Connection::begin_with(&mut *conn, RELAXED_BEGIN).await?;
    if c.heartbeat {
        upsert_heartbeat(&mut tx, owner, now).await?;
    }
    let by_webhook = !exclude.is_empty() && window_blocked(&mut tx, now, limit, exclude).await?;
    let pending = DeliveryState::Pending.sql();
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new("UPDATE OR FAIL deliveries SET owner = ");
    q.push_bind(owner).push(", updated = ").push_bind(micros(now));
    // Index range scans (see migrations 0004 and 0005): deliveries nobody holds, due now; and deliveries held by
    // another node since before the cutoff whose holder was not seen since (see `Store::claim_due_with_lease`).
    q.push(" WHERE id IN (SELECT id FROM (SELECT * FROM (");
    if by_webhook {
        // The earliest due rows are all excluded webhooks' backlog: take each other webhook's earliest instead, one
        // index seek per webhook, rather than walking that backlog.
        q.push(format!(
            "SELECT d.id, d.next_attempt_at FROM webhooks w, deliveries d WHERE d.id IN (SELECT x.id \
             FROM deliveries x WHERE x.webhook_id = w.id AND x.state = {pending} AND x.owner IS NULL \
             AND x.next_attempt_at <= "
        ));
        q.push_bind(micros(now)).push(" ORDER BY x.next_attempt_at LIMIT ").push_bind(limit as i64).push(")");
        push_exclude_on(&mut q, "w.id", exclude);
        q.push(" ORDER BY d.next_attempt_at LIMIT ").push_bind(limit as i64);
    } else {
        q.push(format!(
            "SELECT id, next_attempt_at FROM deliveries WHERE state = {pending} AND owner IS NULL AND next_attempt_at <= "
        ));
        q.push_bind(micros(now));
        push_exclude(&mut q, exclude);
        q.push(" ORDER BY next_attempt_at LIMIT ").push_bind(limit as i64);
    }
    q.push(format!(
        ") UNION ALL SELECT * FROM (SELECT d.id, d.next_attempt_at FROM deliveries d \
         WHERE d.state = {pending} AND d.owner IS NOT NULL AND d.updated < "
    ));
    q.push_bind(cutoff).push(" AND d.next_attempt_at <= ").push_bind(micros(now));
    q.push(" AND (d.owner = ").push_bind(owner);
    q.push(" OR NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = d.owner AND n.heartbeat >= ").push_bind(cutoff);
    q.push("))");
    push_exclude(&mut q, exclude);
    q.push(" ORDER BY d.next_attempt_at LIMIT ").push_bind(limit as i64);
    q.push(")) ORDER BY next_attempt_at LIMIT ").push_bind(limit as i64);
    q.push(") RETURNING id, event, webhook_id, application_id, sandbox, attempts, entity_key, sequence");
    let rows = q.build().fetch_all(&mut *tx).await?;
    let mut events: Vec<String> = rows.iter().map(|r| r.try_get::<String, _>("event")).collect::<Result<_, _>>()?;
    events.sort_unstable();
    events.dedup();
    let mut bodies: HashMap<String, std::sync::Arc<str>> = HashMap::with_capacity(events.len());
    for chunk in events.chunks(900) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT id, body FROM events WHERE id IN (");
        let mut sep = q.separated(", ");
        for e in with_padding(chunk) {
            sep.push_bind(e.map(String::as_str));
        }
        q.push(")");
        for row in q.build().fetch_all(&mut *tx).await? {
            let body: Option<String> = row.try_get("body")?;
            bodies.insert(row.try_get("id")?, body.unwrap_or_default().into());
        }
    }
    tx.commit().await?;
    rows.iter()
        .map(|row| {
            let event: String = row.try_get("event")?;
            Ok(ClaimedDelivery {
                id: id(row.try_get("id")?)?,
                event: uuid(&event)?,
                webhook_id: id(row.try_get("webhook_id")?)?,
                application_id: id(row.try_get("application_id")?)?,
                sandbox: row.try_get("sandbox")?,
                attempts: row.try_get::<i64, _>("attempts")? as u32,
                body: bodies.get(&event).cloned().unwrap_or_else(|| "".into()),
                order: crate::codec::entity_order(row.try_get("entity_key")?, row.try_get("sequence")?),
            })
        })
        .collect()
}

/// Whether the earliest due deliveries nobody holds are so much excluded webhooks' backlog that a claim in time
/// order would walk more than `crate::batch::claim_window(limit)` of them: one bounded index scan, one row.
async fn window_blocked(
    tx: &mut sqlx::SqliteConnection,
    now: DateTime<Utc>,
    limit: u32,
    exclude: &[herald_domain::WebhookId],
) -> StoreResult<bool> {
    let window = crate::batch::claim_window(limit);
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT COUNT(*), COALESCE(SUM(webhook_id NOT IN (");
    let mut sep = q.separated(", ");
    for w in exclude {
        sep.push_bind(w.to_string());
    }
    q.push(format!(
        ")), 0) FROM (SELECT webhook_id FROM deliveries WHERE state = {} AND owner IS NULL AND next_attempt_at <= ",
        DeliveryState::Pending.sql()
    ));
    q.push_bind(micros(now)).push(" ORDER BY next_attempt_at LIMIT ").push_bind(window).push(")");
    let (seen, usable): (i64, i64) = q.build_query_as().fetch_one(&mut *tx).await?;
    Ok(crate::batch::window_blocked(seen, usable, limit))
}

/// ` AND webhook_id NOT IN (...)` for a non-empty `exclude`.
fn push_exclude(q: &mut QueryBuilder<'_, Sqlite>, exclude: &[herald_domain::WebhookId]) {
    push_exclude_on(q, "webhook_id", exclude);
}

/// ` AND <column> NOT IN (...)` for a non-empty `exclude`.
fn push_exclude_on(q: &mut QueryBuilder<'_, Sqlite>, column: &str, exclude: &[herald_domain::WebhookId]) {
    if !exclude.is_empty() {
        q.push(" AND ").push(column).push(" NOT IN (");
        let mut sep = q.separated(", ");
        for w in exclude {
            sep.push_bind(w.to_string());
        }
        q.push(")");
    }
}

/// The earliest due time of the deliveries nobody holds, but those of `exclude`.
pub async fn next_due_at(
    reader: &SqlitePool,
    exclude: &[herald_domain::WebhookId],
) -> StoreResult<Option<DateTime<Utc>>> {
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(format!(
        "SELECT next_attempt_at FROM deliveries WHERE state = {} AND owner IS NULL",
        DeliveryState::Pending.sql()
    ));
    push_exclude(&mut q, exclude);
    q.push(" ORDER BY next_attempt_at LIMIT 1");
    let next: Option<Option<i64>> = q.build_query_scalar().fetch_optional(reader).await?;
    Ok(opt_time(next.flatten()))
}

/// Records `node`'s sign of life at `now` (never moving it back) and forgets nodes silent for a week.
pub async fn heartbeat(writer: &SqlitePool, node: &str, now: DateTime<Utc>) -> StoreResult<()> {
    let mut tx = writer.begin().await?;
    upsert_heartbeat(&mut tx, node, now).await?;
    sqlx::query("DELETE FROM nodes WHERE heartbeat < ?")
        .bind(micros(now).saturating_sub(NODE_FORGET_AFTER_MICROS))
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn upsert_heartbeat(tx: &mut sqlx::SqliteConnection, node: &str, now: DateTime<Utc>) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO nodes (id, heartbeat) VALUES (?, ?) \
         ON CONFLICT (id) DO UPDATE SET heartbeat = MAX(heartbeat, excluded.heartbeat)",
    )
    .bind(node)
    .bind(micros(now))
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn record_attempts(writer: &Writer, attempts: &[AttemptRecord]) -> StoreResult<()> {
    if attempts.is_empty() {
        return Ok(());
    }
    let mut conn = writer.relaxed().await?;
    let result = record_in(&mut conn, attempts).await;
    writer.restore(&mut conn).await;
    result
}

/// The transaction of a claim, of attempt records or of a group commit: its commit is not synced to disk by SQLite
/// (`synchronous = NORMAL`; still durable across a crash of the process, and ordered before the next synced write).
/// Losing a claim or records on a power cut means an attempt is made again, which at-least-once delivery allows; a
/// group commit's callers are answered only after the WAL's sync (`wal_sync`), so accepted changes are never lost.
/// One statement to the connection's thread for both.
pub(super) const RELAXED_BEGIN: &str = "PRAGMA synchronous = NORMAL; BEGIN";

/// The single writer connection. It stays at `synchronous = FULL` (what the management writes rely on) but during a
/// relaxed transaction (a claim, attempt records, a group commit, whose durability comes from the WAL's sync):
/// [`Writer::restore`] after each.
#[derive(Clone)]
pub struct Writer {
    pub pool: SqlitePool,
}

impl Writer {
    pub fn new(pool: SqlitePool) -> Self {
        Self { pool }
    }

    /// The writer, for a transaction begun with [`RELAXED_BEGIN`].
    pub(super) async fn relaxed(&self) -> StoreResult<sqlx::pool::PoolConnection<Sqlite>> {
        Ok(self.pool.acquire().await?)
    }

    /// Back to `synchronous = FULL` for every other write on this connection.
    pub(super) async fn restore(&self, conn: &mut sqlx::SqliteConnection) {
        if let Err(e) = sqlx::query("PRAGMA synchronous = FULL").execute(&mut *conn).await {
            tracing::error!(error = %e, "could not restore synchronous = FULL on the SQLite writer");
        }
    }
}

/// How many rows a batch statement of `n` rows is written for: the next power of two. The rows past `n` are padding
/// that matches nothing (`NULL` keys: `x IN (…, NULL)` and `x = NULL` are never true), so that a statement's text
/// depends on its size class rather than on the exact batch size: it stays in the writer's statement cache instead
/// of being prepared again for every size the batches happen to have.
fn padded(n: usize) -> usize {
    n.next_power_of_two()
}

/// `items`, then `None` up to [`padded`]`(items.len())`.
fn with_padding<T>(items: &[T]) -> impl Iterator<Item = Option<&T>> {
    items.iter().map(Some).chain(std::iter::repeat_n(None, padded(items.len()) - items.len()))
}

/// SQLite allows 32,766 bound variables per statement; attempts have 13 columns, delivery updates 5.
const ATTEMPT_ROWS_PER_INSERT: usize = 2_000;

/// A batch of attempt records in a few set-based statements: one insert of the attempt rows, one update of the
/// deliveries per round (see [`crate::batch::rounds`]), one update per webhook whose health changed.
async fn record_in(conn: &mut sqlx::SqliteConnection, attempts: &[AttemptRecord]) -> StoreResult<()> {
    let mut tx = sqlx::Connection::begin_with(&mut *conn, RELAXED_BEGIN).await?;
    for chunk in attempts.chunks(ATTEMPT_ROWS_PER_INSERT) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new("");
        let insert = "INSERT INTO attempts (delivery_id, event, webhook_id, application_id, attempt, started, \
                      duration_ms, outcome, status_code, error, response, url, retry_after)";
        push_padded_insert(
            &mut q,
            insert,
            13,
            chunk,
            |mut b, a| {
                b.push_bind(a.delivery_id.to_string())
                    .push_bind(a.event.to_string())
                    .push_bind(a.webhook_id.to_string())
                    .push_bind(a.application_id.to_string())
                    .push_bind(a.attempt as i64)
                    .push_bind(micros(a.started))
                    .push_bind(a.duration_ms as i64)
                    .push_bind(a.outcome.as_str())
                    .push_bind(a.status_code.map(i64::from))
                    .push_bind(a.error.as_deref())
                    .push_bind(a.response.as_deref())
                    .push_bind(a.url.as_str())
                    .push_bind(a.retry_after.as_deref());
            },
            "",
        );
        q.build().execute(&mut *tx).await?;
    }
    for round in crate::batch::rounds(attempts) {
        for chunk in round.chunks(ATTEMPT_ROWS_PER_INSERT) {
            let mut q: QueryBuilder<Sqlite> =
                QueryBuilder::new("WITH v(id, state, attempt, next_attempt_at, updated) AS (");
            push_padded_values(&mut q, 5, chunk, |mut b, a| {
                b.push_bind(a.delivery_id.to_string())
                    .push_bind(a.new_state.code())
                    .push_bind(a.attempt as i64)
                    .push_bind(a.next_attempt_at.map(micros))
                    .push_bind(crate::batch::ended(a));
            });
            q.push(format!(
                ") UPDATE OR FAIL deliveries SET state = v.state, attempts = MAX(deliveries.attempts, v.attempt), \
                 next_attempt_at = v.next_attempt_at, owner = NULL, updated = v.updated \
                 FROM v WHERE deliveries.id = v.id AND deliveries.state IN ({}, v.state)",
                DeliveryState::Pending.sql()
            ));
            q.build().execute(&mut *tx).await?;
        }
    }
    promote_next(&mut tx, attempts).await?;
    // One message per chunk of webhooks: their health update, then which of them have their failing streak announced
    // (a column the update does not change), for the operational events. Only those come back (`record_transitions`
    // reads a webhook missing from `announced` as not announced), so a batch spanning many webhooks (fan-out) returns
    // no row per webhook; both lists are padded to a size class (see `padded`), so that the text stays prepared.
    let mut announced = HashMap::new();
    for chunk in crate::batch::health(attempts).chunks(HEALTH_ROWS_PER_STATEMENT) {
        let mut q: QueryBuilder<Sqlite> = QueryBuilder::new("WITH v(id, success, failing) AS (");
        push_padded_values(&mut q, 3, chunk, |mut b, (hook, h)| {
            b.push_bind(hook.to_string()).push_bind(h.success).push_bind(h.failing);
        });
        q.push(
            ") UPDATE webhooks SET \
             last_success = CASE WHEN v.success IS NULL THEN webhooks.last_success \
                 ELSE MAX(COALESCE(webhooks.last_success, 0), v.success) END, \
             failing_since = CASE WHEN v.success IS NULL THEN COALESCE(webhooks.failing_since, v.failing) \
                 ELSE v.failing END \
             FROM v WHERE webhooks.id = v.id; \
             SELECT id FROM webhooks WHERE failing_announced IS NOT NULL AND id IN (",
        );
        let mut ids = q.separated(", ");
        for hook in with_padding(chunk) {
            ids.push_bind(hook.map(|(hook, _)| hook.to_string()));
        }
        q.push(")");
        for row in q.build().fetch_all(&mut *tx).await? {
            announced.insert(id(row.try_get(0)?)?, true);
        }
    }
    crate::catalogue::operational::record_transitions::<Sqlite>(&mut tx, attempts, &announced).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn synchronous(pool: &SqlitePool) -> i64 {
        sqlx::query_scalar("PRAGMA synchronous").fetch_one(pool).await.expect("PRAGMA synchronous")
    }

    #[tokio::test]
    async fn relaxed_writes_leave_the_writer_at_full_and_a_group_commit_restores_it_when_one_did_not() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let store = crate::sqlite::SqliteStore::open(&dir.path().join("herald.db")).await.expect("opens");
        let (full, normal) = (2, 1);
        let w = &store.hot;
        assert_eq!(synchronous(&w.pool).await, full);
        store
            .claim_due_with_lease("n1", Utc::now(), 10, &[], std::time::Duration::from_secs(30))
            .await
            .expect("claims");
        assert_eq!(synchronous(&w.pool).await, full, "a claim restores FULL");
        // A relaxed transaction given up half-way (a cancelled task): the writer stays at NORMAL.
        {
            let mut conn = w.relaxed().await.expect("the writer");
            let tx = sqlx::Connection::begin_with(&mut *conn, RELAXED_BEGIN).await.expect("begins");
            drop(tx);
        }
        assert_eq!(synchronous(&w.pool).await, normal);
        crate::backend::Backend::commits(&store).submit(&[], None, Utc::now()).await.expect("commits");
        assert_eq!(synchronous(&w.pool).await, full, "the next group commit restores FULL");
    }
}
