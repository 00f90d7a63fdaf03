//! The embedded default: SQLite in WAL mode, one file in the data dir.
//!
//! Writes go through one connection (SQLite has one writer at a time; a single connection avoids busy retries) and
//! reads through a small pool of their own, which WAL lets run beside the writer. `synchronous = FULL`: a transaction
//! that committed is on disk, so an answer given after a commit survives a crash of the process or of the machine.
//! Claims, attempt records and the group commit run at `NORMAL`; the group commit's callers are answered after the
//! WAL's sync ([`wal_sync`]).

mod checkpoint;
mod commit;
mod deliveries;
mod dialect;
mod memory;
mod page_cache;
mod wal_sync;

/// SQLite's process-wide settings, which must be made before SQLite is first used in the process (`herald` makes
/// them at start, before its runtime exists): no allocation statistics ([`memory`]) and the layer over its page
/// cache ([`page_cache`]). Returns `false` when SQLite was already in use (then neither is in effect).
pub fn configure_process() -> bool {
    memory::disable_memory_statistics() && page_cache::install()
}

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use herald_domain::WebhookId;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, Sqlite};

use crate::backend::{Backend, Claim};
use crate::catalogue::Catalogue;
use crate::group_commit::GroupCommit;
use crate::*;

/// The page cache of the writer connection (KiB, as SQLite's negative `cache_size` reads it): the hot path's
/// indexes stay in memory.
const WRITER_CACHE: &str = "-16000";
/// Prepared statements the writer keeps (sqlx's cache, least recently used out). Batches are multi-row statements
/// whose text changes with their size, each kept as large as its list (a few hundred KB for hundreds of rows): sqlx's
/// default of 100 held 17 MB of them while draining a backlog.
const WRITER_STATEMENTS: usize = 32;
/// The WAL length (pages, 64 MB) at which the writer checkpoints after its commit (`wal_autocheckpoint`), so that its
/// next transaction starts the WAL over. Only the writer can: a checkpoint beside it (see `checkpoint`) copies what
/// was written, but by the time it is done the writer has written more, and a WAL is started over only when every
/// frame in it was copied. Without this the WAL grew by ~40 MB a second under sustained load. (16 MB was tried:
/// four times as many of the writer's checkpoints, each holding one group, raised the p99 at full load by up to 2 ×.)
const WRITER_RESTART_PAGES: &str = "16384";
/// The page cache of each reader connection and of the checkpointing one (KiB).
const READER_CACHE: &str = "-4000";

pub struct SqliteStore {
    writer: SqlitePool,
    /// The same connection, as the hot path writes through it (`synchronous` per transaction).
    hot: deliveries::Writer,
    reader: SqlitePool,
    commits: crate::group_commit::GroupCommit,
    liveness: crate::liveness::Liveness,
    /// Stops the background checkpoints when the store is dropped.
    _checkpoints: tokio::sync::mpsc::Sender<()>,
    /// What [`SqliteStore::quick_check`] found wrong, if anything.
    integrity: std::sync::Mutex<Option<String>>,
    /// How [`SqliteStore::quick_check`] opens the connection it checks through.
    check_options: SqliteConnectOptions,
    sealer: Sealer,
}

