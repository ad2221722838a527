//! Local mode's side of `POST /api/v1/reconcile/...` (`herald reconcile`): a schedule trigger
//! checks its sources now, a webhook trigger checks again that it can verify its senders. The
//! handled value is logged (`reconcile request handled`); local mode keeps it nowhere else.

use herald_api::TriggerKind;
use herald_server::{Reconcile, ReconcileError, ReconcileFuture, TriggerId};

use crate::engine::Engine;
use crate::scheduler;

impl Reconcile for Engine {
    fn reconcile<'a>(
        &'a self,
        trigger: TriggerId<'a>,
        requested_at: &'a str,
    ) -> ReconcileFuture<'a> {
        Box::pin(async move { self.request_reconcile(trigger, requested_at) })
    }
}

impl Engine {
    /// Refuses an unknown or suspended trigger at once; the check itself runs in the
    /// background (a listing may take up to `--git-timeout`), like a cluster's controller.
    fn request_reconcile(
        &self,
        trigger: TriggerId<'_>,
        requested_at: &str,
    ) -> Result<(), ReconcileError> {
        let (namespace, name) = (trigger.namespace, trigger.name);
        let catalog = self.catalog();
        let found = catalog
            .trigger(trigger.kind, namespace, name)
            .ok_or_else(|| ReconcileError::NotFound(trigger.to_string()))?;
        if found.suspended {
            return Err(ReconcileError::Suspended(trigger.to_string()));
        }
        match trigger.kind {
            TriggerKind::ScheduleTrigger => {
                let (engine, requested_at) = (self.clone(), requested_at.to_owned());
                let (namespace, name) = (namespace.to_owned(), name.to_owned());
                tokio::spawn(async move {
                    scheduler::reconcile_now(&engine, &namespace, &name, &requested_at).await;
                });
            }
            TriggerKind::WebhookTrigger => {
                match catalog.hook_auth(namespace, name) {
                    Some(Ok(_)) => {
                        tracing::info!(%namespace, trigger = %name, "webhook trigger accepting hooks")
                    }
                    Some(Err(why)) => {
                        tracing::warn!(%namespace, trigger = %name, reason = why.reason(), detail = %why, "webhook trigger not ready")
                    }
                    None => {}
                }
                tracing::info!(%namespace, trigger = %name, %requested_at, "reconcile request handled");
            }
        }
        Ok(())
    }
}
