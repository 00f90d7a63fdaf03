//! Load shedding for the publishing requests (`POST /changes`, `PUT`/`DELETE`/`POST /entities`).
//!
//! A request is admitted only while fewer than `max_requests` publishing requests are being handled and their
//! bodies add up to at most [`MAX_PENDING_BODY_BYTES`]; otherwise it is refused at once, before its body is read,
//! and the caller answers `503` with `Retry-After` (docs/OPERATIONS.md, "Overload"). Herald therefore never holds
//! more than a bounded amount of work it has not answered: past its capacity, a publisher learns "later" within
//! milliseconds instead of every request waiting longer and longer, and latency and memory come back by themselves
//! when the load falls. Broker sources are not shed: they take messages at the pace they are acknowledged.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The bodies of publishing requests being handled, at most, in bytes (a request without `Content-Length` counts
/// as the largest body accepted).
pub const MAX_PENDING_BODY_BYTES: usize = 64 * 1024 * 1024;

/// How long a shed publisher is told to wait (`Retry-After`, seconds).
pub const RETRY_AFTER_SECS: u64 = 1;

/// The default bound on publishing requests being handled at once (`--max-pending-publishes`).
pub const MAX_PENDING_PUBLISHES: usize = 128;

/// The publishing requests being handled, counted against their bounds.
#[derive(Debug)]
pub(crate) struct Admission {
    max_requests: usize,
    max_bytes: usize,
    requests: AtomicUsize,
    bytes: AtomicUsize,
}

impl Admission {
    pub(crate) fn new(max_requests: usize, max_bytes: usize) -> Arc<Self> {
        Arc::new(Self {
            max_requests: max_requests.max(1),
            max_bytes: max_bytes.max(1),
            requests: AtomicUsize::new(0),
            bytes: AtomicUsize::new(0),
        })
    }

    /// Admits a request of `body_bytes` (its share of the byte bound), or `None` when either bound would be passed.
    /// A single request larger than the byte bound is still admitted when nothing else is pending, so that no
    /// request is refused for ever.
    pub(crate) fn try_admit(self: &Arc<Self>, body_bytes: usize) -> Option<Admitted> {
        let max_requests = self.max_requests;
        self.requests
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < max_requests).then_some(n + 1))
            .ok()?;
        let max_bytes = self.max_bytes;
        let room = self.bytes.fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
            (b == 0 || b.saturating_add(body_bytes) <= max_bytes).then_some(b.saturating_add(body_bytes))
        });
        if room.is_err() {
            self.requests.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Admitted { admission: self.clone(), bytes: body_bytes })
    }

    /// Publishing requests being handled now.
    pub(crate) fn pending(&self) -> usize {
        self.requests.load(Ordering::Acquire)
    }
}

/// A publishing request being handled: hold it until the request is answered.
#[derive(Debug)]
#[must_use = "the request counts as pending only while this is held"]
pub struct Admitted {
    admission: Arc<Admission>,
    bytes: usize,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.admission.bytes.fetch_sub(self.bytes, Ordering::AcqRel);
        self.admission.requests.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_requests_and_gives_room_back_when_answered() {
        let a = Admission::new(2, 1_000);
        let one = a.try_admit(10).expect("first");
        let two = a.try_admit(10).expect("second");
        assert!(a.try_admit(10).is_none(), "a third is shed");
        assert_eq!(a.pending(), 2, "a refused request leaves no trace");
        drop(one);
        let three = a.try_admit(10).expect("room again after an answer");
        drop((two, three));
        assert_eq!(a.pending(), 0);
        assert_eq!(a.bytes.load(Ordering::Acquire), 0);
    }

    #[test]
    fn bounds_body_bytes_but_never_refuses_a_lone_request() {
        let a = Admission::new(100, 1_000);
        let big = a.try_admit(5_000).expect("alone, even over the byte bound");
        assert!(a.try_admit(1).is_none(), "nothing more while the bytes are over");
        drop(big);
        let x = a.try_admit(600).expect("600");
        assert!(a.try_admit(600).is_none(), "600 + 600 > 1,000");
        let y = a.try_admit(400).expect("600 + 400 = 1,000");
        drop((x, y));
        assert_eq!(a.pending(), 0);
    }

    #[test]
    fn concurrent_admissions_never_pass_the_bound() {
        let a = Admission::new(8, usize::MAX);
        let peak = Arc::new(AtomicUsize::new(0));
        std::thread::scope(|s| {
            for _ in 0..4 {
                let (a, peak) = (a.clone(), peak.clone());
                s.spawn(move || {
                    for _ in 0..10_000 {
                        if let Some(p) = a.try_admit(1) {
                            peak.fetch_max(a.pending(), Ordering::AcqRel);
                            drop(p);
                        }
                    }
                });
            }
        });
        assert!(peak.load(Ordering::Acquire) <= 8, "peak {}", peak.load(Ordering::Acquire));
        assert_eq!(a.pending(), 0);
    }
}
