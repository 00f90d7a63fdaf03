//! The catalogue, written once for both databases: applications, installations, webhooks and the routing snapshot,
//! secrets resealing. Generic over the backend's [`Sql`] (see `crate::dialect`); each backend's `Store` calls it with
//! its pools and its [`Sealer`]. The hot path (events, claims, attempt records) stays in each backend.

mod applications;
mod deliveries;
mod logs;
mod maintenance;
mod records;
mod sessions;
mod webhooks;

use sqlx::{Database, Pool};

use crate::dialect::{sql, Sql};
use crate::{Sealer, StoreResult};

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
