//! Firing a trigger: for each source, the revision, the decision, the run.

use std::fmt::Display;
use std::future::Future;

use herald_api::{ActionRef, GitReference, SourceKind, TriggerKind, TriggerSources, reasons};
use herald_core::hooks::Push;
use herald_core::{
    Firing, Selected, SourceChoiceError, plan_run, run_name, select_pushed, sources_to_fire,
    why_not_selected,
};
use herald_server::{Metrics, RunLabels, TriggerKindLabels};
use herald_store::{NewEvent, NewRun, TriggerKey};

use tracing::Instrument;

use crate::{RevisionError, SourceHealth};

/// A trigger as firing sees it, whatever its kind and wherever it was defined.
#[derive(Debug, Clone, Copy)]
pub struct TriggerDef<'a> {
    pub kind: TriggerKind,
    pub namespace: &'a str,
    pub name: &'a str,
    pub sources: &'a TriggerSources,
    pub action: &'a ActionRef,
    /// How old a listing of a source's refs may be and still answer for this trigger: half a
    /// schedule's interval (triggers on one repository share a listing), zero for a hook or a
    /// hand firing (they ask the remote now).
    pub listing_max_age: std::time::Duration,
}

/// A run stored by [`RunStore::create`], or the one of that name stored before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Created<R> {
    New(R),
    Existing(R),
}

/// Where runs and last seen revisions are kept: the seam of run state.
pub trait RunStore: Sync {
    /// A stored run as this mode knows it.
    type Run: Send;
    type Error: Display + Send;

    /// The revision `trigger` last created a run for from `source`, if any.
    fn last_seen(
        &self,
        trigger: &TriggerDef<'_>,
        source: &str,
    ) -> impl Future<Output = Result<Option<String>, Self::Error>> + Send;

    /// Stores `run` unless one of its name exists, which is returned instead; with
    /// `run.record_last_seen`, its revision becomes the last seen one once the run is stored
    /// (never before: a crash in between must repeat nothing and lose nothing).
    fn create(
        &self,
        run: &NewRun,
    ) -> impl Future<Output = Result<Created<Self::Run>, Self::Error>> + Send;

    /// Which sources this process saw failing (one per process, kept by the mode).
    fn source_health(&self) -> &SourceHealth;

    /// Keeps `event` in the event store; best effort (a failure is the mode's to log: the
    /// run path never waits on it failing).
    fn record_event(&self, event: NewEvent) -> impl Future<Output = ()> + Send;
}

/// Where a source's definition and credentials come from, and how its refs are listed: the
/// seam of definitions and of Git.
pub trait SourceReader: Sync {
    /// What `reference` of `trigger`'s source `source` points at now (or in a listing at most
    /// `trigger.listing_max_age` old).
    fn current(
        &self,
        trigger: &TriggerDef<'_>,
        source: &str,
        reference: &GitReference,
    ) -> impl Future<Output = Result<Selected, SourceError>> + Send;

    /// Whether `trigger`'s source `source` is suspended (`spec.suspend`). A source that cannot
    /// be found is not: [`SourceReader::current`] reports it.
    fn suspended(&self, trigger: &TriggerDef<'_>, source: &str) -> bool;
}

/// Why a source could not be read, with the condition reason (`herald_api::reasons`) it is
/// reported with, so both modes name the same failure the same way.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SourceError {
    pub reason: &'static str,
    pub message: String,
}

impl SourceError {
    pub fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }

    /// The source a trigger in `namespace` names does not exist.
    pub fn not_found(kind: SourceKind, namespace: &str, name: &str) -> Self {
        let message = format!("{} not found", source_name(kind, namespace, name));
        Self::new(reasons::SOURCE_NOT_FOUND, message)
    }

    /// Secret `namespace/name` does not exist.
    pub fn secret_missing(namespace: &str, name: &str) -> Self {
        let message = format!("secret {namespace}/{name} not found");
        Self::new(reasons::SECRET_MISSING, message)
    }

    /// Secret `namespace/name` has no `key`.
    pub fn secret_key_missing(namespace: &str, name: &str, key: &str) -> Self {
        let message = format!("secret {namespace}/{name} has no key {key:?}");
        Self::new(reasons::SECRET_KEY_MISSING, message)
    }

    /// The credentials read are unusable as given (`why`, from `remote_from_plan`).
    pub fn credentials_invalid(why: impl Into<String>) -> Self {
        Self::new(reasons::CREDENTIALS_INVALID, why)
    }
}

