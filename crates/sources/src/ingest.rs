//! What happens to one message, whatever the broker: ingest it through the service, or keep it as a dead letter;
//! then tell the broker's module whether to acknowledge it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use herald_service::{Herald, MessageRejected};

use crate::metrics::SourceMetrics;

/// How long a message Herald could not take (the store unreachable) waits before it is handed back to the broker,
/// so that an outage does not turn into a busy loop of redeliveries.
pub(crate) const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// The bytes of messages being ingested at once, across every source of the process. A message costs about ten
/// times its size while it is parsed, derived and stored (its changes as trees, their payloads, the group commit's
/// rows), and each source holds `prefetch` messages (up to 10,000) that it ingests concurrently, so without a bound
/// on size large messages could hold gigabytes. Messages past the budget wait, unacknowledged, in the order they
/// came. Not smaller: while one group commits, the next must be parsing, and 1 MiB (~37 messages of 20 changes)
/// was all in the committing group, halving ingest in `herald bench` (docs/PERFORMANCE.md).
pub(crate) const INGEST_BUDGET_BYTES: usize = 4 << 20;

/// The share of [`INGEST_BUDGET_BYTES`] a message takes while it is ingested: its size, or the whole budget for a
/// larger one (which then runs alone).
#[derive(Clone)]
pub(crate) struct Budget {
    bytes: Arc<tokio::sync::Semaphore>,
    total: usize,
}

impl Budget {
    pub fn new(total: usize) -> Self {
        Budget { bytes: Arc::new(tokio::sync::Semaphore::new(total)), total }
    }

    /// Waits for room for a message of `len` bytes; the room is given back when the permit is dropped.
    pub async fn take(&self, len: usize) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let n = u32::try_from(len.clamp(1, self.total)).unwrap_or(u32::MAX);
        // The semaphore is never closed, so acquiring fails only if that changes: then nothing is bounded.
        self.bytes.clone().acquire_many_owned(n).await.ok()
    }
}

/// What to do with a message once handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Disposition {
    /// Stored (or stored before, or kept as a dead letter): acknowledge it.
    Ack,
    /// Not stored: leave it to the broker to deliver again.
    Retry,
}

/// One source as the brokers' modules see it: its name, the service, its metrics and its connection state.
#[derive(Clone)]
pub(crate) struct Source {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    herald: Herald,
    metrics: SourceMetrics,
    /// Shared by every source of the process.
    budget: Budget,
    /// Connected at some point since the last [`Source::take_was_up`] (the back-off starts again).
    was_up: AtomicBool,
}

impl Source {
    pub fn new(name: String, herald: Herald, metrics: SourceMetrics, budget: Budget) -> Self {
        Source { inner: Arc::new(Inner { name, herald, metrics, budget, was_up: AtomicBool::new(false) }) }
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Records whether the source is connected and consuming, for `/readyz` and `/metrics`.
    pub fn set_up(&self, up: bool) {
        if up {
            self.inner.was_up.store(true, Ordering::Relaxed);
        }
        self.inner.herald.source_states().set(&self.inner.name, up);
        self.inner.metrics.set_up(&self.inner.name, up);
    }

    /// Whether the source was connected since the last call.
    pub fn take_was_up(&self) -> bool {
        self.inner.was_up.swap(false, Ordering::Relaxed)
    }

    /// Messages waiting at the broker, where the broker tells it.
    pub fn set_lag(&self, lag: u64) {
        self.inner.metrics.set_lag(&self.inner.name, lag);
    }

    /// A message was acknowledged at the broker.
    pub fn acknowledged(&self, n: u64) {
        self.inner.metrics.acknowledged(&self.inner.name, n);
    }

    /// Ingests one message's body with its idempotency key (the `idempotency-key` header or field, else the
    /// broker's message id). Invalid: kept as a dead letter, to be acknowledged.
    pub async fn handle(&self, body: &[u8], key: Option<&str>) -> Disposition {
        let _room = self.inner.budget.take(body.len()).await;
        self.inner.metrics.consumed(&self.inner.name);
        match self.inner.herald.ingest_message(body, key).await {
            Ok(_) => Disposition::Ack,
            Err(MessageRejected::Invalid { status, error }) => self.dead_letter(body, key, status, &error).await,
            Err(MessageRejected::Retry(error)) => {
                tracing::warn!(source = %self.name(), error = %error, "could not ingest a message; the broker will deliver it again");
                tokio::time::sleep(RETRY_PAUSE).await;
                Disposition::Retry
            }
        }
    }

    /// Keeps a message that is no change with its error; `Ack` once kept.
    pub async fn dead_letter(
        &self,
        body: &[u8],
        key: Option<&str>,
        status: u16,
        error: &herald_service::ServiceError,
    ) -> Disposition {
        match self.inner.herald.dead_letter(&self.inner.name, key, body, status, error).await {
            Ok(_) => {
                tracing::info!(source = %self.name(), message_id = ?key, %error, "an invalid message was kept as a dead letter");
                self.inner.metrics.dead_lettered(&self.inner.name);
                Disposition::Ack
            }
            Err(e) => {
                tracing::warn!(source = %self.name(), error = %e, "could not keep a dead letter; the broker will deliver it again");
                tokio::time::sleep(RETRY_PAUSE).await;
                Disposition::Retry
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn messages_wait_for_room_in_the_budget_and_a_large_one_runs_alone() {
        let budget = Budget::new(100);
        let first = budget.take(60).await.expect("room");
        let second = budget.take(40).await.expect("room");
        // Full: a third message waits until one of them is done.
        let third = tokio::spawn({
            let budget = budget.clone();
            async move { budget.take(10).await }
        });
        tokio::task::yield_now().await;
        assert!(!third.is_finished(), "a message was ingested past the budget");
        drop(second);
        let third = third.await.expect("joined").expect("room");
        // One larger than the whole budget takes all of it, once the others are done.
        let large = tokio::spawn({
            let budget = budget.clone();
            async move { budget.take(1_000).await }
        });
        tokio::task::yield_now().await;
        assert!(!large.is_finished(), "a message larger than the budget ran beside others");
        drop((first, third));
        let large = large.await.expect("joined").expect("room");
        assert_eq!(budget.bytes.available_permits(), 0);
        drop(large);
        assert_eq!(budget.bytes.available_permits(), 100);
    }
}
