//! Validation of whole manifests as users write them (and as local mode reads them).

use herald_api::validate::{FieldError, Validate, join_errors, parse_cron, parse_interval};
use herald_api::{
    Action, ClusterAction, ClusterGitRepo, GitRepo, Run, ScheduleTrigger, WebhookTrigger,
};
use serde::de::DeserializeOwned;

fn parse<T: DeserializeOwned>(yaml: &str) -> T {
    serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

fn paths(result: Result<(), Vec<FieldError>>) -> Vec<String> {
    result
        .err()
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.path)
        .collect()
}

const GIT_REPO: &str = r#"
apiVersion: herald.dev/v1alpha1
kind: GitRepo
metadata:
  name: app
  namespace: ci
spec:
  repoUri: https://git.example.com/org/app.git
  tlsConfig:
    caCert:
      secretRef: { name: internal-ca }
      key: ca.crt
  auth:
    type: token
    secretRef: { name: app-token }
"#;

const CLUSTER_GIT_REPO: &str = r#"
apiVersion: herald.dev/v1alpha1
kind: ClusterGitRepo
metadata:
  name: platform
spec:
  repoUri: git@github.com:org/platform.git
  auth:
    type: ssh
    secretRef: { name: deploy-key, namespace: herald-system }
    knownHosts: "github.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
"#;

const SCHEDULE_TRIGGER: &str = r#"
apiVersion: herald.dev/v1alpha1
kind: ScheduleTrigger
metadata:
  name: nightly
  namespace: ci
spec:
  sources:
    kind: GitRepo
    names: [app]
    watchOn:
      onChangeOnly: true
      reference: { branch: main }
      files: ["src/**", "Cargo.*"]
  schedule:
    cron: "0 2 * * *"
    timeZone: Europe/Berlin
  action: { kind: Action, name: build }
"#;

const WEBHOOK_TRIGGER: &str = r#"
apiVersion: herald.dev/v1alpha1
kind: WebhookTrigger
metadata:
  name: on-push
  namespace: ci
spec:
  sources:
    kind: ClusterGitRepo
    names: [platform]
    watchOn:
      reference: { tag: v1.0.0 }
  webhook:
    authConfig:
      secretRef: { name: hook-token }
  action: { kind: ClusterAction, name: release }
"#;

const ACTION: &str = r#"
apiVersion: herald.dev/v1alpha1
kind: Action
metadata:
  name: build
  namespace: ci
spec:
  actionJob:
    image: rust:1.85
    command: [cargo]
    args: [test]
    env:
      - { name: CARGO_TERM_COLOR, value: never }
    workdir: services/api
    activeDeadlineSeconds: 1800
    ttlSecondsAfterFinished: 600
"#;

const CLUSTER_ACTION: &str = r#"
apiVersion: herald.dev/v1alpha1
kind: ClusterAction
metadata:
  name: release
spec:
  actionJob:
    command: [./release.sh]
"#;

const RUN: &str = r#"
apiVersion: herald.dev/v1alpha1
kind: Run
metadata:
  name: nightly-app-0123456
  namespace: ci
spec:
  cause: Change
  trigger: { kind: ScheduleTrigger, name: nightly }
  source: { kind: GitRepo, name: app }
  gitRef: refs/heads/main
  revision: 0123456789abcdef0123456789abcdef01234567
  action: { kind: Action, name: build }
"#;

#[test]
fn well_formed_manifests_pass() {
    assert_eq!(parse::<GitRepo>(GIT_REPO).validate(), Ok(()));
    assert_eq!(parse::<ClusterGitRepo>(CLUSTER_GIT_REPO).validate(), Ok(()));
    assert_eq!(
        parse::<ScheduleTrigger>(SCHEDULE_TRIGGER).validate(),
        Ok(())
    );
    assert_eq!(parse::<WebhookTrigger>(WEBHOOK_TRIGGER).validate(), Ok(()));
    assert_eq!(parse::<Action>(ACTION).validate(), Ok(()));
    assert_eq!(parse::<ClusterAction>(CLUSTER_ACTION).validate(), Ok(()));
    assert_eq!(parse::<Run>(RUN).validate(), Ok(()));
}

#[test]
fn kind_paths_start_with_spec() {
    let mut repo: GitRepo = parse(GIT_REPO);
    repo.spec.repo_uri = "ftp://example.com/app".into();
    let errors = repo.validate().unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].path, "spec.repoUri");
    assert!(
        errors[0]
            .to_string()
            .starts_with("spec.repoUri: unsupported scheme \"ftp\"")
    );
    // The spec alone reports the same error without the prefix.
    assert_eq!(paths(repo.spec.validate()), ["repoUri"]);
}

#[test]
fn every_error_is_reported_at_once() {
    let trigger: ScheduleTrigger = parse(
        r#"
apiVersion: herald.dev/v1alpha1
kind: ScheduleTrigger
metadata: { name: Bad_Name }
spec:
  sources:
    kind: GitRepo
    names: [app, App]
    watchOn:
      reference: { branch: "feature x", commit: abc }
      files: ["src/[", "ok/**"]
  schedule:
    interval: 10m
    cron: "* * *"
  action: { kind: Action, name: "" }
"#,
    );
    let errors = trigger.validate().unwrap_err();
    assert_eq!(
        errors.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(),
        [
            "metadata.name",
            "spec.sources.names[1]",
            "spec.sources.watchOn.reference",
            "spec.sources.watchOn.reference.branch",
            "spec.sources.watchOn.reference.commit",
            "spec.sources.watchOn.files[0]",
            "spec.schedule",
            "spec.schedule.cron",
            "spec.action.name",
        ]
    );
    let line = join_errors(&errors);
    assert!(
        line.contains("spec.schedule.cron: invalid cron expression \"* * *\": "),
        "{line}"
    );
    assert!(line.contains("not branch and commit"), "{line}");
}

#[test]
fn namespaced_git_repo_may_not_name_a_secret_namespace() {
    let mut repo: GitRepo = parse(GIT_REPO);
    if let Some(auth) = repo.spec.auth.as_mut() {
        auth.secret_ref.namespace = Some("other".into());
    }
    let errors = repo.validate().unwrap_err();
    assert_eq!(errors[0].path, "spec.auth.secretRef.namespace");
    assert_eq!(
        errors[0].message,
        "namespaced GitRepo reads secrets only from its own namespace; remove \
         secretRef.namespace, or use a ClusterGitRepo"
    );
}

#[test]
fn scheduler_helpers() {
    assert_eq!(
        parse_interval("90s"),
        Ok(std::time::Duration::from_secs(90))
    );
    let (cron, tz) = parse_cron("0 2 * * *", Some("Europe/Berlin")).expect("valid cron");
    assert_eq!(tz.iana_name(), Some("Europe/Berlin"));
    let start = jiff::civil::date(2025, 3, 1)
        .at(12, 0, 0, 0)
        .to_zoned(tz)
        .expect("a valid time");
    let next = cron
        .find_next_occurrence(&start, false)
        .expect("a next time");
    assert_eq!(next.to_string(), "2025-03-02T02:00:00+01:00[Europe/Berlin]");
    assert!(parse_cron("0 2 * * *", Some("Europe/Nowhere")).is_err());
}
