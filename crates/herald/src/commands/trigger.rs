//! `herald trigger`: fire one trigger by hand and wait for its runs.

use std::process::ExitCode;

use anyhow::{Context, bail};
use herald_api::{RunPhase, TriggerKind};
use herald_local::{FireRequest, Firing, SourceOutcome};

use crate::cli::{TriggerArgs, TriggerKindArg};
use crate::output;

pub async fn trigger(args: TriggerArgs) -> anyhow::Result<ExitCode> {
    let (namespace, name) = match args.trigger.split_once('/') {
        Some((ns, name)) => (ns.to_owned(), name.to_owned()),
        None => (
            herald_local::DEFAULT_NAMESPACE.to_owned(),
            args.trigger.clone(),
        ),
    };
    let (engine, catalog) = super::one_shot_engine(&args.dir, &args.store.db).await?;
    let kind = trigger_kind(&catalog, &namespace, &name, args.kind)?;
    let request = FireRequest {
        kind,
        namespace,
        name,
        source: args.source,
        firing: Firing::Manual(herald_local::unique_id()),
        pushes: None,
        listing_max_age: std::time::Duration::ZERO,
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
