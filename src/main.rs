//! The `codeplatform` command line.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use codeplatform::config::LogFormat;
use codeplatform::{Server, Settings};

// The server allocates many small, short-lived buffers per frame; mimalloc serves
// them faster than glibc's allocator (see docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "codeplatform",
    version,
    about = "Backend of a cloud code editor"
)]
struct Cli {
    /// A TOML settings file overlaid on the embedded defaults.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080 (overrides server.listen).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Data directory (overrides server.data_dir).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Print the effective settings as TOML.
    Config,
}

fn load(cli: &Cli) -> anyhow::Result<Settings> {
    Settings::load(cli.config.as_deref(), std::env::vars()).context("loading settings")
}

fn init_logs(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&settings.log.level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match settings.log.format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut settings = load(&cli)?;
    match cli.command {
        Command::Config => {
            print!("{}", settings.to_toml());
            Ok(())
        }
        Command::Serve { listen, data_dir } => {
            if let Some(l) = listen {
                settings.server.listen = l;
            }
            if let Some(d) = data_dir {
                settings.server.data_dir = d;
            }
            init_logs(&settings);
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(serve(settings))
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let server = Server::start(settings).await?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: shutting down"),
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = server.stopping() => tracing::error!("fatal failure: shutting down"),
    }
    server.shutdown().await?;
    tracing::info!("stopped");
    Ok(())
}
