//! The local engine: turns firings into stored runs and runs them as processes.

use std::path::PathBuf;
use std::sync::Arc;

use herald_api::{RunPhase, TriggerKind, reasons};
use herald_core::hooks::Push;
use herald_core::{Firing, RunContext, SourceChoiceError, run_env};
use herald_engine::{
    Created, Outcome, RefLister, RunStore, SourceError, SourceReader, TriggerDef, current_revision,
    fire_sources,
};
use herald_server::Metrics;
use herald_store::{NewRun, RunOutcome, RunRecord, Store, TriggerKey};
use tokio::sync::{Semaphore, watch};
use tracing::Instrument;

use crate::admission::{Admissions, Entered};
use crate::catalog::Catalog;
use crate::graph_run::{GraphRun, ResolvedEnv};
use crate::resolve;
use herald_core::steps::StepGraph;

/// Settings of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Where temporary checkouts are made.
    pub work_root: PathBuf,
    /// How many runs may execute at once.
    pub max_parallel: usize,
    /// Where runs created are counted (the server's `/metrics`).
    pub metrics: Metrics,
    /// How many ref listings may run at once, and how long each may take.
    pub git_concurrency: usize,
    pub git_timeout: std::time::Duration,
}

/// A request to fire one trigger.
#[derive(Debug, Clone)]
pub struct FireRequest {
    pub kind: TriggerKind,
    pub namespace: String,
    pub name: String,
    /// One source by name, or every source of the trigger.
    pub source: Option<String>,
    pub firing: Firing,
    /// Ref updates a hook's payload reported; `None` to look the watched refs up.
    pub pushes: Option<Vec<Push>>,
    /// How old a listing of the refs may be (see [`herald_engine::TriggerDef`]); zero asks
    /// the remote now.
    pub listing_max_age: std::time::Duration,
}

/// What happened for one source of a firing.
#[derive(Debug, Clone)]
pub enum SourceOutcome {
    /// A new run was stored.
    Created(RunRecord),
    /// The same change had already created this run.
    Existing(RunRecord),
    /// Nothing to do (e.g. revision already seen with `onChangeOnly`).
    Skipped { source: String, reason: String },
    /// This source could not be checked; others still were.
    Failed { source: String, error: String },
}

/// Why a re-run could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RerunError {
    #[error("run {0} is still {1}; re-run it once it has finished")]
    NotFinished(String, RunPhase),
    #[error("the run's action cannot be read: {0}")]
    Definition(String),
    #[error(transparent)]
    Step(#[from] herald_core::steps::RerunError),
    #[error(transparent)]
    Store(#[from] herald_store::StoreError),
}

/// Why a firing could not start at all.
#[derive(Debug, thiserror::Error)]
pub enum FireError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    /// A hook to a trigger with several sources that is not `multiSource` named none.
    #[error("the trigger fires one source at a time; name the source")]
    SourceRequired,
    /// The trigger has `spec.suspend: true`; nothing fires it, not even by hand.
    #[error("{0} is suspended (spec.suspend: true); set it to false to fire it")]
    Suspended(String),
}

/// Cheap to clone; all clones share one store, catalog and set of run slots.
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    admissions: Arc<Admissions>,
    catalog: watch::Receiver<Arc<Catalog>>,
    slots: Semaphore,
    lister: RefLister,
    /// Which sources were seen failing: a source that starts failing is a `source.failed`
    /// event once.
    source_health: herald_engine::SourceHealth,
    /// When each trigger last checked and checks next, for the dashboard.
    check_times: crate::check_times::CheckTimes,
    config: EngineConfig,
    /// The trace context (`traceparent`) each new run was created in, until it executes:
    /// its `run` span continues that trace. Empty when traces are off.
    traces: RunTraces,
}

/// `traceparent` by run id, from the run's creation to its execution (normally right after,
/// in the same process). Bounded: runs stored and never executed here (`herald trigger
/// --no-wait`'s, or a fire API caller's) cannot make it grow without end.
#[derive(Debug, Default)]
struct RunTraces(std::sync::Mutex<std::collections::HashMap<herald_store::RunId, String>>);

