//! Spec validation that Herald does itself.
//!
//! The OpenAPI schema in the CRDs catches what it can express (required fields, lengths,
//! patterns), but Kubernetes 1.20 ignores CEL rules and local mode has no API server at all,
//! so every rule lives here too and the engine checks specs before acting on them.
//!
//! [`Validate::validate`] collects every problem, not just the first. Paths use the manifest's
//! field names: `schedule.cron` on a spec, `spec.schedule.cron` on the kind.

use std::fmt;

use crate::{
    Action, ClusterAction, ClusterGitRepo, GitRepo, ImageUpdate, Notifier, Run, ScheduleTrigger,
    WebhookTrigger,
};

mod action;
mod image_update;
mod names;
mod notifier;
mod run;
mod schedule;
mod source;
mod steps;
mod trigger;
mod uri;

pub use image_update::{PUSH_BRANCH_PLACEHOLDERS, render_push_branch, repository_path};
pub(crate) use names::patterns;
pub use schedule::{parse_cron, parse_interval};
pub use steps::{duration as step_duration, output_key};

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// Dotted path of the field, e.g. `spec.schedule.cron` or `spec.sources.names[1]`.
    pub path: String,
    /// What is wrong and, where it helps, how to fix it.
    pub message: String,
}

impl FieldError {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }

    /// The same error with `prefix.` in front of its path (`spec` + `schedule.cron`).
    #[must_use]
    pub fn prefixed(self, prefix: &str) -> Self {
        Self {
            path: join(prefix, &self.path),
            message: self.message,
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for FieldError {}

/// Checks a spec (or a whole object) without any IO.
pub trait Validate {
    /// `Ok(())`, or every problem found.
    fn validate(&self) -> Result<(), Vec<FieldError>>;
}

/// All errors on one line, `; `-separated: for condition messages and logs.
pub fn join_errors(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Collects errors while a spec is walked.
#[derive(Debug, Default)]
pub(crate) struct Errors(Vec<FieldError>);

impl Errors {
    pub(crate) fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(path, message));
    }

    /// Records `result`'s message at `path` if it is an error.
    pub(crate) fn check(&mut self, path: impl Into<String>, result: Result<(), String>) {
        if let Err(message) = result {
            self.add(path, message);
        }
    }

    /// Records errors from a nested validation under `prefix`.
    pub(crate) fn nested(&mut self, prefix: &str, result: Result<(), Vec<FieldError>>) {
        if let Err(errors) = result {
            self.0
                .extend(errors.into_iter().map(|e| e.prefixed(prefix)));
        }
    }

    pub(crate) fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}

/// `at.field`, or `field` at the root.
pub(crate) fn join(at: &str, field: &str) -> String {
    match (at.is_empty(), field.is_empty()) {
        (true, _) => field.to_owned(),
        (_, true) => at.to_owned(),
        _ if field.starts_with('[') => format!("{at}{field}"),
        _ => format!("{at}.{field}"),
    }
}

/// `at[i]`.
pub(crate) fn index(at: &str, i: usize) -> String {
    format!("{at}[{i}]")
}

/// Where a secret reference may point.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SecretScope {
    /// A namespaced kind: the secret is always in the object's own namespace.
    OwnNamespace {
        kind: &'static str,
        hint: &'static str,
    },
    /// A cluster-scoped kind: the reference may name a namespace.
    AnyNamespace,
}

/// Checks a [`crate::SecretRef`] found at `at`.
pub(crate) fn secret_ref(
    errors: &mut Errors,
    at: &str,
    secret: &crate::SecretRef,
    scope: SecretScope,
) {
    errors.check(
        join(at, "name"),
        names::dns1123_subdomain(&secret.name).map_err(|m| format!("secret name {m}")),
    );
    match (scope, &secret.namespace) {
        (_, None) => {}
        (SecretScope::OwnNamespace { kind, hint }, Some(_)) => errors.add(
            join(at, "namespace"),
            format!("namespaced {kind} reads secrets only from its own namespace; {hint}"),
        ),
        (SecretScope::AnyNamespace, Some(ns)) => errors.check(
            join(at, "namespace"),
            names::dns1123_label(ns).map_err(|m| format!("namespace {m}")),
        ),
    }
}

/// Checks a [`crate::SecretKeyRef`] found at `at`.
pub(crate) fn secret_key_ref(
    errors: &mut Errors,
    at: &str,
    key_ref: &crate::SecretKeyRef,
    scope: SecretScope,
) {
    secret_ref(errors, &join(at, "secretRef"), &key_ref.secret_ref, scope);
    errors.check(join(at, "key"), names::secret_key(&key_ref.key));
}

/// Object metadata: a valid name (or `generateName`), and a namespace only where it belongs.
fn metadata(
    errors: &mut Errors,
    kind: &str,
    namespaced: bool,
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) {
    match (&meta.name, &meta.generate_name) {
        (Some(name), _) => errors.check(
            "metadata.name",
            names::dns1123_subdomain(name).map_err(|m| format!("name {m}")),
        ),
        (None, Some(_)) => {}
        (None, None) => errors.add("metadata.name", format!("every {kind} needs a name")),
    }
    match (&meta.namespace, namespaced) {
        (None, _) => {}
        (Some(ns), true) => errors.check(
            "metadata.namespace",
            names::dns1123_label(ns).map_err(|m| format!("namespace {m}")),
        ),
        (Some(_), false) => errors.add(
            "metadata.namespace",
            format!("{kind} is cluster-scoped and takes no namespace"),
        ),
    }
}