impl SqliteStore {
    /// Opens (creating when missing) the database file and applies the embedded migrations.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str("sqlite://")
            .map_err(StoreError::Database)?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .pragma("cache_size", WRITER_CACHE)
            .pragma("temp_store", "memory");
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(30))
            // Checkpoints run beside the writer (see `checkpoint`); the writer checkpoints only to start the WAL over.
            .connect_with(
                options
                    .clone()
                    .pragma("wal_autocheckpoint", WRITER_RESTART_PAGES)
                    .statement_cache_capacity(WRITER_STATEMENTS),
            )
            .await
            .map_err(StoreError::from)?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(30))
            // Reads are small (lists, logs, the next due time) and the OS caches the file: a smaller page cache per
            // reader keeps four of them from holding 64 MB between them.
            .connect_with(options.clone().read_only(true).pragma("cache_size", READER_CACHE))
            .await
            .map_err(StoreError::from)?;
        let hot = deliveries::Writer::new(writer.clone());
        // Two groups in flight: one in its transaction on the writer while the one before waits for its sync.
        let wal = std::sync::Arc::new(wal_sync::WalSync::new(path));
        let commits = crate::group_commit::GroupCommit::start(commit::SqliteCommitter { writer: hot.clone(), wal }, 2);
        // The integrity check reads the whole file by design (seconds on a large one): not a slow statement worth a
        // warning. Its connection is closed after it, with the page cache it filled.
        let check_options = options
            .clone()
            .read_only(true)
            .pragma("cache_size", READER_CACHE)
            .log_slow_statements(log::LevelFilter::Off, Duration::ZERO);
        let checkpoints = checkpoint::start(options.pragma("cache_size", READER_CACHE));
        Ok(Self {
            writer,
            hot,
            reader,
            commits,
            liveness: Default::default(),
            _checkpoints: checkpoints,
            integrity: std::sync::Mutex::new(None),
            check_options,
            sealer: Sealer::plain(),
        })
    }

    /// The store sealing secrets with `sealer` (see [`Sealer`]); without it, they are written in the clear.
    pub fn sealed(mut self, sealer: Sealer) -> Self {
        self.sealer = sealer;
        self
    }

    /// Runs SQLite's `PRAGMA quick_check` (every page and index entry readable and well-formed; O(size of the file))
    /// and remembers what it found, which [`Store::integrity_problem`] reports from then on. `None`: the file is sound.
    pub async fn quick_check(&self) -> StoreResult<Option<String>> {
        // A connection that cannot even be opened is a finding too, as a check that cannot finish is (below).
        let checked = match self.check_options.connect().await {
            Ok(mut conn) => {
                let rows = sqlx::query_scalar::<_, String>("PRAGMA quick_check(20)").fetch_all(&mut conn).await;
                let _ = conn.close().await;
                rows
            }
            Err(e) => Err(e),
        };
        let problem = match checked {
            Ok(rows) => match rows.as_slice() {
                [ok] if ok == "ok" => None,
                [] => Some("quick_check returned nothing".to_string()),
                lines => Some(lines.join("; ")),
            },
            // Damage can stop the check itself (SQLITE_CORRUPT, or a page that cannot be read): a finding too.
            Err(e) => Some(format!(
                "the check could not finish: {}",
                std::error::Error::source(&e).map_or_else(|| e.to_string(), |s| s.to_string())
            )),
        };
        *self.integrity.lock().unwrap_or_else(|e| e.into_inner()) = problem.clone();
        Ok(problem)
    }

    /// Applies the embedded migrations and closes the database (for `herald migrate`).
    pub async fn migrate(path: &Path) -> StoreResult<()> {
        let store = Self::open(path).await?;
        store.writer.close().await;
        store.reader.close().await;
        Ok(())
    }
}

#[async_trait]
impl Backend for SqliteStore {
    type Db = Sqlite;

    fn catalogue(&self) -> Catalogue<'_, Sqlite> {
        Catalogue { writer: &self.writer, reader: &self.reader, sealer: &self.sealer }
    }

    fn commits(&self) -> &GroupCommit {
        &self.commits
    }

    fn liveness(&self) -> &crate::liveness::Liveness {
        &self.liveness
    }

    fn integrity_problem(&self) -> Option<String> {
        self.integrity.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    async fn claim(&self, c: Claim<'_>) -> StoreResult<Vec<ClaimedDelivery>> {
        deliveries::claim_due(&self.hot, &c).await
    }

    async fn heartbeat(&self, node: &str, now: DateTime<Utc>) -> StoreResult<()> {
        deliveries::heartbeat(&self.writer, node, now).await
    }

    async fn next_due_at(&self, exclude: &[WebhookId]) -> StoreResult<Option<DateTime<Utc>>> {
        deliveries::next_due_at(&self.reader, exclude).await
    }

    async fn record_attempts(&self, attempts: &[AttemptRecord]) -> StoreResult<()> {
        deliveries::record_attempts(&self.hot, attempts).await
    }
}
