//! The Herald process: assembles the store, the delivery engine, the service and the HTTP server from the
//! configuration, and runs them until shutdown. No business logic lives here.

pub mod admin_token;
pub mod bench;
pub mod data_dir;
pub mod encryption_key;
pub mod listen;
pub mod rotate;
pub mod server;
pub mod telemetry;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use herald_config::{DatabaseUrl, ServeConfig};
use herald_delivery::{DeliveryConfig, Engine};
use herald_service::{Herald, ServiceConfig};
use herald_store::postgres::PgStore;
use herald_store::sqlite::SqliteStore;
use herald_store::{Sealer, Store};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A running Herald: its address, its engine (tests may drive it with `run_once`), and a way to stop it.
pub struct Running {
    pub addr: SocketAddr,
    pub engine: Engine,
    pub herald: Herald,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// This process's hold on its SQLite database, released after everything stopped.
    _lock: Option<data_dir::DatabaseLock>,
}

impl Running {
    /// Stops accepting requests and claiming work, lets attempts in flight finish, and waits for everything.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// How often the process deactivates dead webhooks and prunes old payloads.
pub const MAINTENANCE_EVERY: Duration = Duration::from_secs(60);

/// Connections each node keeps to PostgreSQL (see docs/OPERATIONS.md for sizing).
pub const PG_POOL_SIZE: u32 = 16;

/// Opens the store named by the configuration (creating the data dir) and applies migrations.
/// With `integrity_check`, a SQLite file is checked for damage (`PRAGMA quick_check`) once open: damage is logged and
/// reported by `/readyz` (through [`Store::integrity_problem`]), and Herald serves what it can still read.
///
/// Secrets are sealed with `sealer` (its first key); `Sealer::plain()` leaves them in the clear (migrations only).
pub async fn open_store(
    database: &DatabaseUrl,
    data_dir: &std::path::Path,
    integrity_check: bool,
    sealer: Sealer,
) -> anyhow::Result<Arc<dyn Store>> {
    data_dir::create_private_dir(data_dir)?;
    match database {
        DatabaseUrl::Sqlite { path } => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                data_dir::create_private_dir(parent)?;
            }
            data_dir::make_database_private(path)?;
            let store = SqliteStore::open(path)
                .await
                .with_context(|| format!("cannot open the SQLite database {}", path.display()))?
                .sealed(sealer);
            if integrity_check {
                let started = std::time::Instant::now();
                match store.quick_check().await {
                    Ok(None) => {
                        tracing::debug!(elapsed = ?started.elapsed(), "the SQLite file passed its integrity check")
                    }
                    Ok(Some(problem)) => {
                        tracing::error!(%problem, database = %path.display(), "the SQLite file is damaged: restore it from a backup")
                    }
                    Err(e) => tracing::error!(error = %e, "the SQLite integrity check could not run"),
                }
            }
            Ok(Arc::new(store))
        }
        DatabaseUrl::Postgres { url } => {
            let store = PgStore::open(url, PG_POOL_SIZE)
                .await
                .with_context(|| format!("cannot open the PostgreSQL database {database}"))?
                .sealed(sealer);
            Ok(Arc::new(store))
        }
    }
}

/// Starts Herald on `listener`. With `run_worker` false no delivery loop runs (tests call `engine.run_once()`).
pub async fn start(
    cfg: &ServeConfig,
    admin_token: &str,
    listener: TcpListener,
    run_worker: bool,
) -> anyhow::Result<Running> {
    start_tuned(cfg, admin_token, listener, run_worker, |_| {}).await
}

