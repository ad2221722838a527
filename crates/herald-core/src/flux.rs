//! Flux's notification events: the JSON notification-controller posts to a `generic` (or
//! `generic-hmac`) provider, and what a run of them says about one revision.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Reasons Flux gives when applying a revision failed (kustomize-controller, helm-controller,
/// source-controller).
pub const FAILURE_REASONS: &[&str] = &[
    "BuildFailed",
    "ValidationFailed",
    "ReconciliationFailed",
    "HealthCheckFailed",
    "ArtifactFailed",
    "InstallFailed",
    "UpgradeFailed",
    "TestFailed",
    "RollbackFailed",
];

/// Reasons Flux gives when a revision was applied and is healthy.
pub const SUCCESS_REASONS: &[&str] = &[
    "ReconciliationSucceeded",
    "InstallSucceeded",
    "UpgradeSucceeded",
];

/// The object an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvolvedObject {
    pub kind: String,
    #[serde(default)]
    pub namespace: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

/// One event as notification-controller sends it (`eventv1.Event`). Fields Flux may add later
/// are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FluxEvent {
    pub involved_object: InvolvedObject,
    /// `info` or `error`.
    pub severity: String,
    /// RFC 3339.
    pub timestamp: String,
    pub message: String,
    pub reason: String,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    pub reporting_controller: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporting_instance: Option<String>,
}

/// Why a body is not a Flux event.
#[derive(Debug, thiserror::Error)]
pub enum FluxEventError {
    #[error("not a Flux event: {0}")]
    Json(#[from] serde_json::Error),
    #[error("not a Flux event: field {0} is empty")]
    Empty(&'static str),
    #[error("not a Flux event: severity must be info or error, not {0:?}")]
    Severity(String),
    #[error("not a Flux event: timestamp {0:?} is not RFC 3339")]
    Timestamp(String),
}

impl FluxEvent {
    /// Reads and checks one event.
    pub fn parse(body: &[u8]) -> Result<Self, FluxEventError> {
        let event: Self = serde_json::from_slice(body)?;
        for (name, value) in [
            ("involvedObject.kind", &event.involved_object.kind),
            ("involvedObject.name", &event.involved_object.name),
            ("reason", &event.reason),
            ("reportingController", &event.reporting_controller),
        ] {
            if value.trim().is_empty() {
                return Err(FluxEventError::Empty(name));
            }
        }
        if !matches!(event.severity.as_str(), "info" | "error") {
            return Err(FluxEventError::Severity(event.severity));
        }
        if event.timestamp.parse::<jiff::Timestamp>().is_err() {
            return Err(FluxEventError::Timestamp(event.timestamp));
        }
        Ok(event)
    }

    /// The revision the event is about: `metadata.revision`, or the same key under the
    /// object's API group (`kustomize.toolkit.fluxcd.io/revision`), which older controllers
    /// send unstripped.
    pub fn revision(&self) -> Option<&str> {
        self.metadata
            .get("revision")
            .or_else(|| {
                self.metadata
                    .iter()
                    .find(|(key, _)| key.ends_with("/revision"))
                    .map(|(_, value)| value)
            })
            .map(String::as_str)
            .filter(|r| !r.is_empty())
    }

    /// When it happened.
    pub fn time(&self) -> Option<jiff::Timestamp> {
        self.timestamp.parse().ok()
    }

    /// What the event says about its revision.
    pub fn verdict(&self) -> Verdict {
        verdict(&self.reason, &self.severity)
    }
}

/// What one event says about its revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Applied and healthy.
    Ready,
    /// Applying failed.
    Failed,
    /// Neither: progress, or something unrelated to the outcome.
    Neutral,
}

/// The verdict of an event with `reason` and `severity`: an `error` is always a failure.
pub fn verdict(reason: &str, severity: &str) -> Verdict {
    if severity == "error" || FAILURE_REASONS.contains(&reason) {
        Verdict::Failed
    } else if SUCCESS_REASONS.contains(&reason) {
        Verdict::Ready
    } else {
        Verdict::Neutral
    }
}

/// What Flux has said about one revision so far (the `outcome` of the API's revision summary).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum FluxOutcome {
    /// Nothing decisive yet.
    Pending,
    /// Applied and healthy.
    Ready { object: String, message: String },
    /// Applying failed.
    Failed {
        object: String,
        reason: String,
        message: String,
    },
}

impl FluxOutcome {
    /// The verdict's one word, as serialized: `pending`, `ready` or `failed`.
    pub fn state(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Ready { .. } => "ready",
            Self::Failed { .. } => "failed",
        }
    }
}

/// An event reduced to what [`outcome`] needs.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    /// `Kind/namespace/name` of the object reporting.
    pub object: &'a str,
    pub reason: &'a str,
    pub severity: &'a str,
    pub message: &'a str,
}

