//! Herald's clock: the system clock, plus an offset that only moves forward. The engine and the service read the
//! same one (the service takes the engine's), so a test that moves it crosses a time threshold (a retry's delay, a
//! session's idle lifetime, a lease) everywhere at once, without sleeping; in a running Herald the offset stays zero.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// Cheap to clone; clones share the offset.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_micros: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + chrono::Duration::microseconds(self.offset_micros.load(Ordering::Relaxed))
    }

    /// Moves this clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let us = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        self.offset_micros.fetch_add(us, Ordering::Relaxed);
    }
}
