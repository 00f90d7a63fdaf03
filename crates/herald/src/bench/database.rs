//! A database of its own for each Herald a PostgreSQL bench run starts: `--database-url` names the server (and the
//! database to connect to for creating others), and every run measures on empty tables, whatever earlier runs left
//! there. The database is dropped when its scenarios end.

use anyhow::Context;
use sqlx::Connection;

/// A database created on the server of `--database-url` for one group of scenarios.
pub struct BenchDatabase {
    admin_url: String,
    name: String,
    /// The URL of the new database, for `herald serve --database-url`.
    pub url: String,
}

impl BenchDatabase {
    /// Creates `herald_bench_<random>` on the server of `admin_url`.
    pub async fn create(admin_url: &str) -> anyhow::Result<Self> {
        let mut url = url::Url::parse(admin_url).context("--database-url is not a URL")?;
        let name = format!("herald_bench_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(admin_url)
            .await
            .with_context(|| format!("cannot connect to the PostgreSQL server of {}", url.host_str().unwrap_or("")))?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .context("cannot create the bench's database (the user needs CREATEDB)")?;
        let _ = conn.close().await;
        url.set_path(&format!("/{name}"));
        Ok(Self { admin_url: admin_url.to_string(), name, url: url.to_string() })
    }

    /// Drops the database (its Herald stopped first). A failure is reported, not fatal: the figures are taken.
    pub async fn remove(self) {
        let dropped = async {
            let mut conn = sqlx::PgConnection::connect(&self.admin_url).await?;
            sqlx::query(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)).execute(&mut conn).await?;
            conn.close().await
        };
        if let Err(e) = dropped.await {
            super::scenarios::progress(&format!("could not drop the bench database {}: {e}", self.name));
        }
    }
}

/// The options for one group of scenarios with a fresh database when the run is on PostgreSQL (`None` on SQLite,
/// where each group has a temporary directory of its own).
pub async fn fresh(opts: &super::BenchOptions) -> anyhow::Result<(super::BenchOptions, Option<BenchDatabase>)> {
    match &opts.database_url {
        None => Ok((opts.clone(), None)),
        Some(admin) => {
            let db = BenchDatabase::create(admin).await?;
            Ok((super::BenchOptions { database_url: Some(db.url.clone()), ..opts.clone() }, Some(db)))
        }
    }
}
