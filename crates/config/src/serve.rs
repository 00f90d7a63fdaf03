//! `herald serve`'s options ([`ServeArgs`], as clap parses them) and their resolved, validated form
//! ([`ServeConfig`]).

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use herald_domain::RetrySchedule;

use crate::broker::{self, SourceConfig};
use crate::database::{redact, DatabaseUrl};
use crate::error::ConfigError;
use crate::options::*;
use crate::sources::{process_env, Env, Sources};
use crate::value;
use crate::value::EncryptionKey;

/// The options of `herald serve` as given on the command line. Each is also read from its `HERALD_*` environment
/// variable and from the config file by [`ServeArgs::resolve`]; clap itself reads no environment, so that
/// resolution can tell (and report) where each value came from, and tests can pass an environment of their own.
#[derive(clap::Args, Clone, Default)]
#[command(about = "Run the API, the web UI and the delivery workers in one process", long_about = None)]
pub struct ServeArgs {
    #[arg(long, value_name = "FILE", help = CONFIG.help())]
    pub config: Option<PathBuf>,
    #[arg(long, value_name = "ADDR", help = LISTEN.help())]
    pub listen: Option<String>,
    #[arg(long, value_name = "DIR", help = DATA_DIR.help())]
    pub data_dir: Option<String>,
    #[arg(long, value_name = "URL", help = DATABASE_URL.help())]
    pub database_url: Option<String>,
    #[arg(long, value_name = "TOKEN", help = ADMIN_TOKEN.help())]
    pub admin_token: Option<String>,
    #[arg(long, value_name = "DELAYS", help = RETRY_SCHEDULE.help())]
    pub retry_schedule: Option<String>,
    #[arg(long, value_name = "DURATION", help = DELIVERY_TIMEOUT.help())]
    pub delivery_timeout: Option<String>,
    /// `--allow-http-targets` alone means `true`; `--allow-http-targets=false` overrides the environment or file.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true",
          help = ALLOW_HTTP_TARGETS.help())]
    pub allow_http_targets: Option<String>,
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true",
          help = ALLOW_PRIVATE_TARGETS.help())]
    pub allow_private_targets: Option<String>,
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true",
          help = DELIVER.help())]
    pub deliver: Option<String>,
    #[arg(long, value_name = "DURATION", help = AUTO_DISABLE_AFTER.help())]
    pub auto_disable_after: Option<String>,
    #[arg(long, value_name = "DURATION", help = RETENTION.help())]
    pub retention: Option<String>,
    #[arg(long, value_name = "N", help = MAX_IN_FLIGHT.help())]
    pub max_in_flight: Option<String>,
    #[arg(long, value_name = "N", help = MAX_IN_FLIGHT_PER_WEBHOOK.help())]
    pub max_in_flight_per_webhook: Option<String>,
    #[arg(long, value_name = "DURATION", help = LEASE.help())]
    pub lease: Option<String>,
    #[arg(long, value_name = "FORMAT", help = LOG_FORMAT.help())]
    pub log_format: Option<String>,
    #[arg(long, value_name = "FILTER", help = LOG.help())]
    pub log: Option<String>,
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true",
          help = INTEGRITY_CHECK.help())]
    pub integrity_check: Option<String>,
    #[arg(long, value_name = "DURATION", help = HEADER_READ_TIMEOUT.help())]
    pub header_read_timeout: Option<String>,
    #[arg(long, value_name = "DURATION", help = BODY_READ_TIMEOUT.help())]
    pub body_read_timeout: Option<String>,
    #[arg(long, value_name = "N", help = MAX_CONNECTIONS.help())]
    pub max_connections: Option<String>,
    #[arg(long, value_name = "N", help = MAX_PENDING_PUBLISHES.help())]
    pub max_pending_publishes: Option<String>,
    #[arg(long, value_name = "URL", help = DELIVERY_PROXY.help())]
    pub delivery_proxy: Option<String>,
    #[arg(long, value_name = "KEYS", help = ENCRYPTION_KEY.help())]
    pub encryption_key: Option<String>,
    #[arg(long, value_name = "URL", help = PUBLIC_URL.help())]
    pub public_url: Option<String>,
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true",
          help = TRUSTED_PROXY.help())]
    pub trusted_proxy: Option<String>,
    #[arg(long, value_name = "BYTES", help = LOGS_PAGE_BYTES.help())]
    pub logs_page_bytes: Option<String>,
    #[arg(long, value_name = "URL", help = OTLP_ENDPOINT.help())]
    pub otlp_endpoint: Option<String>,
    /// Repeatable: each `--source` is one broker.
    #[arg(long = "source", value_name = "URL", help = SOURCES.help())]
    pub sources: Vec<String>,
}

