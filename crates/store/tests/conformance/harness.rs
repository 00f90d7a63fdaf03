//! A fresh store per test: a SQLite file in a temp dir, or a PostgreSQL database created for the test and dropped
//! after it (also when it fails).

use std::sync::Arc;

use herald_store::postgres::PgStore;
use herald_store::sqlite::SqliteStore;
use herald_store::Store;
use herald_testkit::pg::TestDatabase;

/// Connections per test store: enough for the concurrency tests, few enough for parallel tests on one server.
const PG_POOL: u32 = 5;

pub struct TestStore {
    pub store: Arc<dyn Store>,
    // Declared after `store`, so dropped after it: the temp dir or the database the store lives in.
    _dir: Option<tempfile::TempDir>,
    _database: Option<TestDatabase>,
}

pub async fn sqlite() -> TestStore {
    sqlite_process();
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = SqliteStore::open(&dir.path().join("herald.db")).await.expect("SQLite store opens").sealed(sealer());
    TestStore { store: Arc::new(store), _dir: Some(dir), _database: None }
}

/// SQLite configured for the process as in `herald` (`configure_process`: no allocation statistics, the page cache
/// layer): once per process, before any SQLite use, which is why every test that opens a SQLite file calls this first.
pub fn sqlite_process() {
    static CONFIGURED: std::sync::Once = std::sync::Once::new();
    CONFIGURED.call_once(|| {
        assert!(herald_store::sqlite::configure_process(), "configured before SQLite was first used");
    });
}

/// Every conformance test runs with secrets sealed, as Herald runs.
fn sealer() -> herald_store::Sealer {
    herald_store::Sealer::new(&[[42; 32]])
}

/// `None` only when `HERALD_TEST_SKIP_POSTGRES=1`; an unreachable server fails the test.
pub async fn postgres() -> Option<TestStore> {
    let (db, url) = postgres_database().await?;
    let store = PgStore::open(&url, PG_POOL).await.expect("PostgreSQL store opens").sealed(sealer());
    Some(TestStore { store: Arc::new(store), _dir: None, _database: Some(db) })
}

/// A fresh, empty PostgreSQL database (dropped with the guard) and its URL; `None` as for [`postgres`].
pub async fn postgres_database() -> Option<(TestDatabase, String)> {
    if herald_testkit::pg::skipped() {
        return None;
    }
    let db = TestDatabase::create().await;
    let url = db.url().to_string();
    Some((db, url))
}
