//! `--source URL`: a message broker Herald consumes changes from (contract §9.6), parsed and checked here once.
//! Three forms, each with its own query parameters (docs/CONFIG.md, *Broker sources*):
//!
//! - `amqp://user:pass@host:port/vhost?queue=NAME[&prefetch=N]` (RabbitMQ; the queue must exist);
//! - `nats://[user:pass@]host:port?stream=NAME&durable=NAME[&subject=SUBJECT][&prefetch=N][&ack_wait=DURATION]`
//!   (NATS JetStream, a durable pull consumer, created when missing);
//! - `redis://[user:pass@]host:port[/db]?stream=KEY&group=NAME[&consumer=NAME][&prefetch=N][&ack_wait=DURATION]`
//!   (Redis Streams, a consumer group, created when missing).

use std::fmt;
use std::time::Duration;

use herald_domain::retry::parse_duration;

use crate::database::redact;
use crate::error::InvalidValue;

/// Messages held unacknowledged at once from one source, by default: enough for the group commit to fill its
/// transactions, few enough that a crash redelivers little.
pub const DEFAULT_PREFETCH: u16 = 256;

/// How long a message may stay unacknowledged before the broker gives it to another consumer (NATS, Redis).
pub const DEFAULT_ACK_WAIT: Duration = Duration::from_secs(30);

/// One broker source, checked.
#[derive(Clone, PartialEq, Eq)]
pub struct SourceConfig {
    /// The URL without its credentials: how logs, `/readyz`, `/metrics` and dead letters name the source.
    pub name: String,
    /// Messages held unacknowledged at once (AMQP's prefetch count; a NATS pull's batch and the consumer's
    /// `max_ack_pending`; Redis's `COUNT`), 1 to 10000.
    pub prefetch: u16,
    pub broker: Broker,
}

/// The broker and what to consume there.
#[derive(Clone, PartialEq, Eq)]
pub enum Broker {
    /// `address` is the URL to connect with (credentials and vhost kept, Herald's own parameters removed).
    Amqp {
        address: String,
        queue: String,
    },
    Nats {
        address: String,
        stream: String,
        durable: String,
        subject: Option<String>,
        ack_wait: Duration,
    },
    Redis {
        address: String,
        stream: String,
        group: String,
        consumer: Option<String>,
        ack_wait: Duration,
    },
}

impl fmt::Debug for SourceConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The name is the URL without credentials; the broker's address holds them.
        f.debug_struct("SourceConfig").field("name", &self.name).field("prefetch", &self.prefetch).finish()
    }
}

impl fmt::Debug for Broker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Broker::Amqp { address, queue } => {
                f.debug_struct("Amqp").field("address", &redact(address)).field("queue", queue).finish()
            }
            Broker::Nats { address, stream, durable, subject, ack_wait } => f
                .debug_struct("Nats")
                .field("address", &redact(address))
                .field("stream", stream)
                .field("durable", durable)
                .field("subject", subject)
                .field("ack_wait", ack_wait)
                .finish(),
            Broker::Redis { address, stream, group, consumer, ack_wait } => f
                .debug_struct("Redis")
                .field("address", &redact(address))
                .field("stream", stream)
                .field("group", group)
                .field("consumer", consumer)
                .field("ack_wait", ack_wait)
                .finish(),
        }
    }
}

/// The sources of a comma-separated list (a URL holds no comma).
pub(crate) fn sources(text: &str) -> Result<Vec<SourceConfig>, InvalidValue> {
    text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(source).collect()
}

