//! The store's side of cluster mode: Runs and their resources are the live view, the store
//! the long memory. Writing to it is best effort: a Run is durable in the API server already,
//! so a store outage is logged, never a reason to fail a reconcile.

use herald_api::{Run, RunPhase};
use herald_store::{EventKind, NewEvent};
use kube::ResourceExt;

use crate::context::Context;

/// Appends `event` to the store, if there is one.
pub async fn record(ctx: &Context, event: NewEvent) {
    let Some(store) = &ctx.config.store else {
        return;
    };
    if let Err(e) = store.record_event(&event).await {
        tracing::warn!(kind = %event.kind, error = %e, "could not record an event in the store");
    }
}

/// What every event about `run` says: where, for which trigger, source and revision.
fn about(run: &Run, kind: EventKind) -> NewEvent {
    NewEvent {
        namespace: run.namespace(),
        trigger: Some(run.spec.trigger.name.clone()),
        source: Some(run.spec.source.name.clone()),
        revision: Some(run.spec.revision.clone()),
        involved_kind: Some("Run".into()),
        involved_namespace: run.namespace(),
        involved_name: Some(run.name_any()),
        ..NewEvent::new(kind)
    }
}

/// `run` was created for a revision its trigger had not seen for its source.
pub fn detected(run: &Run) -> NewEvent {
    NewEvent::revision_detected(
        &run.namespace().unwrap_or_default(),
        &run.spec.trigger.name,
        &run.spec.source.name,
        run.spec.git_ref.as_deref(),
        &run.spec.revision,
    )
}

/// A move of `run` or of one of its steps, in the shape local mode's store writes: the phase,
/// and for a step the step, attempt and phase left, in the payload.
pub fn moved(run: &Run, moved: &herald_api::RunTransition) -> NewEvent {
    let severity = if matches!(moved.phase, RunPhase::Failed | RunPhase::TimedOut) {
        "error"
    } else {
        "info"
    };
    let message = moved.message.as_deref().unwrap_or_default();
    let mut payload = serde_json::json!({
        "phase": moved.phase,
        "triggerKind": run.spec.trigger.kind,
        "sourceKind": run.spec.source.kind,
        "actionKind": run.spec.action.kind,
        "action": run.spec.action.name,
    });
    if let Some(step) = &moved.step {
        payload["step"] = step.clone().into();
        payload["attempt"] = moved.attempt.into();
        payload["from"] = serde_json::json!(moved.from);
    }
    NewEvent {
        reason: moved.reason.clone(),
        severity: Some(severity.into()),
        message: Some(message.chars().take(1000).collect()),
        payload: Some(payload),
        ..about(run, EventKind::RunTransition)
    }
}
