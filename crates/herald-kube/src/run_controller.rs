//! The Run controller: one Job per step attempt, followed to the end, every transition of the
//! Run and of its steps recorded.

use std::sync::Arc;
use std::time::Duration;

use herald_api::{ActionDefinition, ActionKind, Run, RunPhase, RunStatus, RunTransition, reasons};
use herald_core::steps::StepGraph;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ContainerStateTerminated, Pod, Secret};
use kube::api::{DeleteParams, ListParams, LogParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Resource, ResourceExt};
use prometheus_client::metrics::gauge::Gauge;
use serde_json::json;

use crate::caches;
use crate::context::Context;
use crate::credentials::credentials_secret;
use crate::error::{Error, KubeContext, is_conflict};
use crate::job::{JobInputs, build_job};
use crate::labels;
use crate::run_status::{Observed, job_phase, next_status};
use crate::run_steps::{self, Seen, SeenJob};
use crate::sources::{self, get};
use crate::store_events;

/// Lines of pod log kept as the output excerpt.
const LOG_TAIL_LINES: i64 = 100;

/// Reconcile one Run: fold its Jobs into its steps, let the scheduler say what follows, create
/// or delete the Jobs that makes, and write the status once.
/// Traced as the span `reconcile_run`, in the trace of the firing that created the Run
/// (its `herald.dev/traceparent`) when traces are on.
pub async fn reconcile(run: Arc<Run>, ctx: Arc<Context>) -> Result<Action, Error> {
    let span = tracing::info_span!(parent: None, "reconcile_run", run = %run.name_any());
    let traceparent = crate::caches::annotation(&*run, crate::job::TRACEPARENT_ANNOTATION);
    if let Some(traceparent) = traceparent {
        herald_telemetry::set_parent(&span, traceparent);
    }
    tracing::Instrument::instrument(reconcile_pass(run, ctx), span).await
}

