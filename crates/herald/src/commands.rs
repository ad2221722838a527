//! One function per subcommand; each calls into the library crates.

use std::process::ExitCode;

use anyhow::{Context, bail};
use herald_api::{RunPhase, TriggerKind};
use herald_local::{Engine, FireRequest, Firing, LocalConfig, SourceOutcome};
use herald_store::{RunFilter, Store};
use tokio::sync::watch;

use crate::cli::{
    Cli, Command, LocalArgs, LogFormat, RunsArgs, RunsCommand, TriggerArgs, TriggerKindArg,
};
use crate::output;

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
        Command::Local(args) => local(args).await,
        Command::Crds => {
            print!("{}", herald_api::crds_yaml().context("rendering the CRDs")?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Runs(args) => runs(args).await,
        Command::Trigger(args) => trigger(args).await,
    }
}

fn local_config(args: &LocalArgs) -> LocalConfig {
    let work_root = args.work_dir.clone().unwrap_or_else(|| {
        args.store
            .db
            .parent()
            .map(|p| p.join("work"))
            .unwrap_or_else(|| "work".into())
    });
    LocalConfig {
        dir: args.dir.clone(),
        db: args.store.db.clone(),
        work_root,
        listen: args.listen,
        max_parallel: args.max_parallel,
        reload_every: args.reload_every,
    }
}

async fn local(args: LocalArgs) -> anyhow::Result<ExitCode> {
    let config = local_config(&args);
    tracing::info!(dir = %config.dir.display(), db = %config.db.display(), listen = %config.listen, "herald local starting");
    herald_local::run(config, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
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

async fn open_store(db: &std::path::Path) -> anyhow::Result<Store> {
    Store::open(db)
        .await
        .with_context(|| format!("opening {}", db.display()))
}

async fn runs(args: RunsArgs) -> anyhow::Result<ExitCode> {
    if let Some(RunsCommand::Show { run, store, output }) = args.show {
        let store = open_store(&store.db).await?;
        let detail = match run.parse::<i64>() {
            Ok(id) => store.get_run(id).await?,
            Err(_) => store.get_run_by_name(&run).await?,
        };
        let Some(detail) = detail else {
            bail!("no run {run:?}")
        };
        output::print_run(&detail, output)?;
        return Ok(ExitCode::SUCCESS);
    }
    let phase = args.phase.as_deref().map(parse_phase).transpose()?;
    let store = open_store(&args.store.db).await?;
    let filter = RunFilter {
        namespace: args.namespace,
        trigger: args.trigger,
        phase,
        limit: Some(args.limit),
    };
    output::print_runs(&store.list_runs(&filter).await?, args.output)?;
    Ok(ExitCode::SUCCESS)
}

fn parse_phase(s: &str) -> anyhow::Result<RunPhase> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).with_context(|| {
        format!("unknown phase {s:?}; use Pending, Running, Succeeded, Failed or Skipped")
    })
}

async fn trigger(args: TriggerArgs) -> anyhow::Result<ExitCode> {
    let (namespace, name) = match args.trigger.split_once('/') {
        Some((ns, name)) => (ns.to_owned(), name.to_owned()),
        None => (
            herald_local::DEFAULT_NAMESPACE.to_owned(),
            args.trigger.clone(),
        ),
    };
    let (catalog, _) = herald_local::load_and_report(&args.dir)
        .with_context(|| format!("reading manifests in {}", args.dir.display()))?;
    let kind = trigger_kind(&catalog, &namespace, &name, args.kind)?;
    let store = open_store(&args.store.db).await?;
    let work_root = args
        .store
        .db
        .parent()
        .map(|p| p.join("work"))
        .unwrap_or_else(|| "work".into());
    let (_sender, receiver) = watch::channel(std::sync::Arc::new(catalog));
    let engine = Engine::new(
        store,
        receiver,
        herald_local::EngineConfig {
            work_root,
            max_parallel: 4,
        },
    );
    let request = FireRequest {
        kind,
        namespace,
        name,
        source: args.source,
        firing: Firing::Manual(herald_local::unique_id()),
    };
    let outcomes = engine.fire(&request).await?;
    let mut all_succeeded = true;
    for outcome in outcomes {
        match outcome {
            SourceOutcome::Created(run) | SourceOutcome::Existing(run) => {
                eprintln!(
                    "run {} ({}) created for {}@{}",
                    run.id, run.name, run.source, run.revision
                );
                let done = engine.execute(run).await?;
                all_succeeded &= done.phase == RunPhase::Succeeded;
                let detail = engine
                    .store()
                    .get_run(done.id)
                    .await?
                    .context("run vanished")?;
                output::print_run(&detail, crate::cli::ShowFormat::Text)?;
            }
            SourceOutcome::Skipped { source, reason } => eprintln!("{source}: skipped: {reason}"),
            SourceOutcome::Failed { source, error } => {
                all_succeeded = false;
                eprintln!("{source}: {error}");
            }
        }
    }
    Ok(if all_succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn trigger_kind(
    catalog: &herald_local::Catalog,
    namespace: &str,
    name: &str,
    wanted: Option<TriggerKindArg>,
) -> anyhow::Result<TriggerKind> {
    let found = catalog.trigger_kinds_named(namespace, name);
    let wanted = wanted.map(|k| match k {
        TriggerKindArg::Schedule => TriggerKind::ScheduleTrigger,
        TriggerKindArg::Webhook => TriggerKind::WebhookTrigger,
    });
    match (found.as_slice(), wanted) {
        ([], _) => {
            bail!("no ScheduleTrigger or WebhookTrigger {namespace}/{name} in the manifests")
        }
        (_, Some(kind)) if found.contains(&kind) => Ok(kind),
        (_, Some(kind)) => bail!("no {kind} {namespace}/{name} in the manifests"),
        ([only], None) => Ok(*only),
        (_, None) => bail!(
            "both a ScheduleTrigger and a WebhookTrigger are named {namespace}/{name}; pass --kind"
        ),
    }
}
