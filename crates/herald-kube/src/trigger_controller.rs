//! ScheduleTrigger and WebhookTrigger controllers. Only the leader looks at sources on
//! schedule; every replica keeps webhook triggers' status (the hook path) current.

use std::sync::Arc;
use std::time::Duration;

use herald_api::reasons;
use herald_api::validate::{Validate, join_errors};
use herald_api::{CheckedSource, Run, ScheduleTrigger, TriggerKind, TriggerStatus, WebhookTrigger};
use herald_core::{Firing, Ticker, hooks};
use herald_engine::{Outcome, TriggerDef, fire_sources};
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use tracing::Instrument;

use crate::caches;
use crate::conditions::{conditions, now, with_condition};
use crate::context::Context;
use crate::error::{Error, KubeContext};
use crate::fire::{ClusterRuns, ClusterSources};
use crate::hook_registration;
use crate::hooks::resolve_auth;
use crate::labels;

/// Reconcile a ScheduleTrigger: when due, or asked to by a reconcile request not handled yet,
/// look at each source and create Runs. A suspended one is left as it is.
pub async fn reconcile_schedule(
    trigger: Arc<ScheduleTrigger>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    // As Flux: no check, and the status it has is kept; resuming changes the spec, and so
    // wakes this again.
    if trigger.spec.suspend {
        return Ok(Action::await_change());
    }
    let status = trigger.status.clone().unwrap_or_default();
    if let Err(errors) = trigger.validate() {
        write_status(
            &*trigger,
            &ctx,
            &stalled(&*trigger, status, &join_errors(&errors)),
        )
        .await?;
        return Ok(Action::await_change());
    }
    let ticker =
        Ticker::from_schedule(&trigger.spec.schedule).map_err(|e| Error::Invalid(e.to_string()))?;
    if !ctx.leadership.is_leader() {
        return Ok(Action::requeue(ctx.config.lease_renew));
    }
    let now_ts = Timestamp::now();
    // The last check is kept in memory; status has it only as of the last check that
    // changed something (enough after a restart to keep the schedule).
    let key = trigger.uid().unwrap_or_else(|| trigger.name_any());
    let last_checked = ctx.checks.get(&key);
    let last_checked = last_checked.or(status.last_checked.as_ref().map(|t| t.0));
    let created = trigger.creation_timestamp().map(|t| t.0);
    let due = ticker.due(last_checked, created, now_ts);
    let request = unhandled_request(&*trigger, &status);
    if due > now_ts && request.is_none() {
        return Ok(Action::requeue(until(due)));
    }
    let (namespace, name) = (trigger.namespace().unwrap_or_default(), trigger.name_any());
    let (firing, listing_max_age) = firing(request.as_deref(), due, &ticker);
    let def = TriggerDef {
        kind: TriggerKind::ScheduleTrigger,
        namespace: &namespace,
        name: &name,
        sources: &trigger.spec.sources,
        action: &trigger.spec.action,
        listing_max_age,
    };
    let owner = trigger.controller_owner_ref(&());
    // The root of the trace of the Runs this check creates, as a tick is in local mode.
    let tick = tracing::info_span!(parent: None, "tick", %namespace, trigger = %name);
    let mut next_status = check_sources(
        &ctx,
        &def,
        owner,
        &firing,
        status.clone(),
        trigger.metadata.generation,
    )
    .instrument(tick)
    .await;
    ctx.checks.set(key, now_ts);
    if let Some(requested_at) = request {
        tracing::info!(%namespace, trigger = %name, %requested_at, "reconcile request handled");
        next_status.last_handled_reconcile_at = Some(requested_at);
    }
    // A check that found nothing new writes nothing to the API server.
    if next_status != status {
        next_status.last_checked = Some(Time(now_ts));
        write_status(&*trigger, &ctx, &next_status).await?;
    }
    // After now, never in the past; after a request made before the due time, the schedule
    // goes on from this check.
    let next = ticker
        .next_after(now_ts)
        .map_err(|e| Error::Invalid(e.to_string()))?;
    Ok(Action::requeue(until(next)))
}

/// What a check fires as, and how old a listing may answer it. A request checks now whatever
/// the schedule, asking the remote now (a shared listing may predate the commit it was made
/// for); its value names the firing, so handling it twice (from a cache that has not seen the
/// status yet) is the same Run.
fn firing(request: Option<&str>, due: Timestamp, ticker: &Ticker) -> (Firing, Duration) {
    match request {
        Some(requested_at) => (Firing::Tick(requested_at.to_owned()), Duration::ZERO),
        None => (Firing::Tick(due.to_string()), ticker.listing_max_age()),
    }
}

/// The object's reconcile request (`reconcile.fluxcd.io/requestedAt`), unless its status
/// records it handled.
fn unhandled_request<K: Resource>(trigger: &K, status: &TriggerStatus) -> Option<String> {
    let requested = caches::requested_at(trigger)?;
    (status.last_handled_reconcile_at.as_deref() != Some(requested)).then(|| requested.to_owned())
}

