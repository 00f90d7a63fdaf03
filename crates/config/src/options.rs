//! The catalogue of options: for each, its flag, its environment variable, its config file key and what it means.
//! Every other part of the crate names an option through this table, so the three spellings never drift apart.

use crate::sources::default_text;

/// One option of Herald's configuration.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Opt {
    /// The config file key: the long flag name in snake_case (plural for a repeatable flag).
    pub key: &'static str,
    /// The flag, with its dashes.
    pub flag: &'static str,
    /// The environment variable.
    pub env: &'static str,
    /// What it means, for `--help`.
    pub about: &'static str,
    /// What happens without a value, where the defaults file has none (empty: nothing to say).
    pub no_default: Option<&'static str>,
    /// Whether a config file may give it as a TOML array (joined with commas).
    pub list: bool,
}

impl Opt {
    const fn new(key: &'static str, flag: &'static str, env: &'static str, about: &'static str) -> Self {
        Self { key, flag, env, about, no_default: None, list: false }
    }

    /// The `--help` text: what it means, its environment variable and its default.
    pub fn help(&self) -> String {
        let default = match self.no_default {
            Some(note) => note.to_string(),
            None => default_text(self.key).unwrap_or_default(),
        };
        if default.is_empty() {
            format!("{} [env: {}]", self.about, self.env)
        } else {
            format!("{} [env: {}] [default: {default}]", self.about, self.env)
        }
    }
}

pub(crate) const CONFIG: Opt = Opt {
    no_default: Some(""),
    ..Opt::new("config", "--config", "HERALD_CONFIG", "TOML file of options, keyed by the flag names in snake_case")
};
pub(crate) const LISTEN: Opt =
    Opt::new("listen", "--listen", "HERALD_LISTEN", "Address of the HTTP server; port 0 picks a free port");
pub(crate) const DATA_DIR: Opt =
    Opt::new("data_dir", "--data-dir", "HERALD_DATA_DIR", "Directory of the embedded database and generated secrets");
pub(crate) const DATABASE_URL: Opt = Opt {
    no_default: Some("sqlite://<data-dir>/herald.db"),
    ..Opt::new("database_url", "--database-url", "HERALD_DATABASE_URL", "sqlite://PATH or postgres://… database")
};
pub(crate) const ADMIN_TOKEN: Opt = Opt {
    no_default: Some("generated at first start and stored in the data dir"),
    ..Opt::new(
        "admin_token",
        "--admin-token",
        "HERALD_ADMIN_TOKEN",
        "The platform operator's bearer token (at least 16 characters)",
    )
};
pub(crate) const RETRY_SCHEDULE: Opt = Opt {
    list: true,
    ..Opt::new(
        "retry_schedule",
        "--retry-schedule",
        "HERALD_RETRY_SCHEDULE",
        "Delays before attempts 2..N, comma-separated (250ms, 2s, 5m; a bare number is seconds)",
    )
};
pub(crate) const DELIVERY_TIMEOUT: Opt = Opt::new(
    "delivery_timeout",
    "--delivery-timeout",
    "HERALD_DELIVERY_TIMEOUT",
    "One attempt's whole time budget (at most 5m)",
);
pub(crate) const ALLOW_HTTP_TARGETS: Opt = Opt::new(
    "allow_http_targets",
    "--allow-http-targets",
    "HERALD_ALLOW_HTTP_TARGETS",
    "Accept http:// webhook URLs (development only)",
);
pub(crate) const ALLOW_PRIVATE_TARGETS: Opt = Opt::new(
    "allow_private_targets",
    "--allow-private-targets",
    "HERALD_ALLOW_PRIVATE_TARGETS",
    "Deliver to loopback, private and link-local addresses (development only)",
);
pub(crate) const DELIVER: Opt = Opt::new(
    "deliver",
    "--deliver",
    "HERALD_DELIVER",
    "Run the delivery workers in this process (false: an API-only node)",
);
pub(crate) const AUTO_DISABLE_AFTER: Opt = Opt::new(
    "auto_disable_after",
    "--auto-disable-after",
    "HERALD_AUTO_DISABLE_AFTER",
    "Deactivate a webhook with no successful delivery for this long",
);
pub(crate) const RETENTION: Opt = Opt::new(
    "retention",
    "--retention",
    "HERALD_RETENTION",
    "Prune attempt payloads and response bodies older than this",
);
pub(crate) const MAX_IN_FLIGHT: Opt = Opt::new(
    "max_in_flight",
    "--max-in-flight",
    "HERALD_MAX_IN_FLIGHT",
    "Deliveries in flight at once in this process (1..=100000)",
);
pub(crate) const MAX_IN_FLIGHT_PER_WEBHOOK: Opt = Opt::new(
    "max_in_flight_per_webhook",
    "--max-in-flight-per-webhook",
    "HERALD_MAX_IN_FLIGHT_PER_WEBHOOK",
    "Deliveries in flight at once to one webhook (1..=10000)",
);
pub(crate) const LEASE: Opt = Opt::new(
    "lease",
    "--lease",
    "HERALD_LEASE",
    "How long a node's claim on deliveries lasts without a heartbeat (1s..=1h)",
);
pub(crate) const LOG_FORMAT: Opt = Opt::new("log_format", "--log-format", "HERALD_LOG_FORMAT", "pretty or json");
pub(crate) const LOG: Opt =
    Opt::new("log", "--log", "HERALD_LOG", "Which log lines to write: a tracing filter such as info,herald=debug");
