//! Local mode's side of the hook endpoints.

use herald_api::TriggerKind;
use herald_server::{Delivery, FireError, FiredRun, HookAuth, Hooks, LookupError};

use herald_core::Firing;

use crate::engine::{self, Engine, FireRequest, SourceOutcome};

impl Hooks for Engine {
    async fn hook_auth(&self, namespace: &str, trigger: &str) -> Result<HookAuth, LookupError> {
        let catalog = self.catalog();
        let key = (namespace.to_owned(), trigger.to_owned());
        let found = catalog
            .webhook_triggers
            .get(&key)
            .ok_or_else(|| LookupError::NotFound(format!("{namespace}/{trigger}")))?;
        let auth = &found.spec.webhook.auth_config;
        let secret = catalog
            .secret_value(namespace, &auth.secret_ref.name, &auth.key)
            .map_err(LookupError::Misconfigured)?;
        Ok(HookAuth::from_trigger(&found.spec, secret))
    }

    async fn fire_hook(
        &self,
        namespace: &str,
        trigger: &str,
        source: Option<&str>,
        delivery: &Delivery,
    ) -> Result<Vec<FiredRun>, FireError> {
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
        })?;
        fired_runs(self, outcomes)
    }

    fn delivery_log(&self) -> Option<&herald_store::Store> {
        Some(self.store())
    }
}

/// Start the new runs and describe them; fail only when no source could be read at all.
fn fired_runs(engine: &Engine, outcomes: Vec<SourceOutcome>) -> Result<Vec<FiredRun>, FireError> {
    let mut runs = Vec::new();
    let mut errors = Vec::new();
    for outcome in outcomes {
        match outcome {
            SourceOutcome::Created(run) => {
                runs.push(fired(&run, true));
                engine.spawn(run);
            }
            SourceOutcome::Existing(run) => runs.push(fired(&run, false)),
            SourceOutcome::Skipped { .. } => {}
            SourceOutcome::Failed { source, error } => errors.push(format!("{source}: {error}")),
        }
    }
    if runs.is_empty() && !errors.is_empty() {
        return Err(FireError::Source(errors.join("; ")));
    }
    Ok(runs)
}

fn fired(run: &herald_store::RunRecord, created: bool) -> FiredRun {
    FiredRun {
        id: Some(run.id),
        name: run.name.clone(),
        source: run.source.clone(),
        revision: run.revision.clone(),
        created,
    }
}
