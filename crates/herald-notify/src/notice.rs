//! What a notification says: a [`Notice`], made from one event in the store. Both modes
//! record the same events (run and step transitions, image updates, source failures), so this
//! is the one place news is recognised.

use herald_api::reasons;
use herald_api::{NotifyOn, Severity};
use herald_store::{EventKind, EventRecord};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// A named object of a kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Object {
    pub kind: String,
    pub name: String,
}

impl Object {
    fn new(kind: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            name: name.into(),
        }
    }

    /// The kind of Git source this object is, if it is one.
    pub fn source_kind(&self) -> Option<herald_api::SourceKind> {
        match self.kind.as_str() {
            "GitRepo" => Some(herald_api::SourceKind::GitRepo),
            "ClusterGitRepo" => Some(herald_api::SourceKind::ClusterGitRepo),
            _ => None,
        }
    }
}

/// One piece of news. Serialised (camelCase) it is the heart of the generic JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notice {
    /// What happened.
    pub event: NotifyOn,
    /// `info` or `error`.
    pub severity: Severity,
    /// When it happened.
    pub at: Timestamp,
    /// The namespace it happened in.
    pub namespace: String,
    /// The object it is about: the `Run`, the `ImageUpdate`, the `GitRepo`.
    pub object: Object,
    /// The trigger that fired the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<Object>,
    /// The action the run executes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Object>,
    /// The source: the run's, the ImageUpdate's manifests repository, or the failing one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Object>,
    /// The commit: the run's, or the one an image update pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// For a step's transition: the step and its attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<i64>,
    /// The machine-readable reason (`Failed`, `PushRejected`, `HostKeyChanged`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What the event said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Notice {
    /// The news in `event`, if it is news: a run or step transition other than to `Pending`
    /// (and a step's `Skipped` / `Cancelled`, which its run's own end reports), an image update
    /// that committed or failed, a source that failed. Everything else (hook deliveries,
    /// detected revisions, Flux's events, a notification's own failure) is not.
    pub fn from_event(event: &EventRecord) -> Option<Self> {
        let namespace = event.namespace.clone()?;
        let payload = event.payload.as_ref();
        let text = |key: &str| {
            payload
                .and_then(|p| p.get(key))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let (on, object, trigger, action, source) = match event.kind {
            EventKind::RunTransition => {
                let step = text("step");
                let on = run_news(text("phase")?.as_str(), step.is_some())?;
                let object = Object::new("Run", event.involved_name.clone()?);
                let trigger = pair(text("triggerKind"), event.trigger.clone());
                let action = pair(text("actionKind"), text("action"));
                let source = pair(text("sourceKind"), event.source.clone());
                (on, object, trigger, action, source)
            }
            EventKind::ImageUpdate => {
                let on = image_news(event.reason.as_deref()?, event.severity.as_deref())?;
                let object = Object::new("ImageUpdate", event.involved_name.clone()?);
                let source = event.source.clone().map(|s| Object::new("GitRepo", s));
                (on, object, None, None, source)
            }
            EventKind::SourceFailed => {
                let object =
                    Object::new(event.involved_kind.clone()?, event.involved_name.clone()?);
                (
                    NotifyOn::SourceFailed,
                    object.clone(),
                    None,
                    None,
                    Some(object),
                )
            }
            EventKind::HookDelivery
            | EventKind::RevisionDetected
            | EventKind::FluxEvent
            | EventKind::NotificationFailed => return None,
        };
        Some(Self {
            event: on,
            severity: on.severity(),
            at: event.at,
            namespace,
            object,
            trigger,
            action,
            source,
            revision: event.revision.clone(),
            step: text("step"),
            attempt: payload
                .and_then(|p| p.get("attempt"))
                .and_then(|v| v.as_i64()),
            reason: event.reason.clone(),
            message: event.message.clone().filter(|m| !m.is_empty()),
        })
    }

    /// What makes two notices "identical" for folding: the news and the object that keeps
    /// causing it. Runs differ by name each time, so a run's news is keyed by its trigger and
    /// action (and step); an image update's and a source's by the object and the reason.
    pub fn fold_key(&self) -> String {
        if self.event.is_run() {
            format!(
                "{}/{}/{}/{}",
                self.event,
                name(&self.trigger),
                name(&self.action),
                self.step.as_deref().unwrap_or_default()
            )
        } else {
            format!(
                "{}/{}/{}/{}",
                self.event,
                self.object.kind,
                self.object.name,
                self.reason.as_deref().unwrap_or_default()
            )
        }
    }

    /// The objects a Notifier's `eventSources` may select it by.
    pub fn related(&self) -> impl Iterator<Item = &Object> {
        [
            Some(&self.object),
            self.trigger.as_ref(),
            self.action.as_ref(),
            self.source.as_ref(),
        ]
        .into_iter()
        .flatten()
    }

    /// A one-line summary: `Run nightly-ab12 of trigger nightly failed: exit code 1`.
    pub fn headline(&self) -> String {
        let what = match (&self.step, &self.trigger) {
            (Some(step), _) => format!("step {step} of Run {}", self.object.name),
            (None, Some(trigger)) if self.event.is_run() => {
                format!(
                    "Run {} of {} {}",
                    self.object.name, trigger.kind, trigger.name
                )
            }
            _ => format!("{} {}", self.object.kind, self.object.name),
        };
        let verb = match self.event {
            NotifyOn::RunStarted | NotifyOn::StepStarted => "started",
            NotifyOn::RunSucceeded | NotifyOn::StepSucceeded => "succeeded",
            NotifyOn::RunFailed | NotifyOn::StepFailed => "failed",
            NotifyOn::RunTimedOut | NotifyOn::StepTimedOut => "timed out",
            NotifyOn::RunCancelled => "was cancelled",
            NotifyOn::ImageUpdated => "committed a new tag",
            NotifyOn::ImageFailed => "failed",
            NotifyOn::SourceFailed => "cannot be read",
        };
        format!("{what} in {} {verb}", self.namespace)
    }
}

