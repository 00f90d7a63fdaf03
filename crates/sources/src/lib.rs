//! Herald's broker sources (contract §9.6): each `--source` is one task that consumes changes from RabbitMQ (AMQP),
//! NATS JetStream or Redis Streams, ingests each message through the service's `ingest_message` (the operation
//! `POST /changes` runs, so the same validation, idempotency and group commit), and acknowledges it only after that
//! committed. A message that is not a valid change is kept as a dead letter and acknowledged; one Herald could not
//! take now (the store unreachable) is left for the broker to deliver again.
//!
//! What every broker shares is here and in [`ingest`]: the reconnect loop with its back-off, the connection state
//! `/readyz` reads, the metrics. Each broker's module (`amqp`, `nats`, `redis_streams`) only consumes and
//! acknowledges. This crate holds no rule about changes; it must not write to the store but through the service.

mod amqp;
mod ingest;
mod metrics;
mod nats;
mod redis_streams;

use std::time::Duration;

use herald_config::{Broker, SourceConfig};
use herald_delivery::Metrics;
use herald_service::Herald;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use metrics::SourceMetrics;

use ingest::Source;

/// The first wait before reconnecting to a broker; it doubles after each failed attempt up to [`MAX_BACKOFF`].
pub const MIN_BACKOFF: Duration = Duration::from_millis(200);
/// The longest wait between two attempts to reach a broker.
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Why a connection to a broker ended, other than shutdown.
pub(crate) type BrokerError = Box<dyn std::error::Error + Send + Sync>;

/// Starts one task per source. Each stops when `shutdown` turns true: it stops taking messages, lets those in
/// flight be stored and acknowledged, and closes its connection (messages it held but had not started are
/// delivered again by the broker).
pub fn spawn(
    sources: &[SourceConfig],
    herald: &Herald,
    metrics: &Metrics,
    shutdown: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    if sources.is_empty() {
        return Vec::new();
    }
    let source_metrics = SourceMetrics::registered(metrics);
    let budget = ingest::Budget::new(ingest::INGEST_BUDGET_BYTES);
    sources
        .iter()
        .map(|config| {
            let source = Source::new(config.name.clone(), herald.clone(), source_metrics.clone(), budget.clone());
            tokio::spawn(run(config.clone(), source, shutdown.clone()))
        })
        .collect()
}

/// Resolves once `shutdown` is true (at once if it already is).
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // An error means the sender is gone, which is a shutdown too.
    let _ = shutdown.wait_for(|s| *s).await;
}

/// Consumes from one source until shutdown, reconnecting with back-off whenever the connection ends.
async fn run(config: SourceConfig, source: Source, mut shutdown: watch::Receiver<bool>) {
    let mut backoff = MIN_BACKOFF;
    loop {
        source.set_up(false);
        let ended = match &config.broker {
            Broker::Amqp { address, queue } => amqp::consume(&source, address, queue, config.prefetch, &shutdown).await,
            Broker::Nats { address, stream, durable, subject, ack_wait } => {
                let consumer = nats::Consumer { stream, durable, subject: subject.as_deref(), ack_wait: *ack_wait };
                nats::consume(&source, address, &consumer, config.prefetch, &shutdown).await
            }
            Broker::Redis { address, stream, group, consumer, ack_wait } => {
                let group = redis_streams::Group { stream, group, consumer: consumer.as_deref(), ack_wait: *ack_wait };
                redis_streams::consume(&source, address, &group, config.prefetch, &shutdown).await
            }
        };
        let was_up = source.take_was_up();
        source.set_up(false);
        match ended {
            Ok(()) => break,
            Err(e) => tracing::warn!(source = %source.name(), error = %e, "broker source disconnected; reconnecting"),
        }
        if was_up {
            backoff = MIN_BACKOFF;
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = stopped(&mut shutdown) => break,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    tracing::info!(source = %source.name(), "broker source stopped");
}
