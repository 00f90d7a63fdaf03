//! Changes from a message broker (contract §9.6), end to end: a Herald process consuming from the RabbitMQ, NATS
//! JetStream and Redis servers on this machine (127.0.0.1:5672, :4222, :6379; CI runs them too), delivering to a
//! real receiver. Each test makes its own queue, stream or key with a unique name and deletes it.
//!
//! `HERALD_TEST_BACKEND` picks Herald's database as for the `it` suite; the two-node tests always use PostgreSQL.

mod brokers;
mod proxy;
mod scenarios;

mod amqp;
mod nats;
mod redis_streams;
