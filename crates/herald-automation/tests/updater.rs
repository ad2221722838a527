//! The engine end to end against a real registry (Debian's `docker-registry`) and a real
//! bare repository: the tag chosen from the registry's tags, the registry asked once per image
//! however many ImageUpdates follow it, their updates landing as one commit, every attempt
//! an event. The mode's reads (`UpdateEnv`) are an in-memory map here; each mode's own is
//! tested in herald-local and herald-kube.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use herald_api::{
    GitCommitPolicy, ImagePolicy, ImageSource, ImageUpdate, ImageUpdateSpec, RequireImage,
    SecretRef, SemverPolicy, SourceKind, SourceRef, UpdateTarget,
};
use herald_automation::notify::Notifier;
use herald_automation::writer::{WriterConfig, Writers};
use herald_automation::{Mode, Outcome, UpdateEnv, Updater};
use herald_engine::SourceError;
use herald_git::Remote;
use herald_registry::RegistryClient;
use herald_store::NewEvent;
use herald_testkit::registry::{self, OCI_MANIFEST, Registry};
use support::{Manifests, deployment};

/// What a mode would read, from memory.
#[derive(Debug, Default)]
struct TestEnv {
    remotes: HashMap<String, Remote>,
    secrets: HashMap<(String, String), Vec<u8>>,
    events: Mutex<Vec<NewEvent>>,
}

impl UpdateEnv for TestEnv {
    async fn remote(&self, namespace: &str, source: &SourceRef) -> Result<Remote, SourceError> {
        self.remotes
            .get(&source.name)
            .cloned()
            .ok_or_else(|| SourceError::not_found(source.kind, namespace, &source.name))
    }

    async fn record(&self, event: NewEvent) {
        self.events.lock().unwrap().push(event);
    }
}

impl herald_engine::SecretReader for TestEnv {
    async fn secret_value(
        &self,
        namespace: &str,
        name: &str,
        key: &str,
    ) -> Result<Vec<u8>, SourceError> {
        let found = self
            .secrets
            .get(&(name.to_owned(), key.to_owned()))
            .cloned();
        found.ok_or_else(|| SourceError::secret_missing(namespace, name))
    }
}

fn registry() -> Option<&'static Registry> {
    registry::htpasswd_registry()
}

fn updater(env: TestEnv, cache: std::path::PathBuf) -> (Updater<TestEnv>, Arc<TestEnv>) {
    let env = Arc::new(env);
    let config = WriterConfig {
        quiet_window: Duration::from_millis(300),
        ..WriterConfig::default()
    };
    let updater = Updater::new(
        env.clone(),
        RegistryClient::new().unwrap(),
        Writers::new(cache, config),
        Notifier::new().unwrap(),
        Duration::from_secs(30),
        herald_server::Metrics::default(),
    );
    (updater, env)
}

fn image_update(name: &str, repository: &str, policy: ImagePolicy, path: &str) -> ImageUpdate {
    let mut update = ImageUpdate::new(
        name,
        ImageUpdateSpec {
            image: ImageSource {
                repository: repository.to_owned(),
                secret_ref: Some(SecretRef {
                    name: "regcred".into(),
                    namespace: None,
                }),
                insecure: false,
            },
            policy,
            require_image: None,
            interval: Some("1h".into()),
            target: UpdateTarget {
                git_repo: SourceRef {
                    kind: SourceKind::GitRepo,
                    name: "manifests".into(),
                },
                branch: "main".into(),
                push_branch: None,
                push_options: vec![],
                paths: vec![path.to_owned()],
                values: vec![],
            },
            commit: None,
            notifications: vec![],
            suspend: false,
        },
    );
    update.metadata.namespace = Some("apps".into());
    update
}

fn semver(range: &str) -> ImagePolicy {
    ImagePolicy {
        semver: Some(SemverPolicy {
            range: range.into(),
            prereleases: false,
        }),
        ..ImagePolicy::default()
    }
}