/// The outcome of a revision from its events, oldest first: the newest decisive event of each
/// object counts; the revision has failed when any object's is a failure, is ready when none
/// is and at least one is a success, and is pending otherwise.
pub fn outcome<'a>(reports: impl IntoIterator<Item = Report<'a>>) -> FluxOutcome {
    let mut latest: BTreeMap<&str, (Verdict, Report<'a>)> = BTreeMap::new();
    for report in reports {
        let verdict = verdict(report.reason, report.severity);
        if verdict != Verdict::Neutral {
            latest.insert(report.object, (verdict, report));
        }
    }
    if let Some((_, failed)) = latest.values().find(|(v, _)| *v == Verdict::Failed) {
        return FluxOutcome::Failed {
            object: failed.object.to_owned(),
            reason: failed.reason.to_owned(),
            message: failed.message.to_owned(),
        };
    }
    match latest.values().next_back() {
        Some((_, ready)) => FluxOutcome::Ready {
            object: ready.object.to_owned(),
            message: ready.message.to_owned(),
        },
        None => FluxOutcome::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = r#"{
        "involvedObject": {"kind": "Kustomization", "namespace": "flux-system", "name": "apps",
            "uid": "7d0cdc51", "apiVersion": "kustomize.toolkit.fluxcd.io/v1",
            "resourceVersion": "56921"},
        "severity": "info",
        "timestamp": "2026-11-23T10:00:00Z",
        "message": "Reconciliation finished in 1.2s, next run in 10m0s",
        "reason": "ReconciliationSucceeded",
        "metadata": {"revision": "main@sha1:0123456789abcdef0123456789abcdef01234567",
            "commit_status": "update"},
        "reportingController": "kustomize-controller",
        "reportingInstance": "kustomize-controller-7f5c"
    }"#;

    fn report<'a>(object: &'a str, reason: &'a str, severity: &'a str) -> Report<'a> {
        Report {
            object,
            reason,
            severity,
            message: "m",
        }
    }

    #[test]
    fn reads_what_notification_controller_sends() {
        let event = FluxEvent::parse(EVENT.as_bytes()).expect("parses");
        assert_eq!(event.involved_object.name, "apps");
        assert_eq!(
            event.revision(),
            Some("main@sha1:0123456789abcdef0123456789abcdef01234567")
        );
        assert_eq!(event.verdict(), Verdict::Ready);
    }

    #[test]
    fn revision_under_the_group_prefix_is_found() {
        let body = EVENT.replace("\"revision\"", "\"kustomize.toolkit.fluxcd.io/revision\"");
        let event = FluxEvent::parse(body.as_bytes()).expect("parses");
        assert!(event.revision().unwrap().ends_with("01234567"));
    }

    #[test]
    fn malformed_events_say_what_is_wrong() {
        let no_reason = EVENT.replace("\"ReconciliationSucceeded\"", "\"\"");
        let bad_severity = EVENT.replace("\"info\"", "\"loud\"");
        let bad_time = EVENT.replace("2026-11-23T10:00:00Z", "yesterday");
        let cases = [
            ("{", "not a Flux event"),
            ("{}", "involvedObject"),
            (no_reason.as_str(), "reason"),
            (bad_severity.as_str(), "loud"),
            (bad_time.as_str(), "yesterday"),
        ];
        for (body, expected) in cases {
            let error = FluxEvent::parse(body.as_bytes()).expect_err(body);
            assert!(error.to_string().contains(expected), "{error}");
        }
    }

    #[test]
    fn an_error_is_a_failure_whatever_the_reason() {
        assert_eq!(verdict("Progressing", "error"), Verdict::Failed);
        assert_eq!(verdict("HealthCheckFailed", "info"), Verdict::Failed);
        assert_eq!(verdict("Progressing", "info"), Verdict::Neutral);
    }

    #[test]
    fn newest_decisive_event_of_each_object_counts() {
        let a = "Kustomization/flux-system/apps";
        let b = "HelmRelease/apps/web";
        assert_eq!(outcome([]), FluxOutcome::Pending);
        assert_eq!(
            outcome([report(a, "Progressing", "info")]),
            FluxOutcome::Pending
        );
        let retried = outcome([
            report(a, "HealthCheckFailed", "error"),
            report(a, "ReconciliationSucceeded", "info"),
        ]);
        assert!(matches!(retried, FluxOutcome::Ready { .. }), "{retried:?}");
        let one_failed = outcome([
            report(a, "ReconciliationSucceeded", "info"),
            report(b, "UpgradeFailed", "error"),
        ]);
        assert!(
            matches!(&one_failed, FluxOutcome::Failed { reason, object, .. }
                if reason == "UpgradeFailed" && object == b),
            "{one_failed:?}"
        );
    }
}