/// `herald serve`'s configuration, every value parsed and checked. See docs/CONFIG.md for each option.
#[derive(Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database: DatabaseUrl,
    /// `None`: the binary generates one at first start and keeps it in the data dir.
    pub admin_token: Option<String>,
    pub retry_schedule: RetrySchedule,
    pub delivery_timeout: Duration,
    pub allow_http_targets: bool,
    pub allow_private_targets: bool,
    /// Whether this process runs the delivery workers.
    pub deliver: bool,
    pub auto_disable_after: Duration,
    pub retention: Duration,
    pub max_in_flight: usize,
    pub max_in_flight_per_webhook: usize,
    pub lease: Duration,
    pub log_format: LogFormat,
    /// A tracing `EnvFilter` directive, known only to be non-empty.
    pub log_filter: String,
    /// Whether to run SQLite's `quick_check` at start.
    pub integrity_check: bool,
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub max_connections: usize,
    /// Publishing requests (`POST /changes`, `PUT`/`DELETE`/`POST /entities`) being handled at once; beyond it,
    /// `503` with `Retry-After` at once.
    pub max_pending_publishes: usize,
    /// The proxy deliveries go through; `None`: direct, ignoring proxy environment variables.
    pub delivery_proxy: Option<url::Url>,
    /// The keys sealing secrets at rest, the first sealing; `None`: the binary keeps one in the data dir.
    pub encryption_keys: Option<Vec<EncryptionKey>>,
    /// The URL users reach Herald at, when given (http or https, with a host).
    pub public_url: Option<url::Url>,
    /// Whether the peer is a proxy whose `X-Forwarded-*` headers are trusted.
    pub trusted_proxy: bool,
    /// Bytes of records (as JSON) one page of the logs holds at most.
    pub logs_page_bytes: usize,
    /// Where traces go (OTLP/HTTP); `None`: nowhere.
    pub otlp_endpoint: Option<url::Url>,
    /// The brokers changes are consumed from (contract §9.6).
    pub sources: Vec<SourceConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

impl ServeArgs {
    /// Resolves the options against the process environment, the config file and the defaults.
    pub fn resolve(&self) -> Result<ServeConfig, ConfigError> {
        let env = process_env()?;
        self.resolve_with_env(|name| env.get(name).cloned())
    }

