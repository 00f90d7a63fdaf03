//! Herald's logs and traces: log lines (`--log`, `--log-format`) to stderr, and, with `--otlp-endpoint`, the same
//! spans (`request`, `ingest`, `store`, `hand_over`, `attempt`: see docs/OPERATIONS.md, "Logs") exported over
//! OTLP/HTTP (protobuf) to a collector, in batches from a thread of their own.

use std::time::Duration;

use anyhow::Context;
use herald_config::LogFormat;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// How long one export to the collector may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// What has to be flushed before the process exits.
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans still waiting for their batch (at shutdown).
    pub fn flush(self) {
        if let Some(provider) = self.traces {
            if let Err(e) = provider.shutdown() {
                eprintln!("herald: the last traces could not be exported: {e}");
            }
        }
    }
}

/// Installs the log writer and, when `otlp_endpoint` is given (the collector's traces URL, such as
/// `http://collector:4318/v1/traces`), the span exporter.
pub fn init(format: LogFormat, filter: &str, otlp_endpoint: Option<&url::Url>) -> anyhow::Result<Telemetry> {
    let env_filter = || {
        tracing_subscriber::EnvFilter::try_new(filter)
            .map_err(|e| anyhow::anyhow!("invalid --log filter {filter:?}: {e}"))
    };
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = match format {
        LogFormat::Json => logs.json().with_filter(env_filter()?).boxed(),
        LogFormat::Pretty => logs.with_filter(env_filter()?).boxed(),
    };
    let Some(endpoint) = otlp_endpoint else {
        tracing_subscriber::registry().with(logs).init();
        return Ok(Telemetry { traces: None });
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(BlockingClient(
            reqwest::blocking::Client::builder()
                .timeout(EXPORT_TIMEOUT)
                .build()
                .context("cannot build the HTTP client for traces")?,
        ))
        .with_endpoint(endpoint.as_str())
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .context("cannot build the OTLP span exporter")?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name("herald")
                .with_attribute(opentelemetry::KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
                .build(),
        )
        .build();
    // The spans exported are those the log filter lets through, so both show the same picture.
    let traces = tracing_opentelemetry::layer().with_tracer(provider.tracer("herald")).with_filter(env_filter()?);
    tracing_subscriber::registry().with(logs).with(traces).init();
    Ok(Telemetry { traces: Some(provider) })
}

/// The exporter's HTTP client: Herald's own `reqwest`, in its blocking form, since batches are exported from a
/// thread of the SDK's that runs no async runtime.
#[derive(Debug)]
struct BlockingClient(reqwest::blocking::Client);

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for BlockingClient {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let (parts, body) = request.into_parts();
        let answer =
            self.0.request(parts.method, parts.uri.to_string()).headers(parts.headers).body(body.to_vec()).send()?;
        let status = answer.status();
        let body = answer.bytes()?;
        Ok(http::Response::builder().status(status).body(body)?)
    }
}
