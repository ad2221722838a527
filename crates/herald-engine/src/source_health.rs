//! Which sources are failing, so a source that *becomes* unreadable (or fails for a new
//! reason: unreachable, then its host key changed) is recorded once as a `source.failed`
//! event, not at every check of every trigger that reads it.
//!
//! Kept in memory by each mode (one per process): after a restart a source still failing is
//! recorded once more, which a Notifier's fold window absorbs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use herald_api::SourceKind;
use herald_store::{EventKind, NewEvent};

use crate::fire::SourceError;

/// A source as a trigger in a namespace reads it (a ClusterGitRepo is news in each namespace
/// whose triggers read it: Notifiers are namespaced).
type Key = (String, SourceKind, String);

/// The failing sources and why. Cheap to clone (shared).
#[derive(Debug, Clone, Default)]
pub struct SourceHealth {
    failing: Arc<Mutex<HashMap<Key, &'static str>>>,
}

impl SourceHealth {
    /// Notes a check of source `name` by a trigger in `namespace`; the event to record when it
    /// now fails for a reason it did not fail for at the last check.
    pub fn observe(
        &self,
        namespace: &str,
        kind: SourceKind,
        name: &str,
        result: Result<(), &SourceError>,
    ) -> Option<NewEvent> {
        let key = (namespace.to_owned(), kind, name.to_owned());
        let mut failing = self.failing.lock().unwrap_or_else(PoisonError::into_inner);
        let error = match result {
            Ok(()) => {
                failing.remove(&key);
                return None;
            }
            Err(error) => error,
        };
        if failing.insert(key, error.reason) == Some(error.reason) {
            return None;
        }
        Some(NewEvent {
            namespace: Some(namespace.to_owned()),
            source: Some(name.to_owned()),
            involved_kind: Some(kind.to_string()),
            involved_namespace: (kind == SourceKind::GitRepo).then(|| namespace.to_owned()),
            involved_name: Some(name.to_owned()),
            reason: Some(error.reason.to_owned()),
            severity: Some("error".into()),
            message: Some(error.message.clone()),
            ..NewEvent::new(EventKind::SourceFailed)
        })
    }
}

impl SourceHealth {
    /// Why source `namespace/name` of `kind` failed at its last check (a ClusterGitRepo: by a
    /// trigger in any namespace); `None` while it reads fine, or has not been read.
    pub fn failing(&self, kind: SourceKind, namespace: &str, name: &str) -> Option<&'static str> {
        let failing = self.failing.lock().unwrap_or_else(PoisonError::into_inner);
        let cluster_scoped = kind == SourceKind::ClusterGitRepo;
        (failing.iter())
            .find(|((ns, k, n), _)| *k == kind && n == name && (cluster_scoped || ns == namespace))
            .map(|(_, reason)| *reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_api::reasons;

    #[test]
    fn a_source_is_news_when_it_starts_failing_or_fails_anew() {
        let health = SourceHealth::default();
        let unreachable = SourceError::new(reasons::UNREACHABLE, "connection refused");
        let changed = SourceError::new(reasons::HOST_KEY_CHANGED, "the host key changed");
        let check = |result| health.observe("team", SourceKind::GitRepo, "app", result);
        assert!(check(Ok(())).is_none());
        let event = check(Err(&unreachable)).unwrap();
        assert_eq!(event.kind, EventKind::SourceFailed);
        assert_eq!(event.reason.as_deref(), Some("Unreachable"));
        assert_eq!(event.involved_kind.as_deref(), Some("GitRepo"));
        assert_eq!(
            health.failing(SourceKind::GitRepo, "team", "app"),
            Some("Unreachable")
        );
        assert!(
            check(Err(&unreachable)).is_none(),
            "the same failure again is not news"
        );
        assert_eq!(
            check(Err(&changed)).unwrap().reason.as_deref(),
            Some("HostKeyChanged")
        );
        assert!(check(Ok(())).is_none());
        assert!(
            check(Err(&changed)).is_some(),
            "failing again after a recovery is news"
        );
        let other = health.observe("other", SourceKind::GitRepo, "app", Err(&changed));
        assert!(other.is_some(), "each namespace hears of it");
    }
}