/// `GET .../tags/list` requests of `path` the registry answered (200) so far: a 401 that
/// asks for credentials is part of the same listing.
fn tag_listings(registry: &Registry, path: &str) -> usize {
    let needle = format!("GET /v2/{path}/tags/list HTTP/1.1\" 200 ");
    registry
        .log()
        .lines()
        .filter(|line| line.contains(&needle))
        .count()
}

fn env_for(registry: &Registry, manifests_url: String) -> TestEnv {
    let mut env = TestEnv::default();
    env.remotes
        .insert("manifests".into(), Remote::anonymous(manifests_url));
    let config = registry::docker_config_json(registry).into_bytes();
    env.secrets
        .insert(("regcred".into(), ".dockerconfigjson".into()), config);
    env
}

#[tokio::test]
async fn ten_updates_of_one_image_ask_the_registry_once_and_land_as_one_commit() {
    let Some(registry) = registry() else { return };
    let path = "team/shared";
    let tags: Vec<String> = ["1.0.0", "1.2.0", "1.10.1", "2.0.0-rc.1", "1.10.1.sig"]
        .map(String::from)
        .to_vec();
    registry::push_image(registry, path, &tags, OCI_MANIFEST).await;
    let image = format!("{}/{path}", registry.host);
    let files: Vec<(String, String)> = (0..10)
        .map(|i| {
            let name = format!("svc{i}");
            (
                format!("apps/{name}/deployment.yaml"),
                deployment(&name, &format!("{image}:1.0.0")),
            )
        })
        .collect();
    let repo = Manifests::new(&files);
    let (updater, env) = updater(env_for(registry, repo.path_url()), repo.cache());
    let before = tag_listings(registry, path);
    let updates: Vec<ImageUpdate> = (0..10)
        .map(|i| {
            image_update(
                &format!("svc{i}"),
                &image,
                semver("^1.0"),
                &format!("apps/svc{i}"),
            )
        })
        .collect();
    let attempts =
        futures::future::join_all(updates.iter().map(|u| updater.attempt(u, Mode::Push))).await;
    let commits: std::collections::BTreeSet<_> =
        attempts.iter().map(|a| a.report.commit.clone()).collect();
    for attempt in &attempts {
        assert_eq!(
            attempt.report.action,
            Outcome::Updated,
            "{:?}",
            attempt.report
        );
        assert_eq!(attempt.report.from.as_deref(), Some("1.0.0"));
        assert_eq!(attempt.report.to.as_deref(), Some("1.10.1"));
    }
    assert_eq!(commits.len(), 1, "one commit for all ten: {commits:?}");
    let commit = attempts[0].report.commit.clone().unwrap();
    assert_eq!(repo.rev("main"), commit);
    assert_eq!(
        tag_listings(registry, path) - before,
        1,
        "one listing for ten updates; the registry's log:\n{}",
        registry.log()
    );
    for i in 0..10 {
        let file = repo.show("main", &format!("apps/svc{i}/deployment.yaml"));
        let expected = deployment(&format!("svc{i}"), &format!("{image}:1.10.1"));
        assert_eq!(file, expected.trim_end());
    }

    // Again within the interval: up to date, and the listing is reused.
    let again = updater.attempt(&updates[3], Mode::Push).await;
    assert_eq!(again.report.action, Outcome::UpToDate, "{:?}", again.report);
    assert_eq!(tag_listings(registry, path) - before, 1);
    let events = env.events.lock().unwrap();
    assert_eq!(events.len(), 11, "every attempt is an event");
    assert!(
        events
            .iter()
            .all(|e| e.kind == herald_store::EventKind::ImageUpdate)
    );
    let updated = events
        .iter()
        .filter(|e| e.reason.as_deref() == Some("Updated"));
    assert!(
        updated
            .clone()
            .all(|e| e.revision.as_deref() == Some(commit.as_str()))
    );
    assert_eq!(updated.count(), 10);
}

