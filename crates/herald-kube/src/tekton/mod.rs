//! The Tekton custom task `FluxRevisionWait` (`herald.dev/v1alpha1`): a `CustomRun`
//! (tekton.dev/v1beta1) or `Run` (tekton.dev/v1alpha1) naming it succeeds once Flux reports
//! its `revision` reconciled, and fails when Flux reports a failure, when its timeout passes
//! or when it is cancelled. Flux's word comes from its events in the store and from the
//! status of its Kustomizations and HelmReleases. Without Tekton's kinds in the cluster the
//! controller does not run.

mod custom_run;
mod flux_status;
mod signal;
mod status;

use std::sync::Arc;
use std::time::Duration;

use herald_core::flux::FluxOutcome;
use jiff::Timestamp;
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::discovery::Discovery;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::{Value, json};

pub use custom_run::{TASK_API_VERSION, TASK_KIND};

use crate::context::Context;
use crate::error::{Error, KubeContext, is_conflict};
use custom_run::{Flavour, Task, WaitRequest};
use flux_status::FluxKinds;
use status::{Decision, INVALID_REASON, SUCCEEDED_REASON, next_status, start_time};

/// How often the cluster is asked again whether it serves Tekton's kinds, while it does not.
const TEKTON_DISCOVERY_INTERVAL: Duration = Duration::from_secs(300);
/// The shortest pause before a pending run looks again.
const MIN_REQUEUE: Duration = Duration::from_millis(200);

/// What the custom task's reconciler is handed.
#[derive(Debug)]
pub struct TaskContext {
    operator: Arc<Context>,
    flavour: Flavour,
    flux_kinds: Arc<FluxKinds>,
}

/// Run a controller for each Tekton kind the cluster serves, once it serves any; until then,
/// say so once and look again now and then.
pub async fn run(client: Client, ctx: Arc<Context>) {
    let flavours = served_flavours(&client).await;
    let flux_kinds = Arc::new(FluxKinds::default());
    let controllers = flavours.into_iter().map(|flavour| {
        let resource = flavour.api_resource();
        let api: Api<DynamicObject> = match &ctx.config.watch_namespace {
            Some(namespace) => Api::namespaced_with(client.clone(), namespace, &resource),
            None => Api::all_with(client.clone(), &resource),
        };
        crate::error::count_reconcile_errors_from_zero(&ctx.metrics, flavour.kind());
        let task = Arc::new(TaskContext {
            operator: ctx.clone(),
            flavour,
            flux_kinds: flux_kinds.clone(),
        });
        let stream = Controller::new_with(api, watcher::Config::default(), resource).run(
            reconcile,
            error_policy,
            task,
        );
        crate::operator::drain(flavour.kind(), stream)
    });
    futures::future::join_all(controllers).await;
}

