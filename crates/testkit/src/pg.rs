//! PostgreSQL test databases: one fresh database per test, created through an admin URL and dropped (`WITH
//! (FORCE)`) when its guard is dropped, also when the test fails.
//!
//! `HERALD_TEST_DATABASE_URL` names the admin URL (default [`DEFAULT_ADMIN_URL`]): a role that may create
//! databases. `HERALD_TEST_SKIP_POSTGRES=1` lets PostgreSQL-only tests return early ([`skipped`]); an unreachable
//! server otherwise fails the test with a message saying so.

use sqlx::{Connection, Executor, PgConnection};

/// The admin URL used when `HERALD_TEST_DATABASE_URL` is not set: the local server CI runs.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The admin URL tests create their databases through.
pub fn admin_url() -> String {
    std::env::var("HERALD_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| DEFAULT_ADMIN_URL.into())
}

/// Whether PostgreSQL tests are switched off (`HERALD_TEST_SKIP_POSTGRES=1`); prints why when they are.
pub fn skipped() -> bool {
    let skip = std::env::var("HERALD_TEST_SKIP_POSTGRES").is_ok_and(|v| v == "1");
    if skip {
        eprintln!("HERALD_TEST_SKIP_POSTGRES=1: this PostgreSQL test does not run");
    }
    skip
}

/// A database `herald_test_<uuid>` that lives as long as this guard.
pub struct TestDatabase {
    admin: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// Creates a fresh, empty database. Panics, naming the server, when it is unreachable.
    pub async fn create() -> TestDatabase {
        let admin = admin_url();
        let name = format!("herald_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
            panic!(
                "PostgreSQL at {} is unreachable ({e}); start it, point HERALD_TEST_DATABASE_URL at one, or set \
                 HERALD_TEST_SKIP_POSTGRES=1",
                redact(&admin)
            )
        });
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .unwrap_or_else(|e| panic!("cannot create the test database {name}: {e}"));
        let _ = conn.close().await;
        let url = database_url(&admin, &name);
        TestDatabase { admin, name, url }
    }

    /// `postgres://…/herald_test_<uuid>`, with the admin URL's credentials, host and options.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs one query returning a single number (`SELECT count(*) …`) on this database, over a connection of its
    /// own: for tests that watch the shared state of several Herald processes.
    pub async fn scalar(&self, sql: &str) -> i64 {
        let mut conn =
            PgConnection::connect(&self.url).await.unwrap_or_else(|e| panic!("connect to {}: {e}", self.name));
        let value: i64 = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        let _ = conn.close().await;
        value
    }
}

impl Drop for TestDatabase {
    /// Drops the database, blocking: on a thread of its own with its own runtime, since the test's runtime may be
    /// the one unwinding (or gone). `WITH (FORCE)` ends the sessions a test left open, such as a killed process's.
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            rt.block_on(async {
                let mut last = None;
                // A server busy with other tests may refuse a connection for a moment: try a few times.
                for _ in 0..5 {
                    match PgConnection::connect(&admin).await {
                        Ok(mut conn) => {
                            let done = conn.execute(sql.as_str()).await.map(|_| ());
                            let _ = conn.close().await;
                            match done {
                                Ok(()) => return Ok(()),
                                Err(e) => last = Some(e),
                            }
                        }
                        Err(e) => last = Some(e),
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                Err(last.map_or_else(|| std::io::Error::other("unknown"), std::io::Error::other))
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!("could not drop test database {}: the dropping thread panicked", self.name),
        }
    }
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

/// The URL with its password hidden, for messages.
fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return url.to_string() };
    let rest = &url[scheme_end..];
    match (rest.find('@'), rest.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!("{}{}:***{}", &url[..scheme_end], &rest[..colon], &rest[at..]),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_url_keeps_credentials_host_and_options() {
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(database_url("postgres://u:p@h/db?sslmode=disable", "x"), "postgres://u:p@h/x?sslmode=disable");
        assert_eq!(database_url("postgres://h", "x"), "postgres://h/x");
    }

    #[test]
    fn passwords_are_hidden_in_messages() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h:5432/db"), "postgres://u@h:5432/db");
    }
}