macro_rules! validate_kind {
    ($($kind:ident: $namespaced:expr),* $(,)?) => {$(
        /// Checks `metadata.name` (and namespace), then the spec under `spec.`.
        impl Validate for $kind {
            fn validate(&self) -> Result<(), Vec<FieldError>> {
                let mut errors = Errors::default();
                metadata(&mut errors, stringify!($kind), $namespaced, &self.metadata);
                errors.nested("spec", self.spec.validate());
                errors.finish()
            }
        }
    )*};
}

validate_kind!(
    GitRepo: true,
    ClusterGitRepo: false,
    ScheduleTrigger: true,
    WebhookTrigger: true,
    Action: true,
    ClusterAction: false,
    Run: true,
    ImageUpdate: true,
    Notifier: true,
);

#[cfg(test)]
mod test_support {
    use super::FieldError;

    /// The paths of the errors, in order; empty when valid.
    pub(crate) fn paths(result: Result<(), Vec<FieldError>>) -> Vec<String> {
        match result {
            Ok(()) => Vec::new(),
            Err(errors) => errors.into_iter().map(|e| e.path).collect(),
        }
    }

    /// The single error, or a panic naming what was found instead.
    pub(crate) fn single(result: Result<(), Vec<FieldError>>) -> FieldError {
        match result {
            Ok(()) => panic!("expected one error, got none"),
            Err(mut errors) if errors.len() == 1 => errors.remove(0),
            Err(errors) => panic!("expected one error, got {errors:#?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ActionJob, ActionSpec, SecretRef};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    #[test]
    fn display_puts_the_path_first() {
        let e = FieldError::new("spec.schedule.cron", "invalid cron expression \"* * *\": x");
        assert_eq!(
            e.to_string(),
            "spec.schedule.cron: invalid cron expression \"* * *\": x"
        );
        assert_eq!(FieldError::new("", "bad").to_string(), "bad");
    }

    #[test]
    fn prefixing_and_joining() {
        assert_eq!(
            FieldError::new("a.b", "m").prefixed("spec").path,
            "spec.a.b"
        );
        assert_eq!(FieldError::new("", "m").prefixed("spec").path, "spec");
        assert_eq!(join("", "x"), "x");
        assert_eq!(join("a", "[0]"), "a[0]");
        assert_eq!(index("names", 2), "names[2]");
        let errors = vec![FieldError::new("a", "x"), FieldError::new("b", "y")];
        assert_eq!(join_errors(&errors), "a: x; b: y");
    }

    fn action(name: Option<&str>, namespace: Option<&str>) -> Action {
        let mut action = Action::new(
            "placeholder",
            ActionSpec {
                definition: ActionJob {
                    command: vec!["true".into()],
                    ..ActionJob::default()
                }
                .into(),
            },
        );
        action.metadata = ObjectMeta {
            name: name.map(Into::into),
            namespace: namespace.map(Into::into),
            ..ObjectMeta::default()
        };
        action
    }

    #[test]
    fn kinds_check_metadata_and_prefix_spec_paths() {
        use test_support::paths;
        assert_eq!(
            paths(action(Some("build"), Some("ci")).validate()),
            Vec::<String>::new()
        );
        assert_eq!(paths(action(None, None).validate()), ["metadata.name"]);
        assert_eq!(
            paths(action(Some("Build"), None).validate()),
            ["metadata.name"]
        );
        assert_eq!(
            paths(action(Some("b"), Some("a.b")).validate()),
            ["metadata.namespace"]
        );
        let mut generated = action(None, None);
        generated.metadata.generate_name = Some("build-".into());
        assert_eq!(paths(generated.validate()), Vec::<String>::new());

        let mut bad = action(Some("build"), None);
        if let Some(job) = bad.spec.definition.action_job.as_mut() {
            job.command.clear();
        }
        assert_eq!(paths(bad.validate()), ["spec.actionJob.command"]);
    }

    #[test]
    fn cluster_kinds_take_no_namespace() {
        let spec = crate::ClusterActionSpec {
            definition: ActionJob {
                command: vec!["true".into()],
                ..ActionJob::default()
            }
            .into(),
        };
        let mut ca = ClusterAction::new("shared", spec);
        assert_eq!(test_support::paths(ca.validate()), Vec::<String>::new());
        ca.metadata.namespace = Some("default".into());
        let e = test_support::single(ca.validate());
        assert_eq!(e.path, "metadata.namespace");
        assert!(e.message.contains("cluster-scoped"), "{e}");
    }

    #[test]
    fn secret_refs_by_scope() {
        let own = SecretScope::OwnNamespace {
            kind: "GitRepo",
            hint: "use ClusterGitRepo",
        };
        let check = |r: SecretRef, scope| {
            let mut e = Errors::default();
            secret_ref(&mut e, "auth.secretRef", &r, scope);
            e.finish()
        };
        let named = |name: &str, ns: Option<&str>| SecretRef {
            name: name.into(),
            namespace: ns.map(Into::into),
        };
        assert!(check(named("creds", None), own).is_ok());
        assert!(check(named("creds", Some("infra")), SecretScope::AnyNamespace).is_ok());
        let e = test_support::single(check(named("creds", Some("infra")), own));
        assert_eq!(e.path, "auth.secretRef.namespace");
        assert_eq!(
            e.message,
            "namespaced GitRepo reads secrets only from its own namespace; use ClusterGitRepo"
        );
        assert_eq!(
            test_support::paths(check(named("Creds", None), own)),
            ["auth.secretRef.name"]
        );
        assert_eq!(
            test_support::paths(check(named("", Some("No_NS")), SecretScope::AnyNamespace)),
            ["auth.secretRef.name", "auth.secretRef.namespace"]
        );
    }
}
