//! Entity state (contract §9.5): the last record Herald was given for an entity, and the compare-and-set write that
//! the group commit applies in the transaction of the events it caused. The SQL is written once for both databases
//! (an upsert guarded by the version read); the rules (what is a creation, what emits nothing) are the service's.

use chrono::{DateTime, Utc};

use crate::codec::micros;
use crate::dialect::{sql, Sql};
use crate::{StoreError, StoreResult};

/// Which entity: a customer's entity of one type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EntityKey {
    pub customer_id: String,
    pub entity_type: String,
    pub entity_id: String,
}

/// What is stored for an entity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityState {
    /// The last record, as JSON text; `None` once deleted.
    pub record: Option<String>,
    /// How many writes the entity has had (1 after the first); what the next write must name.
    pub version: i64,
}

/// A write of an entity's state, applied only if the stored version is still `read_version` (0: nothing stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityWrite {
    pub key: EntityKey,
    pub read_version: i64,
    /// The new record, as JSON text; `None` deletes it (the row stays, with its version).
    pub record: Option<String>,
}

/// The state of `key`, if any was ever stored (a deleted entity has `record: None`).
pub(crate) async fn get_entity<DB: Sql>(
    conn: &mut DB::Connection,
    key: &EntityKey,
) -> StoreResult<Option<EntityState>> {
    let row = sql::<DB>("SELECT record, version FROM entities WHERE customer_id = ")
        .arg(key.customer_id.as_str())
        .push(" AND entity_type = ")
        .arg(key.entity_type.as_str())
        .push(" AND entity_id = ")
        .arg(key.entity_id.as_str())
        .optional(conn)
        .await?;
    row.map(|r| Ok(EntityState { record: DB::opt_text(&r, "record")?, version: DB::int(&r, "version")? })).transpose()
}

/// Applies one request's entity writes in the caller's transaction, each only if its entity is still at the version
/// read. `Ok(false)` when one had moved: then none of them is kept (a savepoint undoes the others), nor the
/// request's idempotency key (`key`, stored just before in the same transaction), and the caller leaves the
/// request's events out.
pub(crate) async fn apply_entity_writes<DB: Sql>(
    conn: &mut DB::Connection,
    writes: &[EntityWrite],
    key: Option<&str>,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let several = writes.len() > 1;
    if several {
        sql::<DB>("SAVEPOINT entity_writes").run(conn).await?;
    }
    let mut applied = true;
    for w in writes {
        let done =
            sql::<DB>("INSERT INTO entities (customer_id, entity_type, entity_id, record, version, updated) VALUES (")
                .arg(w.key.customer_id.as_str())
                .push(", ")
                .arg(w.key.entity_type.as_str())
                .push(", ")
                .arg(w.key.entity_id.as_str())
                .push(", ")
                .arg(w.record.as_deref())
                .push(", ")
                .arg(w.read_version + 1)
                .push(", ")
                .arg(micros(now))
                .push(
                    ") ON CONFLICT (customer_id, entity_type, entity_id) DO UPDATE SET record = excluded.record, \
             version = excluded.version, updated = excluded.updated WHERE entities.version = ",
                )
                .arg(w.read_version)
                .run(conn)
                .await?;
        if done == 0 {
            applied = false;
            break;
        }
    }
    if several {
        if !applied {
            sql::<DB>("ROLLBACK TO SAVEPOINT entity_writes").run(conn).await?;
        }
        sql::<DB>("RELEASE SAVEPOINT entity_writes").run(conn).await?;
    }
    if !applied {
        if let Some(key) = key {
            sql::<DB>("DELETE FROM idempotency_keys WHERE key = ").arg(key).run(conn).await?;
        }
    }
    Ok(applied)
}