/// A source as users name it: `GitRepo ns/x`, or `ClusterGitRepo x` (no namespace).
fn source_name(kind: SourceKind, namespace: &str, name: &str) -> String {
    match kind {
        SourceKind::GitRepo => format!("GitRepo {namespace}/{name}"),
        SourceKind::ClusterGitRepo => format!("ClusterGitRepo {name}"),
    }
}

impl From<RevisionError> for SourceError {
    fn from(error: RevisionError) -> Self {
        Self::new(error.reason(), error.to_string())
    }
}

/// Why one source could not be fired.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The source could not be read (missing, unreachable, bad credentials, no such ref).
    #[error(transparent)]
    Source(SourceError),
    /// The run or the last seen revision could not be read or stored; nothing was accepted.
    #[error("{0}")]
    Store(String),
}

impl Failure {
    /// The condition reason this failure is reported with.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Source(e) => e.reason,
            Self::Store(_) => reasons::STORE_UNAVAILABLE,
        }
    }
}

/// What firing did for one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<R> {
    /// A new run was stored.
    Created(R),
    /// The run for this occasion (or this change) was stored before.
    Existing(R),
    /// Nothing to run, and why.
    Skipped(String),
    /// This source failed; the others were still fired.
    Failed(Failure),
}

/// Fires `trigger` for one `source`: the revision from `pushes` when a hook reported them
/// (else what the watched reference points at now), decided against the last seen revision,
/// stored idempotently under its name, counted in `herald_runs_created_total`. Traced as the
/// span `fire` (the decision: `outcome`, `revision`), the run's creation as `create_run`
/// within it: the span a new run's trace continues from.
#[tracing::instrument(
    name = "fire",
    skip_all,
    fields(
        namespace = trigger.namespace,
        trigger = trigger.name,
        source,
        revision = tracing::field::Empty,
        outcome = tracing::field::Empty,
    )
)]
pub async fn fire_source<S: RunStore, R: SourceReader>(
    store: &S,
    reader: &R,
    metrics: &Metrics,
    trigger: &TriggerDef<'_>,
    source: &str,
    firing: &Firing,
    pushes: Option<&[Push]>,
) -> Outcome<S::Run> {
    let outcome = decide_and_create(store, reader, metrics, trigger, source, firing, pushes).await;
    tracing::Span::current().record("outcome", outcome.result());
    outcome
}

