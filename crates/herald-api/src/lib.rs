//! Herald's custom resource types (`herald.dev/v1alpha1`), their defaults, validation and CRD
//! generation. This crate does no IO: the CLI, the local engine and the operator all share it.

mod action;
mod common;
mod crds;
mod image_update;
mod notifier;
pub mod reasons;
mod run;
mod secret;
mod source;
mod trigger;
mod update_report;
pub mod validate;

pub use action::{
    ACTION_JOB_STEP, Action, ActionDefinition, ActionJob, ActionSpec, ActionStatus, ClusterAction,
    ClusterActionSpec, Concurrency, ConcurrencyPolicy, MAX_STEPS, OUTPUT_RESULT_KEY, Retries, Step,
    StepCondition, StepOutputs, needs_env_name,
};
pub use common::{
    ActionKind, ActionRef, Conditions, ObjectRef, SecretKeyRef, SecretRef, SourceKind, SourceRef,
    TriggerKind, TriggerRef,
};
pub use crds::{all_crds, crds_yaml};
pub use image_update::{
    CommitAuthor, CommitSpec, DEFAULT_COMMIT_TAG, DEFAULT_IMAGE_UPDATE_INTERVAL,
    DEFAULT_NOTIFICATION_KEY, DEFAULT_REQUIRE_IMAGE_TIMEOUT, GitCommitPolicy, ImagePolicy,
    ImageSource, ImageUpdate, ImageUpdateSpec, ImageUpdateStatus, Notification, NotificationFormat,
    OrderPolicy, RequireImage, SemverPolicy, SortOrder, TagFilter, UpdateTarget, ValueKind,
    ValuesTarget,
};
pub use notifier::{
    DEFAULT_FOLD_WINDOW, EVENT_SOURCE_KINDS, EventSource, NOTIFIER_ADDRESS_KEY, NOTIFIER_TOKEN_KEY,
    Notifier, NotifierSpec, NotifierStatus, NotifierType, NotifyOn, Severity,
};
pub use run::{RerunOf, Run, RunCause, RunPhase, RunSpec, RunStatus, RunStep, RunTransition};
pub use secret::secret_key;
pub use source::{
    AuthKeys, AuthType, ClusterGitRepo, ClusterGitRepoSpec, GitAuth, GitRepo, GitRepoSpec,
    GitRepoStatus, TlsConfig,
};
pub use trigger::{
    CheckedSource, DEFAULT_SIGNATURE_HEADER, DEFAULT_TOKEN_HEADER, GitHostApi, GitReference,
    HookRegistration, RegisteredHook, Schedule, ScheduleTrigger, ScheduleTriggerSpec,
    TriggerSources, TriggerStatus, WatchOn, WebhookAuth, WebhookConfig, WebhookProvider,
    WebhookTrigger, WebhookTriggerSpec,
};
pub use update_report::{UpdateOutcome, UpdateReport};

/// The API group of every Herald kind.
pub const GROUP: &str = "herald.dev";
/// The served and stored version.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` as written in manifests.
pub const API_VERSION: &str = "herald.dev/v1alpha1";
/// The annotation Flux users set (`flux reconcile` sets it to the current time) to ask for a
/// reconcile now; a trigger records the value it handled in `status.lastHandledReconcileAt`.
/// Read in both modes (in a local manifest too).
pub const RECONCILE_REQUESTED_ANNOTATION: &str = "reconcile.fluxcd.io/requestedAt";

/// An object's reconcile request: the value of its [`RECONCILE_REQUESTED_ANNOTATION`].
pub fn reconcile_requested_at(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> Option<&str> {
    let annotations = meta.annotations.as_ref()?;
    annotations
        .get(RECONCILE_REQUESTED_ANNOTATION)
        .map(String::as_str)
}
