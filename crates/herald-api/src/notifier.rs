//! Notifiers: telling people and Git hosts what happened (run transitions, image updates,
//! sources that failed), from the store's events, through a durable outbox.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{Conditions, SecretRef};

/// Identical notifications about one object within this window are folded into one, unless
/// `spec.foldWindow` says otherwise.
pub const DEFAULT_FOLD_WINDOW: &str = "10m";
/// The Secret key holding the receiver's address, when the address is a secret (a Slack
/// webhook URL carries a token in its path).
pub const NOTIFIER_ADDRESS_KEY: &str = "address";
/// The Secret key holding the HMAC key (`generic-hmac`) or the API token (commit status).
pub const NOTIFIER_TOKEN_KEY: &str = "token";

/// Sends Herald's events somewhere: a chat, a JSON receiver, or a Git host's commit status.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "herald.dev",
    version = "v1alpha1",
    kind = "Notifier",
    doc = "Sends Herald's events to a chat, a JSON receiver or a Git host's commit status.",
    namespaced,
    status = "NotifierStatus",
    shortname = "notif",
    category = "herald",
    printcolumn = r#"{"name":"Type","type":"string","jsonPath":".spec.type"}"#,
    printcolumn = r#"{"name":"Suspended","type":"boolean","jsonPath":".spec.suspend"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Status","type":"string","priority":1,"jsonPath":".status.conditions[?(@.type==\"Ready\")].message"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[kube(derive = "PartialEq")]
#[serde(rename_all = "camelCase")]
pub struct NotifierSpec {
    /// What the receiver speaks.
    #[serde(rename = "type")]
    pub notifier_type: NotifierType,
    /// The receiver. For `slack`, `generic` and `generic-hmac` the URL posted to (prefer the
    /// Secret's `address` key for a URL carrying a token). For `github`, `gitlab` and `gitea`
    /// the repository's web address (`https://github.com/org/app`); without one, each run's
    /// own source URL is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// A Secret in this namespace: `address` (overrides `spec.address`) and `token` (the HMAC
    /// key of `generic-hmac`, the API token of a commit status).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretRef>,
    /// What to send. Default: every run transition (not the steps'), image updates and source
    /// failures; a commit status takes run transitions only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<NotifyOn>,
    /// Only events about these objects (a run is about its trigger, action and source).
    /// Default: every object in the namespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub event_sources: Vec<EventSource>,
    /// `info` (default) sends everything selected; `error` only failures.
    #[serde(default)]
    pub severity: Severity,
    /// Identical notifications about one object within this window are sent once, then once
    /// more at its end with how many there were ("failed 5 times in 10m"). Default `10m`;
    /// `0s` sends each. Commit statuses are never folded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fold_window: Option<String>,
    /// Send nothing; what happens meanwhile is not sent later.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspend: bool,
}

/// A receiver's protocol.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum NotifierType {
    /// A Slack incoming webhook (blocks, with the link to the run); Mattermost and
    /// Rocket.Chat accept it too.
    Slack,
    /// Herald's own JSON (`herald.dev/v1` `Notification`, documented in docs/NOTIFICATIONS.md).
    Generic,
    /// The same JSON, signed: `X-Signature: sha256=<hex HMAC-SHA256 of the body>` keyed with the
    /// Secret's `token`, as Flux's `generic-hmac` provider signs.
    GenericHmac,
    /// GitHub's commit status API.
    Github,
    /// GitLab's commit status API.
    Gitlab,
    /// Gitea's (and Forgejo's) commit status API.
    Gitea,
}

impl NotifierType {
    /// Whether it sets a commit status (per revision, never folded, runs only).
    pub fn is_commit_status(self) -> bool {
        self.host_api().is_some()
    }

    /// The Git host whose commit status it sets, if it does.
    pub fn host_api(self) -> Option<crate::GitHostApi> {
        match self {
            Self::Github => Some(crate::GitHostApi::Github),
            Self::Gitlab => Some(crate::GitHostApi::Gitlab),
            Self::Gitea => Some(crate::GitHostApi::Gitea),
            Self::Slack | Self::Generic | Self::GenericHmac => None,
        }
    }

    /// As written in a manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Slack => "slack",
            Self::Generic => "generic",
            Self::GenericHmac => "generic-hmac",
            Self::Github => "github",
            Self::Gitlab => "gitlab",
            Self::Gitea => "gitea",
        }
    }
}

