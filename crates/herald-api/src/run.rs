//! Run: one firing of a trigger for one source revision.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{ActionRef, Conditions, SourceRef, TriggerRef};

/// One firing of a trigger for one revision of one source.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "herald.dev",
    version = "v1alpha1",
    kind = "Run",
    doc = "One firing of a trigger for one revision of one source.",
    namespaced,
    status = "RunStatus",
    shortname = "hrun",
    category = "herald",
    printcolumn = r#"{"name":"Trigger","type":"string","jsonPath":".spec.trigger.name"}"#,
    printcolumn = r#"{"name":"Source","type":"string","jsonPath":".spec.source.name"}"#,
    printcolumn = r#"{"name":"Revision","type":"string","jsonPath":".spec.revision"}"#,
    printcolumn = r#"{"name":"Cause","type":"string","jsonPath":".spec.cause"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[kube(derive = "PartialEq")]
#[serde(rename_all = "camelCase")]
pub struct RunSpec {
    pub cause: RunCause,
    /// The trigger that fired.
    pub trigger: TriggerRef,
    /// The source whose revision this run is for.
    pub source: SourceRef,
    /// The full ref that was watched or pushed (`refs/heads/main`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = crate::validate::patterns::FULL_REF))]
    pub git_ref: Option<String>,
    /// The commit to check out: 40 lower-case hex digits.
    #[schemars(regex(pattern = crate::validate::patterns::COMMIT))]
    pub revision: String,
    /// The action to run.
    pub action: ActionRef,
    /// Set on a re-run (the annotation `herald.dev/rerun-from: STEP` on a finished Run): the
    /// Run it re-runs and the first step to run again. The steps before it that succeeded
    /// there are kept with their outputs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun_of: Option<RerunOf>,
}

/// What a re-run re-runs.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RerunOf {
    /// The Run's name, in the same namespace.
    #[schemars(length(min = 1))]
    pub run: String,
    /// The first step to run again.
    #[schemars(length(min = 1))]
    pub from: String,
}

/// Why a run exists.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum RunCause {
    /// A schedule fired (every tick runs).
    Schedule,
    /// A schedule noticed that a watched ref moved (`onChangeOnly`).
    Change,
    /// A hook was delivered.
    Webhook,
    /// Someone fired the trigger by hand.
    Manual,
}

/// Where a run, or one of its steps, is in its life.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum RunPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
    /// A step's attempt ran past its timeout.
    TimedOut,
    /// Not run: its condition was false, or a step it needs did not succeed.
    Skipped,
    /// Stopped or never started because the run's time ran out or the run was cancelled.
    Cancelled,
}

impl RunPhase {
    /// Whether no further transition can follow.
    pub fn is_terminal(self) -> bool {
        !matches!(self, Self::Pending | Self::Running)
    }
}

/// Observed state of a run.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<RunPhase>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Conditions,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_time: Option<Time>,
    /// Every phase transition, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<RunTransition>,
    /// The steps (Jobs or processes) the run launched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<RunStep>,
}

/// One phase transition of the run, or of one attempt of one of its steps.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunTransition {
    /// The step that moved; absent for the run itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The step's attempt, from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<i32>,
    /// The phase it left (absent for the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<RunPhase>,
    pub phase: RunPhase,
    pub time: Time,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// One step of a run (a Job or a process per attempt): its latest attempt.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunStep {
    pub name: String,
    /// The Job's name in cluster mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    pub phase: RunPhase,
    /// The attempt, from 1 (absent before the first starts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<i32>,
    /// Why it is in its phase (`Completed`, `Error`, `NeedFailed`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// What the step wrote to `$HERALD_OUTPUT`, its declared keys only.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub outputs: crate::StepOutputs,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    /// The tail of the step's output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_excerpt: Option<String>,
}

impl std::fmt::Display for RunPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

impl std::fmt::Display for RunCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}