/// Fire every source; record each Run's revision as seen, and every failure in the conditions.
pub async fn check_sources(
    ctx: &Context,
    def: &TriggerDef<'_>,
    owner: Option<OwnerReference>,
    firing: &Firing,
    mut status: TriggerStatus,
    generation: Option<i64>,
) -> TriggerStatus {
    let runs = ClusterRuns {
        ctx,
        owner,
        checked: &status.checked_sources.clone(),
    };
    // Every source, so the choice of sources cannot fail.
    let reader = ClusterSources(ctx);
    let outcomes = fire_sources(&runs, &reader, &ctx.metrics, def, None, true, firing, None)
        .await
        .unwrap_or_default();
    let mut failures = Vec::new();
    for (source, outcome) in outcomes {
        if let Outcome::Created(run) = &outcome {
            tracing::info!(trigger = %def.name, run = %run.name_any(), revision = %run.spec.revision, "run created");
        }
        match outcome {
            Outcome::Created(run) | Outcome::Existing(run) => {
                // Only now, with the Run stored, does the revision count as seen.
                if !matches!(run.spec.cause, herald_api::RunCause::Manual) {
                    status.checked_sources.insert(source, checked(&run));
                }
            }
            Outcome::Skipped(reason) => {
                tracing::debug!(trigger = %def.name, %source, %reason, "nothing to run");
            }
            Outcome::Failed(e) => failures.push((e.reason(), format!("{source}: {e}"))),
        }
    }
    let (ready, reason, message) = match failure_reason(&failures) {
        None => (
            true,
            reasons::CHECKED,
            format!("{} source(s) checked", def.sources.names.len()),
        ),
        Some(reason) => {
            let messages: Vec<_> = failures.into_iter().map(|(_, m)| m).collect();
            (false, reason, messages.join("; "))
        }
    };
    observe(&mut status, (ready, false), reason, &message, generation);
    status
}

