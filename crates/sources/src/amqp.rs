//! RabbitMQ (AMQP 0-9-1): a consumer on an existing queue, with a prefetch count. Each message is acknowledged once
//! stored, or requeued (`basic.nack`) when Herald could not take it. Messages unacknowledged when the connection
//! ends are requeued by the broker itself.

use std::time::Duration;

use futures::stream::FuturesUnordered;
use futures::StreamExt;
use lapin::message::Delivery;
use lapin::options::QueueDeclareOptions;
use lapin::options::{BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, ConnectionProperties};
use tokio::sync::watch;

use crate::ingest::{Disposition, Source};
use crate::BrokerError;

/// How often the queue's depth is read for the lag metric.
const LAG_EVERY: Duration = Duration::from_secs(5);

/// Consumes `queue` until shutdown (`Ok`) or until the connection fails (`Err`).
pub(crate) async fn consume(
    source: &Source,
    address: &str,
    queue: &str,
    prefetch: u16,
    shutdown: &watch::Receiver<bool>,
) -> Result<(), BrokerError> {
    let mut shutdown = shutdown.clone();
    let connection = Connection::connect(address, ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    // The queue must exist: a passive declaration checks it (and tells its depth).
    let depth = lag(&channel, queue).await?;
    source.set_lag(depth);
    channel.basic_qos(prefetch, BasicQosOptions::default()).await?;
    let tag = format!("herald-{}", uuid::Uuid::new_v4().simple());
    let mut consumer = channel
        .basic_consume(queue.into(), tag.as_str().into(), BasicConsumeOptions::default(), FieldTable::default())
        .await?;
    source.set_up(true);
    tracing::info!(source = %source.name(), "consuming from RabbitMQ");
    let mut in_flight = FuturesUnordered::new();
    let mut lag_timer = tokio::time::interval(LAG_EVERY);
    loop {
        tokio::select! {
            _ = crate::stopped(&mut shutdown) => break,
            Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                let () = done?;
            }
            delivery = consumer.next() => match delivery {
                Some(delivery) => in_flight.push(handle(source, delivery?)),
                None => return Err("the broker cancelled the consumer".into()),
            },
            _ = lag_timer.tick() => source.set_lag(lag(&channel, queue).await?),
        }
    }
    // Shutdown: no new messages; those in flight are stored and acknowledged; the rest go back to the queue when the
    // channel closes.
    let _ = channel.basic_cancel(tag.as_str().into(), BasicCancelOptions::default()).await;
    while let Some(done) = in_flight.next().await {
        if let Err(e) = done {
            tracing::warn!(source = %source.name(), error = %e, "could not acknowledge a message at shutdown");
        }
    }
    close(&channel, &connection).await;
    Ok(())
}

/// Ingests one delivery and acknowledges it, or hands it back.
async fn handle(source: &Source, delivery: Delivery) -> Result<(), BrokerError> {
    let key = key(&delivery);
    match source.handle(&delivery.data, key.as_deref()).await {
        Disposition::Ack => {
            delivery.acker.ack(BasicAckOptions::default()).await?;
            source.acknowledged(1);
        }
        Disposition::Retry => {
            delivery.acker.nack(BasicNackOptions { requeue: true, ..BasicNackOptions::default() }).await?;
        }
    }
    Ok(())
}

/// The `idempotency-key` header, else the `message-id` property.
fn key(delivery: &Delivery) -> Option<String> {
    let header = delivery.properties.headers().as_ref().and_then(|h| h.inner().get("idempotency-key").cloned());
    let header = match header {
        Some(AMQPValue::LongString(s)) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        Some(AMQPValue::ShortString(s)) => Some(s.as_str().to_string()),
        _ => None,
    };
    header.or_else(|| delivery.properties.message_id().as_ref().map(|id| id.as_str().to_string()))
}

/// The messages ready in the queue (a passive declaration: it fails when the queue does not exist).
async fn lag(channel: &Channel, queue: &str) -> Result<u64, BrokerError> {
    let options = QueueDeclareOptions { passive: true, ..QueueDeclareOptions::default() };
    let q = channel.queue_declare(queue.into(), options, FieldTable::default()).await?;
    Ok(u64::from(q.message_count()))
}

async fn close(channel: &Channel, connection: &Connection) {
    // Closing is a courtesy to the broker: if it fails, the broker notices the closed socket all the same.
    let _ = channel.close(200, "shutdown".into()).await;
    let _ = connection.close(200, "shutdown".into()).await;
}
