//! A fresh store per test: a SQLite file in a temp dir, or a PostgreSQL database created for the test and dropped
//! after it (also when it fails).

use std::sync::Arc;

use herald_store::postgres::PgStore;
use herald_store::sqlite::SqliteStore;
use herald_store::Store;
use sqlx::{Connection, Executor, PgConnection};

/// The admin URL used to create and drop test databases, when `HERALD_TEST_DATABASE_URL` is not set.
const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// Connections per test store: enough for the concurrency tests, few enough for parallel tests on one server.
const PG_POOL: u32 = 5;

pub struct TestStore {
    pub store: Arc<dyn Store>,
    // Declared after `store`, so dropped after it: the temp dir or the database the store lives in.
    _dir: Option<tempfile::TempDir>,
    _database: Option<TestDatabase>,
}

pub async fn sqlite() -> TestStore {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = SqliteStore::open(&dir.path().join("herald.db")).await.expect("SQLite store opens").sealed(sealer());
    TestStore { store: Arc::new(store), _dir: Some(dir), _database: None }
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
    if std::env::var("HERALD_TEST_SKIP_POSTGRES").is_ok_and(|v| v == "1") {
        eprintln!("HERALD_TEST_SKIP_POSTGRES=1: PostgreSQL conformance test not run");
        return None;
    }
    let admin = std::env::var("HERALD_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_string());
    let name = format!("herald_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL at {admin} is unreachable ({e}); start it, point HERALD_TEST_DATABASE_URL at one, \
             or set HERALD_TEST_SKIP_POSTGRES=1"
        )
    });
    conn.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("the test database is created");
    let _ = conn.close().await;
    let url = database_url(&admin, &name);
    Some((TestDatabase { admin, name }, url))
}

/// The admin URL with its database replaced by `name`.
pub fn database_url(admin: &str, name: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_end = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    let mut url = format!("{}/{name}", &base[..host_end]);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

/// Drops its database when dropped, blocking: on a thread of its own with its own runtime, since the test's runtime
/// may be the one unwinding.
pub struct TestDatabase {
    admin: String,
    name: String,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(async {
                let mut conn = PgConnection::connect(&admin).await?;
                conn.execute(sql.as_str()).await?;
                conn.close().await
            })
            .map_err(std::io::Error::other)
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!("could not drop test database {}: the dropping thread panicked", self.name),
        }
    }
}

#[test]
fn the_database_url_keeps_credentials_host_and_options() {
    assert_eq!(
        database_url("postgres://postgres@127.0.0.1:5432/postgres", "x"),
        "postgres://postgres@127.0.0.1:5432/x"
    );
    assert_eq!(database_url("postgres://u:p@h/db?sslmode=disable", "x"), "postgres://u:p@h/x?sslmode=disable");
    assert_eq!(database_url("postgres://h", "x"), "postgres://h/x");
}