/// The reason for a trigger whose sources failed: theirs when they agree (one source failing
/// says `AuthenticationFailed`, say), `SourceUnavailable` when they differ; `None` when none
/// failed.
fn failure_reason(failures: &[(&'static str, String)]) -> Option<&'static str> {
    let (first, _) = failures.first()?;
    let agree = failures.iter().all(|(reason, _)| reason == first);
    Some(if agree {
        first
    } else {
        reasons::SOURCE_UNAVAILABLE
    })
}

/// Sets the conditions for one outcome, `(ready, stalled)`, as observed at `generation`.
fn observe(
    status: &mut TriggerStatus,
    (ready, stalled): (bool, bool),
    reason: &str,
    message: &str,
    generation: Option<i64>,
) {
    let previous = &status.conditions;
    status.conditions = conditions(previous, ready, stalled, reason, message, generation);
    status.observed_generation = generation;
}

/// What a trigger's status records of the Run it created for a source.
pub(crate) fn checked(run: &Run) -> CheckedSource {
    CheckedSource {
        revision: run.spec.revision.clone(),
        git_ref: run.spec.git_ref.clone(),
        changed_at: Some(now()),
    }
}

fn until(at: Timestamp) -> Duration {
    Duration::try_from(at.duration_since(Timestamp::now()))
        .unwrap_or(Duration::ZERO)
        .max(Duration::from_millis(100))
}

/// How often a WebhookTrigger that cannot verify senders (its Secret missing, say) is looked
/// at again: Secrets are not watched, so this is how a fixed Secret is noticed.
const NOT_READY_RECHECK: Duration = Duration::from_secs(30);

/// Reconcile a WebhookTrigger: validate it, check it can verify senders, and publish the hook
/// paths to configure; a reconcile request is recorded handled with that check. A suspended
/// one is left as it is (its deliveries are answered 409 by the hook server).
pub async fn reconcile_webhook(
    trigger: Arc<WebhookTrigger>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    if trigger.metadata.deletion_timestamp.is_some() {
        return finalize_webhook(&trigger, &ctx).await;
    }
    if trigger.spec.suspend {
        return Ok(Action::await_change());
    }
    let mut status = trigger.status.clone().unwrap_or_default();
    if let Some(requested_at) = unhandled_request(&*trigger, &status) {
        tracing::info!(trigger = %trigger.name_any(), %requested_at, "reconcile request handled");
        status.last_handled_reconcile_at = Some(requested_at);
    }
    let generation = trigger.metadata.generation;
    let (namespace, name) = (trigger.namespace().unwrap_or_default(), trigger.name_any());
    let webhook = &trigger.spec.webhook;
    let (provider, sources) = (webhook.provider.into(), &trigger.spec.sources.names);
    status.hook_path = Some(hooks::hook_path_pattern(
        provider,
        &namespace,
        &name,
        sources,
        webhook.multi_source,
    ));
    let paths = hooks::hook_paths(provider, &namespace, &name, sources, webhook.multi_source);
    status.hook_paths = if paths.len() > 1 { paths } else { Vec::new() };
    if let Err(errors) = trigger.validate() {
        let status = stalled(&*trigger, status, &join_errors(&errors));
        write_status(&*trigger, &ctx, &status).await?;
        return Ok(Action::await_change());
    }
    let (ready, reason, message, next) = match resolve_auth(&ctx, &trigger).await? {
        Ok(_) => (
            true,
            reasons::ACCEPTING_HOOKS,
            "accepting hooks".to_owned(),
            Action::await_change(),
        ),
        Err(why) => (
            false,
            why.reason(),
            format!("{why}; hooks are answered 503 until this is fixed"),
            Action::requeue(NOT_READY_RECHECK),
        ),
    };
    let previous = status.conditions.clone();
    observe(&mut status, (ready, false), reason, &message, generation);
    let registration = register_hooks(&trigger, &ctx).await?;
    let registered = registration
        .as_ref()
        .map(|r| (r.ok, r.reason, r.message.as_str()));
    status.conditions = with_condition(
        std::mem::take(&mut status.conditions),
        &previous,
        reasons::HOOK_REGISTERED,
        registered,
        generation,
    );
    let retry = registration.as_ref().is_some_and(|r| !r.ok);
    status.registered_hooks = registration.map(|r| r.hooks).unwrap_or_default();
    write_status(&*trigger, &ctx, &status).await?;
    Ok(if retry {
        Action::requeue(NOT_READY_RECHECK)
    } else {
        next
    })
}

/// `webhook.register`'s hooks brought in step (`None` without it; hooks registered before it
/// was removed are let go).
async fn register_hooks(
    trigger: &WebhookTrigger,
    ctx: &Arc<Context>,
) -> Result<Option<herald_notify::registration::Registration>, Error> {
    if trigger.spec.webhook.register.is_some() {
        return hook_registration::register(ctx, trigger).await.map(Some);
    }
    if hook_registration::has_finalizer(trigger) {
        hook_registration::unregister(ctx, trigger).await?;
    }
    Ok(None)
}

/// A deleted trigger: its hooks removed at the host, then its finalizer.
async fn finalize_webhook(trigger: &WebhookTrigger, ctx: &Arc<Context>) -> Result<Action, Error> {
    if !hook_registration::has_finalizer(trigger) {
        return Ok(Action::await_change());
    }
    Ok(match hook_registration::unregister(ctx, trigger).await? {
        Some(again) => Action::requeue(again),
        None => Action::await_change(),
    })
}

fn stalled<K: Resource>(trigger: &K, mut status: TriggerStatus, message: &str) -> TriggerStatus {
    let generation = trigger.meta().generation;
    observe(
        &mut status,
        (false, true),
        reasons::INVALID_SPEC,
        message,
        generation,
    );
    status
}

/// Server-side apply `status` to a trigger, unless it is what the object already has.
pub async fn write_status<K>(
    trigger: &K,
    ctx: &Context,
    status: &TriggerStatus,
) -> Result<(), Error>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + HasTriggerStatus,
{
    if trigger.trigger_status() == Some(status) {
        return Ok(());
    }
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &trigger.namespace().unwrap_or_default());
    let patch =
        json!({ "apiVersion": K::api_version(&()), "kind": K::kind(&()), "status": status });
    let params = PatchParams::apply(labels::FIELD_MANAGER).force();
    api.patch_status(&trigger.name_any(), &params, &Patch::Apply(&patch))
        .await
        .step("writing a trigger's status")?;
    Ok(())
}

/// Access to the status both trigger kinds share.
pub trait HasTriggerStatus {
    fn trigger_status(&self) -> Option<&TriggerStatus>;
}

impl HasTriggerStatus for ScheduleTrigger {
    fn trigger_status(&self) -> Option<&TriggerStatus> {
        self.status.as_ref()
    }
}

impl HasTriggerStatus for WebhookTrigger {
    fn trigger_status(&self) -> Option<&TriggerStatus> {
        self.status.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trigger_says_why_its_sources_failed() {
        let failure = |reason| (reason, String::new());
        assert_eq!(failure_reason(&[]), None);
        let auth = [failure(reasons::AUTHENTICATION_FAILED)];
        assert_eq!(failure_reason(&auth), Some(reasons::AUTHENTICATION_FAILED));
        let same = [
            failure(reasons::REF_NOT_FOUND),
            failure(reasons::REF_NOT_FOUND),
        ];
        assert_eq!(failure_reason(&same), Some(reasons::REF_NOT_FOUND));
        let differ = [
            failure(reasons::HOST_KEY_UNKNOWN),
            failure(reasons::TLS_FAILED),
        ];
        assert_eq!(failure_reason(&differ), Some(reasons::SOURCE_UNAVAILABLE));
    }
}
