//! What only the SQLite backend has: the integrity check at start.

use std::io::{Seek, SeekFrom, Write};
use std::str::FromStr;

use herald_store::sqlite::SqliteStore;
use herald_store::Store;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::fixtures::{app_at, t};

#[tokio::test]
async fn secrets_are_sealed_at_rest_and_reseal_with_a_new_key() {
    crate::harness::sqlite_process();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("herald.db");
    let open = |keys: Vec<[u8; 32]>| {
        let path = path.clone();
        async move {
            let store = SqliteStore::open(&path).await.unwrap().sealed(herald_store::Sealer::new(&keys));
            std::sync::Arc::new(store) as std::sync::Arc<dyn Store>
        }
    };
    let raw = |id: String| {
        let path = path.clone();
        async move {
            let mut conn =
                SqliteConnectOptions::from_str("sqlite://").unwrap().filename(&path).connect().await.unwrap();
            let secret: String = sqlx::query_scalar("SELECT secret FROM webhooks WHERE id = ?")
                .bind(&id)
                .fetch_one(&mut conn)
                .await
                .unwrap();
            let seed: Vec<u8> = sqlx::query_scalar(
                "SELECT a.signing_seed FROM applications a JOIN webhooks w ON w.application_id = a.id WHERE w.id = ?",
            )
            .bind(&id)
            .fetch_one(&mut conn)
            .await
            .unwrap();
            (secret, seed)
        }
    };
    crate::sealing::secrets_are_sealed_at_rest_and_reseal_with_a_new_key(open, raw).await;
}

#[tokio::test]
async fn quick_check_passes_a_sound_file_and_reports_corrupt_pages() {
    crate::harness::sqlite_process();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("herald.db");
    let store = SqliteStore::open(&path).await.unwrap();
    for i in 0..2_000 {
        store.insert_application(&app_at(t(i))).await.unwrap();
    }
    // SQLite keeps no allocation statistics (see `harness::sqlite_process`: it would count megabytes of page cache
    // by now), and refuses the setting once in use.
    // SAFETY: reads a counter; SQLite is initialised.
    assert_eq!(unsafe { libsqlite3_sys::sqlite3_memory_used() }, 0, "no allocation statistics");
    assert!(!herald_store::sqlite::configure_process(), "too late once a database is open");
    assert_eq!(store.quick_check().await.unwrap(), None, "a sound file passes");
    assert_eq!(store.integrity_problem(), None);
    drop(store);

    // Everything into the main file, then the root page of `applications` overwritten with garbage.
    let mut conn = SqliteConnectOptions::from_str("sqlite://").unwrap().filename(&path).connect().await.unwrap();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut conn).await.unwrap();
    let root: i64 = sqlx::query_scalar("SELECT rootpage FROM sqlite_master WHERE name = 'applications'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let page_size: i64 = sqlx::query_scalar("PRAGMA page_size").fetch_one(&mut conn).await.unwrap();
    conn.close().await.unwrap();
    let mut file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.seek(SeekFrom::Start(((root - 1) * page_size) as u64)).unwrap();
    file.write_all(&vec![0xA5; page_size as usize]).unwrap();
    file.sync_all().unwrap();

    let store = SqliteStore::open(&path).await.expect("a damaged file still opens");
    let problem = store.quick_check().await.unwrap().expect("the damage is found");
    assert!(!problem.is_empty());
    assert_eq!(store.integrity_problem(), Some(problem));
}

/// The layer over SQLite's page cache (`herald_store::sqlite::configure_process`, on in this process) passes on
/// every drop of pages that has pages to drop: after rolled-back transactions that grew the file and after a
/// `VACUUM` that shrank it, the page numbers past the end are used again, and a stale page kept in the cache would
/// show as a wrong row or a failed integrity check. Keys in scattered order make the B-tree rebalance sibling pages
/// throughout (the swaps through the lock-byte page number that the layer ignores).
#[tokio::test]
async fn pages_past_the_end_are_dropped_after_rollbacks_and_a_shrinking_file() {
    crate::harness::sqlite_process();
    let dir = tempfile::tempdir().unwrap();
    let mut conn = SqliteConnectOptions::from_str("sqlite://")
        .unwrap()
        .filename(dir.path().join("pages.db"))
        .create_if_missing(true)
        .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
        .pragma("cache_size", "-16000")
        .connect()
        .await
        .unwrap();
    sqlx::query("CREATE TABLE t (k TEXT PRIMARY KEY, v TEXT NOT NULL)").execute(&mut conn).await.unwrap();
    sqlx::query("CREATE INDEX t_v ON t (v)").execute(&mut conn).await.unwrap();
    // Every fourth transaction rolls back: the file had grown, and its new pages must leave the cache.
    let mut expected = Vec::new();
    for round in 0..24u64 {
        let keep = round % 4 != 3;
        write_rows(&mut conn, rows(round * 400..(round + 1) * 400, 1), keep).await;
        if keep {
            expected.extend(rows(round * 400..(round + 1) * 400, 1));
        }
    }
    check_rows(&mut conn, expected.clone()).await;

    // Most rows go and the file shrinks; then rows of another generation fill the page numbers past its new end.
    sqlx::query("DELETE FROM t WHERE substr(k, 16, 1) NOT IN ('0', '1')").execute(&mut conn).await.unwrap();
    sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut conn).await.unwrap();
    let cached = cache_bytes(&mut conn).await;
    sqlx::query("VACUUM").execute(&mut conn).await.unwrap();
    let after = cache_bytes(&mut conn).await;
    assert!(after * 3 < cached, "the pages past the shrunk file's end left the cache ({cached} → {after} bytes)");
    expected.retain(|(k, _)| k.ends_with('0') || k.ends_with('1'));
    for round in 100..110u64 {
        write_rows(&mut conn, rows(round * 400..(round + 1) * 400, 2), true).await;
        expected.extend(rows(round * 400..(round + 1) * 400, 2));
    }
    check_rows(&mut conn, expected).await;
}

