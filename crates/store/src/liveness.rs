//! When a claim also writes its claimant's heartbeat.
//!
//! A claim counts as a heartbeat (see [`crate::Store::claim_due_with_lease`]), but writing the `nodes` row on every
//! claim is a write (and, on PostgreSQL, a dead row version) per claim, several per second per node under load, for
//! a fact that changes slowly. The store remembers when it last wrote each node's heartbeat and lets a claim write
//! it only when that was more than a tenth of the lease before: a node's stored heartbeat is then never more than a
//! tenth of a lease older than its latest claim, which leaves its claims its own for at least nine tenths of a lease
//! after that claim, and the engine heartbeats three times per lease besides.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::codec::micros;

/// The last heartbeat this store wrote for each node, in microseconds of the callers' clock.
#[derive(Default)]
pub struct Liveness {
    written: Mutex<HashMap<String, i64>>,
}

impl Liveness {
    /// Whether a claim by `node` at `now` under `lease` must write the node's heartbeat.
    pub fn due(&self, node: &str, now: DateTime<Utc>, lease: Duration) -> bool {
        let fresh_for = i64::try_from(lease.as_micros() / 10).unwrap_or(i64::MAX);
        match self.lock().get(node) {
            // A clock that went back writes nothing new (heartbeats never move back), so nothing is due then.
            Some(&at) => micros(now).saturating_sub(at) >= fresh_for,
            None => true,
        }
    }

    /// Notes that `node`'s heartbeat at `now` is stored (call after the write committed).
    pub fn written(&self, node: &str, now: DateTime<Utc>) {
        let now = micros(now);
        let mut written = self.lock();
        match written.get_mut(node) {
            Some(at) => *at = (*at).max(now),
            None => {
                written.insert(node.to_string(), now);
            }
        }
    }

    /// Forgets `node` (its `nodes` row was deleted): its next claim writes its heartbeat again.
    pub fn forget(&self, node: &str) {
        self.lock().remove(node);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        self.written.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    #[test]
    fn a_claim_writes_the_heartbeat_once_per_tenth_of_a_lease() {
        let lease = Duration::from_secs(30);
        let l = Liveness::default();
        assert!(l.due("a", at(0), lease), "never written");
        l.written("a", at(0));
        assert!(!l.due("a", at(2), lease));
        assert!(l.due("a", at(3), lease), "a tenth of the lease later");
        assert!(l.due("b", at(2), lease), "each node its own");
        // A heartbeat written later (the engine's own) counts too; an older one does not move it back.
        l.written("a", at(10));
        l.written("a", at(5));
        assert!(!l.due("a", at(12), lease));
        assert!(!l.due("a", at(1), lease), "a clock that went back");
        l.forget("a");
        assert!(l.due("a", at(12), lease), "forgotten with its row");
    }
}
