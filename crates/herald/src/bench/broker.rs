//! The broker scenario of `herald bench`: changes published to a RabbitMQ queue that Herald consumes
//! (`--source`, contract §9.6), in messages of the same batches as the batched `POST /changes` scenario, so that the
//! two ingest rates compare. The queue is the bench's own and is deleted afterwards.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lapin::options::{BasicPublishOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};

/// A queue of the bench's own on the RabbitMQ at `url`.
pub struct BenchQueue {
    pub name: String,
    channel: Channel,
    _connection: Connection,
}

impl BenchQueue {
    /// Declares the queue; `None` (with why) when RabbitMQ cannot be reached, so that the scenario is skipped.
    pub async fn declare(url: &str) -> Result<BenchQueue, String> {
        let connection =
            tokio::time::timeout(Duration::from_secs(5), Connection::connect(url, ConnectionProperties::default()))
                .await
                .map_err(|_| "timed out".to_string())?
                .map_err(|e| e.to_string())?;
        let channel = connection.create_channel().await.map_err(|e| e.to_string())?;
        let name = format!("herald-bench-{}", uuid::Uuid::new_v4().simple());
        channel
            .queue_declare(name.as_str().into(), QueueDeclareOptions::default(), FieldTable::default())
            .await
            .map_err(|e| e.to_string())?;
        Ok(BenchQueue { name, channel, _connection: connection })
    }

    /// The `--source` URL of this queue.
    pub fn source_url(&self, url: &str) -> String {
        format!("{url}?queue={}", self.name)
    }

    /// Publishes one message per body made by `next` until `duration` has passed, keeping at most `ready`
    /// messages waiting in the queue (a closed loop, as the `POST /changes` scenarios are: the queue always holds
    /// work, and the figure is Herald's rate, not how fast RabbitMQ buffers); how many messages.
    pub async fn publish_for(
        &self,
        duration: Duration,
        ready: u32,
        mut next: impl FnMut() -> String,
    ) -> anyhow::Result<u64> {
        let deadline = Instant::now() + duration;
        let mut sent = 0u64;
        while Instant::now() < deadline {
            if sent.is_multiple_of(64) {
                while self.ready().await? >= ready && Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
            let body = next();
            let props = BasicProperties::default().with_message_id(format!("bench-{sent}").as_str().into());
            self.channel
                .basic_publish(
                    "".into(),
                    self.name.as_str().into(),
                    BasicPublishOptions::default(),
                    body.as_bytes(),
                    props,
                )
                .await?
                .await?;
            sent += 1;
        }
        Ok(sent)
    }

    /// Messages waiting in the queue, not yet delivered to a consumer.
    async fn ready(&self) -> anyhow::Result<u32> {
        let passive = QueueDeclareOptions { passive: true, ..QueueDeclareOptions::default() };
        let q = self.channel.queue_declare(self.name.as_str().into(), passive, FieldTable::default()).await?;
        Ok(q.message_count())
    }

    pub async fn delete(self) {
        // The queue is the bench's own: a failure to delete it only leaves an empty queue behind.
        let _ = self.channel.queue_delete(self.name.as_str().into(), QueueDeleteOptions::default()).await;
    }
}

/// Waits until Herald acknowledged `messages` messages of its source (read from `/metrics`), or `stall` passed
/// without progress; returns whether all were.
pub async fn wait_acknowledged(http: &reqwest::Client, base: &str, messages: u64, stall: Duration) -> bool {
    let http = Arc::new(http.clone());
    let mut last = (0u64, Instant::now());
    loop {
        let acked = acknowledged(&http, base).await.unwrap_or(0);
        if acked >= messages {
            return true;
        }
        if acked > last.0 {
            last = (acked, Instant::now());
        } else if last.1.elapsed() > stall {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The messages the (one) source acknowledged so far.
async fn acknowledged(http: &reqwest::Client, base: &str) -> Option<u64> {
    let text = http.get(format!("{base}/metrics")).send().await.ok()?.text().await.ok()?;
    text.lines()
        .find(|l| l.starts_with("herald_source_messages_acknowledged_total"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
}