/// One source URL.
pub(crate) fn source(text: &str) -> Result<SourceConfig, InvalidValue> {
    let bad = |problem: &str| InvalidValue::NotASource { value: redact(text), problem: problem.to_string() };
    let url = url::Url::parse(text).map_err(|e| bad(&e.to_string()))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("it has no host"));
    }
    let mut params: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    let mut take = |key: &str| -> Result<Option<String>, InvalidValue> {
        let found: Vec<usize> = params.iter().enumerate().filter(|(_, (k, _))| k == key).map(|(i, _)| i).collect();
        match found.as_slice() {
            [] => Ok(None),
            [i] => {
                let (_, v) = params.remove(*i);
                if v.is_empty() {
                    Err(bad(&format!("{key} is empty")))
                } else {
                    Ok(Some(v))
                }
            }
            _ => Err(bad(&format!("{key} is given twice"))),
        }
    };
    let prefetch = match take("prefetch")? {
        None => DEFAULT_PREFETCH,
        Some(v) => v
            .parse::<u16>()
            .ok()
            .filter(|n| (1..=10_000).contains(n))
            .ok_or_else(|| bad("prefetch must be 1 to 10000"))?,
    };
    // The address to connect with: the URL as given, without Herald's own parameters, which the brokers' clients
    // would refuse or ignore.
    let mut address = url.clone();
    address.set_query(None);
    let address = address.to_string();
    let broker = match url.scheme() {
        "amqp" => Broker::Amqp { address, queue: take("queue")?.ok_or_else(|| bad("queue=NAME is required"))? },
        "nats" => Broker::Nats {
            address,
            stream: take("stream")?.ok_or_else(|| bad("stream=NAME is required"))?,
            durable: take("durable")?.ok_or_else(|| bad("durable=NAME is required"))?,
            subject: take("subject")?,
            ack_wait: ack_wait(take("ack_wait")?, &bad)?,
        },
        "redis" => Broker::Redis {
            address,
            stream: take("stream")?.ok_or_else(|| bad("stream=KEY is required"))?,
            group: take("group")?.ok_or_else(|| bad("group=NAME is required"))?,
            consumer: take("consumer")?,
            ack_wait: ack_wait(take("ack_wait")?, &bad)?,
        },
        "amqps" | "tls" | "rediss" => return Err(bad("TLS connections to brokers are not supported")),
        _ => return Err(bad("the scheme must be amqp, nats or redis")),
    };
    if let Some((k, _)) = params.first() {
        return Err(bad(&format!("unknown parameter {k}")));
    }
    Ok(SourceConfig { name: name_of(&url), prefetch, broker })
}

fn ack_wait(v: Option<String>, bad: &impl Fn(&str) -> InvalidValue) -> Result<Duration, InvalidValue> {
    match v {
        None => Ok(DEFAULT_ACK_WAIT),
        Some(v) => parse_duration(&v)
            .filter(|d| (Duration::from_secs(1)..=Duration::from_secs(3600)).contains(d))
            .ok_or_else(|| bad("ack_wait must be a duration between 1s and 1h")),
    }
}

/// The URL without user name and password.
fn name_of(url: &url::Url) -> String {
    let mut named = url.clone();
    let _ = named.set_username("");
    let _ = named.set_password(None);
    named.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_form_is_read_with_its_defaults() {
        let s = source("amqp://guest:secret@127.0.0.1:5672/%2f?queue=changes").unwrap();
        assert_eq!(s.name, "amqp://127.0.0.1:5672/%2f?queue=changes");
        assert_eq!(s.prefetch, DEFAULT_PREFETCH);
        assert_eq!(
            s.broker,
            Broker::Amqp { address: "amqp://guest:secret@127.0.0.1:5672/%2f".into(), queue: "changes".into() }
        );
        let s =
            source("nats://127.0.0.1:4222?stream=S&durable=herald&subject=changes.>&prefetch=10&ack_wait=5s").unwrap();
        assert_eq!(s.prefetch, 10);
        assert_eq!(
            s.broker,
            Broker::Nats {
                address: "nats://127.0.0.1:4222".into(),
                stream: "S".into(),
                durable: "herald".into(),
                subject: Some("changes.>".into()),
                ack_wait: Duration::from_secs(5),
            }
        );
        let s = source("redis://127.0.0.1:6379/2?stream=changes&group=herald").unwrap();
        assert_eq!(
            s.broker,
            Broker::Redis {
                address: "redis://127.0.0.1:6379/2".into(),
                stream: "changes".into(),
                group: "herald".into(),
                consumer: None,
                ack_wait: DEFAULT_ACK_WAIT,
            }
        );
        assert_eq!(sources("redis://h?stream=a&group=g, amqp://h?queue=q").unwrap().len(), 2);
    }

    #[test]
    fn a_bad_source_says_what_is_wrong_without_its_password() {
        for (url, problem) in [
            ("amqp://u:hunter2@h/", "queue=NAME is required"),
            ("nats://h?stream=s", "durable=NAME is required"),
            ("redis://h?stream=s", "group=NAME is required"),
            ("redis://h?stream=s&group=g&batch=3", "unknown parameter batch"),
            ("amqp://h?queue=q&prefetch=0", "prefetch must be 1 to 10000"),
            ("nats://h?stream=s&durable=d&ack_wait=0s", "ack_wait must be a duration between 1s and 1h"),
            ("amqp://h?queue=q&queue=r", "queue is given twice"),
            ("amqps://h?queue=q", "TLS connections to brokers are not supported"),
            ("kafka://h?topic=t", "the scheme must be amqp, nats or redis"),
        ] {
            let message = source(url).unwrap_err().to_string();
            assert!(message.contains(problem), "{url}: {message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
    }
}
