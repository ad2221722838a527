//! Cluster mode's side of `POST /api/v1/reconcile/...` (`herald reconcile`): the trigger's
//! `reconcile.fluxcd.io/requestedAt` annotation is set to the request's time, as `flux
//! reconcile` does, and its controller (on the leader) does the rest and records the value in
//! `status.lastHandledReconcileAt`. So any replica can take the request.

use std::sync::Arc;

use herald_api::{RECONCILE_REQUESTED_ANNOTATION, ScheduleTrigger, TriggerKind, WebhookTrigger};
use herald_server::{Reconcile, ReconcileError, ReconcileFuture, TriggerId};
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource};
use serde_json::json;

use crate::caches;
use crate::context::Context;
use crate::error::is_not_found;
use crate::labels;

/// Reconcile requests passed on to the controllers through the API server.
#[derive(Debug, Clone)]
pub struct ClusterReconciler {
    pub ctx: Arc<Context>,
}

impl Reconcile for ClusterReconciler {
    fn reconcile<'a>(
        &'a self,
        trigger: TriggerId<'a>,
        requested_at: &'a str,
    ) -> ReconcileFuture<'a> {
        Box::pin(async move {
            if self.suspended(trigger)? {
                return Err(ReconcileError::Suspended(trigger.to_string()));
            }
            match trigger.kind {
                TriggerKind::ScheduleTrigger => {
                    annotate::<ScheduleTrigger>(&self.ctx, trigger, requested_at).await
                }
                TriggerKind::WebhookTrigger => {
                    annotate::<WebhookTrigger>(&self.ctx, trigger, requested_at).await
                }
            }
        })
    }
}

impl ClusterReconciler {
    /// Whether the trigger, as the caches hold it, is suspended; not found when they hold
    /// no such trigger (outside the watched namespace too).
    fn suspended(&self, trigger: TriggerId<'_>) -> Result<bool, ReconcileError> {
        let caches = &self.ctx.caches;
        let (namespace, name) = (trigger.namespace, trigger.name);
        let suspend = match trigger.kind {
            TriggerKind::ScheduleTrigger => {
                caches::namespaced(&caches.schedule_triggers, namespace, name)
                    .map(|t| t.spec.suspend)
            }
            TriggerKind::WebhookTrigger => {
                caches::namespaced(&caches.webhook_triggers, namespace, name)
                    .map(|t| t.spec.suspend)
            }
        };
        suspend.ok_or_else(|| ReconcileError::NotFound(trigger.to_string()))
    }
}

/// Sets the annotation on the object: a merge patch of that one key, so nothing else of the
/// object is touched and no `resourceVersion` is needed.
async fn annotate<K>(
    ctx: &Context,
    trigger: TriggerId<'_>,
    requested_at: &str,
) -> Result<(), ReconcileError>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(ctx.client.clone(), trigger.namespace);
    let patch = json!({
        "metadata": { "annotations": { RECONCILE_REQUESTED_ANNOTATION: requested_at } }
    });
    let params = PatchParams {
        field_manager: Some(labels::FIELD_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    match api
        .patch(trigger.name, &params, &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_not_found(&e) => Err(ReconcileError::NotFound(trigger.to_string())),
        Err(e) => Err(ReconcileError::Unavailable(format!(
            "setting {RECONCILE_REQUESTED_ANNOTATION}: {e}"
        ))),
    }
}
