//! The records the store reads and writes.

use herald_api::{ActionKind, RunCause, RunPhase, SourceKind, StepOutputs, TriggerKind};
use jiff::Timestamp;
use serde::Serialize;

/// A run's id in the store: assigned on insert, increasing in insertion order.
pub type RunId = i64;

/// Identifies one trigger: its kind, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct TriggerKey {
    /// `ScheduleTrigger` or `WebhookTrigger`.
    pub kind: TriggerKind,
    /// The trigger's namespace.
    pub namespace: String,
    /// The trigger's name.
    pub name: String,
}

/// A run to create (see [`Store::create_run`](crate::Store::create_run)).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewRun {
    /// The run's unique name, derived from (trigger, source, revision, cause).
    pub name: String,
    /// The namespace the run belongs to.
    pub namespace: String,
    /// The trigger that fired.
    pub trigger: TriggerKey,
    /// The kind of the source the revision belongs to.
    pub source_kind: SourceKind,
    /// The source's name.
    pub source: String,
    /// The full ref that was watched or pushed, if any.
    pub git_ref: Option<String>,
    /// The commit to check out.
    pub revision: String,
    /// The kind of the action to run.
    pub action_kind: ActionKind,
    /// The action's name.
    pub action: String,
    /// Why the run exists.
    pub cause: RunCause,
    /// Whether to update last seen (false for manual runs so a hand firing never hides a change
    /// from `onChangeOnly`).
    pub record_last_seen: bool,
}

/// A run as stored, without its history and output.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRecord {
    /// The store's id for the run.
    pub id: RunId,
    /// The run's unique name.
    pub name: String,
    /// The namespace the run belongs to.
    pub namespace: String,
    /// The kind of the trigger that fired.
    pub trigger_kind: TriggerKind,
    /// The trigger's name.
    pub trigger: String,
    /// The kind of the source.
    pub source_kind: SourceKind,
    /// The source's name.
    pub source: String,
    /// The full ref that was watched or pushed, if any.
    pub git_ref: Option<String>,
    /// The commit the run checks out.
    pub revision: String,
    /// The kind of the action.
    pub action_kind: ActionKind,
    /// The action's name.
    pub action: String,
    /// Why the run exists.
    pub cause: RunCause,
    /// The current phase.
    pub phase: RunPhase,
    /// When the run was created.
    pub created_at: Timestamp,
    /// When the run first entered `Running`.
    pub started_at: Option<Timestamp>,
    /// When the run reached a terminal phase.
    pub finished_at: Option<Timestamp>,
    /// The action's exit code, once finished.
    pub exit_code: Option<i32>,
    /// The message of the latest transition.
    pub message: Option<String>,
}

/// A run with its full phase history and output excerpt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunDetail {
    /// The run itself.
    pub run: RunRecord,
    /// Every phase transition of the run and of its steps, oldest first.
    pub history: Vec<Transition>,
    /// Each step's latest attempt, in the action's order.
    pub steps: Vec<StepRecord>,
    /// The tail of the action's output, once finished.
    pub output: Option<String>,
}

/// One recorded phase transition, of the run or of one attempt of one of its steps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transition {
    /// The step that moved; `None` for the run itself.
    pub step: Option<String>,
    /// The step's attempt, from 1.
    pub attempt: Option<u32>,
    /// The phase it left, when recorded.
    pub from: Option<RunPhase>,
    /// The phase entered.
    pub phase: RunPhase,
    /// When it was entered.
    pub at: Timestamp,
    /// A short machine-readable reason (`Created`, `Started`, `ExitCode`, ...).
    pub reason: String,
    /// A human-readable explanation.
    pub message: Option<String>,
}

/// One step of a run: its latest attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRecord {
    pub name: String,
    /// The step's place in the action, as first recorded.
    pub position: usize,
    pub phase: RunPhase,
    /// Attempts started (0 while it waits for its first).
    pub attempt: u32,
    pub reason: Option<String>,
    pub message: Option<String>,
    pub exit_code: Option<i32>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// What it passed on to the steps that need it.
    pub outputs: StepOutputs,
    /// The tail of its output.
    pub output: Option<String>,
}

/// A step's move to record (see [`Store::record_step`](crate::Store::record_step)).
#[derive(Debug, Clone, PartialEq)]
pub struct StepChange<'a> {
    pub name: &'a str,
    /// The step's place in the action (its order in `steps`, then `finally`).
    pub position: usize,
    pub from: RunPhase,
    pub to: RunPhase,
    pub attempt: u32,
    pub reason: &'a str,
    pub message: Option<&'a str>,
    pub exit_code: Option<i32>,
    pub outputs: Option<&'a StepOutputs>,
    pub output: Option<&'a str>,
}

/// How a run finished (see [`Store::finish_run`](crate::Store::finish_run)).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunOutcome {
    /// The terminal phase to enter.
    pub phase: RunPhase,
    /// A short machine-readable reason.
    pub reason: String,
    /// A human-readable explanation.
    pub message: Option<String>,
    /// The action's exit code, if it ran.
    pub exit_code: Option<i32>,
    /// The tail of the action's output.
    pub output: Option<String>,
}

/// The result of [`Store::create_run`](crate::Store::create_run).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Created {
    /// The run was inserted.
    New(RunRecord),
    /// A run of that name already existed; it is returned unchanged.
    Existing(RunRecord),
}

impl Created {
    /// The run, new or existing.
    pub fn record(&self) -> &RunRecord {
        match self {
            Self::New(r) | Self::Existing(r) => r,
        }
    }

    /// Consumes the result and returns the run.
    pub fn into_record(self) -> RunRecord {
        match self {
            Self::New(r) | Self::Existing(r) => r,
        }
    }

    /// Whether this call inserted the run.
    pub fn is_new(&self) -> bool {
        matches!(self, Self::New(_))
    }
}

/// Which runs [`Store::list_runs`](crate::Store::list_runs) returns.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RunFilter {
    /// Only runs in this namespace.
    pub namespace: Option<String>,
    /// Only runs of the trigger with this name.
    pub trigger: Option<String>,
    /// Only runs of the source with this name.
    pub source: Option<String>,
    /// Only runs in this phase.
    pub phase: Option<RunPhase>,
    /// At most this many runs (default [`RunFilter::DEFAULT_LIMIT`]).
    pub limit: Option<u32>,
}

impl RunFilter {
    /// How many runs are listed when no limit is given.
    pub const DEFAULT_LIMIT: u32 = 50;
}
