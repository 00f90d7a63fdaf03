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
