//! The Run controller: launch the Run's Job, follow it to the end, record every transition.

use std::sync::Arc;
use std::time::Duration;

use herald_api::{ActionJob, ActionKind, Run, RunPhase, RunStatus, reasons};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod, Secret};
use kube::api::{ListParams, LogParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use crate::caches;
use crate::context::Context;
use crate::credentials::credentials_secret;
use crate::error::{Error, KubeContext, is_conflict};
use crate::job::{JobInputs, build_job};
use crate::labels;
use crate::run_status::{Observed, job_phase, next_status};
use crate::sources::{self, get};
use crate::store_events;

/// Lines of pod log kept as the output excerpt.
const LOG_TAIL_LINES: i64 = 100;

/// Reconcile one Run.
pub async fn reconcile(run: Arc<Run>, ctx: Arc<Context>) -> Result<Action, Error> {
    let phase = run.status.as_ref().and_then(|s| s.phase);
    if phase.is_some_and(RunPhase::is_terminal) {
        return Ok(Action::await_change());
    }
    // The Action and the source come from the caches: not before they hold what exists.
    ctx.caches.wait_until_ready().await;
    let namespace = run.namespace().unwrap_or_default();
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &namespace);
    // A Run without a phase has not been launched: its Job is created straight away (an
    // existing one is kept), saving a read on the path from a change to its Job.
    let job = match phase {
        Some(_) => get(&jobs, &run.name_any(), "reading the Run's Job").await?,
        None => None,
    };
    let job = match job {
        Some(job) => job,
        None => match launch(&run, &ctx, &jobs).await {
            Ok(job) => job,
            Err(e @ (Error::Missing { .. } | Error::Invalid(_))) => {
                let observed = Observed::failed_before_launch(e.category(), e.to_string());
                record(&run, &ctx, &observed).await?;
                return Ok(Action::await_change());
            }
            Err(e) => return Err(e),
        },
    };
    let observed = observe(&ctx, &namespace, &job).await?;
    record(&run, &ctx, &observed).await?;
    if observed.phase.is_terminal() {
        crate::history::prune(&ctx, &run).await?;
    }
    // Job changes wake this Run (the controller owns Jobs); the requeue is a safety net.
    Ok(Action::requeue(Duration::from_secs(300)))
}

/// Create the credentials Secret (if any) and the Job.
async fn launch(run: &Run, ctx: &Context, jobs: &Api<Job>) -> Result<Job, Error> {
    let namespace = run.namespace().unwrap_or_default();
    let action = load_action(ctx, &namespace, &run.spec.action)?;
    let source =
        sources::load(ctx, &namespace, run.spec.source.kind, &run.spec.source.name).await?;
    let secret_name =
        (!source.files.is_empty()).then(|| labels::credentials_secret_name(&run.name_any()));
    if !source.files.is_empty() {
        let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
        let secret = credentials_secret(run, &source.files);
        create_or_keep(&secrets, &secret, "creating the credentials Secret").await?;
    }
    let job = build_job(
        run,
        &JobInputs {
            action: &action,
            plan: &source.plan,
            credentials_secret: secret_name.as_deref(),
            cloner_image: &ctx.config.cloner_image,
            default_service_account: &ctx.config.default_service_account,
        },
    );
    create_or_keep(jobs, &job, "creating the Job").await
}

async fn create_or_keep<K>(api: &Api<K>, object: &K, step: &'static str) -> Result<K, Error>
where
    K: Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.create(&PostParams::default(), object).await {
        Ok(created) => Ok(created),
        Err(e) if is_conflict(&e) => Ok(get(api, &object.name_any(), step)
            .await?
            .unwrap_or_else(|| object.clone())),
        Err(e) => Err(e).step(step),
    }
}

