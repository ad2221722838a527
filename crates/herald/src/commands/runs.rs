//! `herald runs` and `herald runs show`.

use std::process::ExitCode;

use anyhow::Context;
use herald_api::RunPhase;
use herald_store::RunFilter;

use super::open_store;
use crate::cli::{RunsArgs, RunsCommand};
use crate::output;

pub async fn runs(args: RunsArgs) -> anyhow::Result<ExitCode> {
    match args.show {
        Some(RunsCommand::Show { run, store, output }) => {
            let store = open_store(&store.db).await?;
            output::print_run(&find(&store, &run).await?, output)?;
            return Ok(ExitCode::SUCCESS);
        }
        Some(RunsCommand::Rerun {
            run,
            from,
            dir,
            store,
        }) => return rerun(&run, &from, &dir, &store.db).await,
        None => {}
    }
    let phase = args.phase.as_deref().map(parse_phase).transpose()?;
    let store = open_store(&args.store.db).await?;
    let filter = RunFilter {
        namespace: args.namespace,
        trigger: args.trigger,
        phase,
        limit: Some(args.limit),
        ..RunFilter::default()
    };
    output::print_runs(&store.list_runs(&filter).await?, args.output)?;
    Ok(ExitCode::SUCCESS)
}

/// A run by number or name.
async fn find(store: &herald_store::Store, run: &str) -> anyhow::Result<herald_store::RunDetail> {
    let detail = match run.parse::<i64>() {
        Ok(id) => store.get_run(id).await?,
        Err(_) => store.get_run_by_name(run).await?,
    };
    detail.with_context(|| format!("no run {run:?}"))
}

/// `herald runs rerun RUN --from STEP`: exit 0 when the new run succeeded.
async fn rerun(
    run: &str,
    from: &str,
    dir: &std::path::Path,
    db: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    let (engine, _) = super::one_shot_engine(dir, db).await?;
    let original = find(engine.store(), run).await?;
    let new = engine.rerun(&original, from).await?;
    eprintln!(
        "run {} ({}) re-runs run {} from step {from}",
        new.id, new.name, original.run.id
    );
    let done = engine.execute(new).await?;
    let detail = find(engine.store(), &done.id.to_string()).await?;
    output::print_run(&detail, crate::cli::ShowFormat::Text)?;
    Ok(if done.phase == RunPhase::Succeeded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn parse_phase(s: &str) -> anyhow::Result<RunPhase> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).with_context(|| {
        format!(
            "unknown phase {s:?}; use Pending, Running, Succeeded, Failed, TimedOut, Skipped or \
             Cancelled"
        )
    })
}