async fn reconcile_pass(run: Arc<Run>, ctx: Arc<Context>) -> Result<Action, Error> {
    let phase = run.status.as_ref().and_then(|s| s.phase);
    if phase.is_some_and(RunPhase::is_terminal) {
        if let Some(from) = crate::caches::annotation(&*run, crate::caches::RERUN_ANNOTATION) {
            create_rerun(&run, &ctx, from).await?;
        }
        return Ok(Action::await_change());
    }
    // The Action and the source come from the caches: not before they hold what exists.
    ctx.caches.wait_until_ready().await;
    let namespace = run.namespace().unwrap_or_default();
    let definition = match load_action(&ctx, &namespace, &run.spec.action) {
        Ok(definition) => definition,
        Err(e @ (Error::Missing { .. } | Error::Invalid(_))) => {
            return fail_before_launch(&run, &ctx, &e).await;
        }
        Err(e) => return Err(e),
    };
    let graph = StepGraph::new(&definition)
        .map_err(|e| Error::Invalid(herald_api::validate::join_errors(&e)))?;
    let started = (run.status.iter()).any(|s| s.phase == Some(RunPhase::Running));
    if !started && let Some(limit) = &definition.concurrency {
        if let Some(action) = admit_run(&run, &ctx, limit).await? {
            return Ok(action);
        }
    }
    // A Run without a phase has no Job yet: its first Job is created without a read first.
    let (jobs, logs) = match phase {
        Some(_) => seen_jobs(&ctx, &namespace, &run).await?,
        None => (Vec::new(), Vec::new()),
    };
    // Only an attempt read just now (not yet recorded finished) has outputs to check.
    let secrets =
        if (jobs.iter()).any(|j| j.phase == RunPhase::Succeeded && j.termination.is_some()) {
            step_secrets(&ctx, &namespace, &graph).await?
        } else {
            Vec::new()
        };
    let secret_refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
    // A re-run's first pass starts from the steps it keeps of the Run it re-runs.
    let kept;
    let previous = match (&run.spec.rerun_of, run.status.as_ref()) {
        (Some(rerun), None) => match rerun_start(&ctx, &run, &graph, rerun) {
            Ok(status) => {
                kept = status;
                Some(&kept)
            }
            Err(e) => return fail_before_launch(&run, &ctx, &e).await,
        },
        (_, status) => status,
    };
    let mut pass = run_steps::pass(
        &graph,
        &Seen {
            previous,
            jobs: &jobs,
            secrets: &secret_refs,
            generation: run.metadata.generation,
            now: crate::conditions::now(),
            cancel: crate::caches::cancel_requested(&*run),
        },
    );
    let status = pass.status.as_ref().or(run.status.as_ref());
    if !pass.create.is_empty() {
        let launched = launch(&run, &ctx, &definition, &graph, status, &pass.create).await;
        match launched {
            Ok(()) if phase.is_none() => observe_start(&ctx, &run),
            Ok(()) => {}
            Err(e @ (Error::Missing { .. } | Error::Invalid(_))) => {
                return fail_before_launch(&run, &ctx, &e).await;
            }
            Err(e) => return Err(e),
        }
    }
    let jobs_api: Api<Job> = Api::namespaced(ctx.client.clone(), &namespace);
    for name in &pass.delete {
        let params = DeleteParams::background();
        match jobs_api.delete(name, &params).await {
            Ok(_) => {}
            Err(e) if crate::error::is_not_found(&e) => {}
            Err(e) => return Err(e).step("deleting a cancelled step's Job"),
        }
    }
    if let Some(next) = &mut pass.status {
        read_log_tails(&ctx, &namespace, next, &logs).await;
        patch_status(&run, &ctx, next).await?;
        publish_moves(&run, &ctx, &pass.added).await;
        if next.phase.is_some_and(RunPhase::is_terminal) {
            observe_end(&ctx, &run, next.phase);
            crate::history::prune(&ctx, &run).await?;
        }
    }
    // Job changes wake this Run (the controller owns Jobs); the requeue is for retries'
    // backoffs and the action's timeout, else a safety net.
    let safety = Duration::from_secs(300);
    Ok(Action::requeue(
        pass.wake_after.map_or(safety, |w| w.min(safety)),
    ))
}

/// `herald_run_duration_seconds{phase}` when this pass ended the Run: from its creation.
fn observe_end(ctx: &Context, run: &Run, phase: Option<RunPhase>) {
    let (Some(phase), Some(created)) = (phase, run.metadata.creation_timestamp.as_ref()) else {
        return;
    };
    if phase_of(run).is_some_and(RunPhase::is_terminal) {
        return;
    }
    let seconds = jiff::Timestamp::now()
        .duration_since(created.0)
        .as_secs_f64();
    let labels = herald_server::PhaseLabels {
        phase: phase.to_string(),
    };
    let histogram = ctx.metrics.run_duration.get_or_create(&labels);
    histogram.observe(seconds.max(0.0));
}