#[tokio::test]
async fn a_commit_tag_waits_for_its_image_then_updates() {
    let Some(registry) = registry() else { return };
    let app = herald_testkit::TestRepo::new();
    let head = app.commit("a feature");
    let short = &head[..7];
    let path = "team/api";
    let image = format!("{}/{path}", registry.host);
    let repo = Manifests::new(&[(
        "deploy/api.yaml".to_owned(),
        deployment("api", &format!("{image}:0000000")),
    )]);
    let mut env = env_for(registry, repo.path_url());
    env.remotes
        .insert("app".into(), Remote::anonymous(app.url()));
    let (updater, _env) = updater(env, repo.cache());
    let policy = ImagePolicy {
        git_commit: Some(GitCommitPolicy {
            source: SourceRef {
                kind: SourceKind::GitRepo,
                name: "app".into(),
            },
            branch: "main".into(),
            tag: Some("{{shortSha}}".into()),
        }),
        ..ImagePolicy::default()
    };
    let mut update = image_update("api", &image, policy, "deploy");
    update.spec.require_image = Some(RequireImage {
        timeout: Some("10m".into()),
    });

    let waiting = updater.attempt(&update, Mode::Push).await;
    assert_eq!(
        waiting.report.action,
        Outcome::WaitingForImage,
        "{:?}",
        waiting.report
    );
    assert_eq!(waiting.report.to.as_deref(), Some(short));
    assert!(waiting.retry_after.is_some());
    assert_eq!(
        repo.commit_count("main"),
        1,
        "nothing written before the image exists"
    );

    registry::push_image(registry, path, &[short.to_owned()], OCI_MANIFEST).await;
    let dry = updater.attempt(&update, Mode::DryRun).await;
    assert_eq!(dry.report.action, Outcome::DryRun, "{:?}", dry.report);
    let diff = dry.report.diff.clone().unwrap();
    assert!(
        diff.contains(&format!("+          image: {image}:{short}")),
        "{diff}"
    );
    assert_eq!(repo.commit_count("main"), 1, "a dry run pushes nothing");

    let updated = updater.attempt(&update, Mode::Push).await;
    assert_eq!(
        updated.report.action,
        Outcome::Updated,
        "{:?}",
        updated.report
    );
    assert_eq!(updated.report.from.as_deref(), Some("0000000"));
    assert_eq!(
        repo.show("main", "deploy/api.yaml"),
        deployment("api", &format!("{image}:{short}")).trim_end()
    );
}

#[tokio::test]
async fn registry_and_policy_failures_are_reported_with_their_reason() {
    let Some(registry) = registry() else { return };
    let repo = Manifests::new(&[("a.yaml".to_owned(), deployment("a", "x:1"))]);
    let image = format!("{}/team/none-match", registry.host);
    registry::push_image(registry, "team/none-match", &["0.1.0".into()], OCI_MANIFEST).await;

    let mut env = env_for(registry, repo.path_url());
    let (updater, _) = updater(TestEnv::default(), repo.cache());
    let nothing = updater
        .attempt(
            &image_update("a", &image, semver(">=1.0.0"), "."),
            Mode::Push,
        )
        .await;
    assert_eq!(nothing.reason, "SecretMissing", "{:?}", nothing.report);

    env.secrets.insert(
        ("regcred".into(), ".dockerconfigjson".into()),
        br#"{"auths": {}}"#.to_vec(),
    );
    let (updater, _) = self::updater(env, repo.cache());
    let unauthorized = updater
        .attempt(
            &image_update("a", &image, semver(">=1.0.0"), "."),
            Mode::Push,
        )
        .await;
    assert_eq!(
        unauthorized.reason, "RegistryUnauthorized",
        "{:?}",
        unauthorized.report
    );
    assert_eq!(unauthorized.report.status, "Failure");

    let (updater, _) = self::updater(env_for(registry, repo.path_url()), repo.cache());
    let no_tag = updater
        .attempt(
            &image_update("a", &image, semver(">=1.0.0"), "."),
            Mode::Push,
        )
        .await;
    assert_eq!(no_tag.reason, "NoMatchingTag", "{:?}", no_tag.report);
    assert_eq!(no_tag.report.action, Outcome::Failed);
    assert_eq!(repo.commit_count("main"), 1);
}
