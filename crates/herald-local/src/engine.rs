//! The local engine: turns firings into stored runs and runs them as processes.

use std::path::PathBuf;
use std::sync::Arc;

use herald_api::{RunPhase, TriggerKind};
use herald_core::hooks::Push;
use herald_core::{
    Firing, RefTip, RunContext, RunPlan, SourceChoiceError, plan_run, run_env, run_name,
    select_pushed, select_revision, sources_to_fire, why_not_selected,
};
use herald_store::{Created, NewRun, RunOutcome, RunRecord, Store, TriggerKey};
use tokio::sync::{Semaphore, watch};

use crate::catalog::{Catalog, TriggerView};
use crate::executor::{ProcessSpec, run_process};
use crate::resolve::{self, ResolvedSource};

/// Settings of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Where temporary checkouts are made.
    pub work_root: PathBuf,
    /// How many runs may execute at once.
    pub max_parallel: usize,
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
}

/// Cheap to clone; all clones share one store, catalog and set of run slots.
#[derive(Debug, Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    catalog: watch::Receiver<Arc<Catalog>>,
    slots: Semaphore,
    config: EngineConfig,
}

impl Engine {
    pub fn new(store: Store, catalog: watch::Receiver<Arc<Catalog>>, config: EngineConfig) -> Self {
        let slots = Semaphore::new(config.max_parallel.max(1));
        Self {
            inner: Arc::new(Inner {
                store,
                catalog,
                slots,
                config,
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The current definitions.
    pub fn catalog(&self) -> Arc<Catalog> {
        self.inner.catalog.borrow().clone()
    }

    /// Look at each source of a trigger and store a run where one is due. Runs are only
    /// stored here; call [`Engine::execute`] or [`Engine::spawn`] to run them.
    pub async fn fire(&self, request: &FireRequest) -> Result<Vec<SourceOutcome>, FireError> {
        let catalog = self.catalog();
        let trigger = catalog
            .trigger(request.kind, &request.namespace, &request.name)
            .ok_or_else(|| {
                FireError::NotFound(format!(
                    "{} {}/{} not found",
                    request.kind, request.namespace, request.name
                ))
            })?;
        if catalog
            .action_job(trigger.namespace, trigger.action)
            .is_none()
        {
            return Err(FireError::NotFound(format!(
                "{} {} named by {} {}/{} not found",
                trigger.action.kind,
                trigger.action.name,
                request.kind,
                request.namespace,
                request.name
            )));
        }
        let names = selected_sources(&trigger, request)?;
        let mut outcomes = Vec::with_capacity(names.len());
        for name in names {
            outcomes.push(self.fire_source(&catalog, &trigger, &name, request).await);
        }
        Ok(outcomes)
    }

    async fn fire_source(
        &self,
        catalog: &Catalog,
        trigger: &TriggerView<'_>,
        source: &str,
        request: &FireRequest,
    ) -> SourceOutcome {
        let firing = &request.firing;
        let failed = |error: String| SourceOutcome::Failed {
            source: source.to_owned(),
            error,
        };
        let resolved =
            match resolve::source(catalog, trigger.namespace, trigger.sources.kind, source) {
                Ok(resolved) => resolved,
                Err(e) => return failed(e),
            };
        let selected = match revision_for(&resolved, &trigger.sources.watch_on, request).await {
            Ok(Ok(selected)) => selected,
            Ok(Err(reason)) => {
                return SourceOutcome::Skipped {
                    source: source.to_owned(),
                    reason,
                };
            }
            Err(e) => return failed(e),
        };
        let key = trigger_key(trigger);
        let on_change_only = trigger.sources.watch_on.on_change_only;
        let plan = match self
            .plan(&key, source, on_change_only, &selected.revision, firing)
            .await
        {
            Ok(Some(plan)) => plan,
            Ok(None) => {
                return SourceOutcome::Skipped {
                    source: source.to_owned(),
                    reason: format!("revision {} already seen", selected.revision),
                };
            }
            Err(e) => return failed(e),
        };
        let new = NewRun {
            name: run_name(
                trigger.name,
                source,
                &selected.revision,
                plan.identity,
                plan.occasion.as_deref(),
            ),
            namespace: trigger.namespace.to_owned(),
            trigger: key,
            source_kind: trigger.sources.kind,
            source: source.to_owned(),
            git_ref: selected.git_ref,
            revision: selected.revision,
            action_kind: trigger.action.kind,
            action: trigger.action.name.clone(),
            cause: plan.cause,
            record_last_seen: plan.records_last_seen,
        };
        match self.inner.store.create_run(&new).await {
            Ok(Created::New(run)) => SourceOutcome::Created(run),
            Ok(Created::Existing(run)) => SourceOutcome::Existing(run),
            Err(e) => failed(format!("could not store the run: {e}")),
        }
    }

    /// Plan a run for `revision`, reading the last seen revision only when it matters.
    async fn plan(
        &self,
        key: &TriggerKey,
        source: &str,
        on_change_only: bool,
        revision: &str,
        firing: &Firing,
    ) -> Result<Option<RunPlan>, String> {
        let seen = match (on_change_only, firing) {
            (true, Firing::Tick(_) | Firing::Delivery(_)) => self
                .inner
                .store
                .last_seen(key, source)
                .await
                .map_err(|e| e.to_string())?,
            _ => None,
        };
        Ok(plan_run(firing, on_change_only, seen.as_deref(), revision))
    }

    /// Run a stored run to its end, recording each transition. Waits for a free slot first.
    pub async fn execute(&self, run: RunRecord) -> Result<RunRecord, herald_store::StoreError> {
        let _slot = self.inner.slots.acquire().await;
        let store = &self.inner.store;
        let run = store
            .transition(run.id, RunPhase::Running, "Started", Some("checking out"))
            .await?;
        let outcome = self.run_to_end(&run).await;
        store.finish_run(run.id, &outcome).await
    }

    /// [`Engine::execute`] in the background, logging the result.
    pub fn spawn(&self, run: RunRecord) {
        let engine = self.clone();
        tokio::spawn(async move {
            let name = run.name.clone();
            match engine.execute(run).await {
                Ok(done) => tracing::info!(run = %name, phase = %done.phase, "run finished"),
                Err(e) => tracing::error!(run = %name, error = %e, "run could not be recorded"),
            }
        });
    }

    async fn run_to_end(&self, run: &RunRecord) -> RunOutcome {
        let catalog = self.catalog();
        let prepared = prepare(&catalog, run);
        let (source, job, env) = match prepared {
            Ok(parts) => parts,
            Err(message) => {
                return outcome(RunPhase::Failed, "InvalidDefinition", message, None, None);
            }
        };
        let result = run_process(ProcessSpec {
            job: &job,
            remote: &source.remote,
            git_ref: run.git_ref.as_deref(),
            revision: &run.revision,
            env,
            work_root: &self.inner.config.work_root,
        })
        .await;
        let phase = if result.succeeded {
            RunPhase::Succeeded
        } else {
            RunPhase::Failed
        };
        outcome(
            phase,
            result.reason,
            result.message,
            result.exit_code,
            Some(result.output),
        )
    }

    /// At start-up: a run that was executing when Herald stopped is failed (it may have had
    /// effects, so it is not run twice); a run that was stored but never started is run now.
    pub async fn recover(&self) -> Result<usize, herald_store::StoreError> {
        let store = &self.inner.store;
        for run in store.runs_in_phases(&[RunPhase::Running]).await? {
            let message = "Herald stopped while this run was executing; it is not run again";
            store
                .finish_run(
                    run.id,
                    &outcome(RunPhase::Failed, "Interrupted", message.into(), None, None),
                )
                .await?;
        }
        let pending = store.runs_in_phases(&[RunPhase::Pending]).await?;
        let resumed = pending.len();
        for run in pending {
            self.spawn(run);
        }
        Ok(resumed)
    }
}

fn trigger_key(trigger: &TriggerView<'_>) -> TriggerKey {
    TriggerKey {
        kind: trigger.kind,
        namespace: trigger.namespace.to_owned(),
        name: trigger.name.to_owned(),
    }
}

/// The sources a request covers. A hook delivery names one unless the trigger is
/// `multiSource`; schedules and hand firings cover all when they name none.
fn selected_sources(
    trigger: &TriggerView<'_>,
    request: &FireRequest,
) -> Result<Vec<String>, FireError> {
    let all_allowed = !matches!(request.firing, Firing::Delivery(_)) || trigger.multi_source;
    sources_to_fire(
        &trigger.sources.names,
        request.source.as_deref(),
        all_allowed,
    )
    .map_err(|e| match e {
        SourceChoiceError::OneAtATime => FireError::SourceRequired,
        SourceChoiceError::Unknown { .. } => FireError::BadRequest(format!(
            "{} {}/{} {e}",
            trigger.kind, trigger.namespace, trigger.name
        )),
    })
}

/// The revision to run: from the hook's payload when it reported pushes (`Ok(Err(reason))`
/// when none is for this trigger), else what the watched reference points at now.
async fn revision_for(
    source: &ResolvedSource,
    watch_on: &herald_api::WatchOn,
    request: &FireRequest,
) -> Result<Result<herald_core::Selected, String>, String> {
    let Some(pushes) = &request.pushes else {
        return current_revision(source, &watch_on.reference).await.map(Ok);
    };
    match select_pushed(&watch_on.reference, &watch_on.files, pushes) {
        Ok(Some(selected)) => Ok(Ok(selected)),
        Ok(None) => Ok(Err(why_not_selected(&watch_on.reference, pushes))),
        Err(e) => Err(format!("invalid file glob: {e}")),
    }
}

/// The revision the trigger's reference points at now: a pinned commit, or the remote's refs
/// listed without cloning.
async fn current_revision(
    source: &ResolvedSource,
    reference: &herald_api::GitReference,
) -> Result<herald_core::Selected, String> {
    let refs = if reference.commit.is_some() {
        Vec::new()
    } else {
        let remote = source.remote.clone();
        tokio::task::spawn_blocking(move || herald_git::list_refs(&remote))
            .await
            .map_err(|e| format!("listing refs failed: {e}"))?
            .map_err(|e| format!("cannot list refs of {} {}: {e}", source.kind, source.name))?
            .into_iter()
            .map(|r| RefTip {
                name: r.name,
                commit: r.commit,
            })
            .collect()
    };
    select_revision(reference, &refs).map_err(|e| format!("{} {}: {e}", source.kind, source.name))
}

type Prepared = (ResolvedSource, herald_api::ActionJob, Vec<(String, String)>);

/// Resolve what a stored run needs from the current definitions.
fn prepare(catalog: &Catalog, run: &RunRecord) -> Result<Prepared, String> {
    let source = resolve::source(catalog, &run.namespace, run.source_kind, &run.source)?;
    let action_ref = herald_api::ActionRef {
        kind: run.action_kind,
        name: run.action.clone(),
    };
    let job = catalog
        .action_job(&run.namespace, &action_ref)
        .ok_or_else(|| format!("{} {} not found", run.action_kind, run.action))?
        .clone();
    let mut env: Vec<(String, String)> = run_env(&RunContext {
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
    env.extend(resolve::action_env(catalog, &run.namespace, &job.env)?);
    Ok((source, job, env))
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