/// The Tekton kinds served, waiting until there is at least one.
async fn served_flavours(client: &Client) -> Vec<Flavour> {
    let mut told = false;
    loop {
        match discover_tekton(client).await {
            Ok(found) if !found.is_empty() => {
                let kinds: Vec<&str> = found.iter().map(|f| f.kind()).collect();
                tracing::info!(?kinds, "serving the Tekton custom task FluxRevisionWait");
                return found;
            }
            Ok(_) if !told => {
                tracing::info!(
                    "Tekton's CustomRun and Run kinds are not served: the FluxRevisionWait \
                     custom task is off until they are"
                );
                told = true;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not discover Tekton's kinds; retrying"),
        }
        tokio::time::sleep(TEKTON_DISCOVERY_INTERVAL).await;
    }
}

async fn discover_tekton(client: &Client) -> Result<Vec<Flavour>, Error> {
    let discovery = Discovery::new(client.clone())
        .filter(&["tekton.dev"])
        .run()
        .await
        .step("discovering Tekton's kinds")?;
    let Some(group) = discovery.get("tekton.dev") else {
        return Ok(Vec::new());
    };
    let served = Flavour::ALL.into_iter().filter(|flavour| {
        let gvk = flavour.gvk();
        group
            .versioned_resources(&gvk.version)
            .iter()
            .any(|(resource, _)| resource.kind == gvk.kind)
    });
    Ok(served.collect())
}

/// Reconcile one CustomRun or Run: leave others' alone, finished ones too; otherwise decide
/// and write the status when it changed.
async fn reconcile(run: Arc<DynamicObject>, ctx: Arc<TaskContext>) -> Result<Action, Error> {
    let Some(task) = custom_run::read(ctx.flavour, &run) else {
        return Ok(Action::await_change());
    };
    let previous = run.data.get("status").cloned().unwrap_or(Value::Null);
    if matches!(status::succeeded_status(&previous), Some("True" | "False")) {
        return Ok(Action::await_change());
    }
    // Whole seconds, as `startTime` is written: the deadline then reads the same every time.
    let now = Timestamp::from_second(Timestamp::now().as_second()).unwrap_or(Timestamp::UNIX_EPOCH);
    let started = start_time(&previous).unwrap_or(now);
    let (decision, left) = decide(&ctx, &task, started, now).await;
    write(&run, &ctx, &previous, &decision, started, now).await?;
    if decision.is_done() {
        return Ok(Action::await_change());
    }
    let interval = ctx.operator.config.flux_wait_interval;
    let pause = left.map_or(interval, |left| left.min(interval));
    Ok(Action::requeue(pause.max(MIN_REQUEUE)))
}

/// Where the run stands, and how long it has left (`None`: no limit).
async fn decide(
    ctx: &TaskContext,
    task: &Task,
    started: Timestamp,
    now: Timestamp,
) -> (Decision, Option<Duration>) {
    let failed = |reason: &str, message: String| Decision::Done {
        succeeded: false,
        reason: reason.to_owned(),
        message,
        results: Vec::new(),
    };
    if let Some(message) = &task.cancelled {
        return (
            failed(ctx.flavour.cancelled_reason(), message.clone()),
            None,
        );
    }
    let (request, timeout) = match (&task.request, &task.timeout) {
        (Ok(request), Ok(timeout)) => (request, *timeout),
        (Err(e), _) | (_, Err(e)) => return (failed(INVALID_REASON, e.clone()), None),
    };
    let elapsed = Duration::try_from(now.duration_since(started)).unwrap_or_default();
    let left = timeout.map(|t| t.saturating_sub(elapsed));
    let decision = match signal::flux_outcome(ctx, request).await {
        FluxOutcome::Ready { object, message } => Decision::Done {
            succeeded: true,
            reason: SUCCEEDED_REASON.into(),
            message: format!("{object}: {message}"),
            results: vec![("flux-object", object), ("message", message)],
        },
        FluxOutcome::Failed {
            object,
            reason,
            message,
        } => Decision::Done {
            succeeded: false,
            message: format!("{object}: {message}"),
            results: vec![
                ("flux-object", object),
                ("reason", reason.clone()),
                ("message", message),
            ],
            reason,
        },
        FluxOutcome::Pending if left.is_some_and(|l| l.is_zero()) => failed(
            ctx.flavour.timed_out_reason(),
            format!(
                "Flux reported no outcome for revision {} within {:?}",
                request.revision,
                timeout.unwrap_or_default()
            ),
        ),
        FluxOutcome::Pending => Decision::Running {
            message: waiting_message(request),
        },
    };
    (decision, left)
}

fn waiting_message(request: &WaitRequest) -> String {
    let narrowed: Vec<String> = [
        ("kind", &request.kind),
        ("namespace", &request.namespace),
        ("name", &request.name),
    ]
    .into_iter()
    .filter_map(|(key, value)| value.as_ref().map(|v| format!("{key} {v}")))
    .collect();
    let from = if narrowed.is_empty() {
        String::new()
    } else {
        format!(" (from {})", narrowed.join(", "))
    };
    format!(
        "waiting for Flux to reconcile revision {}{from}",
        request.revision
    )
}

/// Merge-patch the status subresource when it changed. The patch carries the resourceVersion
/// read, so a stale view never overwrites a newer status: on a conflict the newer object
/// arrives through the watch and is reconciled again.
async fn write(
    run: &DynamicObject,
    ctx: &TaskContext,
    previous: &Value,
    decision: &Decision,
    started: Timestamp,
    now: Timestamp,
) -> Result<(), Error> {
    let Some(fields) = next_status(previous, decision, run.metadata.generation, started, now)
    else {
        return Ok(());
    };
    let resource = ctx.flavour.api_resource();
    let namespace = run.namespace().unwrap_or_default();
    let api: Api<DynamicObject> =
        Api::namespaced_with(ctx.operator.client.clone(), &namespace, &resource);
    let patch = json!({
        "metadata": {"resourceVersion": run.resource_version()},
        "status": fields,
    });
    let written = api
        .patch_status(
            &run.name_any(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await;
    match written {
        Err(e) if is_conflict(&e) => {
            tracing::debug!(name = %run.name_any(), "status changed meanwhile; reconciling the newer one");
            return Ok(());
        }
        other => other.step("writing the run's status")?,
    };
    if let Decision::Done {
        succeeded,
        reason,
        message,
        ..
    } = decision
    {
        tracing::info!(kind = ctx.flavour.kind(), %namespace, name = %run.name_any(), succeeded, %reason, "FluxRevisionWait finished");
        publish(run, ctx, *succeeded, reason, message).await;
    }
    Ok(())
}

async fn publish(
    run: &DynamicObject,
    ctx: &TaskContext,
    succeeded: bool,
    reason: &str,
    message: &str,
) {
    let event = Event {
        type_: if succeeded {
            EventType::Normal
        } else {
            EventType::Warning
        },
        reason: reason.to_owned(),
        note: Some(message.chars().take(1000).collect()),
        action: "WaitForFlux".into(),
        secondary: None,
    };
    let reference = run.object_ref(&ctx.flavour.api_resource());
    if let Err(e) = ctx.operator.recorder().publish(&event, &reference).await {
        tracing::warn!(name = %run.name_any(), error = %e, "could not publish an Event");
    }
}

/// Transient errors retry after a pause.
fn error_policy(run: Arc<DynamicObject>, error: &Error, ctx: Arc<TaskContext>) -> Action {
    crate::error::count_reconcile_error(&ctx.operator.metrics, ctx.flavour.kind(), error);
    tracing::warn!(kind = ctx.flavour.kind(), name = %run.name_any(), category = error.category(), %error, "reconcile failed; retrying");
    Action::requeue(Duration::from_secs(5))
}
