//! The Herald process: assembles the store, the delivery engine, the service and the HTTP server from the
//! configuration, and runs them until shutdown. No business logic lives here.

pub mod admin_token;
pub mod bench;
pub mod listen;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use herald_config::{DatabaseUrl, ServeConfig};
use herald_delivery::{DeliveryConfig, Engine};
use herald_service::{Herald, ServiceConfig};
use herald_store::postgres::PgStore;
use herald_store::sqlite::SqliteStore;
use herald_store::Store;
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
pub async fn open_store(database: &DatabaseUrl, data_dir: &std::path::Path) -> anyhow::Result<Arc<dyn Store>> {
    std::fs::create_dir_all(data_dir).with_context(|| format!("cannot create data dir {}", data_dir.display()))?;
    match database {
        DatabaseUrl::Sqlite { path } => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
            }
            let store = SqliteStore::open(path)
                .await
                .with_context(|| format!("cannot open the SQLite database {}", path.display()))?;
            Ok(Arc::new(store))
        }
        DatabaseUrl::Postgres { url } => {
            let store = PgStore::open(url, PG_POOL_SIZE)
                .await
                .with_context(|| format!("cannot open the PostgreSQL database {database}"))?;
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
    let store = open_store(&cfg.database, &cfg.data_dir).await?;
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
        },
    )
    .context("cannot build the HTTP client for deliveries")?;
    let herald = Herald::new(
        store,
        engine.handle(),
        admin_token,
        ServiceConfig {
            allow_http_targets: cfg.allow_http_targets,
            allow_private_targets: cfg.allow_private_targets,
            idempotency_ttl: Duration::from_secs(86_400),
            auto_disable_after: cfg.auto_disable_after,
            retention: cfg.retention,
            sessions: herald_service::SessionPolicy::default(),
            log_page_bytes: cfg.logs_page_bytes as u64,
        },
    );
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
    )
    .into_make_service_with_connect_info::<SocketAddr>();
    let mut http_rx = rx.clone();
    tasks.push(tokio::spawn(async move {
        let stop = async move {
            let _ = http_rx.wait_for(|s| *s).await;
        };
        if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(stop).await {
            tracing::error!(error = %e, "the HTTP server stopped");
        }
    }));
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
    Ok(Running { addr, engine, herald, shutdown: tx, tasks })
}