/// The memory of the connection's page cache (`SQLITE_DBSTATUS_CACHE_USED`: its pages, counted by the page cache).
async fn cache_bytes(conn: &mut sqlx::SqliteConnection) -> i32 {
    let mut handle = conn.lock_handle().await.unwrap();
    let (mut current, mut highest) = (0, 0);
    // SAFETY: the handle is locked for this call; the status call only reads the connection's counters.
    let rc = unsafe {
        libsqlite3_sys::sqlite3_db_status(
            handle.as_raw_handle().as_ptr(),
            libsqlite3_sys::SQLITE_DBSTATUS_CACHE_USED,
            &mut current,
            &mut highest,
            0,
        )
    };
    assert_eq!(rc, libsqlite3_sys::SQLITE_OK);
    current
}

/// Rows with keys in scattered order, their values marked with `generation`.
fn rows(range: std::ops::Range<u64>, generation: u32) -> Vec<(String, String)> {
    range
        .map(|i| {
            let key = format!("{:016x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let value = format!("{generation}-{key}-{}", "x".repeat(150));
            (key, value)
        })
        .collect()
}

async fn write_rows(conn: &mut sqlx::SqliteConnection, rows: Vec<(String, String)>, keep: bool) {
    let mut tx = conn.begin().await.unwrap();
    for (k, v) in rows {
        sqlx::query("INSERT INTO t (k, v) VALUES (?, ?)").bind(k).bind(v).execute(&mut *tx).await.unwrap();
    }
    if keep {
        tx.commit().await.unwrap();
    } else {
        tx.rollback().await.unwrap();
    }
}

async fn check_rows(conn: &mut sqlx::SqliteConnection, mut expected: Vec<(String, String)>) {
    let ok: String = sqlx::query_scalar("PRAGMA integrity_check").fetch_one(&mut *conn).await.unwrap();
    assert_eq!(ok, "ok");
    let mut rows: Vec<(String, String)> = sqlx::query_as("SELECT k, v FROM t").fetch_all(&mut *conn).await.unwrap();
    expected.sort();
    rows.sort();
    assert_eq!(rows.len(), expected.len());
    assert!(rows == expected, "the rows read back are the rows written");
}

/// Under writes that never pause, the writer starts the WAL over (`WRITER_RESTART_PAGES`, 64 MB) and the file stays
/// about that long; before, checkpoints beside the writer never caught up with it and the WAL grew with every write.
#[tokio::test]
async fn the_wal_is_started_over_under_writes_that_never_pause() {
    crate::harness::sqlite_process();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("herald.db");
    let store = std::sync::Arc::new(SqliteStore::open(&path).await.unwrap());
    let (_, hook) = crate::fixtures::seed(store.as_ref()).await;
    let wal = dir.path().join("herald.db-wal");
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    // Eight writers, 240 events each with a 100 KB payload: ~200 MB through the WAL, three times the restart length.
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let (store, hook, wal, peak) = (store.clone(), hook.clone(), wal.clone(), peak.clone());
            tokio::spawn(async move {
                for i in 0..240 {
                    let mut e =
                        crate::fixtures::event("RPT", "contacts.created", vec![crate::fixtures::pending(&hook, t(0))]);
                    e.body = format!("{{\"writer\":{w},\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(100_000));
                    store.insert_events(&[e], None, t(0)).await.unwrap();
                    let len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
                    peak.fetch_max(len, std::sync::atomic::Ordering::Relaxed);
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    let peak = peak.load(std::sync::atomic::Ordering::Relaxed);
    assert!(peak > 8_000_000, "the writes went through the WAL ({peak} bytes at most)");
    assert!(peak < 100_000_000, "the WAL was started over: {peak} bytes at most, not ~200 MB");
}
