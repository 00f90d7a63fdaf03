//! WAL checkpoints off the writer's path.
//!
//! By default SQLite checkpoints inside the commit that grows the WAL past 1,000 pages: that commit copies the WAL
//! into the database file and syncs it while every other write waits, which shows as a latency spike every few
//! thousand deliveries. Herald runs a `PASSIVE` checkpoint from a connection of its own every [`EVERY`] (every
//! [`FAST_EVERY`] while the WAL is long): it copies what readers no longer need without taking the writer's lock.
//!
//! That alone never starts the WAL over under sustained writes: SQLite starts it over at a write transaction that
//! finds every frame copied, and a checkpoint beside the writer finishes after the writer has written more. So the
//! writer checkpoints too, after the commit that takes the WAL past `WRITER_RESTART_PAGES` (`wal_autocheckpoint`):
//! what is left to copy then is what was written since the last background checkpoint (tens of milliseconds' worth),
//! and its next transaction starts the WAL over. The file stays at about that length instead of growing by tens of
//! megabytes a second. A `TRUNCATE` checkpoint (which does wait for the writer) still bounds the file if passive ones
//! fall behind, for instance behind a long read.

use std::time::Duration;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection, Row, SqliteConnection};
use tokio::sync::mpsc;

/// How often the background checkpoint runs.
const EVERY: Duration = Duration::from_millis(250);
/// The WAL length (pages) from which checkpoints run every [`FAST_EVERY`]: the writer starts the WAL over at
/// [`super::WRITER_RESTART_PAGES`], after copying itself what is not copied yet, which should be little.
const FAST_FROM_PAGES: i64 = 4_096;
/// How often checkpoints run while the WAL is long.
const FAST_EVERY: Duration = Duration::from_millis(25);
/// WAL pages left uncopied after a passive checkpoint beyond which a truncating one runs (about 64 MB at 4 KiB).
const BEHIND_PAGES: i64 = 16_384;

/// Runs checkpoints until the returned sender is dropped (with the store).
pub fn start(options: SqliteConnectOptions) -> mpsc::Sender<()> {
    // A checkpoint of a large WAL takes seconds by design, beside the writer: not a slow statement worth a warning.
    // A short busy timeout: a truncating checkpoint waits for the writer, and must give up rather than hold commits.
    let options =
        options.log_slow_statements(log::LevelFilter::Off, Duration::ZERO).busy_timeout(Duration::from_millis(100));
    let (stop, mut stopped) = mpsc::channel::<()>(1);
    tokio::spawn(async move {
        let mut conn: Option<SqliteConnection> = None;
        let mut pause = EVERY;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stopped.recv() => break,
            }
            if conn.is_none() {
                conn = options.connect().await.map_err(|e| tracing::warn!(error = %e, "checkpoint connection")).ok();
            }
            let Some(c) = conn.as_mut() else { continue };
            pause = match checkpoint(c).await {
                Ok(log) if log >= FAST_FROM_PAGES => FAST_EVERY,
                Ok(_) => EVERY,
                Err(e) => {
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                    conn = None;
                    EVERY
                }
            };
        }
        if let Some(c) = conn {
            let _ = c.close().await;
        }
    });
    stop
}

/// One passive checkpoint (and a truncating one if passive ones fell behind); the WAL's length in pages.
async fn checkpoint(conn: &mut SqliteConnection) -> Result<i64, sqlx::Error> {
    // (busy, WAL pages, pages copied)
    let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&mut *conn).await?;
    let (log, copied): (i64, i64) = (row.try_get(1)?, row.try_get(2)?);
    if log - copied > BEHIND_PAGES {
        tracing::debug!(log, copied, "passive checkpoints fell behind; truncating the WAL");
        // Busy (the writer or a reader in the way past the short timeout) is not an error: the next round retries.
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut *conn).await {
            tracing::debug!(error = %e, "truncating checkpoint gave up");
        }
    }
    Ok(log)
}
