//! `herald`: the webhooks platform in one binary.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use herald_config::{MigrateArgs, ServeArgs};

/// mimalloc instead of the system allocator: the request, delivery and SQLite threads allocate concurrently, and
/// glibc's arenas showed as lock contention and ~20 % of Herald's CPU in profiles (docs/PERFORMANCE.md). Built
/// without its transparent-huge-page advice (`no_thp`): 2 MiB pages held ~25 MB more resident memory for no CPU gain.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "herald", version, about = "Herald: a webhooks platform in one binary")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API, the web UI and the delivery workers in one process.
    Serve(Box<ServeArgs>),
    /// Apply database migrations and exit.
    Migrate(MigrateArgs),
    /// Receive webhooks locally: print each one and verify its signatures.
    Listen(Box<ListenArgs>),
    /// Measure Herald against this machine's loopback HTTP limit.
    Bench(BenchArgs),
    /// Reseal every stored secret with a new encryption key (stop `serve` first on SQLite).
    RotateEncryptionKey(Box<herald_config::RotateKeyArgs>),
}

#[derive(clap::Args)]
struct BenchArgs {
    /// Short phases and a small backlog (under two minutes).
    #[arg(long)]
    quick: bool,
    /// Measure PostgreSQL instead of SQLite: the server to use (each group of scenarios runs in a new database
    /// created on it, and dropped after).
    #[arg(long)]
    database_url: Option<String>,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    json: Option<std::path::PathBuf>,
    /// Requests in flight from the load generator.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Deliveries in the backlog scenario (default 1,000,000; 20,000 with --quick).
    #[arg(long)]
    backlog: Option<usize>,
    /// Skip the backlog scenario.
    #[arg(long)]
    skip_backlog: bool,
    /// Changes per `POST /changes` in the batched throughput scenario.
    #[arg(long, default_value_t = 20)]
    batch: usize,
    /// The RabbitMQ of the broker scenario (changes consumed with --source); skipped when unreachable.
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    amqp_url: String,
    /// Skip the broker scenario.
    #[arg(long)]
    skip_broker: bool,
    /// Only the throughput scenarios (one webhook at 1 and --batch changes per request, fan-out 10 and 100): a
    /// short run for comparing two builds.
    #[arg(long)]
    throughput_only: bool,
    /// Only the loopback limit and the backlog scenario (build, then drain): its drain rate and memory.
    #[arg(long, conflicts_with_all = ["skip_backlog", "throughput_only"])]
    backlog_only: bool,
    /// Run nothing: print the figures of two files written by --json side by side (after ÷ before).
    #[arg(long, num_args = 2, value_names = ["BEFORE", "AFTER"])]
    compare: Option<Vec<std::path::PathBuf>>,
}

#[derive(clap::Args)]
struct ListenArgs {
    /// Port to listen on (127.0.0.1).
    #[arg(long, default_value_t = 8787)]
    port: u16,
    /// The webhook's Standard Webhooks secret (whsec_…), to verify webhook-signature.
    #[arg(long)]
    secret: Option<String>,
    /// Where to fetch the application's Ed25519 public keys (Herald's /webhooks/signing?applicationId=…).
    #[arg(long)]
    public_key_url: Option<String>,
    /// Bearer token for --public-key-url (an application key).
    #[arg(long)]
    token: Option<String>,
    /// The application's client id, to check Reapit-Webhook-Signature.
    #[arg(long)]
    client_id: Option<String>,
    /// Forward each request unchanged to this URL and report its answer.
    #[arg(long)]
    forward_to: Option<String>,
    /// The status to answer with.
    #[arg(long, default_value_t = 200)]
    status: u16,
}

