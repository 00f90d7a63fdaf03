//! The in-memory routing table, kept fresh: reloaded when this node changed routing data, and otherwise when the
//! store's routing version moved (another node's change), checked at most every 250 ms.
//!
//! Local changes bump a generation counter; a cached table is fresh only if it was loaded at the current generation
//! (the generation is read before the snapshot, so a change made during a reload makes the result stale at once).
//! A reload compiles only the payload filters that changed; the others are taken from the table it replaces.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use herald_domain::routing::RoutingTable;
use herald_store::Store;
use tokio::sync::Mutex as AsyncMutex;

use crate::ServiceResult;

const CHECK_EVERY: Duration = Duration::from_millis(250);

struct Cached {
    /// The local generation the table was loaded at.
    generation: u64,
    /// The store's routing version the table reflects.
    version: i64,
    table: Arc<RoutingTable>,
    /// When the store's version was last compared.
    checked: Instant,
}

pub struct RoutingCache {
    store: Arc<dyn Store>,
    /// Called when a reload finds another node's change (the routing version moved): the engine reads the webhooks'
    /// rate limits again before it sends what this table routes (contract §9.3).
    on_moved: Box<dyn Fn() + Send + Sync>,
    current: Mutex<Option<Cached>>,
    generation: AtomicU64,
    reload: AsyncMutex<()>,
    /// When the last reload failed for want of the database, and why: the callers that waited behind it get its
    /// failure instead of trying again one after another (while the database is down, each try waits out the store's acquire timeout, so
    /// three requests at once were answered after one, two and three timeouts).
    failed: Mutex<Option<(Instant, Arc<herald_store::StoreError>)>>,
}

impl RoutingCache {
    pub fn new(store: Arc<dyn Store>, on_moved: impl Fn() + Send + Sync + 'static) -> Self {
        Self {
            store,
            on_moved: Box::new(on_moved),
            current: Mutex::new(None),
            generation: AtomicU64::new(1),
            reload: AsyncMutex::new(()),
            failed: Mutex::new(None),
        }
    }

    /// Routing data changed on this node: the next event must see it.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The current routing table.
    pub async fn table(&self) -> ServiceResult<Arc<RoutingTable>> {
        if let Some(t) = self.fresh() {
            return Ok(t);
        }
        let waited_from = Instant::now();
        let _one_reload = self.reload.lock().await;
        if let Some(t) = self.fresh() {
            return Ok(t);
        }
        let failed = self.failed.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some((_, why)) = failed.filter(|(at, _)| *at >= waited_from) {
            return Err(herald_store::StoreError::Shared(why).into());
        }
        match self.reload_now().await {
            Err(e) if e.is_unavailable() => {
                let why = Arc::new(e);
                *self.failed.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), why.clone()));
                Err(herald_store::StoreError::Shared(why).into())
            }
            reloaded => Ok(reloaded?),
        }
    }

    /// Reads the routing data again (the caller holds `reload`).
    async fn reload_now(&self) -> herald_store::StoreResult<Arc<RoutingTable>> {
        let generation = self.generation.load(Ordering::SeqCst);
        let same_generation = self
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .filter(|c| c.generation == generation)
            .map(|c| c.version);
        if let Some(known) = same_generation {
            // Nothing changed here: only another node's change could make the table stale.
            let version = self.store.routing_version().await?;
            if version == known {
                let mut cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(c) = cur.as_mut().filter(|c| c.generation == generation) {
                    c.checked = Instant::now();
                    return Ok(c.table.clone());
                }
            }
        }
        let snapshot = self.store.routing_snapshot().await?;
        let before = self.current.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|c| c.version);
        if before != Some(snapshot.version) {
            (self.on_moved)();
        }
        let previous = self.current.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|c| c.table.clone());
        let table = Arc::new(RoutingTable::rebuilt(
            previous.as_deref(),
            snapshot.webhooks,
            snapshot.scopes,
            snapshot.installations,
        ));
        for (webhook, why) in table.broken_filters() {
            tracing::warn!(%webhook, "the webhook's stored filter does not compile, so it receives nothing: {why}");
        }
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(Cached { generation, version: snapshot.version, table: table.clone(), checked: Instant::now() });
        Ok(table)
    }

    fn fresh(&self) -> Option<Arc<RoutingTable>> {
        let generation = self.generation.load(Ordering::SeqCst);
        let cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
        cur.as_ref()
            .filter(|c| c.generation == generation && c.checked.elapsed() < CHECK_EVERY)
            .map(|c| c.table.clone())
    }
}
