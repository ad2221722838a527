//! History limits: keep the newest N succeeded and M failed Runs per trigger; the event store
//! keeps the long memory.

use herald_api::{Run, RunPhase};
use kube::api::{DeleteParams, ListParams};
use kube::{Api, ResourceExt};

use crate::context::Context;
use crate::error::{Error, KubeContext, is_not_found};
use crate::labels;

/// Delete the finished Runs of `run`'s trigger beyond the configured limits.
pub async fn prune(ctx: &Context, run: &Run) -> Result<(), Error> {
    let api: Api<Run> = Api::namespaced(ctx.client.clone(), &run.namespace().unwrap_or_default());
    let selector = format!(
        "{}={},{}={}",
        labels::TRIGGER,
        run.spec.trigger.name,
        labels::TRIGGER_KIND,
        run.spec.trigger.kind
    );
    let runs = api
        .list(&ListParams::default().labels(&selector))
        .await
        .step("listing a trigger's Runs")?;
    for name in beyond_limits(
        runs.items,
        ctx.config.keep_succeeded,
        ctx.config.keep_failed,
    ) {
        match api.delete(&name, &DeleteParams::background()).await {
            Ok(_) => tracing::debug!(run = %name, "pruned past the history limit"),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(e).step("deleting an old Run"),
        }
    }
    Ok(())
}

/// Names of the finished Runs past the limits, newest kept first.
pub fn beyond_limits(mut runs: Vec<Run>, keep_succeeded: usize, keep_failed: usize) -> Vec<String> {
    runs.sort_by(|a, b| {
        b.creation_timestamp()
            .cmp(&a.creation_timestamp())
            .then_with(|| b.name_any().cmp(&a.name_any()))
    });
    let phase = |r: &Run| r.status.as_ref().and_then(|s| s.phase);
    let older = |wanted: RunPhase, keep: usize| {
        runs.iter()
            .filter(move |r| phase(r) == Some(wanted))
            .skip(keep)
            .map(ResourceExt::name_any)
    };
    older(RunPhase::Succeeded, keep_succeeded)
        .chain(older(RunPhase::Failed, keep_failed))
        .collect()
}