/// `concurrency` for a Run not started yet, from the Run cache: `None` to go on, else what
/// the reconcile ends with (it waits, queued; it was skipped). Runs not started that are older
/// count as executing for `Forbid` and `Replace`, and as ahead in the queue for `Queue`, so
/// two Runs reconciled at once never both start.
async fn admit_run(
    run: &Run,
    ctx: &Context,
    limit: &herald_api::Concurrency,
) -> Result<Option<Action>, Error> {
    use herald_core::steps::{Admission, admit};
    let key = |r: &Run| {
        let created = r.metadata.creation_timestamp.as_ref().map(|t| t.0);
        (created, r.name_any())
    };
    let mine = key(run);
    let peers: Vec<Arc<Run>> = (ctx.caches.runs.state().into_iter())
        .filter(|r| same_action(r, run) && r.name_any() != run.name_any())
        .filter(|r| !phase_of(r).is_some_and(RunPhase::is_terminal))
        .collect();
    let is_running = |r: &Run| phase_of(r) == Some(RunPhase::Running);
    let mut running: Vec<&Arc<Run>> = peers.iter().filter(|r| is_running(r)).collect();
    running.sort_by_key(|r| key(r));
    let waiting_before = (peers.iter())
        .filter(|r| !is_running(r) && key(r) < mine)
        .count();
    let decision = match limit.policy {
        herald_api::ConcurrencyPolicy::Queue => admit(Some(limit), running.len(), waiting_before),
        _ => admit(Some(limit), running.len() + waiting_before, 0),
    };
    let message =
        |what: &str| format!("{what} (concurrency.max {}, {:?})", limit.max, limit.policy);
    match decision {
        Admission::Start => Ok(None),
        Admission::Skip { message } => {
            let observed = Observed {
                phase: RunPhase::Skipped,
                ..Observed::failed_before_launch(reasons::RUN_CONCURRENCY_LIMIT, message)
            };
            record(run, ctx, &observed).await?;
            Ok(Some(Action::await_change()))
        }
        Admission::Wait | Admission::Replace => {
            if decision == Admission::Replace
                && let Some(oldest) = running
                    .iter()
                    .find(|r| crate::caches::cancel_requested(r.as_ref()).is_none())
            {
                let why = format!("replaced by Run {}", run.name_any());
                request_cancel(ctx, oldest, &why).await?;
            }
            if !is_queued(run) {
                let observed = Observed {
                    phase: RunPhase::Pending,
                    ..Observed::failed_before_launch(
                        reasons::RUN_QUEUED,
                        message("waiting for a Run of the same action to finish"),
                    )
                };
                record(run, ctx, &observed).await?;
            }
            // A peer's end wakes this Run (`woken_by`); the requeue only covers a wake lost
            // while the watch was restarting.
            Ok(Some(Action::requeue(QUEUED_RECHECK)))
        }
    }
}

/// How often a queued Run looks again without being woken.
const QUEUED_RECHECK: Duration = Duration::from_secs(300);

/// The queued Runs that a change of one Run may let start: when it has ended or is gone, the
/// Runs of its action waiting in the queue. Read from the cache, which already holds the
/// change; each woken Run decides for itself with `admit_run`.
pub fn woken_by(
    cache: &kube::runtime::reflector::Store<Run>,
    event: &kube::runtime::watcher::Event<Run>,
) -> Vec<ObjectRef<Run>> {
    use kube::runtime::watcher::Event;
    let freed = match event {
        Event::Apply(run) if phase_of(run).is_some_and(RunPhase::is_terminal) => run,
        Event::Delete(run) => run,
        _ => return Vec::new(),
    };
    let mut queued: Vec<Arc<Run>> = (cache.state().into_iter())
        .filter(|r| same_action(r, freed) && is_queued(r))
        .collect();
    queued.sort_by_key(|r| r.metadata.creation_timestamp.as_ref().map(|t| t.0));
    queued
        .iter()
        .map(|r| ObjectRef::from_obj(r.as_ref()))
        .collect()
}

fn phase_of(run: &Run) -> Option<RunPhase> {
    run.status.as_ref().and_then(|s| s.phase)
}

/// How often `herald_runs_queued` is counted from the Run cache.
const QUEUED_COUNT_EVERY: Duration = Duration::from_secs(10);

/// Keeps `gauge` (`herald_runs_queued`) at the number of queued Runs in `cache`, counted
/// every ten seconds: one pass over cached objects, never an API call, and right again after
/// a watch restart, which a count kept from watch events would not be.
pub async fn count_queued(cache: kube::runtime::reflector::Store<Run>, gauge: Gauge) {
    let mut every = tokio::time::interval(QUEUED_COUNT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        let queued = cache.state().iter().filter(|run| is_queued(run)).count();
        gauge.set(i64::try_from(queued).unwrap_or(i64::MAX));
    }
}