/// A run's notice, for the crate's tests: run `nightly-1` of trigger `nightly`, action
/// `build`, source `app`.
#[cfg(test)]
pub(crate) fn sample(event: NotifyOn) -> Notice {
    Notice {
        event,
        severity: event.severity(),
        at: jiff::Timestamp::UNIX_EPOCH,
        namespace: "team".into(),
        object: Object {
            kind: "Run".into(),
            name: "nightly-1".into(),
        },
        trigger: Some(Object {
            kind: "ScheduleTrigger".into(),
            name: "nightly".into(),
        }),
        action: Some(Object {
            kind: "Action".into(),
            name: "build".into(),
        }),
        source: Some(Object {
            kind: "GitRepo".into(),
            name: "app".into(),
        }),
        revision: Some("0123".into()),
        step: None,
        attempt: None,
        reason: None,
        message: None,
    }
}

/// The name of an object that may be unknown (empty then).
fn name(object: &Option<Object>) -> &str {
    object.as_ref().map(|o| o.name.as_str()).unwrap_or_default()
}

/// `(kind, name)` as an object when both are known.
fn pair(kind: Option<String>, name: Option<String>) -> Option<Object> {
    Some(Object::new(kind?, name?))
}

/// The news of a run's (or a step's) move to `phase`.
fn run_news(phase: &str, step: bool) -> Option<NotifyOn> {
    Some(match (phase, step) {
        ("Running", false) => NotifyOn::RunStarted,
        ("Succeeded", false) => NotifyOn::RunSucceeded,
        ("Failed", false) => NotifyOn::RunFailed,
        ("TimedOut", false) => NotifyOn::RunTimedOut,
        ("Cancelled", false) => NotifyOn::RunCancelled,
        ("Running", true) => NotifyOn::StepStarted,
        ("Succeeded", true) => NotifyOn::StepSucceeded,
        ("Failed", true) => NotifyOn::StepFailed,
        ("TimedOut", true) => NotifyOn::StepTimedOut,
        _ => return None,
    })
}

/// The news of an image update attempt: a commit, or a failure (waiting and "up to date" are
/// not news, and a failed notification is not announced by another).
fn image_news(reason: &str, severity: Option<&str>) -> Option<NotifyOn> {
    if reason == reasons::NOTIFICATION_FAILED {
        return None;
    }
    if reason == reasons::IMAGE_UPDATED {
        return Some(NotifyOn::ImageUpdated);
    }
    (severity == Some("error")).then_some(NotifyOn::ImageFailed)
}