pub(crate) const PUBLIC_URL: Opt = Opt {
    no_default: Some(""),
    ..Opt::new(
        "public_url",
        "--public-url",
        "HERALD_PUBLIC_URL",
        "The URL users reach Herald at (http:// or https://); https makes the UI's cookies Secure",
    )
};
pub(crate) const TRUSTED_PROXY: Opt = Opt::new(
    "trusted_proxy",
    "--trusted-proxy",
    "HERALD_TRUSTED_PROXY",
    "Trust X-Forwarded-Proto and X-Forwarded-For from the peer (Herald is behind a proxy)",
);
pub(crate) const LOGS_PAGE_BYTES: Opt = Opt::new(
    "logs_page_bytes",
    "--logs-page-bytes",
    "HERALD_LOGS_PAGE_BYTES",
    "Bytes of records one page of GET /webhooks/logs holds at most, beside its count (65536..=268435456)",
);

pub(crate) const INTEGRITY_CHECK: Opt = Opt::new(
    "integrity_check",
    "--integrity-check",
    "HERALD_INTEGRITY_CHECK",
    "Check the SQLite file for damage at start (false: skip, for very large files)",
);
pub(crate) const HEADER_READ_TIMEOUT: Opt = Opt::new(
    "header_read_timeout",
    "--header-read-timeout",
    "HERALD_HEADER_READ_TIMEOUT",
    "Time to receive a request's headers; also how long an idle keep-alive connection stays open (1s..=10m)",
);
pub(crate) const BODY_READ_TIMEOUT: Opt = Opt::new(
    "body_read_timeout",
    "--body-read-timeout",
    "HERALD_BODY_READ_TIMEOUT",
    "Time to receive a whole request body, 408 after it (1s..=10m)",
);
pub(crate) const MAX_CONNECTIONS: Opt = Opt::new(
    "max_connections",
    "--max-connections",
    "HERALD_MAX_CONNECTIONS",
    "HTTP connections open at once; more wait until one closes (1..=1000000)",
);
pub(crate) const MAX_PENDING_PUBLISHES: Opt = Opt::new(
    "max_pending_publishes",
    "--max-pending-publishes",
    "HERALD_MAX_PENDING_PUBLISHES",
    "Publishing requests (POST /changes, /entities) handled at once; more are answered 503 with Retry-After \
     (1..=1000000)",
);
pub(crate) const DELIVERY_PROXY: Opt = Opt {
    no_default: Some("none: deliveries connect directly, whatever HTTPS_PROXY says"),
    ..Opt::new(
        "delivery_proxy",
        "--delivery-proxy",
        "HERALD_DELIVERY_PROXY",
        "http://HOST:PORT proxy for deliveries; the target guard still checks each target first",
    )
};
pub(crate) const ENCRYPTION_KEY: Opt = Opt {
    no_default: Some("generated at first start and stored in the data dir"),
    list: true,
    ..Opt::new(
        "encryption_key",
        "--encryption-key",
        "HERALD_ENCRYPTION_KEY",
        "Key(s) sealing secrets at rest: 32 bytes as 64 hex digits; a comma-separated list seals with the first",
    )
};

pub(crate) const OTLP_ENDPOINT: Opt = Opt {
    no_default: Some("none: no traces are exported"),
    ..Opt::new(
        "otlp_endpoint",
        "--otlp-endpoint",
        "HERALD_OTLP_ENDPOINT",
        "OTLP/HTTP traces URL of a collector, such as http://collector:4318/v1/traces",
    )
};

/// Repeatable on the command line (each `--source` one URL); a comma-separated list in the environment, a list in
/// the file. The flag is singular, the variable and the key plural.
pub(crate) const SOURCES: Opt = Opt {
    no_default: Some("none"),
    list: true,
    ..Opt::new(
        "sources",
        "--source",
        "HERALD_SOURCES",
        "A broker to consume changes from (repeatable): amqp://…?queue=Q, nats://…?stream=S&durable=D, redis://…?stream=K&group=G",
    )
};

/// Every option a config file may set (all but `config` itself).
pub(crate) const FILE_OPTIONS: [&Opt; 28] = [
    &LISTEN,
    &DATA_DIR,
    &DATABASE_URL,
    &ADMIN_TOKEN,
    &RETRY_SCHEDULE,
    &DELIVERY_TIMEOUT,
    &ALLOW_HTTP_TARGETS,
    &ALLOW_PRIVATE_TARGETS,
    &DELIVER,
    &AUTO_DISABLE_AFTER,
    &RETENTION,
    &MAX_IN_FLIGHT,
    &MAX_IN_FLIGHT_PER_WEBHOOK,
    &LEASE,
    &LOG_FORMAT,
    &LOG,
    &INTEGRITY_CHECK,
    &HEADER_READ_TIMEOUT,
    &BODY_READ_TIMEOUT,
    &MAX_CONNECTIONS,
    &MAX_PENDING_PUBLISHES,
    &DELIVERY_PROXY,
    &ENCRYPTION_KEY,
    &PUBLIC_URL,
    &TRUSTED_PROXY,
    &LOGS_PAGE_BYTES,
    &OTLP_ENDPOINT,
    &SOURCES,
];

/// The option a config file key names.
pub(crate) fn by_key(key: &str) -> Option<&'static Opt> {
    FILE_OPTIONS.into_iter().find(|opt| opt.key == key)
}
