//! The in-memory routing table, kept fresh: reloaded when this node changed routing data, and otherwise when the
//! store's routing version moved (another node's change), checked at most every 250 ms.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use herald_domain::routing::RoutingTable;
use herald_store::Store;
use tokio::sync::Mutex as AsyncMutex;

use crate::ServiceResult;

const CHECK_EVERY: Duration = Duration::from_millis(250);

pub struct RoutingCache {
    store: Arc<dyn Store>,
    current: Mutex<Option<(i64, Arc<RoutingTable>, Instant)>>,
    dirty: AtomicBool,
    reload: AsyncMutex<()>,
}

impl RoutingCache {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store, current: Mutex::new(None), dirty: AtomicBool::new(true), reload: AsyncMutex::new(()) }
    }

    pub fn invalidate(&self) {
        self.dirty.store(true, Ordering::SeqCst);
    }

    /// The current routing table.
    pub async fn table(&self) -> ServiceResult<Arc<RoutingTable>> {
        if let Some(t) = self.fresh() {
            return Ok(t);
        }
        let _one_reload = self.reload.lock().await;
        if let Some(t) = self.fresh() {
            return Ok(t);
        }
        let was_dirty = self.dirty.swap(false, Ordering::SeqCst);
        let known = self.current.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|c| c.0);
        if !was_dirty {
            let version = match self.store.routing_version().await {
                Ok(v) => v,
                Err(e) => {
                    self.dirty.store(was_dirty, Ordering::SeqCst);
                    return Err(e.into());
                }
            };
            if Some(version) == known {
                let mut cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(c) = cur.as_mut() {
                    c.2 = Instant::now();
                    return Ok(c.1.clone());
                }
            }
        }
        let snapshot = match self.store.routing_snapshot().await {
            Ok(s) => s,
            Err(e) => {
                self.dirty.store(true, Ordering::SeqCst);
                return Err(e.into());
            }
        };
        let table = Arc::new(RoutingTable::new(snapshot.webhooks, snapshot.scopes, snapshot.installations));
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((snapshot.version, table.clone(), Instant::now()));
        Ok(table)
    }

    fn fresh(&self) -> Option<Arc<RoutingTable>> {
        if self.dirty.load(Ordering::SeqCst) {
            return None;
        }
        let cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
        cur.as_ref().filter(|c| c.2.elapsed() < CHECK_EVERY).map(|c| c.1.clone())
    }
}
