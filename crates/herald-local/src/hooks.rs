//! Local mode's side of the hook endpoints.

use herald_api::TriggerKind;
use herald_server::{
    Delivery, FireError, Fired, FiredRun, HookAuth, Hooks, LookupError, SkippedSource,
};

use herald_core::Firing;

use crate::engine::{self, Engine, FireRequest, SourceOutcome};

impl Hooks for Engine {
    async fn hook_auth(&self, namespace: &str, trigger: &str) -> Result<HookAuth, LookupError> {
        let catalog = self.catalog();
        catalog
            .hook_auth(namespace, trigger)
            .ok_or_else(|| LookupError::NotFound(format!("{namespace}/{trigger}")))?
            .map_err(LookupError::NotReady)
    }

    async fn fire_hook(
        &self,
        namespace: &str,
        trigger: &str,
        source: Option<&str>,
        delivery: &Delivery,
    ) -> Result<Fired, FireError> {
        let request = FireRequest {
            kind: TriggerKind::WebhookTrigger,
            namespace: namespace.to_owned(),
            name: trigger.to_owned(),
            source: source.map(str::to_owned),
            // A repeated delivery is the same run; without an id each delivery is its own.
            firing: Firing::Delivery(delivery.id.clone().unwrap_or_else(crate::unique_id)),
            pushes: delivery.pushes.clone(),
        };
        let outcomes = self.fire(&request).await.map_err(|e| match e {
            engine::FireError::NotFound(why) | engine::FireError::BadRequest(why) => {
                FireError::BadRequest(why)
            }
            engine::FireError::SourceRequired => FireError::SourceRequired,
        })?;
        fired(self, outcomes)
    }

    fn delivery_log(&self) -> Option<&herald_store::Store> {
        Some(self.store())
    }
}

/// Start the new runs and describe them; fail only when no source could be read at all.
fn fired(engine: &Engine, outcomes: Vec<SourceOutcome>) -> Result<Fired, FireError> {
    let mut fired = Fired::default();
    let mut errors = Vec::new();
    for outcome in outcomes {
        match outcome {
            SourceOutcome::Created(run) => {
                fired.runs.push(fired_run(&run, true));
                engine.spawn(run);
            }
            SourceOutcome::Existing(run) => fired.runs.push(fired_run(&run, false)),
            SourceOutcome::Skipped { source, reason } => {
                fired.skipped.push(SkippedSource { source, reason });
            }
            SourceOutcome::Failed { source, error } => errors.push(format!("{source}: {error}")),
        }
    }
    if fired.runs.is_empty() && !errors.is_empty() {
        return Err(FireError::Source(errors.join("; ")));
    }
    Ok(fired)
}

fn fired_run(run: &herald_store::RunRecord, created: bool) -> FiredRun {
    FiredRun {
        id: Some(run.id),
        name: run.name.clone(),
        source: run.source.clone(),
        revision: run.revision.clone(),
        created,
    }
}