fn main() -> ExitCode {
    // Before any thread exists, as SQLite requires (see the function).
    herald_store::sqlite::configure_process();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("herald: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Serve(args) => match args.resolve() {
            // Telemetry is set up outside the runtime: the trace exporter's blocking client must not live in it.
            Ok(cfg) => match herald::telemetry::init(cfg.log_format, &cfg.log_filter, cfg.otlp_endpoint.as_ref()) {
                Ok(telemetry) => {
                    let result = runtime.block_on(serve(cfg));
                    telemetry.flush();
                    result
                }
                Err(e) => Err(e),
            },
            Err(e) => return config_error(e),
        },
        Command::Migrate(args) => match args.resolve() {
            Ok(cfg) => runtime.block_on(async move {
                let _lock = match &cfg.database {
                    herald_config::DatabaseUrl::Sqlite { path } if path.exists() => {
                        Some(herald::data_dir::DatabaseLock::acquire(path)?)
                    }
                    _ => None,
                };
                herald::open_store(&cfg.database, &cfg.data_dir, false, herald_store::Sealer::plain()).await?;
                println!("herald: migrations applied to {}", cfg.database);
                Ok(())
            }),
            Err(e) => return config_error(e),
        },
        Command::Listen(args) => runtime.block_on(listen(*args)),
        Command::RotateEncryptionKey(args) => match args.resolve() {
            Ok(cfg) => runtime.block_on(herald::rotate::rotate_encryption_key(cfg)),
            Err(e) => return config_error(e),
        },
        Command::Bench(args) if args.compare.is_some() => {
            let files = args.compare.unwrap_or_default();
            match files.as_slice() {
                [before, after] => herald::bench::compare(before, after),
                _ => Err(anyhow::anyhow!("--compare takes two files: BEFORE.json AFTER.json")),
            }
        }
        Command::Bench(args) => runtime.block_on(async move {
            let opts = herald::bench::BenchOptions {
                quick: args.quick,
                database_url: args.database_url,
                json: args.json,
                concurrency: args.concurrency.max(1),
                backlog: args.backlog.unwrap_or(if args.quick { 20_000 } else { 1_000_000 }),
                skip_backlog: args.skip_backlog || args.throughput_only,
                throughput_only: args.throughput_only,
                backlog_only: args.backlog_only,
                batch: args.batch.clamp(1, 1_000),
                amqp_url: (!args.skip_broker && !args.throughput_only).then_some(args.amqp_url),
            };
            herald::bench::run(opts).await.map(|_| ())
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("herald: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

fn config_error(e: herald_config::ConfigError) -> ExitCode {
    eprintln!("herald: {e}");
    ExitCode::from(2)
}

/// An error and its causes on one line.
fn one_line(e: &anyhow::Error) -> String {
    e.chain().map(|c| c.to_string()).collect::<Vec<_>>().join(": ")
}

async fn serve(cfg: herald_config::ServeConfig) -> anyhow::Result<()> {
    let (token, generated) = herald::admin_token::resolve(cfg.admin_token.as_deref(), &cfg.data_dir)?;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", cfg.listen))?;
    let running = herald::start(&cfg, &token, listener, cfg.deliver).await?;
    let base = format!("http://{}", running.addr);
    if generated {
        println!(
            "Generated the admin token (stored in {}; shown only now):\n\n    {token}\n",
            cfg.data_dir.join(herald::admin_token::FILE_NAME).display()
        );
    }
    tracing::info!(database = %cfg.database, "Herald is running: web UI {base}/ , API {base}/");
    println!("Herald is running. Web UI: {base}/  API: {base}/  (data: {})", cfg.data_dir.display());
    shutdown_signal().await;
    tracing::info!("shutting down: finishing attempts in flight");
    running.stop().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

async fn listen(args: ListenArgs) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let secret = match &args.secret {
        Some(s) => Some(s.parse().map_err(|e| anyhow::anyhow!("invalid --secret: {e}"))?),
        None => None,
    };
    anyhow::ensure!((100..=599).contains(&args.status), "invalid --status {}: must be 100..599", args.status);
    let public_keys = match &args.public_key_url {
        Some(url) => herald::listen::fetch_public_keys(url, args.token.as_deref()).await?,
        None => Vec::new(),
    };
    let opts = herald::listen::ListenOptions {
        secret,
        public_keys,
        client_id: args.client_id,
        forward_to: args.forward_to,
        status: args.status,
        color: std::io::stdout().is_terminal(),
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on 127.0.0.1:{}: {e}", args.port))?;
    println!("herald listen: waiting for webhooks on http://127.0.0.1:{}/ (Ctrl-C to stop)", args.port);
    herald::listen::run(opts, listener, std::sync::Arc::new(|line: String| println!("{line}")), shutdown_signal()).await
}
