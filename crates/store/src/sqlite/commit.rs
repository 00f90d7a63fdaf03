//! The SQLite side of the group commit (`crate::group_commit`).

use std::collections::HashSet;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Sqlite};

use crate::codec::micros;
use crate::group_commit::{Committer, Job};
use crate::*;

/// SQLite allows 32,766 bound variables per statement; events have 8 columns (a chunk is padded to 2,048 rows).
const EVENT_ROWS_PER_INSERT: usize = 2_000;

/// The SQLite side of the group commit: a transaction on the single writer connection at `synchronous = NORMAL`,
/// then, with the writer free for the next one, a sync of the WAL before the callers hear of it
/// ([`super::wal_sync`]).
pub struct SqliteCommitter {
    pub writer: super::deliveries::Writer,
    pub wal: std::sync::Arc<super::wal_sync::WalSync>,
}

#[async_trait]
impl Committer for SqliteCommitter {
    async fn commit(&self, jobs: &[Job]) -> StoreResult<Vec<StoreResult<Vec<Sequenced>>>> {
        let mut conn = self.writer.relaxed().await?;
        let committed = commit(&mut conn, jobs).await;
        self.writer.restore(&mut conn).await;
        drop(conn);
        let outcomes = committed?;
        // Accepting changes is synced to disk before the callers hear of it.
        self.wal.sync().await?;
        Ok(outcomes)
    }
}

async fn commit(conn: &mut sqlx::SqliteConnection, jobs: &[Job]) -> StoreResult<Vec<StoreResult<Vec<Sequenced>>>> {
    let mut tx = sqlx::Connection::begin_with(&mut *conn, super::deliveries::RELAXED_BEGIN).await?;
    let conflict = store_keys(&mut tx, jobs).await?;
    let stale = crate::entity_state::apply_group::<Sqlite>(&mut tx, jobs, &conflict).await?;
    let kept: Vec<&Job> =
        jobs.iter().enumerate().filter(|(i, _)| !conflict[*i] && !stale[*i]).map(|(_, j)| j).collect();
    let events: Vec<(&NewEvent, DateTime<Utc>)> =
        kept.iter().flat_map(|j| j.events.iter().map(move |e| (e, j.now))).collect();
    let rows: Vec<(uuid::Uuid, &NewDelivery, DateTime<Utc>)> = kept
        .iter()
        .flat_map(|j| j.events.iter().flat_map(move |e| e.deliveries.iter().map(move |d| (e.id, d, j.now))))
        .collect();
    // What the rows are is decided first (ordered deliveries read their entities); then every insert goes to the
    // connection's thread as one message: the events, then their deliveries.
    let placed = super::deliveries::place_ordered(&mut tx, &rows).await?;
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new("");
    for chunk in events.chunks(EVENT_ROWS_PER_INSERT) {
        // `OR FAIL`: no statement journal (see `deliveries`).
        let insert =
            "INSERT OR FAIL INTO events (id, event_id, topic_id, customer_id, entity_id, event_time, body, created)";
        super::deliveries::push_padded_insert(
            &mut q,
            insert,
            8,
            chunk,
            |mut b, (e, now)| {
                b.push_bind(e.id.to_string())
                    .push_bind(e.event_id.to_string())
                    .push_bind(e.topic_id.as_str())
                    .push_bind(e.customer_id.as_str())
                    .push_bind(e.entity_id.as_deref())
                    .push_bind(micros(e.event_time))
                    .push_bind(e.body.as_str())
                    .push_bind(micros(*now));
            },
            "",
        );
    }
    super::deliveries::push_delivery_inserts(&mut q, &rows, &placed);
    if !events.is_empty() {
        q.build().execute(&mut *tx).await?;
    }
    let sequenced = crate::batch::sequenced(&rows, &placed);
    tx.commit().await?;
    Ok(crate::group_commit::outcomes(jobs, &conflict, &stale, sequenced))
}

/// Stores the group's idempotency keys, one message for them all; `true` for each job left out because its key is
/// stored already (and not expired), or because an earlier job of the group has the same key.
///
/// An expired key is new again at once, not a conflict until the upkeep deletes it: deleted first (found through the
/// key's index; expired for the group when it is for any of its jobs, whose clocks differ by milliseconds), then
/// inserted as any new one. One insert of every key, which does nothing on a conflict and returns the keys it stored,
/// in the order of the jobs: of two jobs with one key the first gets it.
async fn store_keys(tx: &mut sqlx::SqliteConnection, jobs: &[Job]) -> StoreResult<Vec<bool>> {
    let keyed: Vec<(&Job, &crate::group_commit::StoredKey)> =
        jobs.iter().filter_map(|j| j.idempotency.as_ref().map(|k| (j, k))).collect();
    let mut conflict = vec![false; jobs.len()];
    if keyed.is_empty() {
        return Ok(conflict);
    }
    let mut q: QueryBuilder<Sqlite> = QueryBuilder::new("WITH v(key, expired_before) AS (");
    super::deliveries::push_padded_values(&mut q, 2, &keyed, |mut b, (_, k)| {
        b.push_bind(k.key.as_str()).push_bind(micros(k.expired_before));
    });
    q.push(
        ") DELETE FROM idempotency_keys WHERE key IN (SELECT key FROM v) \
         AND created < (SELECT MAX(v.expired_before) FROM v WHERE v.key = idempotency_keys.key); ",
    );
    super::deliveries::push_padded_insert(
        &mut q,
        "INSERT INTO idempotency_keys (key, response, body_hash, created)",
        4,
        &keyed,
        |mut b, (job, k)| {
            b.push_bind(k.key.as_str())
                .push_bind(k.response.as_str())
                .push_bind(k.body_hash.as_str())
                .push_bind(micros(job.now));
        },
        " ON CONFLICT (key) DO NOTHING RETURNING key",
    );
    let stored: HashSet<String> = q.build_query_scalar::<String>().fetch_all(&mut *tx).await?.into_iter().collect();
    let mut taken = HashSet::new();
    for (i, job) in jobs.iter().enumerate() {
        if let Some(k) = &job.idempotency {
            conflict[i] = !(stored.contains(&k.key) && taken.insert(k.key.as_str()));
        }
    }
    Ok(conflict)
}
