//! Whether a Notifier wants a notice: its `events`, `severity` and `eventSources`.

use std::collections::BTreeMap;

use herald_api::{NotifierSpec, NotifyOn, Severity};

use crate::notice::{Notice, Object};

/// Whether `spec` selects `notice`. `labels` gives an object's labels in the notice's
/// namespace (asked only when a selector names labels; `None` when the object is gone).
pub fn wants(
    spec: &NotifierSpec,
    notice: &Notice,
    labels: impl Fn(&Object) -> Option<BTreeMap<String, String>>,
) -> bool {
    if spec.suspend {
        return false;
    }
    let listed = if spec.events.is_empty() {
        NotifyOn::defaults().any(|on| on == notice.event)
    } else {
        spec.events.contains(&notice.event)
    };
    if !listed || (spec.severity == Severity::Error && notice.severity != Severity::Error) {
        return false;
    }
    if spec.notifier_type.is_commit_status()
        && !(notice.event.is_run() && notice.revision.is_some())
    {
        return false;
    }
    spec.event_sources.is_empty()
        || spec.event_sources.iter().any(|selector| {
            notice.related().any(|object| {
                selector.kind == object.kind
                    && selector
                        .name
                        .as_deref()
                        .is_none_or(|name| name == "*" || name == object.name)
                    && (selector.match_labels.is_empty()
                        || labels(object).is_some_and(|have| {
                            selector
                                .match_labels
                                .iter()
                                .all(|(k, v)| have.get(k) == Some(v))
                        }))
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notice::sample as notice;
    use herald_api::{EventSource, NotifierType};

    fn spec(t: NotifierType) -> NotifierSpec {
        NotifierSpec {
            notifier_type: t,
            address: None,
            secret_ref: None,
            events: Vec::new(),
            event_sources: Vec::new(),
            severity: Severity::Info,
            fold_window: None,
            suspend: false,
        }
    }

    fn selector(kind: &str, name: Option<&str>, labels: &[(&str, &str)]) -> EventSource {
        EventSource {
            kind: kind.into(),
            name: name.map(Into::into),
            match_labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    fn no_labels(_: &Object) -> Option<BTreeMap<String, String>> {
        None
    }

    #[test]
    fn defaults_send_runs_but_not_steps() {
        let s = spec(NotifierType::Slack);
        assert!(wants(&s, &notice(NotifyOn::RunFailed), no_labels));
        assert!(wants(&s, &notice(NotifyOn::RunStarted), no_labels));
        assert!(!wants(&s, &notice(NotifyOn::StepFailed), no_labels));
        let mut suspended = s.clone();
        suspended.suspend = true;
        assert!(!wants(&suspended, &notice(NotifyOn::RunFailed), no_labels));
    }

    #[test]
    fn events_and_severity_narrow_it() {
        let mut s = spec(NotifierType::Generic);
        s.events = vec![NotifyOn::StepFailed, NotifyOn::RunSucceeded];
        assert!(wants(&s, &notice(NotifyOn::StepFailed), no_labels));
        assert!(!wants(&s, &notice(NotifyOn::RunFailed), no_labels));
        s.severity = Severity::Error;
        assert!(!wants(&s, &notice(NotifyOn::RunSucceeded), no_labels));
        assert!(wants(&s, &notice(NotifyOn::StepFailed), no_labels));
    }

    #[test]
    fn event_sources_match_any_related_object_by_kind_name_and_labels() {
        let mut s = spec(NotifierType::Slack);
        s.event_sources = vec![selector("Action", Some("deploy"), &[])];
        assert!(!wants(&s, &notice(NotifyOn::RunFailed), no_labels));
        s.event_sources
            .push(selector("GitRepo", Some("*"), &[("team", "web")]));
        assert!(!wants(&s, &notice(NotifyOn::RunFailed), no_labels));
        let labelled = |o: &Object| {
            (o.kind == "GitRepo").then(|| BTreeMap::from([("team".into(), "web".into())]))
        };
        assert!(wants(&s, &notice(NotifyOn::RunFailed), labelled));
        s.event_sources = vec![selector("ScheduleTrigger", None, &[])];
        assert!(wants(&s, &notice(NotifyOn::RunFailed), no_labels));
        s.event_sources = vec![selector("WebhookTrigger", None, &[])];
        assert!(!wants(&s, &notice(NotifyOn::RunFailed), no_labels));
    }

    #[test]
    fn a_commit_status_needs_a_run_with_a_revision() {
        let s = spec(NotifierType::Github);
        assert!(wants(&s, &notice(NotifyOn::RunSucceeded), no_labels));
        let mut image = notice(NotifyOn::ImageUpdated);
        image.object.kind = "ImageUpdate".into();
        assert!(!wants(&s, &image, no_labels));
        let mut bare = notice(NotifyOn::RunSucceeded);
        bare.revision = None;
        assert!(!wants(&s, &bare, no_labels));
    }
}
