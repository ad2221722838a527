//! Cluster mode's side of the hook endpoints: every replica serves them, and a hook creates
//! Runs the same way a schedule does.

use std::collections::BTreeMap;
use std::sync::Arc;

use herald_api::{Run, TriggerKind, WebhookTrigger};
use herald_core::SourceChoiceError;
use herald_engine::{HookOutcomes, Outcome, TriggerDef, fire_sources};
use herald_server::{Delivery, FireError, Fired, FiredRun, HookAuth, Hooks, LookupError, NotReady};
use kube::{Resource, ResourceExt};

use crate::caches;
use crate::context::Context;
use crate::error::Error;
use crate::fire::{ClusterRuns, ClusterSources};
use crate::trigger_controller::checked;

/// Hooks backed by the API server.
#[derive(Debug, Clone)]
pub struct ClusterHooks {
    pub ctx: Arc<Context>,
}

impl ClusterHooks {
    /// The trigger, from the cache: a delivery reads nothing from the API server before its
    /// Runs are created.
    fn trigger(&self, namespace: &str, name: &str) -> Result<Arc<WebhookTrigger>, LookupError> {
        caches::namespaced(&self.ctx.caches.webhook_triggers, namespace, name)
            .ok_or_else(|| LookupError::NotFound(format!("{namespace}/{name}")))
    }
}

/// How a WebhookTrigger verifies its senders, with the Secret it names: what its `Ready`
/// condition reports and what each delivery is checked with.
pub async fn resolve_auth(
    ctx: &Context,
    trigger: &WebhookTrigger,
) -> Result<Result<HookAuth, NotReady>, Error> {
    let namespace = trigger.namespace().unwrap_or_default();
    let secret_name = &trigger.spec.webhook.auth_config.secret_ref.name;
    let secret = ctx.caches.secrets.get(&namespace, secret_name).await?;
    Ok(HookAuth::resolve(
        &trigger.spec,
        &namespace,
        secret.as_deref(),
    ))
}

impl Hooks for ClusterHooks {
    async fn hook_auth(&self, namespace: &str, trigger: &str) -> Result<HookAuth, LookupError> {
        let found = self.trigger(namespace, trigger)?;
        resolve_auth(&self.ctx, &found)
            .await
            .map_err(|e| LookupError::Unavailable(e.to_string()))?
            .map_err(LookupError::NotReady)
    }

    async fn fire_hook(
        &self,
        namespace: &str,
        trigger: &str,
        source: Option<&str>,
        delivery: &Delivery,
    ) -> Result<Fired, FireError> {
        let found = self
            .trigger(namespace, trigger)
            .map_err(|e| FireError::BadRequest(e.to_string()))?;
        // Suspended since the delivery was verified: refused the same way.
        if found.spec.suspend {
            return Err(FireError::Suspended);
        }
        let status = found.status.clone().unwrap_or_default();
        let def = TriggerDef {
            kind: TriggerKind::WebhookTrigger,
            namespace,
            name: trigger,
            sources: &found.spec.sources,
            action: &found.spec.action,
            listing_max_age: std::time::Duration::ZERO,
        };
        let runs = ClusterRuns {
            ctx: &self.ctx,
            owner: found.controller_owner_ref(&()),
            checked: &status.checked_sources.clone(),
        };
        let firing = herald_engine::delivery_firing(delivery.id.as_deref());
        let multi_source = found.spec.webhook.multi_source;
        let reader = ClusterSources(&self.ctx);
        let metrics = &self.ctx.metrics;
        let pushes = delivery.pushes.as_deref();
        let outcomes = fire_sources(
            &runs,
            &reader,
            metrics,
            &def,
            source,
            multi_source,
            &firing,
            pushes,
        )
        .await
        .map_err(|e| match e {
            SourceChoiceError::OneAtATime => FireError::SourceRequired,
            SourceChoiceError::Unknown { .. } => {
                FireError::BadRequest(format!("WebhookTrigger {namespace}/{trigger} {e}"))
            }
        })?;
        // Only now, with the Runs stored, do their revisions count as seen (a Run found
        // existing too: a crash may have come between its creation and this write).
        let mut seen = BTreeMap::new();
        for (source, outcome) in &outcomes {
            if let Outcome::Created(run) | Outcome::Existing(run) = outcome {
                let known = status.checked_sources.get(source).map(|c| &c.revision);
                if known != Some(&run.spec.revision) {
                    seen.insert(source.clone(), checked(run));
                }
            }
        }
        let gathered = HookOutcomes::gather(outcomes, |source, run: &Run, created| FiredRun {
            id: None,
            name: run.name_any(),
            source: source.to_owned(),
            revision: run.spec.revision.clone(),
            created,
        });
        if let Err(e) = record_seen(&self.ctx, namespace, trigger, &seen).await {
            tracing::warn!(%namespace, %trigger, error = %e, "could not record checked sources");
        }
        gathered.answer
    }

    fn delivery_log(&self) -> Option<&herald_store::Store> {
        self.ctx.config.store.as_ref()
    }
}

/// Records `seen` in the trigger's `status.checkedSources` by a merge patch of just those
/// entries: the trigger in the cache may be older than its status (the controller's own
/// write), and writing the whole status from it would undo that write.
async fn record_seen(
    ctx: &Context,
    namespace: &str,
    trigger: &str,
    seen: &BTreeMap<String, herald_api::CheckedSource>,
) -> Result<(), Error> {
    if seen.is_empty() {
        return Ok(());
    }
    let api: kube::Api<WebhookTrigger> = kube::Api::namespaced(ctx.client.clone(), namespace);
    let patch = serde_json::json!({ "status": { "checkedSources": seen } });
    let params = kube::api::PatchParams::default();
    api.patch_status(trigger, &params, &kube::api::Patch::Merge(&patch))
        .await
        .map(drop)
        .map_err(|source| Error::Kube {
            step: "recording a hook's checked sources",
            source,
        })
}
