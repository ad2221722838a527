//! One module per subcommand; each calls into the library crates.

mod clone;
mod events;
mod local;
mod operator;
mod reconcile;
mod runs;
mod trigger;
mod wait;

use std::process::ExitCode;

use anyhow::Context;
use herald_store::Store;

use crate::cli::{ApiArgs, Cli, Command, LogFormat};

/// Logs to stderr in `format`, and traces over OTLP when the environment asks for them
/// (herald-telemetry); the returned handle flushes the spans still buffered when dropped.
pub fn init_tracing(format: &LogFormat) -> anyhow::Result<herald_telemetry::Telemetry> {
    let format = match format {
        LogFormat::Text => herald_telemetry::LogFormat::Text,
        LogFormat::Json => herald_telemetry::LogFormat::Json,
    };
    herald_telemetry::init(format).map_err(anyhow::Error::msg)
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
        Command::Events(args) => events::events(args).await,
        Command::Wait(args) => wait::wait(args).await,
        Command::Reconcile(args) => reconcile::reconcile(args).await,
    }
}

pub(crate) async fn open_store(db: &std::path::Path) -> anyhow::Result<Store> {
    Store::open(db)
        .await
        .with_context(|| format!("opening {}", db.display()))
}

/// The Flux secret named by `--flux-secret-file`, without a trailing newline. Read from a file
/// so that it never appears in arguments or the environment.
pub(crate) fn flux_secret(args: &ApiArgs) -> anyhow::Result<Option<herald_server::Secret>> {
    args.flux_secret_file
        .as_deref()
        .map(|path| secret_file(path, "Flux secret"))
        .transpose()
}

/// Who may ask for a reconcile: the token in `--api-token-file`, else anyone on a loopback
/// `listen` address and no one on another.
pub(crate) fn reconcile_access(
    args: &ApiArgs,
    listen: std::net::SocketAddr,
) -> anyhow::Result<herald_server::ReconcileAccess> {
    let token = (args.api_token_file.as_deref())
        .map(|path| secret_file(path, "API token"))
        .transpose()?;
    Ok(herald_server::ReconcileAccess::for_listener(token, listen))
}

/// A secret read from `path` without its trailing newline; `what` names it in errors.
pub(crate) fn secret_file(
    path: &std::path::Path,
    what: &str,
) -> anyhow::Result<herald_server::Secret> {
    let mut bytes = std::fs::read(path)
        .with_context(|| format!("reading the {what} file {}", path.display()))?;
    while bytes.last().is_some_and(|b| matches!(b, b'\n' | b'\r')) {
        bytes.pop();
    }
    herald_server::Secret::new(bytes)
        .with_context(|| format!("the {what} file {} is empty", path.display()))
}

/// Event retention from `--events-max-age` and `--events-max-count` (0 turns one off).
pub(crate) fn retention(args: &ApiArgs) -> herald_server::Retention {
    herald_server::Retention {
        max_age: (!args.events_max_age.is_zero()).then_some(args.events_max_age),
        max_count: (args.events_max_count > 0).then_some(args.events_max_count),
        ..herald_server::Retention::default()
    }
}

/// A local engine for one command (`herald trigger`, `herald runs rerun`): the manifests in
/// `dir` (reported as loaded) and the store at `db`.
pub(crate) async fn one_shot_engine(
    dir: &std::path::Path,
    db: &std::path::Path,
) -> anyhow::Result<(herald_local::Engine, herald_local::Catalog)> {
    let (catalog, _) = herald_local::load_and_report(dir)
        .with_context(|| format!("reading manifests in {}", dir.display()))?;
    let store = open_store(db).await?;
    let (_sender, receiver) = tokio::sync::watch::channel(std::sync::Arc::new(catalog.clone()));
    let engine = herald_local::Engine::new(
        store,
        receiver,
        herald_local::EngineConfig {
            work_root: default_work_root(db),
            max_parallel: 4,
            metrics: herald_server::Metrics::default(),
            git_concurrency: 4,
            git_timeout: std::time::Duration::from_secs(30),
        },
    );
    Ok((engine, catalog))
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
