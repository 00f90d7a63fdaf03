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
    crate::harness::sqlite_memory();
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
    crate::harness::sqlite_memory();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("herald.db");
    let store = SqliteStore::open(&path).await.unwrap();
    for i in 0..2_000 {
        store.insert_application(&app_at(t(i))).await.unwrap();
    }
    // SQLite keeps no allocation statistics (see `harness::sqlite_memory`: it would count megabytes of page cache
    // by now), and refuses the setting once in use.
    // SAFETY: reads a counter; SQLite is initialised.
    assert_eq!(unsafe { libsqlite3_sys::sqlite3_memory_used() }, 0, "no allocation statistics");
    assert!(!herald_store::sqlite::disable_memory_statistics(), "too late once a database is open");
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
