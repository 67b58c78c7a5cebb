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
    /// Print the effective settings as TOML (secrets redacted).
    Config,
    /// Drive simulated editors against a running server and report latency.
    Loadtest(codeplatform::loadtest::LoadArgs),
    /// Manage accounts directly in the database (with the server stopped).
    User {
        #[command(subcommand)]
        action: UserAction,
    },
}

#[derive(Subcommand)]
enum UserAction {
    /// Create a user; the password is read from standard input (one line), so it
    /// stays out of the shell history and the process list.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        username: String,
        /// Give the user the global admin role.
        #[arg(long)]
        admin: bool,
        /// Data directory (overrides server.data_dir).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
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
        Command::User {
            action:
                UserAction::Create {
                    email,
                    username,
                    admin,
                    data_dir,
                },
        } => {
            if let Some(d) = data_dir {
                settings.server.data_dir = d;
            }
            create_user(&settings, &email, &username, admin)
        }
        Command::Loadtest(args) => {
            let report = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()?
                .block_on(codeplatform::loadtest::run(args))?;
            print!("{}", report.human());
            if !report.failures.is_empty() {
                std::process::exit(1);
            }
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

fn create_user(
    settings: &Settings,
    email: &str,
    username: &str,
    admin: bool,
) -> anyhow::Result<()> {
    let mut password = String::new();
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        eprint!("password for {username} (echoed; or pipe it in): ");
    }
    std::io::stdin()
        .read_line(&mut password)
        .context("reading the password from standard input")?;
    let password = password.trim_end_matches(['\n', '\r']);
    let db = settings.db_path();
    let store = codeplatform::storage::Store::open(&db, settings.storage.cache_mib << 20)
        .with_context(|| format!("opening {} (is the server running?)", db.display()))?;
    let accounts = codeplatform::accounts::store::AccountStore::new(&store);
    let user = codeplatform::accounts::admin::create_user_offline(
        &accounts,
        email,
        username,
        password,
        admin,
        settings.auth.min_password_chars,
    )?;
    println!(
        "created {} {} ({}), id {}",
        user.role.as_str(),
        user.username,
        user.email,
        user.id
    );
    Ok(())
}
