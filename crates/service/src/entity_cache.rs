//! The entity state this node last wrote or read, so that a `PUT /entities/…` of an entity written here before
//! needs no read of the store. It may be stale (another node wrote since, on PostgreSQL): the store's
//! compare-and-set then refuses the write, the entry is dropped, and the request reads the store (`entities.rs`).

use std::collections::HashMap;
use std::sync::Mutex;

use herald_domain::change::Entity;
use herald_store::EntityKey;

/// At most this many entities are remembered; when full, the memory is emptied and fills again.
const CAPACITY: usize = 10_000;

/// An entity's record (`None`: none kept) and the version it was stored with.
pub(crate) type Cached = (Option<Entity>, i64);

#[derive(Default)]
pub(crate) struct EntityCache {
    entries: Mutex<HashMap<EntityKey, Cached>>,
}

impl EntityCache {
    pub(crate) fn get(&self, key: &EntityKey) -> Option<Cached> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).get(key).cloned()
    }

    pub(crate) fn put(&self, key: EntityKey, state: Cached) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CAPACITY && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(key, state);
    }

    pub(crate) fn forget(&self, keys: &[EntityKey]) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        for k in keys {
            entries.remove(k);
        }
    }
}
