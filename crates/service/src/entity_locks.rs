//! One lock per entity on this node, so that concurrent writes of one entity's state (`PUT /entities/…`) here
//! take turns instead of racing to the store's compare-and-set and retrying. Across nodes, the compare-and-set
//! alone keeps the order (`entities.rs`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use herald_store::EntityKey;
use tokio::sync::OwnedMutexGuard;

type Slots = Arc<Mutex<HashMap<EntityKey, Arc<tokio::sync::Mutex<()>>>>>;

/// The locks of the entities being written now; an entity nobody writes has no entry.
#[derive(Default)]
pub(crate) struct EntityLocks {
    slots: Slots,
}

/// A held lock; dropping it frees the entity (and forgets its entry when nobody else waits for it).
pub(crate) struct EntityGuard {
    key: EntityKey,
    slot: Arc<tokio::sync::Mutex<()>>,
    guard: Option<OwnedMutexGuard<()>>,
    slots: Slots,
}

impl EntityLocks {
    /// Locks every entity of `keys`, which must be sorted and without duplicates (so that two requests locking
    /// several entities cannot wait for each other).
    pub(crate) async fn lock_all(&self, keys: &[EntityKey]) -> Vec<EntityGuard> {
        let mut held = Vec::with_capacity(keys.len());
        for key in keys {
            let slot = {
                let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
                slots.entry(key.clone()).or_default().clone()
            };
            let guard = slot.clone().lock_owned().await;
            held.push(EntityGuard { key: key.clone(), slot, guard: Some(guard), slots: self.slots.clone() });
        }
        held
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots.lock().map(|s| s.len()).unwrap_or_default()
    }
}

impl Drop for EntityGuard {
    fn drop(&mut self) {
        self.guard.take();
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        // The map's reference and this guard's: nobody else holds or awaits this entity.
        if Arc::strong_count(&self.slot) == 2 {
            slots.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> EntityKey {
        EntityKey { customer_id: "RPT".into(), entity_type: "contacts".into(), entity_id: id.into() }
    }

    #[tokio::test]
    async fn a_second_writer_waits_and_the_entry_is_forgotten_after() {
        let locks = Arc::new(EntityLocks::default());
        let first = locks.lock_all(&[key("a")]).await;
        let l2 = locks.clone();
        let second = tokio::spawn(async move { l2.lock_all(&[key("a"), key("b")]).await.len() });
        tokio::task::yield_now().await;
        assert!(!second.is_finished(), "the second writer waits for the first");
        drop(first);
        assert_eq!(second.await.expect("joined"), 2);
        assert_eq!(locks.len(), 0, "no entry is left once nobody writes");
    }
}