async fn decide_and_create<S: RunStore, R: SourceReader>(
    store: &S,
    reader: &R,
    metrics: &Metrics,
    trigger: &TriggerDef<'_>,
    source: &str,
    firing: &Firing,
    pushes: Option<&[Push]>,
) -> Outcome<S::Run> {
    // Before anything is listed or decided: a suspended source is not looked at at all.
    if reader.suspended(trigger, source) {
        return Outcome::Skipped(suspended_source(trigger, source));
    }
    let watch_on = &trigger.sources.watch_on;
    let selected = match pushes {
        Some(pushes) => match select_pushed(&watch_on.reference, &watch_on.files, pushes) {
            Ok(Some(selected)) => selected,
            Ok(None) => return Outcome::Skipped(why_not_selected(&watch_on.reference, pushes)),
            Err(e) => {
                let why =
                    SourceError::new(reasons::INVALID_SPEC, format!("invalid file glob: {e}"));
                return Outcome::Failed(Failure::Source(why));
            }
        },
        None => {
            let current = reader.current(trigger, source, &watch_on.reference).await;
            let news = store.source_health().observe(
                trigger.namespace,
                trigger.sources.kind,
                source,
                current.as_ref().map(drop),
            );
            if let Some(event) = news {
                store.record_event(event).await;
            }
            match current {
                Ok(selected) => selected,
                Err(e) => return Outcome::Failed(Failure::Source(e)),
            }
        }
    };
    // The last seen revision matters only to onChangeOnly, and never to a hand firing.
    tracing::Span::current().record("revision", selected.revision.as_str());
    let seen = if watch_on.on_change_only && !matches!(firing, Firing::Manual(_)) {
        match store.last_seen(trigger, source).await {
            Ok(seen) => seen,
            Err(e) => return Outcome::Failed(Failure::Store(e.to_string())),
        }
    } else {
        None
    };
    let on_change_only = watch_on.on_change_only;
    let Some(plan) = plan_run(firing, on_change_only, seen.as_deref(), &selected.revision) else {
        return Outcome::Skipped(format!("revision {} already seen", selected.revision));
    };
    let run = NewRun {
        name: run_name(
            trigger.name,
            source,
            &selected.revision,
            plan.identity,
            plan.occasion.as_deref(),
        ),
        namespace: trigger.namespace.to_owned(),
        trigger: TriggerKey {
            kind: trigger.kind,
            namespace: trigger.namespace.to_owned(),
            name: trigger.name.to_owned(),
        },
        source_kind: trigger.sources.kind,
        source: source.to_owned(),
        git_ref: selected.git_ref,
        revision: selected.revision,
        action_kind: trigger.action.kind,
        action: trigger.action.name.clone(),
        cause: plan.cause,
        record_last_seen: plan.records_last_seen,
    };
    let creating = tracing::info_span!("create_run", run = %run.name);
    match store.create(&run).instrument(creating).await {
        Ok(Created::New(stored)) => {
            let labels = RunLabels {
                trigger_kind: run.trigger.kind.to_string(),
                cause: run.cause.to_string(),
            };
            metrics.runs_created.get_or_create(&labels).inc();
            Outcome::Created(stored)
        }
        Ok(Created::Existing(stored)) => Outcome::Existing(stored),
        Err(e) => Outcome::Failed(Failure::Store(format!("could not store the run: {e}"))),
    }
}

impl<R> Outcome<R> {
    /// The word `herald_source_checks_total` counts this outcome under.
    pub fn result(&self) -> &'static str {
        match self {
            Self::Created(_) => "created",
            Self::Existing(_) => "existing",
            Self::Skipped(_) => "skipped",
            Self::Failed(_) => "failed",
        }
    }
}

/// Why a suspended source fired nothing: `GitRepo ns/x is suspended`.
fn suspended_source(trigger: &TriggerDef<'_>, source: &str) -> String {
    let name = source_name(trigger.sources.kind, trigger.namespace, source);
    format!("{name} is suspended")
}

/// Fires `trigger` for the source `requested`, or for every source when none is named and
/// `all_allowed` (schedules, hand firings, `multiSource` hooks) or the trigger has only one.
/// Each source's outcome is its own: one failing never stops the others.
#[allow(clippy::too_many_arguments)]
pub async fn fire_sources<S: RunStore, R: SourceReader>(
    store: &S,
    reader: &R,
    metrics: &Metrics,
    trigger: &TriggerDef<'_>,
    requested: Option<&str>,
    all_allowed: bool,
    firing: &Firing,
    pushes: Option<&[Push]>,
) -> Result<Vec<(String, Outcome<S::Run>)>, SourceChoiceError> {
    let began = std::time::Instant::now();
    let names = sources_to_fire(&trigger.sources.names, requested, all_allowed)?;
    if let Firing::Tick(due) = firing {
        metrics.schedule_checks.inc();
        // A tick names its due time (or its reconcile request's time): how late it started.
        if let Ok(due) = due.parse::<jiff::Timestamp>() {
            let late = jiff::Timestamp::now().duration_since(due).as_secs_f64();
            metrics.schedule_lag.observe(late.max(0.0));
        }
    }
    let mut outcomes = Vec::with_capacity(names.len());
    for name in names {
        let started = std::time::Instant::now();
        let outcome = fire_source(store, reader, metrics, trigger, &name, firing, pushes).await;
        let seconds = started.elapsed().as_secs_f64();
        metrics.source_check_duration.observe(seconds);
        Metrics::count(&metrics.source_checks, outcome.result());
        if let Outcome::Created(_) = outcome {
            let labels = TriggerKindLabels {
                trigger_kind: trigger.kind.to_string(),
            };
            let latency = began.elapsed().as_secs_f64();
            metrics
                .change_to_run
                .get_or_create(&labels)
                .observe(latency);
        }
        outcomes.push((name, outcome));
    }
    Ok(outcomes)
}
