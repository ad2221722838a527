//! One module per subcommand; each calls into the library crates.

mod clone;
mod local;
mod operator;
mod runs;
mod trigger;

use std::process::ExitCode;

use anyhow::Context;
use herald_store::Store;

use crate::cli::{Cli, Command, LogFormat};

pub fn init_tracing(format: &LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run(args) => operator::run(args).await,
        Command::Local(args) => local::local(args).await,
        Command::Crds => {
            print!("{}", herald_api::crds_yaml().context("rendering the CRDs")?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Runs(args) => runs::runs(args).await,
        Command::Trigger(args) => trigger::trigger(args).await,
        Command::Clone(args) => clone::clone(args).await,
    }
}

pub(crate) async fn open_store(db: &std::path::Path) -> anyhow::Result<Store> {
    Store::open(db)
        .await
        .with_context(|| format!("opening {}", db.display()))
}

/// Where temporary checkouts go when no folder is given: `work` beside the database.
pub(crate) fn default_work_root(db: &std::path::Path) -> std::path::PathBuf {
    db.parent()
        .map(|p| p.join("work"))
        .unwrap_or_else(|| "work".into())
}

/// Resolves on Ctrl-C or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    let mut terminate =
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => return std::future::pending().await,
        };
    tokio::select! {
        _ = interrupt => {},
        _ = terminate.recv() => {},
    }
    tracing::info!("shutting down");
}
