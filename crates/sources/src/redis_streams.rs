//! Redis Streams: a consumer group on a stream key, created (with the stream) when missing. Entries are read with
//! `XREADGROUP`, acknowledged with `XACK` once stored. An entry left pending (a crash, or Herald could not take it)
//! is taken again with `XAUTOCLAIM` once idle for `ack_wait`, by this node or another of the group.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use futures::stream::FuturesUnordered;
use futures::StreamExt;
use redis::aio::MultiplexedConnection;
use redis::streams::{StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamReadOptions, StreamReadReply};
use redis::{AsyncCommands, AsyncConnectionConfig, RedisResult, Value};
use tokio::sync::watch;

use crate::ingest::{Disposition, Source};
use crate::BrokerError;

/// The consumer group Herald reads as one consumer.
pub(crate) struct Group<'a> {
    pub stream: &'a str,
    pub group: &'a str,
    /// This node's consumer name; a random one when `None`.
    pub consumer: Option<&'a str>,
    pub ack_wait: Duration,
}

/// How long one `XREADGROUP` waits for entries at the server.
const BLOCK: Duration = Duration::from_secs(1);
/// How often the group's lag is read.
const LAG_EVERY: Duration = Duration::from_secs(5);

type Read = Pin<Box<dyn Future<Output = RedisResult<Vec<StreamId>>> + Send>>;

/// Consumes until shutdown (`Ok`) or until the connection fails (`Err`).
pub(crate) async fn consume(
    source: &Source,
    address: &str,
    group: &Group<'_>,
    prefetch: u16,
    shutdown: &watch::Receiver<bool>,
) -> Result<(), BrokerError> {
    let mut shutdown = shutdown.clone();
    let client = redis::Client::open(address)?;
    let timeouts = |response: Duration| {
        AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(response))
    };
    // Reads block at the server, so they have a connection of their own: acknowledgements never queue behind them.
    let reader = client.get_multiplexed_async_connection_with_config(&timeouts(BLOCK * 5)).await?;
    let mut writer = client.get_multiplexed_async_connection_with_config(&timeouts(Duration::from_secs(5))).await?;
    match writer.xgroup_create_mkstream::<_, _, _, ()>(group.stream, group.group, "0").await {
        Ok(()) => {}
        Err(e) if e.code() == Some("BUSYGROUP") => {}
        Err(e) => return Err(e.into()),
    }
    let consumer = match group.consumer {
        Some(name) => name.to_string(),
        None => format!("herald-{}", uuid::Uuid::new_v4().simple()),
    };
    let reading = Reading {
        reader,
        stream: group.stream.to_string(),
        group: group.group.to_string(),
        consumer,
        ack_wait: group.ack_wait,
    };
    source.set_up(true);
    tracing::info!(source = %source.name(), "consuming from Redis Streams");
    let prefetch = usize::from(prefetch);
    let mut in_flight = FuturesUnordered::new();
    let mut lag_timer = tokio::time::interval(LAG_EVERY);
    // Pending entries are claimed first (this consumer's own after a restart under the same name), then every
    // `ack_wait / 2`.
    let mut claim_at = Instant::now();
    let mut read: Option<Read> = None;
    let mut stopping = false;
    loop {
        if read.is_none() && !stopping && in_flight.len() < prefetch {
            let claim = Instant::now() >= claim_at;
            if claim {
                claim_at = Instant::now() + group.ack_wait / 2;
            }
            read = Some(Box::pin(reading.clone().next(prefetch - in_flight.len(), claim)));
        }
        if stopping && read.is_none() {
            break;
        }
        tokio::select! {
            _ = crate::stopped(&mut shutdown), if !stopping => stopping = true,
            Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                let () = done?;
            }
            entries = async { read.as_mut().expect("a read in progress").await }, if read.is_some() => {
                read = None;
                for entry in entries? {
                    in_flight.push(handle(source, writer.clone(), group, entry));
                }
            }
            _ = lag_timer.tick() => {
                if let Some(lag) = lag(&mut writer, group).await? {
                    source.set_lag(lag);
                }
            }
        }
    }
    // Shutdown: the last read's entries were started; let everything in flight be stored and acknowledged.
    while let Some(done) = in_flight.next().await {
        if let Err(e) = done {
            tracing::warn!(source = %source.name(), error = %e, "could not acknowledge an entry at shutdown");
        }
    }
    Ok(())
}

/// What one read needs, owned, so that a read in progress outlives the loop's other work.
#[derive(Clone)]
struct Reading {
    reader: MultiplexedConnection,
    stream: String,
    group: String,
    consumer: String,
    ack_wait: Duration,
}

impl Reading {
    /// Up to `count` entries: those pending longer than `ack_wait` (when `claim`), else new ones.
    async fn next(mut self, count: usize, claim: bool) -> RedisResult<Vec<StreamId>> {
        if claim {
            let idle = u64::try_from(self.ack_wait.as_millis()).unwrap_or(u64::MAX);
            let options = StreamAutoClaimOptions::default().count(count);
            let reply: StreamAutoClaimReply =
                self.reader.xautoclaim_options(&self.stream, &self.group, &self.consumer, idle, "0-0", options).await?;
            if !reply.claimed.is_empty() {
                return Ok(reply.claimed);
            }
        }
        let options = StreamReadOptions::default()
            .group(&self.group, &self.consumer)
            .count(count)
            .block(usize::try_from(BLOCK.as_millis()).unwrap_or(1000));
        let reply: Option<StreamReadReply> = self.reader.xread_options(&[&self.stream], &[">"], &options).await?;
        Ok(reply.map(|r| r.keys.into_iter().flat_map(|k| k.ids).collect()).unwrap_or_default())
    }
}

/// Ingests one entry and acknowledges it; an entry Herald could not take stays pending, to be claimed again.
async fn handle(
    source: &Source,
    mut writer: MultiplexedConnection,
    group: &Group<'_>,
    entry: StreamId,
) -> Result<(), BrokerError> {
    let key = text(&entry.map, "idempotency-key").unwrap_or_else(|| format!("redis:{}:{}", group.stream, entry.id));
    let disposition = match entry.map.get("body") {
        Some(Value::BulkString(body)) => source.handle(body, Some(&key)).await,
        Some(Value::SimpleString(body)) => source.handle(body.as_bytes(), Some(&key)).await,
        _ => {
            let error = herald_service::ServiceError::Malformed("The stream entry has no field `body`.".into());
            source.dead_letter(b"", Some(&key), 400, &error).await
        }
    };
    if disposition == Disposition::Ack {
        let _: usize = writer.xack(group.stream, group.group, &[&entry.id]).await?;
        source.acknowledged(1);
    }
    Ok(())
}

fn text(map: &HashMap<String, Value>, field: &str) -> Option<String> {
    match map.get(field)? {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        _ => None,
    }
}

/// Entries of the stream not yet delivered to the group (Redis 7 tells it; older servers do not).
async fn lag(writer: &mut MultiplexedConnection, group: &Group<'_>) -> Result<Option<u64>, BrokerError> {
    let reply: redis::streams::StreamInfoGroupsReply = writer.xinfo_groups(group.stream).await?;
    Ok(reply.groups.iter().find(|g| g.name == group.group).and_then(|g| g.lag).map(|l| l as u64))
}
