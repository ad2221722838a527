//! Actions: what to run.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EnvVar, ResourceRequirements};
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::Conditions;

/// A job template in one namespace.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "herald.dev",
    version = "v1alpha1",
    kind = "Action",
    doc = "A job template in one namespace.",
    namespaced,
    status = "ActionStatus",
    shortname = "hact",
    category = "herald",
    printcolumn = r#"{"name":"Image","type":"string","jsonPath":".spec.actionJob.image"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[kube(derive = "PartialEq")]
// Transparent, not flattened: the spec is exactly the definition, so serde reads it without
// buffering, and a reader of ignored fields (local mode's loader) sees every one of them.
#[serde(transparent)]
pub struct ActionSpec {
    pub definition: ActionDefinition,
}

/// A job template shared by every namespace.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "herald.dev",
    version = "v1alpha1",
    kind = "ClusterAction",
    doc = "A job template shared by every namespace.",
    status = "ActionStatus",
    shortname = "chact",
    category = "herald",
    printcolumn = r#"{"name":"Image","type":"string","jsonPath":".spec.actionJob.image"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[kube(derive = "PartialEq")]
#[serde(transparent)]
pub struct ClusterActionSpec {
    pub definition: ActionDefinition,
}

/// Most steps (graph and `finally` together) in one action: a Run's status holds every one.
pub const MAX_STEPS: usize = 1000;
/// The key under which a step's result reaches the steps that need it.
pub const OUTPUT_RESULT_KEY: &str = "RESULT";
/// The name `actionJob` has as a step.
pub const ACTION_JOB_STEP: &str = "main";

/// The variable that carries `key` of step `step` to the steps that need it:
/// `HERALD_NEEDS_<STEP>_<KEY>`, upper case, `-` as `_`.
pub fn needs_env_name(step: &str, key: &str) -> String {
    let upper = |s: &str| s.to_ascii_uppercase().replace('-', "_");
    format!("HERALD_NEEDS_{}_{}", upper(step), upper(key))
}

/// What an Action or ClusterAction runs: one `actionJob`, or a graph of `steps` (with
/// `finally` steps after it).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionDefinition {
    /// One container or process: the same as a graph of one step named `main`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_job: Option<ActionJob>,
    /// A graph of steps: a step starts once the steps it `needs` have finished.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    /// Steps that run after the graph, whatever happened in it (even after `timeout`), each
    /// within its own `timeout`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finally: Vec<Step>,
    /// Most steps running at once (default: every step whose needs are met).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub parallelism: Option<i32>,
    /// The whole graph's time budget, a duration such as `30m` (`finally` has its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub timeout: Option<String>,
    /// How many runs of this action may execute at once, and what a run beyond that does
    /// (default: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<Concurrency>,
    /// The steps' service account (cluster mode; with `actionJob`, set it there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = crate::validate::patterns::DNS1123_SUBDOMAIN))]
    pub service_account: Option<String>,
    /// The image of the init container that checks out the revision for every step (cluster
    /// mode; with `actionJob`, set it there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub cloner_image: Option<String>,
}

impl From<ActionJob> for ActionDefinition {
    fn from(job: ActionJob) -> Self {
        Self {
            action_job: Some(job),
            ..Self::default()
        }
    }
}

/// What one step executes: a container in a Job (cluster mode) or a process (local mode, where
/// `image` and `resources` are not used).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("required" = ["name", "command"]))]
pub struct Step {
    /// Unique in the action, a DNS label (`build`, `push-image`).
    #[schemars(length(min = 1, max = 63), regex(pattern = crate::validate::patterns::DNS1123_LABEL))]
    pub name: String,
    /// The worker image (cluster mode only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub image: Option<String>,
    /// Entrypoint; in local mode the program to execute. Required.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(min = 1), inner(length(min = 1)))]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Working directory relative to the checkout (default: the checkout's root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub workdir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// One attempt's time budget, a duration such as `10m` (default: the action's `timeout`,
    /// else one hour).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub timeout: Option<String>,
    /// Attempts after a failure or a timeout (never after a success).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<Retries>,
    /// Steps that must finish before this one starts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<String>,
    /// When the step runs, judged from its needs (default `success`; in `finally`, `always`).
    #[serde(default, rename = "if", skip_serializing_if = "Option::is_none")]
    pub condition: Option<StepCondition>,
    /// A failure of this step counts as success for the steps that need it (the run still
    /// records the failure).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub continue_on_error: bool,
    /// Keys this step may write to `$HERALD_OUTPUT` as `key=value` lines; the steps that need
    /// it get them as `HERALD_NEEDS_<STEP>_<KEY>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<String>,
}

/// A limit of runs of one action at once.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Concurrency {
    /// Most runs executing at once.
    #[schemars(range(min = 1))]
    pub max: i32,
    /// What a run does while `max` runs execute (default `Queue`).
    #[serde(default)]
    pub policy: ConcurrencyPolicy,
}

/// What a run does when its action already has `max` runs executing.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ConcurrencyPolicy {
    /// Wait, in the order the runs were created; the queue is the stored runs, so it survives
    /// a restart.
    #[default]
    Queue,
    /// Do not run: the run is `Skipped` with a reason.
    Forbid,
    /// Cancel the oldest executing run (its `finally` steps still run), then start.
    Replace,
}

/// When a step runs.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum StepCondition {
    /// Every need succeeded (or failed with `continueOnError`).
    Success,
    /// At least one need failed, or was skipped because a step before it failed.
    Failure,
    /// Once the needs have finished, whatever their result.
    Always,
}

/// How often a failed step is tried again.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Retries {
    /// Attempts after the first.
    #[schemars(range(min = 0, max = 10))]
    pub limit: i32,
    /// The wait before the first retry, doubled for each one after it (default `10s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub backoff: Option<String>,
}

/// What a step may pass on: `key` to `value`, as written to `$HERALD_OUTPUT`.
pub type StepOutputs = BTreeMap<String, String>;

/// What runs for each Run: a container in a Job (cluster mode) or a process (local mode,
/// where `image`, `serviceAccount` and `resources` are not used).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("required" = ["command"]))]
pub struct ActionJob {
    /// The worker image (cluster mode only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub image: Option<String>,
    /// Entrypoint; in local mode the program to execute. Required.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(min = 1), inner(length(min = 1)))]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Working directory relative to the checkout (default: the checkout's root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub workdir: Option<String>,
    /// The Job's service account (cluster mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = crate::validate::patterns::DNS1123_SUBDOMAIN))]
    pub service_account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Maximum run time in seconds; the run fails when it is exceeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub active_deadline_seconds: Option<i64>,
    /// Seconds to keep a finished Job (cluster mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub ttl_seconds_after_finished: Option<i32>,
    /// The image of the init container that checks out the revision (cluster mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub cloner_image: Option<String>,
}

/// Observed state of an action.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Conditions,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
