//! `herald`: the webhooks platform in one binary.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use herald_config::{LogFormat, MigrateArgs, ServeArgs};

#[derive(Parser)]
#[command(name = "herald", version, about = "Herald: a webhooks platform in one binary")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API, the web UI and the delivery workers in one process.
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate(MigrateArgs),
}

fn main() -> ExitCode {
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
            Ok(cfg) => runtime.block_on(serve(cfg)),
            Err(e) => return config_error(e),
        },
        Command::Migrate(args) => match args.resolve() {
            Ok(cfg) => runtime.block_on(async move {
                herald::open_store(&cfg.database, &cfg.data_dir).await?;
                println!("herald: migrations applied to {}", cfg.database);
                Ok(())
            }),
            Err(e) => return config_error(e),
        },
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
    init_tracing(cfg.log_format, &cfg.log_filter)?;
    let (token, generated) = herald::admin_token::resolve(cfg.admin_token.as_deref(), &cfg.data_dir)?;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", cfg.listen))?;
    let running = herald::start(&cfg, &token, listener, true).await?;
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

fn init_tracing(format: LogFormat, filter: &str) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .map_err(|e| anyhow::anyhow!("invalid --log filter {filter:?}: {e}"))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Pretty => builder.init(),
    }
    Ok(())
}