impl RunTraces {
    const MAX: usize = 4096;

    /// Keeps the current span's context for run `id`, when traces are on.
    fn keep(&self, id: herald_store::RunId) {
        let Some(traceparent) = herald_telemetry::traceparent() else {
            return;
        };
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.len() >= Self::MAX {
            map.clear();
        }
        map.insert(id, traceparent);
    }

    fn take(&self, id: herald_store::RunId) -> Option<String> {
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if map.is_empty() {
            return None;
        }
        map.remove(&id)
    }
}

impl Engine {
    pub fn new(store: Store, catalog: watch::Receiver<Arc<Catalog>>, config: EngineConfig) -> Self {
        let slots = Semaphore::new(config.max_parallel.max(1));
        let lister = RefLister::new(config.git_concurrency, config.git_timeout)
            .reporting_waits_in(config.metrics.git_listings_waiting.clone());
        Self {
            inner: Arc::new(Inner {
                store,
                admissions: Arc::new(Admissions::reporting_in(config.metrics.runs_queued.clone())),
                catalog,
                slots,
                lister,
                source_health: herald_engine::SourceHealth::default(),
                check_times: Default::default(),
                config,
                traces: RunTraces::default(),
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The current definitions.
    /// Which sources failed at their last check.
    pub fn source_health(&self) -> &herald_engine::SourceHealth {
        &self.inner.source_health
    }

    /// When each trigger last checked and checks next.
    pub fn check_times(&self) -> &crate::check_times::CheckTimes {
        &self.inner.check_times
    }

    pub fn catalog(&self) -> Arc<Catalog> {
        self.inner.catalog.borrow().clone()
    }

    /// Look at each source of a trigger and store a run where one is due (the engine's one
    /// fire path). Runs are only stored here; call [`Engine::execute`] or [`Engine::spawn`] to
    /// run them.
    pub async fn fire(&self, request: &FireRequest) -> Result<Vec<SourceOutcome>, FireError> {
        let outcomes = self.fire_each(request).await?;
        Ok(outcomes.into_iter().map(SourceOutcome::from).collect())
    }

    /// [`Engine::fire`], each source's outcome as the engine gives it.
    pub(crate) async fn fire_each(
        &self,
        request: &FireRequest,
    ) -> Result<Vec<(String, Outcome<RunRecord>)>, FireError> {
        let catalog = self.catalog();
        let trigger = catalog
            .trigger(request.kind, &request.namespace, &request.name)
            .ok_or_else(|| {
                FireError::NotFound(format!(
                    "{} {}/{} not found",
                    request.kind, request.namespace, request.name
                ))
            })?;
        if trigger.suspended {
            let named = format!("{} {}/{}", trigger.kind, trigger.namespace, trigger.name);
            return Err(FireError::Suspended(named));
        }
        if catalog.action(trigger.namespace, trigger.action).is_none() {
            return Err(FireError::NotFound(format!(
                "{} {} named by {} {}/{} not found",
                trigger.action.kind,
                trigger.action.name,
                request.kind,
                request.namespace,
                request.name
            )));
        }
        let def = TriggerDef {
            kind: trigger.kind,
            namespace: trigger.namespace,
            name: trigger.name,
            sources: trigger.sources,
            action: trigger.action,
            listing_max_age: request.listing_max_age,
        };
        // A hook delivery names one source unless the trigger is `multiSource`; schedules and
        // hand firings cover all when they name none.
        let all_allowed = !matches!(request.firing, Firing::Delivery(_)) || trigger.multi_source;
        let now = jiff::Timestamp::now();
        (self.inner.check_times).checked(request.kind, &request.namespace, &request.name, now);
        fire_sources(
            &LocalRuns {
                store: &self.inner.store,
                traces: &self.inner.traces,
                source_health: &self.inner.source_health,
            },
            &CatalogSources(&catalog, &self.inner.lister),
            &self.inner.config.metrics,
            &def,
            request.source.as_deref(),
            all_allowed,
            &request.firing,
            request.pushes.as_deref(),
        )
        .await
        .map_err(|e| match e {
            SourceChoiceError::OneAtATime => FireError::SourceRequired,
            SourceChoiceError::Unknown { .. } => FireError::BadRequest(format!(
                "{} {}/{} {e}",
                trigger.kind, trigger.namespace, trigger.name
            )),
        })
    }

    /// Run a stored run to its end, recording each transition. Waits for a free slot first.
    /// A run already `Running` (found so at start-up, with steps recorded) resumes from its
    /// stored steps.
    pub async fn execute(&self, run: RunRecord) -> Result<RunRecord, herald_store::StoreError> {
        let span = self.run_span(&run);
        let entered = self.enter(&run);
        self.execute_entered(run, entered).instrument(span).await
    }

    /// The span `run` a run executes in: a child of the span that created it when that was
    /// in this process (traces on), else the root of its own trace.
    fn run_span(&self, run: &RunRecord) -> tracing::Span {
        let span = tracing::info_span!(parent: None, "run", run = %run.name, run_id = run.id);
        if let Some(traceparent) = self.inner.traces.take(run.id) {
            herald_telemetry::set_parent(&span, &traceparent);
        }
        span
    }

    /// Asks the run's action for a place (`concurrency`), in call order: `spawn` asks before
    /// its task starts, so runs queue in the order they were spawned.
    fn enter(&self, run: &RunRecord) -> Entered {
        let catalog = self.catalog();
        let action_ref = herald_api::ActionRef {
            kind: run.action_kind,
            name: run.action.clone(),
        };
        let limit = catalog
            .action(&run.namespace, &action_ref)
            .and_then(|d| d.concurrency.clone());
        let namespace = match run.action_kind {
            herald_api::ActionKind::Action => run.namespace.clone(),
            herald_api::ActionKind::ClusterAction => String::new(),
        };
        let key = (namespace, run.action_kind, run.action.clone());
        let admissions = &self.inner.admissions;
        if run.phase == RunPhase::Running {
            return Entered::Started(admissions.resume(key, run.id, limit.is_some()));
        }
        admissions.enter(key, run.id, limit.as_ref())
    }

    async fn execute_entered(
        &self,
        run: RunRecord,
        entered: Entered,
    ) -> Result<RunRecord, herald_store::StoreError> {
        let store = &self.inner.store;
        let ticket = match entered {
            Entered::Started(ticket) => ticket,
            Entered::Skipped(message) => {
                let skipped = outcome(
                    RunPhase::Skipped,
                    reasons::RUN_CONCURRENCY_LIMIT,
                    message,
                    None,
                    None,
                );
                return store.finish_run(run.id, &skipped).await;
            }
            Entered::Waiting(waiting) => {
                let message = "waiting for a run of the same action to finish (concurrency)";
                store
                    .transition(
                        run.id,
                        RunPhase::Pending,
                        reasons::RUN_QUEUED,
                        Some(message),
                    )
                    .await?;
                waiting.admitted().await
            }
        };
        let _slot = self.inner.slots.acquire().await;
        // A resumed run, or a re-run, has steps recorded already.
        let recorded = store.run_steps(run.id).await?;
        let run = if run.phase == RunPhase::Running {
            run
        } else {
            let started = store
                .transition(run.id, RunPhase::Running, reasons::RUN_STARTED, None)
                .await?;
            let waited = jiff::Timestamp::now().duration_since(started.created_at);
            let metrics = &self.inner.config.metrics;
            metrics
                .run_start_latency
                .observe(waited.as_secs_f64().max(0.0));
            started
        };
        let outcome = self
            .run_to_end(&run, &recorded, ticket.halt.clone())
            .await?;
        // Recorded as finished before its place is given up, so the next run starts after.
        let finished = store.finish_run(run.id, &outcome).await;
        drop(ticket);
        if let Ok(done) = &finished {
            self.observe_end(done);
        }
        finished
    }

    /// `herald_run_duration_seconds{phase}`: from the run's creation to its end.
    fn observe_end(&self, run: &RunRecord) {
        let end = run.finished_at.unwrap_or_else(jiff::Timestamp::now);
        let seconds = end.duration_since(run.created_at).as_secs_f64().max(0.0);
        let labels = herald_server::PhaseLabels {
            phase: run.phase.to_string(),
        };
        let metrics = &self.inner.config.metrics;
        metrics.run_duration.get_or_create(&labels).observe(seconds);
    }

    /// A new run of `original` (finished) that keeps the recorded result and outputs of the
    /// steps before `from` that succeeded, and runs `from`, what needs it, and `finally`
    /// again. Stored, not executed: call [`Engine::execute`].
    pub async fn rerun(
        &self,
        original: &herald_store::RunDetail,
        from: &str,
    ) -> Result<RunRecord, RerunError> {
        let old = &original.run;
        if !old.phase.is_terminal() {
            return Err(RerunError::NotFinished(old.name.clone(), old.phase));
        }
        let catalog = self.catalog();
        let action_ref = herald_api::ActionRef {
            kind: old.action_kind,
            name: old.action.clone(),
        };
        let definition = catalog.action(&old.namespace, &action_ref).ok_or_else(|| {
            RerunError::Definition(format!("{} {} not found", old.action_kind, old.action))
        })?;
        let graph = StepGraph::new(definition)
            .map_err(|e| RerunError::Definition(herald_api::validate::join_errors(&e)))?;
        let recorded = |name: &str| original.steps.iter().find(|s| s.name == name);
        let reused =
            herald_core::steps::reused_steps(&graph, from, |name| recorded(name).map(|s| s.phase))?;
        let occasion = format!("rerun/{}/{from}/{}", old.name, crate::unique_id());
        let new = NewRun {
            name: herald_core::run_name(
                &old.trigger,
                &old.source,
                &old.revision,
                herald_api::RunCause::Manual,
                Some(&occasion),
            ),
            namespace: old.namespace.clone(),
            trigger: TriggerKey {
                kind: old.trigger_kind,
                namespace: old.namespace.clone(),
                name: old.trigger.clone(),
            },
            source_kind: old.source_kind,
            source: old.source.clone(),
            git_ref: old.git_ref.clone(),
            revision: old.revision.clone(),
            action_kind: old.action_kind,
            action: old.action.clone(),
            cause: herald_api::RunCause::Manual,
            record_last_seen: false,
        };
        let store = &self.inner.store;
        let run = store.create_run(&new).await?.into_record();
        let message = format!("re-run of run {} ({}) from step {from}", old.id, old.name);
        let run = store
            .transition(
                run.id,
                RunPhase::Pending,
                reasons::RUN_RERUN,
                Some(&message),
            )
            .await?;
        let kept = format!("kept from run {} ({})", old.id, old.name);
        for i in reused {
            let name = &graph.nodes()[i].step.name;
            let Some(step) = recorded(name) else { continue };
            let change = herald_store::StepChange {
                name,
                position: i,
                from: RunPhase::Pending,
                to: RunPhase::Succeeded,
                attempt: step.attempt,
                reason: reasons::STEP_REUSED,
                message: Some(&kept),
                exit_code: step.exit_code,
                outputs: Some(&step.outputs),
                output: step.output.as_deref(),
            };
            store.record_step(&run, &change).await?;
        }
        Ok(run)
    }

    /// [`Engine::execute`] in the background, logging the result.
    pub fn spawn(&self, run: RunRecord) {
        let engine = self.clone();
        let span = self.run_span(&run);
        let entered = self.enter(&run);
        let task = async move {
            let name = run.name.clone();
            match engine.execute_entered(run, entered).await {
                Ok(done) => tracing::info!(run = %name, phase = %done.phase, "run finished"),
                Err(e) => tracing::error!(run = %name, error = %e, "run could not be recorded"),
            }
        };
        tokio::spawn(task.instrument(span));
    }

    async fn run_to_end(
        &self,
        run: &RunRecord,
        recorded: &[herald_store::StepRecord],
        halt: tokio::sync::watch::Receiver<Option<herald_core::steps::Halt>>,
    ) -> Result<RunOutcome, herald_store::StoreError> {
        let catalog = self.catalog();
        let (remote, graph, run_env, step_env) = match prepare(&catalog, run) {
            Ok(parts) => parts,
            Err(message) => {
                return Ok(outcome(
                    RunPhase::Failed,
                    reasons::RUN_INVALID_DEFINITION,
                    message,
                    None,
                    None,
                ));
            }
        };
        let elapsed = run
            .started_at
            .map(|at| jiff::Timestamp::now().duration_since(at))
            .and_then(|d| std::time::Duration::try_from(d).ok())
            .unwrap_or_default();
        GraphRun {
            store: &self.inner.store,
            run: run.clone(),
            graph,
            remote,
            work_root: &self.inner.config.work_root,
            run_env,
            step_env,
        }
        .drive(recorded, elapsed, halt)
        .await
    }

    /// At start-up: a step that was running when Herald stopped is failed as interrupted
    /// (it may have had effects, so it never runs twice), and its run resumes: the step runs
    /// again only as a new attempt when it has retries left. A run that was running with no
    /// step recorded is failed the same way; one stored but never started is run now.
    pub async fn recover(&self) -> Result<usize, herald_store::StoreError> {
        let store = &self.inner.store;
        let mut resumed = 0;
        for run in store.runs_in_phases(&[RunPhase::Running]).await? {
            let steps = store.run_steps(run.id).await?;
            if !steps.is_empty() {
                interrupt_steps(store, &run, &steps).await?;
                self.spawn(run);
                resumed += 1;
                continue;
            }
            let message = "Herald stopped while this run was executing; it is not run again";
            store
                .finish_run(
                    run.id,
                    &outcome(
                        RunPhase::Failed,
                        reasons::RUN_INTERRUPTED,
                        message.into(),
                        None,
                        None,
                    ),
                )
                .await?;
        }
        let pending = store.runs_in_phases(&[RunPhase::Pending]).await?;
        resumed += pending.len();
        for run in pending {
            self.spawn(run);
        }
        Ok(resumed)
    }
}

/// Local mode's run state: rows of the store, which records a run and its trigger's last
/// seen revision in one transaction.
struct LocalRuns<'a> {
    store: &'a Store,
    /// Where a created run's trace context waits for its execution.
    traces: &'a RunTraces,
    source_health: &'a herald_engine::SourceHealth,
}

impl RunStore for LocalRuns<'_> {
    type Run = RunRecord;
    type Error = herald_store::StoreError;

    async fn last_seen(
        &self,
        trigger: &TriggerDef<'_>,
        source: &str,
    ) -> Result<Option<String>, Self::Error> {
        let key = TriggerKey {
            kind: trigger.kind,
            namespace: trigger.namespace.to_owned(),
            name: trigger.name.to_owned(),
        };
        self.store.last_seen(&key, source).await
    }

    async fn create(&self, run: &NewRun) -> Result<Created<RunRecord>, Self::Error> {
        Ok(match self.store.create_run(run).await? {
            herald_store::Created::New(run) => {
                // Within the engine's `create_run` span: where the run's trace goes on.
                self.traces.keep(run.id);
                Created::New(run)
            }
            herald_store::Created::Existing(run) => Created::Existing(run),
        })
    }

    fn source_health(&self) -> &herald_engine::SourceHealth {
        self.source_health
    }

    async fn record_event(&self, event: herald_store::NewEvent) {
        if let Err(error) = self.store.record_event(&event).await {
            tracing::warn!(kind = %event.kind, %error, "could not record an event in the store");
        }
    }
}

/// Local mode's sources: the catalog's definitions and Secrets, listed without cloning.
struct CatalogSources<'a>(&'a Catalog, &'a RefLister);

impl SourceReader for CatalogSources<'_> {
    async fn current(
        &self,
        trigger: &TriggerDef<'_>,
        source: &str,
        reference: &herald_api::GitReference,
    ) -> Result<herald_core::Selected, SourceError> {
        let kind = trigger.sources.kind;
        let remote = resolve::source(self.0, trigger.namespace, kind, source)?;
        let max_age = trigger.listing_max_age;
        current_revision(self.1, &remote, reference, max_age)
            .await
            .map_err(|e| SourceError::new(e.reason(), format!("{kind} {source}: {e}")))
    }

    fn suspended(&self, trigger: &TriggerDef<'_>, source: &str) -> bool {
        let kind = trigger.sources.kind;
        self.0.source_suspended(trigger.namespace, kind, source)
    }
}

impl From<(String, Outcome<RunRecord>)> for SourceOutcome {
    fn from((source, outcome): (String, Outcome<RunRecord>)) -> Self {
        match outcome {
            Outcome::Created(run) => Self::Created(run),
            Outcome::Existing(run) => Self::Existing(run),
            Outcome::Skipped(reason) => Self::Skipped { source, reason },
            Outcome::Failed(failure) => Self::Failed {
                source,
                error: failure.to_string(),
            },
        }
    }
}

type Prepared = (
    herald_git::Remote,
    StepGraph,
    Vec<(String, String)>,
    Vec<Result<ResolvedEnv, String>>,
);

/// Resolve what a stored run needs from the current definitions.
fn prepare(catalog: &Catalog, run: &RunRecord) -> Result<Prepared, String> {
    let source = resolve::source(catalog, &run.namespace, run.source_kind, &run.source)
        .map_err(|e| e.to_string())?;
    let action_ref = herald_api::ActionRef {
        kind: run.action_kind,
        name: run.action.clone(),
    };
    let definition = catalog
        .action(&run.namespace, &action_ref)
        .ok_or_else(|| format!("{} {} not found", run.action_kind, run.action))?;
    let graph = StepGraph::new(definition).map_err(|e| herald_api::validate::join_errors(&e))?;
    let env: Vec<(String, String)> = run_env(&RunContext {
        run: &run.name,
        namespace: &run.namespace,
        trigger_kind: &run.trigger_kind.to_string(),
        trigger: &run.trigger,
        source_kind: &run.source_kind.to_string(),
        source: &run.source,
        git_ref: run.git_ref.as_deref(),
        revision: &run.revision,
        cause: &run.cause.to_string(),
    })
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    let step_env = graph
        .nodes()
        .iter()
        .map(|node| resolve::step_env(catalog, &run.namespace, &node.step.env))
        .collect();
    Ok((source, graph, env, step_env))
}

/// Fails each step found running after a restart, as interrupted.
async fn interrupt_steps(
    store: &Store,
    run: &RunRecord,
    steps: &[herald_store::StepRecord],
) -> Result<(), herald_store::StoreError> {
    for step in steps.iter().filter(|s| s.phase == RunPhase::Running) {
        let change = herald_store::StepChange {
            name: &step.name,
            position: step.position,
            from: RunPhase::Running,
            to: RunPhase::Failed,
            attempt: step.attempt,
            reason: reasons::RUN_INTERRUPTED,
            message: Some("Herald stopped while this step was running; it is not run again"),
            exit_code: None,
            outputs: None,
            output: None,
        };
        store.record_step(run, &change).await?;
    }
    Ok(())
}

fn outcome(
    phase: RunPhase,
    reason: &str,
    message: String,
    exit_code: Option<i32>,
    output: Option<String>,
) -> RunOutcome {
    RunOutcome {
        phase,
        reason: reason.to_owned(),
        message: Some(message),
        exit_code,
        output,
    }
}
