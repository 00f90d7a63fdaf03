//! `herald bench`: Herald's own benchmark. In one run it measures the loopback limit (the rate at which Herald's
//! HTTP client can `POST` a payload-sized body to a receiver that answers at once), then starts Herald as a separate
//! process and measures it against that limit: changes accepted per second, deliveries per second, latency from
//! `POST /changes` to receipt, Herald's CPU and peak memory, for several scenarios. Figures are printed as a table
//! with each one's ratio to the loopback limit, and written as JSON with `--json`; `--compare` sets two such files
//! side by side.

mod broker;
mod compare;
mod database;
mod receiver;
mod scenarios;
mod stats;

use std::path::PathBuf;
use std::time::Duration;

pub use compare::compare;
pub use receiver::{sequence_of, Receiver};
pub use scenarios::run;
pub use stats::percentile;

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Short phases and a small backlog: under two minutes.
    pub quick: bool,
    /// PostgreSQL instead of SQLite in a temporary directory: the server (each group of scenarios gets a database of
    /// its own on it, dropped after).
    pub database_url: Option<String>,
    /// Where to write the figures as JSON.
    pub json: Option<PathBuf>,
    /// Requests in flight from the load generator.
    pub concurrency: usize,
    /// The backlog built with the receiver down, then drained.
    pub backlog: usize,
    /// Skip the backlog scenario.
    pub skip_backlog: bool,
    /// Only the loopback limit and the backlog scenario (its drain rate and memory).
    pub backlog_only: bool,
    /// Only the throughput scenarios: one webhook at one and at `batch` changes per request, fan-out 10 and 100.
    pub throughput_only: bool,
    /// Changes per `POST /changes` in the batched throughput scenario (1 to 1,000), and per message in the
    /// broker scenario.
    pub batch: usize,
    /// The RabbitMQ of the broker scenario (`None`: skipped; also skipped when it cannot be reached).
    pub amqp_url: Option<String>,
}

impl BenchOptions {
    pub fn phase(&self) -> Duration {
        if self.quick {
            Duration::from_secs(3)
        } else {
            Duration::from_secs(10)
        }
    }
}

/// One line of the result table.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Figure {
    pub scenario: String,
    pub metric: String,
    pub value: f64,
    pub unit: String,
    /// The value over the loopback limit, for rates.
    #[serde(default)]
    pub ratio: Option<f64>,
}