/// [`start`], with the service's configuration adjusted by `tune` after it is derived from `cfg` (tests shorten
/// what the command line does not set, such as the idempotency keys' time to live).
pub async fn start_tuned(
    cfg: &ServeConfig,
    admin_token: &str,
    listener: TcpListener,
    run_worker: bool,
    tune: impl FnOnce(&mut ServiceConfig),
) -> anyhow::Result<Running> {
    let lock = match &cfg.database {
        DatabaseUrl::Sqlite { path } => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                data_dir::create_private_dir(parent)?;
            }
            Some(data_dir::DatabaseLock::acquire(path)?)
        }
        DatabaseUrl::Postgres { .. } => None,
    };
    let pg = matches!(cfg.database, DatabaseUrl::Postgres { .. });
    // Nodes sharing a PostgreSQL database must share one key, so none is generated there (the database is opened
    // first all the same, so that an unreachable one is what start-up reports).
    let (keys, key_source) = match (&cfg.encryption_keys, pg) {
        (None, true) => (Vec::new(), None),
        (given, _) => {
            let (keys, source) = encryption_key::resolve(given.as_deref(), &cfg.data_dir)?;
            (keys, Some(source))
        }
    };
    let store = open_store(&cfg.database, &cfg.data_dir, cfg.integrity_check, Sealer::new(&keys)).await?;
    match key_source {
        None => anyhow::bail!(
            "on PostgreSQL, --encryption-key (HERALD_ENCRYPTION_KEY) is required: every node sharing the database seals \
             secrets with the same key (64 hex digits, such as the output of `openssl rand -hex 32`)"
        ),
        Some(encryption_key::KeySource::DataDir { generated: true }) => {
            tracing::info!(file = %cfg.data_dir.join(encryption_key::FILE_NAME).display(), "generated the key that seals secrets at rest; back it up with the database");
        }
        Some(_) => {}
    }
    // Seals secrets written before sealing (or with another key of the ring), and checks that every stored secret
    // opens with this node's keys: a node given the wrong key stops here with one clear line.
    // A damaged file is served as far as it reads (`/readyz` reports it), so the check is skipped there.
    if store.integrity_problem().is_none() {
        let resealed = store.reseal_secrets().await.map_err(|e| match e {
            herald_store::StoreError::Corrupt(why) => {
                anyhow::anyhow!("cannot open the stored secrets with the encryption key(s): {why}")
            }
            e => anyhow::Error::new(e).context("cannot check the stored secrets"),
        })?;
        if resealed > 0 {
            tracing::info!(resealed, "sealed stored secrets with the current encryption key");
        }
    }
    if matches!(cfg.database, DatabaseUrl::Sqlite { .. }) {
        // One node owns a SQLite file: whatever a previous process held (and was attempting when it died) is due again.
        let released = store.release_all_claims().await.context("cannot release earlier claims")?;
        if released > 0 {
            tracing::info!(released, "deliveries held by a previous run are due again");
        }
    }
    let node_id = format!("node-{}", uuid::Uuid::new_v4().simple());
    let engine = Engine::new(
        store.clone(),
        DeliveryConfig {
            retry_schedule: cfg.retry_schedule.clone(),
            timeout: cfg.delivery_timeout,
            allow_private_targets: cfg.allow_private_targets,
            allow_http_targets: cfg.allow_http_targets,
            max_in_flight: cfg.max_in_flight,
            max_in_flight_per_webhook: cfg.max_in_flight_per_webhook,
            node_id,
            lease: cfg.lease,
            proxy: cfg.delivery_proxy.clone(),
        },
    )
    .context("cannot build the HTTP client for deliveries")?;
    let mut service = ServiceConfig {
        allow_http_targets: cfg.allow_http_targets,
        allow_private_targets: cfg.allow_private_targets,
        idempotency_ttl: Duration::from_secs(86_400),
        auto_disable_after: cfg.auto_disable_after,
        retention: cfg.retention,
        sessions: herald_service::SessionPolicy::default(),
        log_page_bytes: cfg.logs_page_bytes as u64,
        max_pending_publishes: cfg.max_pending_publishes,
    };
    tune(&mut service);
    let herald = Herald::new(store, engine.handle(), admin_token, service);
    let addr = listener.local_addr().context("cannot read the listening address")?;
    let (tx, rx) = watch::channel(false);
    let mut tasks = Vec::new();
    let app = herald_web::router_with(
        herald.clone(),
        herald_web::WebConfig {
            public_https: cfg.public_url.as_ref().is_some_and(|u| u.scheme() == "https"),
            trusted_proxy: cfg.trusted_proxy,
            ..herald_web::WebConfig::default()
        },
    );
    let limits = server::HttpLimits {
        header_read_timeout: cfg.header_read_timeout,
        body_read_timeout: cfg.body_read_timeout,
        max_connections: cfg.max_connections,
    };
    server::raise_open_file_limit(limits.max_connections);
    tasks.push(tokio::spawn(server::serve(listener, app, limits, rx.clone())));
    // The broker sources (contract §9.6) ingest like the API does, so they run on every node that serves it.
    tasks.extend(herald_sources::spawn(&cfg.sources, &herald, engine.handle().metrics(), rx.clone()));
    if run_worker {
        let upkeep = herald.clone();
        let mut upkeep_rx = rx.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                if let Err(e) = upkeep.run_maintenance().await {
                    tracing::warn!(error = %e, "maintenance failed; retrying at the next round");
                }
                tokio::select! {
                    _ = tokio::time::sleep(MAINTENANCE_EVERY) => {}
                    _ = upkeep_rx.wait_for(|s| *s) => break,
                }
            }
        }));
        let worker = engine.clone();
        let mut worker_rx = rx.clone();
        tasks.push(tokio::spawn(async move {
            worker
                .run(async move {
                    let _ = worker_rx.wait_for(|s| *s).await;
                })
                .await;
        }));
    }
    Ok(Running { addr, engine, herald, shutdown: tx, tasks, _lock: lock })
}