/// Whether `run` waits for a Run of its action to finish (`concurrency`).
fn is_queued(run: &Run) -> bool {
    let status = run.status.as_ref();
    let reason = status
        .and_then(|s| s.conditions.first())
        .map(|c| c.reason.as_str());
    phase_of(run) == Some(RunPhase::Pending) && reason == Some(reasons::RUN_QUEUED)
}

/// Whether two Runs run the same action: of one namespace, or the same ClusterAction.
fn same_action(a: &Run, b: &Run) -> bool {
    a.spec.action == b.spec.action
        && (a.spec.action.kind == ActionKind::ClusterAction || a.namespace() == b.namespace())
}

/// A new Run re-running `run` from step `from`, named from both, so asking twice makes one.
async fn create_rerun(run: &Run, ctx: &Context, from: &str) -> Result<(), Error> {
    let spec = &run.spec;
    let occasion = format!("rerun/{}/{from}", run.name_any());
    let name = herald_core::run_name(
        &spec.trigger.name,
        &spec.source.name,
        &spec.revision,
        herald_api::RunCause::Manual,
        Some(&occasion),
    );
    let spec = herald_api::RunSpec {
        cause: herald_api::RunCause::Manual,
        rerun_of: Some(herald_api::RerunOf {
            run: run.name_any(),
            from: from.to_owned(),
        }),
        ..spec.clone()
    };
    let rerun = Run {
        metadata: kube::api::ObjectMeta {
            name: Some(name.clone()),
            namespace: run.namespace(),
            labels: Some(crate::job::run_labels(&name, &spec)),
            owner_references: run.metadata.owner_references.clone(),
            ..kube::api::ObjectMeta::default()
        },
        spec,
        status: None,
    };
    let api: Api<Run> = Api::namespaced(ctx.client.clone(), &run.namespace().unwrap_or_default());
    create_or_keep(&api, &rerun, "creating a re-run").await?;
    Ok(())
}

/// The status a re-run starts from: the kept steps of the Run it re-runs.
fn rerun_start(
    ctx: &Context,
    run: &Run,
    graph: &StepGraph,
    rerun: &herald_api::RerunOf,
) -> Result<RunStatus, Error> {
    let namespace = run.namespace().unwrap_or_default();
    let old = caches::namespaced(&ctx.caches.runs, &namespace, &rerun.run).ok_or_else(|| {
        Error::Invalid(format!(
            "the Run it re-runs, {}, no longer exists",
            rerun.run
        ))
    })?;
    run_steps::rerun_status(graph, &old, &rerun.from, crate::conditions::now())
        .map_err(|e| Error::Invalid(e.to_string()))
}