/// Applies the entity writes of a group's requests, those not `left_out` already (an idempotency key conflict),
/// in the caller's transaction, after their idempotency keys. Requests writing one entity (the usual `PUT`) are
/// applied together in one statement when their entities differ; a request writing several is applied alone,
/// under a savepoint. Returns, per request, whether it found an entity moved (stale): its writes and its key are
/// then undone, and the caller leaves its events out.
pub(crate) async fn apply_group<DB: Sql>(
    conn: &mut DB::Connection,
    jobs: &[crate::group_commit::Job],
    left_out: &[bool],
) -> StoreResult<Vec<bool>> {
    let mut stale = vec![false; jobs.len()];
    let live = |i: &usize| !left_out[*i] && !jobs[*i].entities.is_empty();
    let singles: Vec<usize> = (0..jobs.len()).filter(live).filter(|i| jobs[*i].entities.len() == 1).collect();
    let distinct = singles.iter().map(|i| &jobs[*i].entities[0].key).collect::<std::collections::HashSet<_>>();
    let together = singles.len() > 1 && distinct.len() == singles.len();
    if together {
        let writes: Vec<&EntityWrite> = singles.iter().map(|i| &jobs[*i].entities[0]).collect();
        let now = jobs[singles[0]].now;
        for (i, applied) in singles.iter().zip(apply_single_writes::<DB>(conn, &writes, now).await?) {
            if !applied {
                stale[*i] = true;
                if let Some(k) = &jobs[*i].idempotency {
                    sql::<DB>("DELETE FROM idempotency_keys WHERE key = ").arg(k.key.as_str()).run(conn).await?;
                }
            }
        }
    }
    for i in (0..jobs.len()).filter(live) {
        if together && jobs[i].entities.len() == 1 {
            continue;
        }
        let key = jobs[i].idempotency.as_ref().map(|k| k.key.as_str());
        stale[i] = !apply_entity_writes::<DB>(conn, &jobs[i].entities, key, jobs[i].now).await?;
    }
    Ok(stale)
}

/// At most this many single writes in one statement (SQLite binds at most 32,766 values; a write binds 6).
const WRITES_PER_STATEMENT: usize = 1_000;

/// Applies the single entity write of each of several requests in the caller's transaction, in one statement per
/// thousand (one round trip instead of one per request), each only if its entity is still at the version read.
/// Returns, per write, whether it was applied. The keys must be distinct (the caller applies a group with a key
/// twice one write at a time, with [`apply_entity_writes`]).
pub(crate) async fn apply_single_writes<DB: Sql>(
    conn: &mut DB::Connection,
    writes: &[&EntityWrite],
    now: DateTime<Utc>,
) -> StoreResult<Vec<bool>> {
    let mut applied = Vec::with_capacity(writes.len());
    for chunk in writes.chunks(WRITES_PER_STATEMENT) {
        let mut q =
            sql::<DB>("INSERT INTO entities (customer_id, entity_type, entity_id, record, version, updated) VALUES ");
        for (i, w) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" })
                .arg(w.key.customer_id.as_str())
                .push(", ")
                .arg(w.key.entity_type.as_str())
                .push(", ")
                .arg(w.key.entity_id.as_str())
                .push(", ")
                .arg(w.record.as_deref())
                .push(", ")
                .arg(w.read_version + 1)
                .push(", ")
                .arg(micros(now))
                .push(")");
        }
        q.push(
            " ON CONFLICT (customer_id, entity_type, entity_id) DO UPDATE SET record = excluded.record, \
             version = excluded.version, updated = excluded.updated WHERE entities.version = excluded.version - 1 \
             RETURNING customer_id, entity_type, entity_id",
        );
        let rows = q.all(conn).await?;
        let mut done = std::collections::HashSet::with_capacity(rows.len());
        for r in &rows {
            done.insert((DB::text(r, "customer_id")?, DB::text(r, "entity_type")?, DB::text(r, "entity_id")?));
        }
        applied.extend(
            chunk.iter().map(|w| {
                done.contains(&(w.key.customer_id.clone(), w.key.entity_type.clone(), w.key.entity_id.clone()))
            }),
        );
    }
    Ok(applied)
}

/// Locks the stored rows of every entity a group writes, in key order, before any is written (PostgreSQL: two
/// nodes' groups writing the same entities in another order would otherwise deadlock). SQLite's single writer needs
/// none.
pub(crate) async fn lock_in_order(conn: &mut sqlx::PgConnection, writes: &[&EntityWrite]) -> StoreResult<()> {
    if writes.is_empty() {
        return Ok(());
    }
    let mut keys: Vec<&EntityKey> = writes.iter().map(|w| &w.key).collect();
    keys.sort();
    keys.dedup();
    // Rows are locked as the sorted plan returns them (the locking step sits above the sort).
    sqlx::query(
        "SELECT 1 FROM entities e JOIN UNNEST($1::text[], $2::text[], $3::text[]) AS k(c, t, i) \
         ON e.customer_id = k.c AND e.entity_type = k.t AND e.entity_id = k.i \
         ORDER BY e.customer_id, e.entity_type, e.entity_id FOR UPDATE OF e",
    )
    .bind(keys.iter().map(|k| k.customer_id.as_str()).collect::<Vec<&str>>())
    .bind(keys.iter().map(|k| k.entity_type.as_str()).collect::<Vec<&str>>())
    .bind(keys.iter().map(|k| k.entity_id.as_str()).collect::<Vec<&str>>())
    .execute(conn)
    .await?;
    Ok(())
}

/// The error of a request whose entity moved since it was read.
pub(crate) fn moved() -> StoreError {
    StoreError::Stale("an entity changed since it was read".into())
}
