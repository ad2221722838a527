//! Cluster mode's side of the hook endpoints: every replica serves them, and a hook creates
//! Runs the same way a schedule does.

use std::sync::Arc;

use herald_api::{TriggerKind, WebhookTrigger};
use herald_core::{Firing, SourceChoiceError, sources_to_fire};
use herald_server::{
    Delivery, FireError, Fired, FiredRun, HookAuth, Hooks, LookupError, NotReady, SkippedSource,
};
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Resource, ResourceExt};

use crate::context::Context;
use crate::error::Error;
use crate::fire::{Fired as FiredSource, TriggerView, fire_source};
use crate::sources::get;
use crate::trigger_controller::write_status;

/// Hooks backed by the API server.
#[derive(Debug, Clone)]
pub struct ClusterHooks {
    pub ctx: Arc<Context>,
}

impl ClusterHooks {
    async fn trigger(&self, namespace: &str, name: &str) -> Result<WebhookTrigger, LookupError> {
        let api: Api<WebhookTrigger> = Api::namespaced(self.ctx.client.clone(), namespace);
        get(&api, name, "reading a WebhookTrigger")
            .await
            .map_err(|e| LookupError::Unavailable(e.to_string()))?
            .ok_or_else(|| LookupError::NotFound(format!("{namespace}/{name}")))
    }
}

/// How a WebhookTrigger verifies its senders, reading the Secret it names: what its `Ready`
/// condition reports and what each delivery is checked with.
pub async fn resolve_auth(
    ctx: &Context,
    trigger: &WebhookTrigger,
) -> Result<Result<HookAuth, NotReady>, Error> {
    let namespace = trigger.namespace().unwrap_or_default();
    let secret_name = &trigger.spec.webhook.auth_config.secret_ref.name;
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let secret = get(&api, secret_name, "reading a hook token Secret").await?;
    Ok(HookAuth::resolve(
        &trigger.spec,
        &namespace,
        secret.as_ref(),
    ))
}

impl Hooks for ClusterHooks {
    async fn hook_auth(&self, namespace: &str, trigger: &str) -> Result<HookAuth, LookupError> {
        let found = self.trigger(namespace, trigger).await?;
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
            .await
            .map_err(|e| match e {
                LookupError::Unavailable(why) => FireError::Store(why),
                other => FireError::BadRequest(other.to_string()),
            })?;
        let names = selected(&found, source)?;
        let mut status = found.status.clone().unwrap_or_default();
        let view = TriggerView {
            kind: TriggerKind::WebhookTrigger,
            namespace,
            name: trigger,
            owner: found.controller_owner_ref(&()),
            sources: &found.spec.sources,
            action: &found.spec.action,
            checked: &status.checked_sources.clone(),
        };
        // A repeated delivery is the same Run; without an id each delivery is its own.
        let id = delivery
            .id
            .clone()
            .unwrap_or_else(|| jiff::Timestamp::now().as_nanosecond().to_string());
        let firing = Firing::Delivery(id);
        let mut fired = Fired::default();
        let mut errors = Vec::new();
        for name in names {
            match fire_source(&self.ctx, &view, &name, &firing, delivery.pushes.as_deref()).await {
                Ok(FiredSource::Run { run, created }) => {
                    status.checked_sources.insert(
                        name.clone(),
                        herald_api::CheckedSource {
                            revision: run.spec.revision.clone(),
                            git_ref: run.spec.git_ref.clone(),
                            changed_at: Some(crate::conditions::now()),
                        },
                    );
                    fired.runs.push(FiredRun {
                        id: None,
                        name: run.name_any(),
                        source: name,
                        revision: run.spec.revision.clone(),
                        created,
                    });
                }
                Ok(FiredSource::Skipped { reason }) => {
                    fired.skipped.push(SkippedSource {
                        source: name,
                        reason,
                    });
                }
                Err(e @ Error::Kube { .. }) => return Err(FireError::Store(e.to_string())),
                Err(e) => errors.push(format!("{name}: {e}")),
            }
        }
        if let Err(e) = write_status(&found, &self.ctx, &status).await {
            tracing::warn!(%namespace, %trigger, error = %e, "could not record checked sources");
        }
        if fired.runs.is_empty() && !errors.is_empty() {
            return Err(FireError::Source(errors.join("; ")));
        }
        Ok(fired)
    }

    fn delivery_log(&self) -> Option<&herald_store::Store> {
        self.ctx.config.store.as_ref()
    }
}

fn selected(trigger: &WebhookTrigger, source: Option<&str>) -> Result<Vec<String>, FireError> {
    let (names, multi_source) = (
        &trigger.spec.sources.names,
        trigger.spec.webhook.multi_source,
    );
    sources_to_fire(names, source, multi_source).map_err(|e| match e {
        SourceChoiceError::OneAtATime => FireError::SourceRequired,
        SourceChoiceError::Unknown { .. } => {
            let (namespace, name) = (trigger.namespace().unwrap_or_default(), trigger.name_any());
            FireError::BadRequest(format!("WebhookTrigger {namespace}/{name} {e}"))
        }
    })
}