/// Asks `victim`'s controller to halt it (the annotation wakes it).
async fn request_cancel(ctx: &Context, victim: &Run, why: &str) -> Result<(), Error> {
    let api: Api<Run> =
        Api::namespaced(ctx.client.clone(), &victim.namespace().unwrap_or_default());
    let patch = json!({ "metadata": { "annotations": { crate::caches::CANCEL_ANNOTATION: why } } });
    api.patch(
        &victim.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .step("asking a Run to stop")?;
    tracing::info!(run = %victim.name_any(), why, "run replaced");
    Ok(())
}

/// How long a new Run waits for its Action or source to show in the caches before it fails:
/// they are applied together, and each kind's watch sees them in its own time.
const MISSING_GRACE: Duration = Duration::from_secs(30);

/// A Run whose Action or source cannot be used: Failed, with the reason, before any Job; or,
/// while it is young and what it names is only missing, looked at again shortly.
async fn fail_before_launch(run: &Run, ctx: &Context, e: &Error) -> Result<Action, Error> {
    let age = run
        .metadata
        .creation_timestamp
        .as_ref()
        .and_then(|t| Duration::try_from(jiff::Timestamp::now().duration_since(t.0)).ok())
        .unwrap_or(MISSING_GRACE);
    if matches!(e, Error::Missing { .. }) && age < MISSING_GRACE {
        tracing::debug!(run = %run.name_any(), error = %e, "not in the caches yet; looking again");
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    let observed = Observed::failed_before_launch(e.category(), e.to_string());
    record(run, ctx, &observed).await?;
    Ok(Action::await_change())
}

/// Create the credentials Secret (if any) and the Jobs of the step attempts due now.
async fn launch(
    run: &Run,
    ctx: &Context,
    definition: &ActionDefinition,
    graph: &StepGraph,
    status: Option<&RunStatus>,
    due: &[(usize, u32)],
) -> Result<(), Error> {
    let namespace = run.namespace().unwrap_or_default();
    let source =
        sources::load(ctx, &namespace, run.spec.source.kind, &run.spec.source.name).await?;
    let secret_name =
        (!source.files.is_empty()).then(|| labels::credentials_secret_name(&run.name_any()));
    if !source.files.is_empty() {
        let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
        let secret = credentials_secret(run, &source.files);
        create_or_keep(&secrets, &secret, "creating the credentials Secret").await?;
    }
    let job_spec = definition.action_job.as_ref();
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &namespace);
    for &(step, attempt) in due {
        let node = &graph.nodes()[step];
        let job = build_job(
            run,
            &JobInputs {
                step: &node.step,
                attempt,
                timeout: node.timeout,
                needs_env: run_steps::needs_env_of(graph, status, step),
                service_account: job_spec
                    .and_then(|j| j.service_account.as_deref())
                    .or(definition.service_account.as_deref()),
                ttl_seconds_after_finished: job_spec.and_then(|j| j.ttl_seconds_after_finished),
                plan: &source.plan,
                credentials_secret: secret_name.as_deref(),
                cloner_image: job_spec
                    .and_then(|j| j.cloner_image.as_deref())
                    .or(definition.cloner_image.as_deref())
                    .unwrap_or(&ctx.config.cloner_image),
                default_service_account: &ctx.config.default_service_account,
            },
        );
        create_or_keep(&jobs, &job, "creating a step's Job").await?;
    }
    Ok(())
}

/// `herald_run_start_latency_seconds`: the Run's first Jobs exist; how long from the Run.
fn observe_start(ctx: &Context, run: &Run) {
    if let Some(created) = run.metadata.creation_timestamp.as_ref() {
        let waited = jiff::Timestamp::now().duration_since(created.0);
        let seconds = waited.as_secs_f64().max(0.0);
        ctx.metrics.run_start_latency.observe(seconds);
    }
}

/// The Pod of a finished attempt whose log tail is still to be read.
struct LogToRead {
    job: String,
    pod: String,
}

/// The Run's Jobs (found by label in the Job cache, never remembered), with the exit code and
/// termination message of each finished one, and the Pods whose logs to read once the next
/// Jobs exist.
async fn seen_jobs(
    ctx: &Context,
    namespace: &str,
    run: &Run,
) -> Result<(Vec<SeenJob>, Vec<LogToRead>), Error> {
    let run_name = run.name_any();
    let jobs = (ctx.caches.jobs.state().into_iter()).filter(|job| {
        job.namespace().as_deref() == Some(namespace)
            && job.labels().get(labels::RUN) == Some(&run_name)
    });
    let mut seen = Vec::new();
    let mut logs = Vec::new();
    for job in jobs {
        let job_labels = job.labels();
        // A Job from before steps existed is the actionJob's one attempt.
        let step = job_labels
            .get(labels::STEP)
            .cloned()
            .unwrap_or_else(|| herald_api::ACTION_JOB_STEP.to_owned());
        let attempt = job_labels
            .get(labels::ATTEMPT)
            .and_then(|a| a.parse().ok())
            .unwrap_or(1);
        let known_finished = (run.status.iter()).flat_map(|s| &s.steps).any(|s| {
            s.name == step && s.attempt == i32::try_from(attempt).ok() && s.phase.is_terminal()
        });
        // A finished attempt already recorded needs no Pod read again.
        let (observed, log) = observe(ctx, namespace, &job, step, attempt, !known_finished).await?;
        seen.push(observed);
        logs.extend(log);
    }
    Ok((seen, logs))
}

/// Replaces the excerpt of each attempt in `logs` (its termination message, which a Pod with
/// no kubelet left is all there is) with its log tail. Read after the next steps' Jobs are
/// created: a log read is one more API round trip, and it must not delay the hand-over.
async fn read_log_tails(
    ctx: &Context,
    namespace: &str,
    status: &mut RunStatus,
    logs: &[LogToRead],
) {
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), namespace);
    let params = LogParams {
        container: Some("action".into()),
        tail_lines: Some(LOG_TAIL_LINES),
        ..LogParams::default()
    };
    for log in logs {
        let Some(step) =
            (status.steps.iter_mut()).find(|s| s.job_name.as_deref() == Some(&log.job))
        else {
            continue;
        };
        match pods.logs(&log.pod, &params).await {
            Ok(tail) if !tail.is_empty() => step.output_excerpt = Some(tail),
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(pod = %log.pod, error = %e, "no log tail; keeping the termination message")
            }
        }
    }
}

