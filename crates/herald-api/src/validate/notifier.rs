//! Notifier: the receiver, what is selected and the fold window are checked at load, so a
//! typo is reported then, not when the first event would have been sent.

use std::collections::HashSet;

use super::{Errors, FieldError, SecretScope, Validate, index, join, secret_ref, steps};
use crate::notifier::EVENT_SOURCE_KINDS;
use crate::{NotifierSpec, NotifierType};

const NAMESPACED: SecretScope = SecretScope::OwnNamespace {
    kind: "Notifier",
    hint: "copy the Secret into the Notifier's namespace",
};

impl Validate for NotifierSpec {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        if let Some(address) = &self.address {
            errors.check("address", super::uri::http_url(address));
        }
        if let Some(secret) = &self.secret_ref {
            secret_ref(&mut errors, "secretRef", secret, NAMESPACED);
        }
        receiver(&mut errors, self);
        events(&mut errors, self);
        for (i, source) in self.event_sources.iter().enumerate() {
            let at = index("eventSources", i);
            if !EVENT_SOURCE_KINDS.contains(&source.kind.as_str()) {
                errors.add(
                    join(&at, "kind"),
                    format!(
                        "{:?} is not a kind Herald sends events about; use one of {}",
                        source.kind,
                        EVENT_SOURCE_KINDS.join(", ")
                    ),
                );
            }
            if source.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
                errors.add(join(&at, "name"), "a name, or `*` for any");
            }
        }
        if let Some(window) = &self.fold_window {
            errors.check("foldWindow", steps::duration(window).map(drop));
        }
        errors.finish()
    }
}

/// What each type needs to reach its receiver.
fn receiver(errors: &mut Errors, spec: &NotifierSpec) {
    let has_secret = spec.secret_ref.is_some();
    match spec.notifier_type {
        NotifierType::Slack | NotifierType::Generic if spec.address.is_none() && !has_secret => {
            errors.add(
                "address",
                "set the receiver's URL here or in the `address` key of a Secret named by \
                 secretRef",
            );
        }
        NotifierType::GenericHmac
        | NotifierType::Github
        | NotifierType::Gitlab
        | NotifierType::Gitea
            if !has_secret =>
        {
            errors.add(
                "secretRef",
                format!(
                    "{} needs a Secret with a `token` key ({})",
                    spec.notifier_type.as_str(),
                    if spec.notifier_type == NotifierType::GenericHmac {
                        "the HMAC key"
                    } else {
                        "the API token"
                    }
                ),
            );
        }
        _ => {}
    }
}

fn events(errors: &mut Errors, spec: &NotifierSpec) {
    let mut seen = HashSet::new();
    for (i, on) in spec.events.iter().enumerate() {
        if !seen.insert(on) {
            errors.add(index("events", i), format!("{on} is listed twice"));
        }
        if spec.notifier_type.is_commit_status() && !on.is_run() {
            errors.add(
                index("events", i),
                format!(
                    "a {} commit status shows runs only; send {on} with another Notifier",
                    spec.notifier_type.as_str()
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::test_support::{paths, single};
    use crate::{EventSource, NotifyOn, SecretRef, Severity};

    fn spec(notifier_type: NotifierType) -> NotifierSpec {
        NotifierSpec {
            notifier_type,
            address: Some("https://hooks.example.com/x".into()),
            secret_ref: Some(SecretRef {
                name: "hook".into(),
                namespace: None,
            }),
            events: Vec::new(),
            event_sources: Vec::new(),
            severity: Severity::Info,
            fold_window: None,
            suspend: false,
        }
    }

    #[test]
    fn every_type_with_what_it_needs_is_valid() {
        for t in [
            NotifierType::Slack,
            NotifierType::Generic,
            NotifierType::GenericHmac,
            NotifierType::Github,
            NotifierType::Gitlab,
            NotifierType::Gitea,
        ] {
            assert_eq!(paths(spec(t).validate()), Vec::<String>::new(), "{t:?}");
        }
    }

    #[test]
    fn a_receiver_without_an_address_or_a_token_is_refused() {
        let mut slack = spec(NotifierType::Slack);
        slack.address = None;
        slack.secret_ref = None;
        assert_eq!(single(slack.validate()).path, "address");
        let mut hmac = spec(NotifierType::GenericHmac);
        hmac.secret_ref = None;
        let error = single(hmac.validate());
        assert_eq!(error.path, "secretRef");
        assert!(error.message.contains("HMAC key"), "{error}");
        let mut github = spec(NotifierType::Github);
        github.secret_ref = None;
        github.address = None;
        assert!(single(github.validate()).message.contains("API token"));
    }

    #[test]
    fn bad_addresses_are_refused_without_echoing_credentials() {
        for bad in [
            "ftp://example.com/x",
            "hooks.example.com/x",
            "https://",
            "https://user:pass@example.com/x",
            "https://example.com/a b",
        ] {
            let mut s = spec(NotifierType::Generic);
            s.address = Some(bad.into());
            let error = single(s.validate());
            assert_eq!(error.path, "address", "{bad}");
            assert!(!error.message.contains("pass@"), "{error}");
        }
    }

    #[test]
    fn selections_and_windows_are_checked() {
        let mut s = spec(NotifierType::Slack);
        s.events = vec![NotifyOn::RunFailed, NotifyOn::RunFailed];
        s.event_sources = vec![EventSource {
            kind: "Deployment".into(),
            name: Some(" ".into()),
            match_labels: Default::default(),
        }];
        s.fold_window = Some("ten minutes".into());
        assert_eq!(
            paths(s.validate()),
            [
                "events[1]",
                "eventSources[0].kind",
                "eventSources[0].name",
                "foldWindow"
            ]
        );
    }

    #[test]
    fn a_commit_status_takes_run_events_only() {
        let mut s = spec(NotifierType::Gitea);
        s.events = vec![NotifyOn::RunSucceeded, NotifyOn::ImageUpdated];
        let error = single(s.validate());
        assert_eq!(error.path, "events[1]");
        assert!(error.message.contains("runs only"), "{error}");
    }
}
