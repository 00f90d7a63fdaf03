//! NATS JetStream: a durable pull consumer on an existing stream, created when missing (explicit acks). Each
//! message is acknowledged once stored, or negatively acknowledged (redelivered after a pause) when Herald could
//! not take it; one left unacknowledged (a crash) is redelivered by the server after the consumer's `ack_wait`.

use std::time::Duration;

use async_nats::connection::State;
use async_nats::jetstream::consumer::pull::Config;
use async_nats::jetstream::consumer::AckPolicy;
use async_nats::jetstream::{self, AckKind, Message};
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use tokio::sync::watch;

use crate::ingest::{Disposition, Source, RETRY_PAUSE};
use crate::BrokerError;

/// The durable consumer Herald reads.
pub(crate) struct Consumer<'a> {
    pub stream: &'a str,
    pub durable: &'a str,
    /// Only these subjects of the stream (all when `None`).
    pub subject: Option<&'a str>,
    pub ack_wait: Duration,
}

/// The server sends a heartbeat this often while a pull waits; two missed ones end the connection here (the
/// reconnect loop takes over), so that an unreachable server is noticed within seconds.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long one pull request lasts at the server.
const PULL_EXPIRES: Duration = Duration::from_secs(10);
/// How often the connection state is looked at, for `/readyz`.
const STATE_EVERY: Duration = Duration::from_millis(250);

/// Consumes until shutdown (`Ok`) or until the connection fails (`Err`).
pub(crate) async fn consume(
    source: &Source,
    address: &str,
    consumer: &Consumer<'_>,
    prefetch: u16,
    shutdown: &watch::Receiver<bool>,
) -> Result<(), BrokerError> {
    let mut shutdown = shutdown.clone();
    let client = async_nats::ConnectOptions::new().connection_timeout(Duration::from_secs(5)).connect(address).await?;
    let js = jetstream::new(client.clone());
    let stream = js.get_stream(consumer.stream).await?;
    let config = Config {
        durable_name: Some(consumer.durable.to_string()),
        ack_policy: AckPolicy::Explicit,
        ack_wait: consumer.ack_wait,
        max_ack_pending: i64::from(prefetch),
        filter_subject: consumer.subject.unwrap_or_default().to_string(),
        ..Config::default()
    };
    let pull = stream.get_or_create_consumer(consumer.durable, config).await?;
    let mut messages = pull
        .stream()
        .max_messages_per_batch(usize::from(prefetch))
        .heartbeat(HEARTBEAT)
        .expires(PULL_EXPIRES)
        .messages()
        .await?;
    source.set_up(true);
    tracing::info!(source = %source.name(), "consuming from NATS JetStream");
    let mut in_flight = FuturesUnordered::new();
    let mut state_timer = tokio::time::interval(STATE_EVERY);
    loop {
        tokio::select! {
            _ = crate::stopped(&mut shutdown) => break,
            Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                let () = done?;
            }
            message = messages.next() => match message {
                Some(message) => {
                    let message = message?;
                    if let Ok(info) = message.info() {
                        source.set_lag(info.pending);
                    }
                    in_flight.push(handle(source, consumer.stream, message));
                }
                None => return Err("the consumer's message stream ended".into()),
            },
            _ = state_timer.tick() => source.set_up(client.connection_state() == State::Connected),
        }
    }
    // Shutdown: no new pulls; those in flight are stored and acknowledged. Messages pulled but not started are
    // redelivered after `ack_wait`.
    drop(messages);
    while let Some(done) = in_flight.next().await {
        if let Err(e) = done {
            tracing::warn!(source = %source.name(), error = %e, "could not acknowledge a message at shutdown");
        }
    }
    // Sends the acknowledgements still buffered; failing that, the server redelivers those messages.
    let _ = client.flush().await;
    Ok(())
}

/// Ingests one message and acknowledges it, or asks for it again later.
async fn handle(source: &Source, stream: &str, message: Message) -> Result<(), BrokerError> {
    let key = key(stream, &message);
    match source.handle(&message.payload, key.as_deref()).await {
        Disposition::Ack => {
            // A double ack waits for the server's confirmation: only then is the message surely not redelivered.
            message.double_ack().await?;
            source.acknowledged(1);
        }
        Disposition::Retry => message.ack_with(AckKind::Nak(Some(RETRY_PAUSE))).await?,
    }
    Ok(())
}

/// The `idempotency-key` header, else `nats:STREAM:SEQUENCE` (the stream's sequence number is the message's id).
fn key(stream: &str, message: &Message) -> Option<String> {
    let header = message.headers.as_ref().and_then(|h| h.get("idempotency-key")).map(|v| v.as_str().to_string());
    header.or_else(|| message.info().ok().map(|info| format!("nats:{stream}:{}", info.stream_sequence)))
}
