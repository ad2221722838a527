//! Every pushed attempt is an `image.update` event in the store: the tag, the outcome (its
//! reason) and the commit, queryable with `herald events --kind image.update`.

use herald_store::{EventKind, NewEvent};

use crate::report::Outcome;
use crate::update::Attempt;

/// The ImageUpdate (or annotated Deployment) an attempt was for.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    /// The manifests repository's GitRepo.
    pub repository: &'a str,
}

/// The event for `attempt`.
pub fn attempted(target: &Target<'_>, attempt: &Attempt) -> NewEvent {
    let severity = match attempt.report.action {
        Outcome::Failed | Outcome::Rejected => "error",
        _ => "info",
    };
    let mut payload = serde_json::to_value(&attempt.report).ok();
    if let Some(serde_json::Value::Object(fields)) = payload.as_mut() {
        fields.remove("diff");
    }
    NewEvent {
        revision: attempt.report.commit.clone(),
        reason: Some(attempt.reason.to_owned()),
        severity: Some(severity.into()),
        message: Some(attempt.report.message.clone()),
        payload,
        ..about(target)
    }
}

/// A notification about `target`'s attempt did not reach `endpoint` (`secret/key`, never the
/// URL): an event of its own, so the failure is visible without failing the update.
pub fn notification_failed(target: &Target<'_>, endpoint: &str, error: &str) -> NewEvent {
    NewEvent {
        reason: Some(herald_api::reasons::NOTIFICATION_FAILED.into()),
        severity: Some("error".into()),
        message: Some(format!("notification {endpoint}: {error}")),
        ..about(target)
    }
}

/// What every `image.update` event about `target` says: where, and which object and
/// repository.
fn about(target: &Target<'_>) -> NewEvent {
    NewEvent {
        namespace: Some(target.namespace.to_owned()),
        source: Some(target.repository.to_owned()),
        involved_kind: Some("ImageUpdate".into()),
        involved_namespace: Some(target.namespace.to_owned()),
        involved_name: Some(target.name.to_owned()),
        ..NewEvent::new(EventKind::ImageUpdate)
    }
}