    /// [`ServeArgs::resolve`] with `env` in place of the process environment (for tests).
    pub fn resolve_with_env(&self, env: impl Fn(&str) -> Option<String>) -> Result<ServeConfig, ConfigError> {
        let env: Env = &env;
        let sources = (!self.sources.is_empty()).then(|| self.sources.join(","));
        let s = Sources::gather(&self.flags(sources.as_deref()), self.config.as_deref(), env)?;
        let (data_dir, database) = resolve_storage(&s)?;
        Ok(ServeConfig {
            listen: s.required(&LISTEN, value::socket_addr)?,
            data_dir,
            database,
            admin_token: s.optional(&ADMIN_TOKEN, value::admin_token)?,
            retry_schedule: s.required(&RETRY_SCHEDULE, value::retry_schedule)?,
            delivery_timeout: s.required(&DELIVERY_TIMEOUT, value::duration(value::DELIVERY_TIMEOUT_RANGE))?,
            allow_http_targets: s.required(&ALLOW_HTTP_TARGETS, value::boolean)?,
            allow_private_targets: s.required(&ALLOW_PRIVATE_TARGETS, value::boolean)?,
            deliver: s.required(&DELIVER, value::boolean)?,
            auto_disable_after: s.required(&AUTO_DISABLE_AFTER, value::duration(value::AUTO_DISABLE_AFTER_RANGE))?,
            retention: s.required(&RETENTION, value::duration(value::RETENTION_RANGE))?,
            max_in_flight: s.required(&MAX_IN_FLIGHT, value::count(1, 100_000))?,
            max_in_flight_per_webhook: s.required(&MAX_IN_FLIGHT_PER_WEBHOOK, value::count(1, 10_000))?,
            lease: s.required(&LEASE, value::duration(value::LEASE_RANGE))?,
            log_format: s.required(&LOG_FORMAT, value::log_format)?,
            log_filter: s.required(&LOG, value::log_filter)?,
            integrity_check: s.required(&INTEGRITY_CHECK, value::boolean)?,
            header_read_timeout: s.required(&HEADER_READ_TIMEOUT, value::duration(value::SERVER_TIMEOUT_RANGE))?,
            body_read_timeout: s.required(&BODY_READ_TIMEOUT, value::duration(value::SERVER_TIMEOUT_RANGE))?,
            max_connections: s.required(&MAX_CONNECTIONS, value::count(1, 1_000_000))?,
            max_pending_publishes: s.required(&MAX_PENDING_PUBLISHES, value::count(1, 1_000_000))?,
            delivery_proxy: s.optional(&DELIVERY_PROXY, value::proxy_url)?,
            encryption_keys: s.optional(&ENCRYPTION_KEY, value::encryption_keys)?,
            public_url: s.optional(&PUBLIC_URL, value::public_url)?,
            trusted_proxy: s.required(&TRUSTED_PROXY, value::boolean)?,
            logs_page_bytes: s.required(&LOGS_PAGE_BYTES, value::count(1 << 16, 1 << 28))?,
            otlp_endpoint: s.optional(&OTLP_ENDPOINT, value::http_url)?,
            sources: s.optional(&SOURCES, broker::sources)?.unwrap_or_default(),
        })
    }

    /// Each option's flag value; `sources` is the `--source` flags joined as the list they make.
    fn flags<'a>(&'a self, sources: Option<&'a str>) -> [(&'static Opt, Option<&'a str>); 28] {
        [
            (&LISTEN, self.listen.as_deref()),
            (&DATA_DIR, self.data_dir.as_deref()),
            (&DATABASE_URL, self.database_url.as_deref()),
            (&ADMIN_TOKEN, self.admin_token.as_deref()),
            (&RETRY_SCHEDULE, self.retry_schedule.as_deref()),
            (&DELIVERY_TIMEOUT, self.delivery_timeout.as_deref()),
            (&ALLOW_HTTP_TARGETS, self.allow_http_targets.as_deref()),
            (&ALLOW_PRIVATE_TARGETS, self.allow_private_targets.as_deref()),
            (&DELIVER, self.deliver.as_deref()),
            (&AUTO_DISABLE_AFTER, self.auto_disable_after.as_deref()),
            (&RETENTION, self.retention.as_deref()),
            (&MAX_IN_FLIGHT, self.max_in_flight.as_deref()),
            (&MAX_IN_FLIGHT_PER_WEBHOOK, self.max_in_flight_per_webhook.as_deref()),
            (&LEASE, self.lease.as_deref()),
            (&LOG_FORMAT, self.log_format.as_deref()),
            (&LOG, self.log.as_deref()),
            (&INTEGRITY_CHECK, self.integrity_check.as_deref()),
            (&HEADER_READ_TIMEOUT, self.header_read_timeout.as_deref()),
            (&BODY_READ_TIMEOUT, self.body_read_timeout.as_deref()),
            (&MAX_CONNECTIONS, self.max_connections.as_deref()),
            (&MAX_PENDING_PUBLISHES, self.max_pending_publishes.as_deref()),
            (&DELIVERY_PROXY, self.delivery_proxy.as_deref()),
            (&ENCRYPTION_KEY, self.encryption_key.as_deref()),
            (&PUBLIC_URL, self.public_url.as_deref()),
            (&TRUSTED_PROXY, self.trusted_proxy.as_deref()),
            (&LOGS_PAGE_BYTES, self.logs_page_bytes.as_deref()),
            (&OTLP_ENDPOINT, self.otlp_endpoint.as_deref()),
            (&SOURCES, sources),
        ]
    }
}

