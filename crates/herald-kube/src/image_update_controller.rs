//! ImageUpdate controller: on the leader, an attempt when the object changes, on its interval,
//! and sooner while an image is waited for; the status written only when it says something
//! new. The attempt itself is the engine's (`herald_automation::Updater`), as in local mode.

use std::sync::Arc;
use std::time::Duration;

use herald_api::validate::{Validate, join_errors};
use herald_api::{ImageUpdate, ImageUpdateStatus, SourceRef, reasons};
use herald_automation::{Attempt, Mode, UpdateEnv, Updater};
use herald_engine::SourceError;
use herald_git::Remote;
use herald_store::NewEvent;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::conditions::{conditions, now};
use crate::context::Context;
use crate::error::{Error, KubeContext};
use crate::{caches, labels, sources, store_events};

/// What the engine reads in cluster mode: the caches (GitRepos and the Secrets they name) and
/// the store.
#[derive(Debug, Clone)]
pub struct ClusterEnv {
    pub ctx: Arc<Context>,
}

impl UpdateEnv for ClusterEnv {
    async fn remote(&self, namespace: &str, source: &SourceRef) -> Result<Remote, SourceError> {
        let loaded = sources::load(&self.ctx, namespace, source.kind, &source.name).await?;
        Ok(loaded.remote()?)
    }

    async fn record(&self, event: NewEvent) {
        store_events::record(&self.ctx, event).await;
    }
}

impl herald_engine::SecretReader for ClusterEnv {
    async fn secret_value(
        &self,
        namespace: &str,
        name: &str,
        key: &str,
    ) -> Result<Vec<u8>, SourceError> {
        self.ctx.caches.secrets.value(namespace, name, key).await
    }
}

/// What the ImageUpdate controller is handed.
#[derive(Debug)]
pub struct ImageContext {
    pub ctx: Arc<Context>,
    pub updater: Updater<ClusterEnv>,
}

/// Reconcile an ImageUpdate: invalid → Stalled; suspended → left alone; otherwise (on the
/// leader) an attempt, its status, and the next look.
pub async fn reconcile(
    update: Arc<ImageUpdate>,
    image: Arc<ImageContext>,
) -> Result<Action, Error> {
    let ctx = &image.ctx;
    if update.spec.suspend {
        return Ok(Action::await_change());
    }
    let previous = update.status.clone().unwrap_or_default();
    if let Err(errors) = update.validate() {
        let message = join_errors(&errors);
        let next = status(
            &update,
            &previous,
            false,
            true,
            reasons::INVALID_SPEC,
            &message,
        );
        write_status(ctx, &update, &previous, next).await?;
        return Ok(Action::await_change());
    }
    if !ctx.leadership.is_leader() {
        return Ok(Action::requeue(ctx.config.lease_renew));
    }
    let attempt = image.updater.attempt(&update, Mode::Push).await;
    let mut next = status(
        &update,
        &previous,
        attempt.ready(),
        false,
        attempt.reason,
        &attempt.report.message,
    );
    record_attempt(&mut next, &attempt);
    write_status(ctx, &update, &previous, next).await?;
    let interval = Updater::<ClusterEnv>::interval(&update.spec);
    Ok(Action::requeue(attempt.retry_after.unwrap_or(interval)))
}

/// Conditions and generation, with the rest kept from `previous`.
fn status(
    update: &ImageUpdate,
    previous: &ImageUpdateStatus,
    ready: bool,
    stalled: bool,
    reason: &str,
    message: &str,
) -> ImageUpdateStatus {
    let generation = update.metadata.generation;
    ImageUpdateStatus {
        conditions: conditions(
            &previous.conditions,
            ready,
            stalled,
            reason,
            message,
            generation,
        ),
        observed_generation: generation,
        last_handled_reconcile_at: caches::requested_at(update)
            .map(str::to_owned)
            .or_else(|| previous.last_handled_reconcile_at.clone()),
        ..previous.clone()
    }
}

fn record_attempt(status: &mut ImageUpdateStatus, attempt: &Attempt) {
    if let Some(tag) = &attempt.latest_tag {
        status.latest_tag = Some(tag.clone());
    }
    if let Some(commit) = &attempt.report.commit {
        status.last_commit = Some(commit.clone());
        status.last_update_time = Some(now());
    }
}

/// Server-side apply the status, unless it says nothing new (an attempt that found the
/// manifests up to date, again, writes nothing).
async fn write_status(
    ctx: &Context,
    update: &ImageUpdate,
    previous: &ImageUpdateStatus,
    next: ImageUpdateStatus,
) -> Result<(), Error> {
    if &next == previous {
        return Ok(());
    }
    let api: Api<ImageUpdate> =
        Api::namespaced(ctx.client.clone(), &update.namespace().unwrap_or_default());
    let patch = json!({
        "apiVersion": herald_api::API_VERSION,
        "kind": "ImageUpdate",
        "status": next,
    });
    let params = PatchParams::apply(labels::FIELD_MANAGER).force();
    api.patch_status(&update.name_any(), &params, &Patch::Apply(&patch))
        .await
        .step("writing an ImageUpdate's status")?;
    Ok(())
}

/// Transient errors (the API server) retry after a pause.
pub fn error_policy(update: Arc<ImageUpdate>, error: &Error, image: Arc<ImageContext>) -> Action {
    crate::error::count_reconcile_error(&image.ctx.metrics, "ImageUpdate", error);
    tracing::warn!(name = %update.name_any(), namespace = ?update.namespace(), %error, "ImageUpdate reconcile failed; retrying");
    Action::requeue(Duration::from_secs(5))
}
