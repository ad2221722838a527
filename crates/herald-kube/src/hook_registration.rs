//! `webhook.register` in cluster mode: the engine is `herald_notify::registration` (which
//! hooks, created or updated, stale ones removed); here the finalizer that keeps a trigger
//! until its hooks are removed, and never holds a deletion longer than
//! `OperatorConfig::hook_removal_grace` when the host cannot be reached.

use std::sync::Arc;
use std::time::Duration;

use herald_api::WebhookTrigger;
use herald_notify::registration::{self, Registration};
use kube::api::{Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::context::Context;
use crate::error::{Error, KubeContext};
use crate::image_update_controller::ClusterEnv;

/// The finalizer that keeps a trigger until its hooks are removed at the host.
pub const FINALIZER: &str = "herald.dev/hook-registration";

/// How soon a deleted trigger whose hooks could not be removed is tried again.
const REMOVAL_RETRY: Duration = Duration::from_secs(5);

/// Creates or updates `trigger`'s hooks (it has `webhook.register`), holding it by the
/// finalizer first.
pub async fn register(ctx: &Arc<Context>, trigger: &WebhookTrigger) -> Result<Registration, Error> {
    ensure_finalizer(ctx, trigger).await?;
    let namespace = trigger.namespace().unwrap_or_default();
    let wanted = registration::wanted_hooks(
        &namespace,
        &trigger.name_any(),
        &trigger.spec,
        |kind, name| ctx.caches.source_url(kind, &namespace, name),
    );
    let before = registered(trigger);
    let env = ClusterEnv { ctx: ctx.clone() };
    Ok(registration::register(
        &env,
        ctx.poster()?,
        &namespace,
        &trigger.spec,
        &wanted,
        &before,
    )
    .await)
}

/// Removes the hooks `trigger`'s status lists, then drops the finalizer; when the host cannot
/// be asked, again after [`REMOVAL_RETRY`] until the grace has passed, then lets go and logs
/// what is left at the host. `Some(delay)` while it waits.
pub async fn unregister(
    ctx: &Arc<Context>,
    trigger: &WebhookTrigger,
) -> Result<Option<Duration>, Error> {
    let hooks = registered(trigger);
    let Some(register) = &trigger.spec.webhook.register else {
        // No longer asked for: without its token nothing can be removed.
        if !hooks.is_empty() {
            tracing::warn!(trigger = %trigger.name_any(), ?hooks, "webhook.register was removed: its hooks stay at the Git host");
        }
        remove_finalizer(ctx, trigger).await?;
        return Ok(None);
    };
    let env = ClusterEnv { ctx: ctx.clone() };
    let namespace = trigger.namespace().unwrap_or_default();
    let left = registration::unregister(&env, ctx.poster()?, &namespace, register, &hooks).await;
    if !left.is_empty() {
        let since = trigger
            .metadata
            .deletion_timestamp
            .as_ref()
            .map_or_else(jiff::Timestamp::now, |t| t.0);
        let waited = jiff::Timestamp::now().duration_since(since).unsigned_abs();
        if waited < ctx.config.hook_removal_grace {
            tracing::info!(trigger = %trigger.name_any(), ?left, "hooks not removed yet; trying again");
            return Ok(Some(REMOVAL_RETRY));
        }
        tracing::warn!(trigger = %trigger.name_any(), ?left, "gave up removing hooks at the Git host; remove them there");
    }
    remove_finalizer(ctx, trigger).await?;
    Ok(None)
}

/// Whether Herald holds `trigger` for its hooks.
pub fn has_finalizer(trigger: &WebhookTrigger) -> bool {
    trigger.finalizers().iter().any(|f| f == FINALIZER)
}

fn registered(trigger: &WebhookTrigger) -> Vec<herald_api::RegisteredHook> {
    trigger
        .status
        .as_ref()
        .map(|s| s.registered_hooks.clone())
        .unwrap_or_default()
}

async fn ensure_finalizer(ctx: &Context, trigger: &WebhookTrigger) -> Result<(), Error> {
    if has_finalizer(trigger) {
        return Ok(());
    }
    let mut finalizers = trigger.finalizers().to_vec();
    finalizers.push(FINALIZER.to_owned());
    patch_finalizers(ctx, trigger, finalizers).await
}

async fn remove_finalizer(ctx: &Context, trigger: &WebhookTrigger) -> Result<(), Error> {
    let finalizers: Vec<String> = trigger
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    patch_finalizers(ctx, trigger, finalizers).await
}

/// A merge patch of the whole list, guarded by the resourceVersion read, so another
/// controller's finalizer added meanwhile is never dropped (the patch fails and is retried).
async fn patch_finalizers(
    ctx: &Context,
    trigger: &WebhookTrigger,
    finalizers: Vec<String>,
) -> Result<(), Error> {
    let api: Api<WebhookTrigger> =
        Api::namespaced(ctx.client.clone(), &trigger.namespace().unwrap_or_default());
    let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": trigger.resource_version()}});
    api.patch(
        &trigger.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .step("updating a trigger's finalizers")?;
    Ok(())
}