/// One kind of news.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
pub enum NotifyOn {
    #[serde(rename = "run.started")]
    RunStarted,
    #[serde(rename = "run.succeeded")]
    RunSucceeded,
    #[serde(rename = "run.failed")]
    RunFailed,
    #[serde(rename = "run.timedOut")]
    RunTimedOut,
    #[serde(rename = "run.cancelled")]
    RunCancelled,
    #[serde(rename = "step.started")]
    StepStarted,
    #[serde(rename = "step.succeeded")]
    StepSucceeded,
    #[serde(rename = "step.failed")]
    StepFailed,
    #[serde(rename = "step.timedOut")]
    StepTimedOut,
    /// A new tag was committed.
    #[serde(rename = "image.updated")]
    ImageUpdated,
    /// An image update failed (registry refused, push rejected, image never appeared, ...).
    #[serde(rename = "image.failed")]
    ImageFailed,
    /// A source could not be read (unreachable, credentials refused, host key changed).
    #[serde(rename = "source.failed")]
    SourceFailed,
}

impl NotifyOn {
    /// Every kind, in the order documented.
    pub const ALL: [Self; 12] = [
        Self::RunStarted,
        Self::RunSucceeded,
        Self::RunFailed,
        Self::RunTimedOut,
        Self::RunCancelled,
        Self::StepStarted,
        Self::StepSucceeded,
        Self::StepFailed,
        Self::StepTimedOut,
        Self::ImageUpdated,
        Self::ImageFailed,
        Self::SourceFailed,
    ];

    /// What is sent when `spec.events` is empty: all but the steps' transitions.
    pub fn defaults() -> impl Iterator<Item = Self> {
        Self::ALL.into_iter().filter(|on| !on.is_step())
    }

    /// As written in a manifest and in the generic JSON's `event`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RunStarted => "run.started",
            Self::RunSucceeded => "run.succeeded",
            Self::RunFailed => "run.failed",
            Self::RunTimedOut => "run.timedOut",
            Self::RunCancelled => "run.cancelled",
            Self::StepStarted => "step.started",
            Self::StepSucceeded => "step.succeeded",
            Self::StepFailed => "step.failed",
            Self::StepTimedOut => "step.timedOut",
            Self::ImageUpdated => "image.updated",
            Self::ImageFailed => "image.failed",
            Self::SourceFailed => "source.failed",
        }
    }

    /// A step's transition rather than a run's.
    pub fn is_step(self) -> bool {
        matches!(
            self,
            Self::StepStarted | Self::StepSucceeded | Self::StepFailed | Self::StepTimedOut
        )
    }

    /// About a run or one of its steps (what a commit status can show).
    pub fn is_run(self) -> bool {
        self.is_step()
            || matches!(
                self,
                Self::RunStarted
                    | Self::RunSucceeded
                    | Self::RunFailed
                    | Self::RunTimedOut
                    | Self::RunCancelled
            )
    }

    /// Whether it reports a failure (what `severity: error` keeps).
    pub fn severity(self) -> Severity {
        match self {
            Self::RunFailed
            | Self::RunTimedOut
            | Self::StepFailed
            | Self::StepTimedOut
            | Self::ImageFailed
            | Self::SourceFailed => Severity::Error,
            _ => Severity::Info,
        }
    }
}

impl std::fmt::Display for NotifyOn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Flux's two severities.
#[derive(
    Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    #[default]
    Info,
    Error,
}

/// Objects whose events are sent: by kind, by name (`*` for any) and by labels.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventSource {
    /// `ScheduleTrigger`, `WebhookTrigger`, `Action`, `ClusterAction`, `GitRepo`,
    /// `ClusterGitRepo` or `ImageUpdate`.
    pub kind: String,
    /// The object's name, or `*` (default) for any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Labels the object must carry.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
}

/// The kinds an [`EventSource`] may name.
pub const EVENT_SOURCE_KINDS: [&str; 7] = [
    "ScheduleTrigger",
    "WebhookTrigger",
    "Action",
    "ClusterAction",
    "GitRepo",
    "ClusterGitRepo",
    "ImageUpdate",
];

/// What the last deliveries found.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotifierStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Conditions,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}