/// The secret values the steps' `env` takes from Secrets, which their outputs must not carry.
async fn step_secrets(
    ctx: &Context,
    namespace: &str,
    graph: &StepGraph,
) -> Result<Vec<String>, Error> {
    let mut values = Vec::new();
    let refs = (graph.nodes().iter())
        .filter(|n| !n.step.outputs.is_empty())
        .flat_map(|n| &n.step.env)
        .filter_map(|var| var.value_from.as_ref()?.secret_key_ref.as_ref());
    for key_ref in refs {
        let Some(secret) = ctx.caches.secrets.get(namespace, &key_ref.name).await? else {
            continue;
        };
        let value = (secret.data.as_ref())
            .and_then(|d| d.get(&key_ref.key))
            .and_then(|v| String::from_utf8(v.0.clone()).ok());
        values.extend(value);
    }
    Ok(values)
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

/// What the Action or ClusterAction a Run names runs, validated, from the caches.
pub fn load_action(
    ctx: &Context,
    namespace: &str,
    action: &herald_api::ActionRef,
) -> Result<ActionDefinition, Error> {
    use herald_api::validate::join_errors;
    let (definition, validated) = cached_action(ctx, namespace, action)?;
    match validated {
        Err(errors) => Err(Error::Invalid(format!(
            "{} {} is invalid: {}",
            action.kind,
            action.name,
            join_errors(&errors)
        ))),
        Ok(()) => Ok(definition),
    }
}

/// The Action or ClusterAction `action` names, as the caches hold it now, with what its
/// validation found; `Missing` (`ActionNotFound`) when the caches have none.
pub fn cached_action(
    ctx: &Context,
    namespace: &str,
    action: &herald_api::ActionRef,
) -> Result<
    (
        ActionDefinition,
        Result<(), Vec<herald_api::validate::FieldError>>,
    ),
    Error,
> {
    use herald_api::validate::Validate;
    let found = match action.kind {
        ActionKind::Action => caches::namespaced(&ctx.caches.actions, namespace, &action.name)
            .map(|a| (a.spec.definition.clone(), a.validate())),
        ActionKind::ClusterAction => caches::cluster(&ctx.caches.cluster_actions, &action.name)
            .map(|a| (a.spec.definition.clone(), a.validate())),
    };
    found.ok_or_else(|| {
        let message = match action.kind {
            ActionKind::Action => format!("Action {namespace}/{} not found", action.name),
            ActionKind::ClusterAction => format!("ClusterAction {} not found", action.name),
        };
        Error::missing(reasons::ACTION_NOT_FOUND, message)
    })
}

/// What the Job of `attempt` of `step` shows and, when `read_pod` and it has ended, its Pod's
/// exit code and termination message (also the excerpt until its log is read), with the Pod
/// whose log to read.
async fn observe(
    ctx: &Context,
    namespace: &str,
    job: &Job,
    step: String,
    attempt: u32,
    read_pod: bool,
) -> Result<(SeenJob, Option<LogToRead>), Error> {
    let (phase, reason, message) = job_phase(job);
    let job_name = job.name_any();
    let mut observed = SeenJob {
        step,
        attempt,
        name: job_name.clone(),
        phase,
        reason,
        message,
        exit_code: None,
        termination: None,
        excerpt: None,
    };
    if !(read_pod && phase.is_terminal()) {
        return Ok((observed, None));
    }
    let pods: Api<Pod> = Api::namespaced(ctx.client.clone(), namespace);
    let list = ended_pods(&pods, &job_name).await?;
    let Some(pod) = list.last() else {
        return Ok((observed, None));
    };
    let terminated = action_ended(pod);
    observed.exit_code = terminated.map(|t| t.exit_code);
    observed.termination = terminated.and_then(|t| t.message.clone());
    observed.excerpt.clone_from(&observed.termination);
    let log = LogToRead {
        job: job_name,
        pod: pod.name_any(),
    };
    Ok((observed, Some(log)))
}

/// The Pods of Job `job_name`, from the API server's watch cache when it already shows the
/// step container's end (the Job ended after its Pod did, so it almost always does), else
/// from etcd: a plain LIST by label reads every Pod of the namespace there, which made a
/// step's hand-over wait about 100 ms at 500 Runs. (Asking the cache for "not older than the
/// Job" does not work: a kind's watch cache moves only with its own objects' changes.)
async fn ended_pods(pods: &Api<Pod>, job_name: &str) -> Result<Vec<Pod>, Error> {
    let by_job = ListParams::default().labels(&format!("job-name={job_name}"));
    let cached = pods.list(&by_job.clone().match_any()).await;
    match cached {
        Ok(list) if list.items.last().and_then(action_ended).is_some() => Ok(list.items),
        _ => {
            let list = pods.list(&by_job).await.step("listing the Job's pods")?;
            Ok(list.items)
        }
    }
}

/// How the step's container (`action`) of `pod` ended, once it has.
fn action_ended(pod: &Pod) -> Option<&ContainerStateTerminated> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    let action = statuses.iter().find(|c| c.name == "action")?;
    action.state.as_ref()?.terminated.as_ref()
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
    let moved = RunTransition {
        step: None,
        attempt: None,
        from: None,
        phase: observed.phase,
        time: crate::conditions::now(),
        reason: Some(observed.reason.clone()),
        message: Some(observed.message.clone()),
    };
    publish_moves(run, ctx, std::slice::from_ref(&moved)).await;
}

/// A Kubernetes Event per move of the Run itself, and every move (the steps' too) in the
/// store, which keeps a Run's story after the Run is pruned.
async fn publish_moves(run: &Run, ctx: &Context, moves: &[RunTransition]) {
    for moved in moves {
        let message = moved.message.as_deref().unwrap_or_default();
        if moved.step.is_none() {
            let type_ = if moved.phase == RunPhase::Failed {
                EventType::Warning
            } else {
                EventType::Normal
            };
            let event = Event {
                type_,
                reason: moved.phase.to_string(),
                note: Some(message.chars().take(1000).collect()),
                action: "Reconcile".into(),
                secondary: None,
            };
            if let Err(e) = ctx.recorder().publish(&event, &run.object_ref(&())).await {
                tracing::warn!(run = %run.name_any(), error = %e, "could not publish an Event");
            }
        }
        store_events::record(ctx, store_events::moved(run, moved)).await;
    }
}
