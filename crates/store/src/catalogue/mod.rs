//! The catalogue, written once for both databases: applications, installations, webhooks and the routing snapshot,
//! secrets resealing. Generic over the backend's [`Sql`] (see `crate::dialect`); each backend's `Store` calls it with
//! its pools and its [`Sealer`]. The hot path (events, claims, attempt records) stays in each backend.

mod applications;
mod dead_letters;
mod deliveries;
mod logs;
mod maintenance;
pub(crate) mod operational;
#[cfg(test)]
mod plans;
mod records;
mod sessions;
mod webhooks;

use chrono::{DateTime, Utc};
use sqlx::{Database, Pool, Transaction};
use uuid::Uuid;

use crate::codec::micros;
use crate::dialect::{sql, Sql, Stmt};
use crate::{Page, Sealer, StoreError, StoreResult};

/// The catalogue of one store: where it writes, where it reads (the same pool on PostgreSQL; SQLite reads beside
/// its single writer), and how it seals secrets.
pub struct Catalogue<'s, DB: Database> {
    pub writer: &'s Pool<DB>,
    pub reader: &'s Pool<DB>,
    pub sealer: &'s Sealer,
}

/// Bumps the routing version, in the caller's transaction: every write to applications, installations or
/// webhooks does, so that each node can tell its routing table is stale.
pub async fn bump_routing_version<DB: Sql>(conn: &mut DB::Connection) -> StoreResult<()> {
    sql::<DB>("UPDATE routing_version SET version = version + 1 WHERE id = 1").run(conn).await?;
    Ok(())
}

/// Bumps the routing version and commits: the end of every write to applications, installations or webhooks.
pub async fn commit_routing<DB: Sql>(mut tx: Transaction<'_, DB>) -> StoreResult<()> {
    bump_routing_version::<DB>(&mut *tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Marks the rows of `table` (applications or webhooks) whose `column` is `id` and that are not deleted yet deleted
/// (and modified) at `now`, in the caller's transaction; how many.
pub async fn soft_delete<DB: Sql>(
    conn: &mut DB::Connection,
    table: &str,
    column: &str,
    id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<u64> {
    sql::<DB>(format!("UPDATE {table} SET deleted = "))
        .arg(micros(now))
        .push(", modified = ")
        .arg(micros(now))
        .push(format!(" WHERE {column} = "))
        .arg(id)
        .push(" AND deleted IS NULL")
        .run(conn)
        .await
}

impl<DB: Sql> Catalogue<'_, DB> {
    /// The row of `table` (applications or webhooks) with this id, unless deleted.
    async fn live_row(&self, table: &str, id: Uuid) -> StoreResult<DB::Row> {
        let mut conn = self.reader.acquire().await?;
        sql::<DB>(format!("SELECT * FROM {table} WHERE id = "))
            .arg(id)
            .push(" AND deleted IS NULL")
            .optional(&mut *conn)
            .await?
            .ok_or(StoreError::NotFound)
    }

    /// A page of `SELECT * FROM table` narrowed by `filter` (which starts with ` WHERE`), in `order`, and how many
    /// rows the filter matches in all.
    async fn page_of<'a>(
        &self,
        table: &str,
        filter: impl Fn(&mut Stmt<'a, DB>),
        order: &str,
        page: Page,
    ) -> StoreResult<(Vec<DB::Row>, u64)> {
        let mut conn = self.reader.acquire().await?;
        let mut count = sql::<DB>(format!("SELECT COUNT(*) AS n FROM {table}"));
        filter(&mut count);
        let count = count.optional(&mut *conn).await?.ok_or(StoreError::NotFound)?;
        let mut q = sql::<DB>(format!("SELECT * FROM {table}"));
        filter(&mut q);
        q.push(format!(" ORDER BY {order} LIMIT ")).arg(page.size as i64).push(" OFFSET ").arg(page.offset());
        Ok((q.all(&mut *conn).await?, DB::int(&count, "n")? as u64))
    }
}
