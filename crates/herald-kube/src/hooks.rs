//! Cluster mode's side of the hook endpoints: every replica serves them, and a hook creates
//! Runs the same way a schedule does.

use std::sync::Arc;

use herald_api::{TriggerKind, WebhookTrigger};
use herald_core::{Firing, SourceChoiceError, sources_to_fire};
use herald_server::{Delivery, FireError, FiredRun, HookAuth, Hooks, LookupError};
use kube::{Api, Resource, ResourceExt};

use crate::context::Context;
use crate::error::Error;
use crate::fire::{Fired, TriggerView, fire_source};
use crate::sources::{get, secret_value};
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
            .map_err(|e| LookupError::Misconfigured(e.to_string()))?
            .ok_or_else(|| LookupError::NotFound(format!("{namespace}/{name}")))
    }
}

impl Hooks for ClusterHooks {
    async fn hook_auth(&self, namespace: &str, trigger: &str) -> Result<HookAuth, LookupError> {
        let found = self.trigger(namespace, trigger).await?;
        let auth = &found.spec.webhook.auth_config;
        let api: Api<k8s_openapi::api::core::v1::Secret> =
            Api::namespaced(self.ctx.client.clone(), namespace);
        let secret = get(&api, &auth.secret_ref.name, "reading a hook token Secret")
            .await
            .map_err(|e| LookupError::Misconfigured(e.to_string()))?
            .ok_or_else(|| {
                LookupError::Misconfigured(format!(
                    "secret {namespace}/{} not found",
                    auth.secret_ref.name
                ))
            })?;
        let secret = secret_value(&secret, &auth.key).ok_or_else(|| {
            LookupError::Misconfigured(format!(
                "secret {namespace}/{} has no key {:?}",
                auth.secret_ref.name, auth.key
            ))
        })?;
        Ok(HookAuth::from_trigger(&found.spec, secret))
    }

    async fn fire_hook(
        &self,
        namespace: &str,
        trigger: &str,
        source: Option<&str>,
        delivery: &Delivery,
    ) -> Result<Vec<FiredRun>, FireError> {
        let found = self
            .trigger(namespace, trigger)
            .await
            .map_err(|e| FireError::BadRequest(e.to_string()))?;
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
        let mut runs = Vec::new();
        let mut errors = Vec::new();
        for name in names {
            match fire_source(&self.ctx, &view, &name, &firing, delivery.pushes.as_deref()).await {
                Ok(Fired::Run { run, created }) => {
                    status.checked_sources.insert(
                        name.clone(),
                        herald_api::CheckedSource {
                            revision: run.spec.revision.clone(),
                            git_ref: run.spec.git_ref.clone(),
                            changed_at: Some(crate::conditions::now()),
                        },
                    );
                    runs.push(FiredRun {
                        id: None,
                        name: run.name_any(),
                        source: name,
                        revision: run.spec.revision.clone(),
                        created,
                    });
                }
                Ok(Fired::Skipped { .. }) => {}
                Err(e @ Error::Kube { .. }) => return Err(FireError::Store(e.to_string())),
                Err(e) => errors.push(format!("{name}: {e}")),
            }
        }
        if let Err(e) = write_status(&found, &self.ctx, &status).await {
            tracing::warn!(%namespace, %trigger, error = %e, "could not record checked sources");
        }
        if runs.is_empty() && !errors.is_empty() {
            return Err(FireError::Source(errors.join("; ")));
        }
        Ok(runs)
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
    sources_to_fire(names, source, multi_source).map_err(|e| {
        let (namespace, name) = (trigger.namespace().unwrap_or_default(), trigger.name_any());
        let hint = match e {
            SourceChoiceError::OneAtATime => format!(": POST /hooks/{namespace}/{name}/{{source}}"),
            SourceChoiceError::Unknown { .. } => String::new(),
        };
        FireError::BadRequest(format!("WebhookTrigger {namespace}/{name} {e}{hint}"))
    })
}
