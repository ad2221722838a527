//! `herald runs` and `herald runs show`.

use std::process::ExitCode;

use anyhow::{Context, bail};
use herald_api::RunPhase;
use herald_store::RunFilter;

use super::open_store;
use crate::cli::{RunsArgs, RunsCommand};
use crate::output;

pub async fn runs(args: RunsArgs) -> anyhow::Result<ExitCode> {
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