/// The data dir, and the database: as given, or else `herald.db` in the data dir (wherever the data dir came from).
pub(crate) fn resolve_storage(s: &Sources) -> Result<(PathBuf, DatabaseUrl), ConfigError> {
    let data_dir = s.required(&DATA_DIR, value::path)?;
    let database = match s.optional(&DATABASE_URL, value::database_url)? {
        Some(database) => database,
        None => DatabaseUrl::default_in(&data_dir),
    };
    Ok((data_dir, database))
}

/// A secret shown in a `Debug` form: whether it is there, never what it is.
pub(crate) fn hidden(secret: &Option<String>) -> Option<&'static str> {
    secret.as_ref().map(|_| "***")
}

impl fmt::Debug for ServeArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeArgs")
            .field("config", &self.config)
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_deref().map(redact))
            .field("admin_token", &hidden(&self.admin_token))
            .field("retry_schedule", &self.retry_schedule)
            .field("delivery_timeout", &self.delivery_timeout)
            .field("allow_http_targets", &self.allow_http_targets)
            .field("allow_private_targets", &self.allow_private_targets)
            .field("deliver", &self.deliver)
            .field("auto_disable_after", &self.auto_disable_after)
            .field("retention", &self.retention)
            .field("max_in_flight", &self.max_in_flight)
            .field("max_in_flight_per_webhook", &self.max_in_flight_per_webhook)
            .field("lease", &self.lease)
            .field("log_format", &self.log_format)
            .field("log", &self.log)
            .field("integrity_check", &self.integrity_check)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("body_read_timeout", &self.body_read_timeout)
            .field("max_connections", &self.max_connections)
            .field("max_pending_publishes", &self.max_pending_publishes)
            .field("delivery_proxy", &self.delivery_proxy.as_deref().map(redact))
            .field("encryption_key", &hidden(&self.encryption_key))
            .field("public_url", &self.public_url)
            .field("trusted_proxy", &self.trusted_proxy)
            .field("logs_page_bytes", &self.logs_page_bytes)
            .field("otlp_endpoint", &self.otlp_endpoint.as_ref().map(|u| redact(u.as_str())))
            .field("sources", &self.sources)
            .finish()
    }
}

impl fmt::Debug for ServeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeConfig")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database", &self.database)
            .field("admin_token", &hidden(&self.admin_token))
            .field("retry_schedule", &self.retry_schedule)
            .field("delivery_timeout", &self.delivery_timeout)
            .field("allow_http_targets", &self.allow_http_targets)
            .field("allow_private_targets", &self.allow_private_targets)
            .field("deliver", &self.deliver)
            .field("auto_disable_after", &self.auto_disable_after)
            .field("retention", &self.retention)
            .field("max_in_flight", &self.max_in_flight)
            .field("max_in_flight_per_webhook", &self.max_in_flight_per_webhook)
            .field("lease", &self.lease)
            .field("log_format", &self.log_format)
            .field("log_filter", &self.log_filter)
            .field("integrity_check", &self.integrity_check)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("body_read_timeout", &self.body_read_timeout)
            .field("max_connections", &self.max_connections)
            .field("max_pending_publishes", &self.max_pending_publishes)
            .field("delivery_proxy", &self.delivery_proxy.as_ref().map(|u| redact(u.as_str())))
            .field("encryption_keys", &self.encryption_keys.as_ref().map(|k| format!("{} key(s)", k.len())))
            .field("public_url", &self.public_url.as_ref().map(url::Url::as_str))
            .field("trusted_proxy", &self.trusted_proxy)
            .field("logs_page_bytes", &self.logs_page_bytes)
            .field("otlp_endpoint", &self.otlp_endpoint.as_ref().map(|u| redact(u.as_str())))
            .field("sources", &self.sources)
            .finish()
    }
}

#[cfg(test)]
#[path = "serve_tests.rs"]
mod tests;
