//! The three brokers as the tests use them: a queue, stream or key of the test's own (unique name), a way to
//! publish changes to it, and the `--source` URL that consumes it (directly, or through a proxy).

use std::time::Duration;

use async_nats::jetstream;
use lapin::options::{BasicPublishOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use redis::AsyncCommands;

pub const RABBITMQ: &str = "127.0.0.1:5672";
pub const NATS: &str = "127.0.0.1:4222";
pub const REDIS: &str = "127.0.0.1:6379";

/// One message: its body and its idempotency key (as a header or field), if any.
pub struct Message {
    pub body: Vec<u8>,
    pub key: Option<String>,
}

pub enum Broker {
    Amqp { queue: String, channel: lapin::Channel, _connection: Connection },
    Nats { stream: String, subject: String, js: jetstream::Context },
    Redis { key: String, conn: redis::aio::MultiplexedConnection },
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

impl Broker {
    /// A RabbitMQ queue of its own (it expires 10 minutes after its last use, should a test fail before deleting it).
    pub async fn rabbitmq() -> Broker {
        let connection =
            Connection::connect(&format!("amqp://guest:guest@{RABBITMQ}/%2f"), ConnectionProperties::default())
                .await
                .unwrap_or_else(|e| panic!("RabbitMQ on {RABBITMQ} is unreachable: {e}"));
        let channel = connection.create_channel().await.unwrap();
        let queue = unique("herald-test");
        let mut args = FieldTable::default();
        args.insert("x-expires".into(), AMQPValue::LongUInt(600_000));
        let options = QueueDeclareOptions { durable: true, ..QueueDeclareOptions::default() };
        channel.queue_declare(queue.as_str().into(), options, args).await.unwrap();
        Broker::Amqp { queue, channel, _connection: connection }
    }

    /// A JetStream stream of its own, on one subject.
    pub async fn nats() -> Broker {
        let client = async_nats::connect(NATS).await.unwrap_or_else(|e| panic!("NATS on {NATS} is unreachable: {e}"));
        let js = jetstream::new(client);
        let stream = unique("herald-test").replace('-', "_");
        let subject = format!("{stream}.changes");
        js.create_stream(jetstream::stream::Config {
            name: stream.clone(),
            subjects: vec![subject.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
        Broker::Nats { stream, subject, js }
    }

    /// A Redis stream key of its own (the group is made by Herald).
    pub async fn redis() -> Broker {
        let client = redis::Client::open(format!("redis://{REDIS}/")).unwrap();
        let conn = client
            .get_multiplexed_async_connection()
            .await
            .unwrap_or_else(|e| panic!("Redis on {REDIS} is unreachable: {e}"));
        Broker::Redis { key: unique("herald-test"), conn }
    }

    /// The broker's own address.
    pub fn address(&self) -> &'static str {
        match self {
            Broker::Amqp { .. } => RABBITMQ,
            Broker::Nats { .. } => NATS,
            Broker::Redis { .. } => REDIS,
        }
    }

    /// The `--source` URL reaching the broker at `via` (its address, or a proxy's). `ack_wait` is short, so that a
    /// message left unacknowledged by a killed node comes back within the test.
    pub fn source_url(&self, via: &str) -> String {
        match self {
            Broker::Amqp { queue, .. } => format!("amqp://guest:guest@{via}/%2f?queue={queue}&prefetch=128"),
            Broker::Nats { stream, .. } => format!("nats://{via}?stream={stream}&durable=herald&ack_wait=2s"),
            Broker::Redis { key, .. } => format!("redis://{via}/?stream={key}&group=herald&ack_wait=2s"),
        }
    }

    /// Publishes the messages in order.
    pub async fn publish(&mut self, messages: &[Message]) {
        match self {
            Broker::Amqp { queue, channel, .. } => {
                for m in messages {
                    let mut props = BasicProperties::default().with_delivery_mode(2);
                    if let Some(key) = &m.key {
                        props = props.with_message_id(key.as_str().into());
                    }
                    let publish = channel
                        .basic_publish("".into(), queue.as_str().into(), BasicPublishOptions::default(), &m.body, props)
                        .await
                        .unwrap();
                    publish.await.unwrap();
                }
            }
            Broker::Nats { subject, js, .. } => {
                for m in messages {
                    let mut headers = async_nats::HeaderMap::new();
                    if let Some(key) = &m.key {
                        headers.insert("idempotency-key", key.as_str());
                    }
                    let ack = js.publish_with_headers(subject.clone(), headers, m.body.clone().into()).await.unwrap();
                    ack.await.unwrap();
                }
            }
            Broker::Redis { key, conn } => {
                let mut pipe = redis::pipe();
                for m in messages {
                    match &m.key {
                        Some(k) => {
                            pipe.xadd(&*key, "*", &[("body", m.body.as_slice()), ("idempotency-key", k.as_bytes())])
                        }
                        None => pipe.xadd(&*key, "*", &[("body", m.body.as_slice())]),
                    };
                }
                let _: Vec<String> = pipe.query_async(conn).await.unwrap();
            }
        }
    }

    /// Deletes the queue, stream or key.
    pub async fn delete(self) {
        match self {
            Broker::Amqp { queue, channel, .. } => {
                channel.queue_delete(queue.as_str().into(), QueueDeleteOptions::default()).await.unwrap();
            }
            Broker::Nats { stream, js, .. } => {
                js.delete_stream(&stream).await.unwrap();
            }
            Broker::Redis { key, mut conn } => {
                let _: usize = conn.del(&key).await.unwrap();
            }
        }
    }
}

/// How long the tests wait for a thousand deliveries at most.
pub const WITHIN: Duration = Duration::from_secs(90);
