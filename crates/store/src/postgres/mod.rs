//! PostgreSQL: several Herald nodes sharing one database.
//!
//! Migrations run at open under a session advisory lock taken on one dedicated connection, so that nodes starting
//! together apply them once, one after the other. Deliveries are claimed with `FOR UPDATE SKIP LOCKED`, so that
//! concurrent nodes never claim the same row, and a node's claims outlive it only for its lease (`nodes`).
//! Applications, installations and webhooks live here; the hot path (events, deliveries, attempts) in `deliveries`.

mod deliveries;
mod dialect;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::Connection;

use crate::*;

/// The advisory lock every node takes to migrate ("HERALD" and a version of the locking scheme). Fixed, so that
/// every node of every version agrees on it.
const MIGRATION_LOCK: i64 = 0x4845_5241_4C44_0001;

/// How long an operation waits for a pooled connection (and, when none is open, for the server to accept a new
/// one) before failing with [`StoreError::Unavailable`]. Short, so that while PostgreSQL is down `POST /changes`
/// answers 503 within seconds instead of holding the client, and workers get to their back-off.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);
/// How long opening the store waits for the server to accept the first connection (an address that drops
/// packets would otherwise hold start-up for the system's TCP timeout).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Group commits in flight at once on one node (each holds a pooled connection while it runs).
const COMMITS_IN_FLIGHT: usize = 4;

pub struct PgStore {
    pool: PgPool,
    commits: crate::group_commit::GroupCommit,
    liveness: crate::liveness::Liveness,
    sealer: Sealer,
}

impl PgStore {
    /// Connects, applies the embedded migrations under the migration lock, and opens a pool of `max_connections`.
    pub async fn open(url: &str, max_connections: u32) -> StoreResult<Self> {
        let options = connect_options(url)?;
        migrate_with(&options).await?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        let commits =
            crate::group_commit::GroupCommit::start(deliveries::PgCommitter { pool: pool.clone() }, COMMITS_IN_FLIGHT);
        Ok(Self { pool, commits, liveness: Default::default(), sealer: Sealer::plain() })
    }

    /// The store sealing secrets with `sealer` (see [`Sealer`]); without it, they are written in the clear.
    pub fn sealed(mut self, sealer: Sealer) -> Self {
        self.sealer = sealer;
        self
    }

    /// Applies the embedded migrations and disconnects (for `herald migrate`).
    pub async fn migrate(url: &str) -> StoreResult<()> {
        migrate_with(&connect_options(url)?).await
    }

    /// Closes the pool's connections, waiting for those in use to come back.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn connect_options(url: &str) -> StoreResult<PgConnectOptions> {
    Ok(PgConnectOptions::from_str(url).map_err(StoreError::Database)?.application_name("herald"))
}

/// Runs the migrations on one dedicated connection holding [`MIGRATION_LOCK`]; sqlx's own lock is off, as this one
/// already serialises every migrating node. The lock is released after, and also dies with the connection.
async fn migrate_with(options: &PgConnectOptions) -> StoreResult<()> {
    let mut conn =
        tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(options)).await.map_err(|_| {
            let timed_out = std::io::Error::new(std::io::ErrorKind::TimedOut, "the server did not answer in time");
            StoreError::Unavailable(sqlx::Error::Io(timed_out))
        })??;
    sqlx::query("SELECT pg_advisory_lock($1)").bind(MIGRATION_LOCK).execute(&mut conn).await?;
    let mut migrator = sqlx::migrate!("./migrations/postgres");
    migrator.set_locking(false);
    let migrated = migrator.run(&mut conn).await;
    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)").bind(MIGRATION_LOCK).execute(&mut conn).await;
    // Closing ends the session, which releases the lock even if the unlock above failed.
    let closed = conn.close().await;
    migrated?;
    unlocked?;
    closed?;
    Ok(())
}