/// The Action or ClusterAction a Run names, validated, from the caches.
pub fn load_action(
    ctx: &Context,
    namespace: &str,
    action: &herald_api::ActionRef,
) -> Result<ActionJob, Error> {
    use herald_api::validate::{Validate, join_errors};
    let (job, errors) = match action.kind {
        ActionKind::Action => {
            let found = caches::namespaced(&ctx.caches.actions, namespace, &action.name);
            let found = found.ok_or_else(|| {
                let message = format!("Action {namespace}/{} not found", action.name);
                Error::missing(reasons::ACTION_NOT_FOUND, message)
            })?;
            (runnable(&found.spec.definition), found.validate().err())
        }
        ActionKind::ClusterAction => {
            let found = caches::cluster(&ctx.caches.cluster_actions, &action.name);
            let found = found.ok_or_else(|| {
                let message = format!("ClusterAction {} not found", action.name);
                Error::missing(reasons::ACTION_NOT_FOUND, message)
            })?;
            (runnable(&found.spec.definition), found.validate().err())
        }
    };
    match errors {
        Some(errors) => Err(Error::Invalid(format!(
            "{} {} is invalid: {}",
            action.kind,
            action.name,
            join_errors(&errors)
        ))),
        None => job.map_err(|e| Error::Invalid(format!("{} {}: {e}", action.kind, action.name))),
    }
}

fn runnable(
    definition: &herald_api::ActionDefinition,
) -> Result<ActionJob, herald_api::validate::FieldError> {
    crate::resource_controller::single_job(definition).cloned()
}

/// What the Job and its Pod show, with the exit code and output once it has ended.
async fn observe(ctx: &Context, namespace: &str, job: &Job) -> Result<Observed, Error> {
    let (phase, reason, message) = job_phase(job);
    let job_name = job.name_any();
    let mut observed = Observed {
        phase,
        reason,
        message,
        exit_code: None,
        output: None,
        job_name: Some(job_name.clone()),
    };
    if phase.is_terminal() {
        let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), namespace);
        let list = pods
            .list(&ListParams::default().labels(&format!("job-name={job_name}")))
            .await
            .step("listing the Job's pods")?;
        if let Some(pod) = list.items.last() {
            let terminated = action_status(pod)
                .and_then(|s| s.state.as_ref())
                .and_then(|s| s.terminated.clone());
            observed.exit_code = terminated.as_ref().map(|t| t.exit_code);
            let logs = pods
                .logs(
                    &pod.name_any(),
                    &LogParams {
                        container: Some("action".into()),
                        tail_lines: Some(LOG_TAIL_LINES),
                        ..LogParams::default()
                    },
                )
                .await;
            // Without a kubelet (or once it is gone) the termination message is all there is.
            observed.output = logs
                .ok()
                .filter(|l| !l.is_empty())
                .or_else(|| terminated.and_then(|t| t.message));
        }
    }
    Ok(observed)
}

fn action_status(pod: &Pod) -> Option<&ContainerStatus> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == "action")
}

/// Write the next status (server-side apply) and an Event, when anything changed.
async fn record(run: &Run, ctx: &Context, observed: &Observed) -> Result<(), Error> {
    let previous = run.status.as_ref();
    let Some(status) = next_status(
        previous,
        observed,
        run.metadata.generation,
        crate::conditions::now(),
    ) else {
        return Ok(());
    };
    let phase_changed = previous.and_then(|s| s.phase) != status.phase;
    patch_status(run, ctx, &status).await?;
    if phase_changed {
        publish(run, ctx, observed).await;
    }
    Ok(())
}

async fn patch_status(run: &Run, ctx: &Context, status: &RunStatus) -> Result<(), Error> {
    let api: Api<Run> = Api::namespaced(ctx.client.clone(), &run.namespace().unwrap_or_default());
    let patch = json!({ "apiVersion": herald_api::API_VERSION, "kind": "Run", "status": status });
    let params = PatchParams::apply(labels::FIELD_MANAGER).force();
    api.patch_status(&run.name_any(), &params, &Patch::Apply(&patch))
        .await
        .step("writing the Run's status")?;
    Ok(())
}

async fn publish(run: &Run, ctx: &Context, observed: &Observed) {
    let type_ = if observed.phase == RunPhase::Failed {
        EventType::Warning
    } else {
        EventType::Normal
    };
    let event = Event {
        type_,
        reason: observed.phase.to_string(),
        note: Some(observed.message.chars().take(1000).collect()),
        action: "Reconcile".into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &run.object_ref(&())).await {
        tracing::warn!(run = %run.name_any(), error = %e, "could not publish an Event");
    }
    let transition =
        store_events::transition(run, observed.phase, &observed.reason, &observed.message);
    store_events::record(ctx, transition).await;
}
