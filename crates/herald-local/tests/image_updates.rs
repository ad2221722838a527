//! `herald local`'s image automation end to end, against real parts only: images pushed to a
//! real registry (Debian's `docker-registry` behind htpasswd), the manifests repository served
//! by a real `sshd` (pushed to with the GitRepo's key, the host key verified), an application
//! repository over `file://`, and real HTTP receivers for the notifications.
//!
//! Local mode attempts each ImageUpdate when it is loaded and then every `interval`. The tests
//! use `interval: 1h`, wait for that first attempt (which fails: the image is not pushed yet)
//! and then drive every attempt with the reconcile endpoints, so nothing races the test.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use herald_testkit::axum;
use herald_testkit::registry::{
    OCI_MANIFEST, PASSWORD, Registry, docker_config_json, htpasswd_registry, push_image,
};
use herald_testkit::{SshGitServer, git};
use serde_json::Value;
use support::{DEADLINE, LocalHerald, Manifests, TestRepo, wait_for};

const NAMESPACE: &str = "apps";

/// The real parts every test needs, or `None` (skipped locally, a panic under `CI`).
fn parts() -> Option<(&'static Registry, &'static SshGitServer)> {
    let registry = htpasswd_registry()?;
    let ssh = SshGitServer::start()?;
    Some((registry, ssh))
}

fn tags(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

/// `text` with every line indented by `by` spaces (a YAML block scalar's body).
fn indent(text: &str, by: usize) -> String {
    let pad = " ".repeat(by);
    text.lines()
        .map(|line| format!("{pad}{line}\n"))
        .collect::<String>()
}

/// The GitRepo `manifests` over SSH (its key in the Secret `manifests-key`, the host key
/// verified against `knownHosts`) and the registry's Secret `regcred`.
fn manifests_repo_and_secrets(ssh: &SshGitServer, repo: &str, registry: &Registry) -> String {
    format!(
        r#"apiVersion: herald.dev/v1alpha1
kind: GitRepo
metadata: {{name: manifests, namespace: {NAMESPACE}}}
spec:
  repoUri: "{url}"
  auth:
    type: ssh
    username: {user}
    secretRef: {{name: manifests-key}}
    knownHosts: "{known_hosts}"
---
apiVersion: v1
kind: Secret
metadata: {{name: manifests-key, namespace: {NAMESPACE}}}
type: kubernetes.io/ssh-auth
stringData:
  ssh-privatekey: |
{key}---
apiVersion: v1
kind: Secret
metadata: {{name: regcred, namespace: {NAMESPACE}}}
type: kubernetes.io/dockerconfigjson
stringData:
  .dockerconfigjson: '{docker_config}'
"#,
        url = ssh.url(repo),
        user = ssh.user(),
        known_hosts = ssh.known_hosts().trim(),
        key = indent(&ssh.client_private_key(), 4),
        docker_config = docker_config_json(registry),
    )
}

/// An ImageUpdate `name` following `image` with `policy` (YAML indented by four spaces) and
/// `extra` spec fields (indented by two), writing to the GitRepo `manifests`' `main`.
fn image_update(name: &str, image: &str, policy: &str, extra: &str) -> String {
    format!(
        r#"---
apiVersion: herald.dev/v1alpha1
kind: ImageUpdate
metadata: {{name: {name}, namespace: {NAMESPACE}}}
spec:
  image:
    repository: {image}
    secretRef: {{name: regcred}}
  policy:
{policy}  interval: 1h
  target:
    gitRepo: {{kind: GitRepo, name: manifests}}
    branch: main
  commit:
    author: {{name: Herald Bot, email: bot@example.com}}
{extra}"#
    )
}

fn semver_policy() -> String {
    "    semver: {range: \">=1.0.0\"}\n".to_owned()
}

/// The manifests file of the semver tests: two documents, comments, a quoted image and, in
/// the second document, an image whose name only starts like the followed one.
fn web_yaml(host: &str, image: &str, tag: &str) -> String {
    format!(
        r#"# The web tier: its Deployment and its worker, in one file.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web   # the public one
spec:
  template:
    spec:
      containers:
        - name: web
          image: "{host}/{image}:{tag}" # kept by Herald
          ports:
            - containerPort: 8080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-worker
spec:
  template:
    spec:
      containers:
        - name: worker
          image: '{host}/{image}-worker:{tag}'
"#
    )
}

/// `file` as committed on `main` of the bare repository, byte for byte.
fn show(bare: &Path, file: &str) -> String {
    let output = std::process::Command::new("git")
        .current_dir(bare)
        .args(["show", &format!("main:{file}")])
        .output()
        .unwrap();
    assert!(output.status.success(), "git show main:{file}");
    String::from_utf8(output.stdout).unwrap()
}

fn main_of(bare: &Path) -> String {
    git(bare, &["rev-parse", "refs/heads/main"])
}

async fn get(herald: &LocalHerald, path: &str) -> (u16, String) {
    let response = support::client()
        .get(format!("http://{}{path}", herald.listen))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn get_json(herald: &LocalHerald, path: &str) -> Value {
    let (status, body) = get(herald, path).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// POST the reconcile of ImageUpdate `name`; its report.
async fn reconcile(herald: &LocalHerald, name: &str, dry_run: bool) -> Value {
    let query = if dry_run { "?dryRun=true" } else { "" };
    let path = format!("/api/v1/imageupdates/{NAMESPACE}/{name}/reconcile{query}");
    let (status, report) = herald.post(&path, &[], b"").await;
    assert_eq!(status, 200, "POST {path}: {report}");
    report
}

/// The view of ImageUpdate `name` in `GET /api/v1/imageupdates`.
async fn view(herald: &LocalHerald, name: &str) -> Option<Value> {
    let list = get_json(herald, "/api/v1/imageupdates").await;
    list.as_array()
        .unwrap()
        .iter()
        .find(|v| v["namespace"] == NAMESPACE && v["name"] == name)
        .cloned()
}

/// Wait for the attempt local mode makes when it loads `name`; its report. Every test does
/// this before pushing its image, so that attempt finds nothing to do and the test's own
/// requests are the only ones that can update.
async fn first_attempt(herald: &LocalHerald, name: &str) -> Value {
    let what = format!("the first attempt of {name}");
    wait_for(&what, DEADLINE, || async {
        view(herald, name)
            .await
            .and_then(|v| v.get("last").cloned())
            .filter(|last| !last.is_null())
    })
    .await
}

/// The `image.update` events of ImageUpdate `name`, oldest first.
async fn image_update_events(herald: &LocalHerald, name: &str) -> Vec<Value> {
    let page = get_json(herald, "/api/v1/events?kind=image.update").await;
    let mut events: Vec<Value> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["involvedName"] == name && e["involvedKind"] == "ImageUpdate")
        .cloned()
        .collect();
    events.sort_by_key(|e| e["id"].as_i64());
    events
}

fn is_commit_id(value: &Value) -> bool {
    value
        .as_str()
        .is_some_and(|c| c.len() == 40 && c.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A manifests repository on the SSH server holding `deploy/web.yaml` for `image`
/// (`team/web`) at 1.0.0, and a folder with its GitRepo, the Secrets and `updates`.
struct SemverSetup {
    bare: PathBuf,
    original: String,
    host: String,
    manifests: Manifests,
}

fn semver_setup(
    registry: &Registry,
    ssh: &SshGitServer,
    repo: &str,
    image: &str,
    updates: &str,
) -> SemverSetup {
    let original = web_yaml(&registry.host, image, "1.0.0");
    let (bare, _) = ssh.add_seeded_repo(repo, &[("deploy/web.yaml", &original)]);
    let manifests = Manifests::new();
    manifests.write(
        "herald.yaml",
        &(manifests_repo_and_secrets(ssh, repo, registry) + updates),
    );
    SemverSetup {
        bare,
        original,
        host: registry.host.clone(),
        manifests,
    }
}

/// The tags every semver test pushes: the policy must take 1.1.0 (2.0.0-rc.1 is a
/// pre-release, the others are not versions or are cosign's).
fn semver_tags() -> Vec<String> {
    tags(&["1.0.0", "1.1.0", "2.0.0-rc.1", "1.1.0.sig", "latest"])
}

#[tokio::test]
async fn a_semver_update_is_pushed_over_ssh_once_and_then_up_to_date() {
    let Some((registry, ssh)) = parts() else {
        return;
    };
    let setup = semver_setup(
        registry,
        ssh,
        "semver",
        "team/web",
        &image_update(
            "web",
            &format!("{}/team/web", registry.host),
            &semver_policy(),
            "",
        ),
    );
    let before = main_of(&setup.bare);
    let herald = LocalHerald::start(&setup.manifests).await;
    let first = first_attempt(&herald, "web").await;
    assert_eq!(first["action"], "failed", "nothing is pushed yet: {first}");
    push_image(registry, "team/web", &semver_tags(), OCI_MANIFEST).await;

    let report = reconcile(&herald, "web", false).await;
    assert_eq!(report["action"], "updated", "{report}");
    assert_eq!(report["status"], "Success", "{report}");
    assert_eq!(report["deployment"], "web", "{report}");
    assert_eq!(report["namespace"], NAMESPACE, "{report}");
    assert_eq!(report["from"], "1.0.0", "{report}");
    assert_eq!(report["to"], "1.1.0", "{report}");
    assert!(is_commit_id(&report["commit"]), "{report}");
    let commit = report["commit"].as_str().unwrap().to_owned();

    // The bare repository's main is that commit, one on top of the seed, by the spec's author.
    assert_eq!(main_of(&setup.bare), commit);
    assert_eq!(
        git(&setup.bare, &["rev-parse", &format!("{commit}^")]),
        before
    );
    assert_eq!(
        git(&setup.bare, &["log", "-1", "--format=%an <%ae>", &commit]),
        "Herald Bot <bot@example.com>"
    );
    // Only the tag's bytes changed: the quotes, the comments, the other document (whose image
    // only starts with the same name) are as they were.
    let expected = setup.original.replace(
        &format!("\"{}/team/web:1.0.0\"", setup.host),
        &format!("\"{}/team/web:1.1.0\"", setup.host),
    );
    assert_ne!(expected, setup.original);
    assert_eq!(show(&setup.bare, "deploy/web.yaml"), expected);

    // Again: nothing to do, nothing pushed.
    let again = reconcile(&herald, "web", false).await;
    assert_eq!(again["action"], "upToDate", "{again}");
    assert_eq!(again["status"], "Success", "{again}");
    assert_eq!(again["to"], "1.1.0", "{again}");
    assert!(again.get("commit").is_none_or(Value::is_null), "{again}");
    assert_eq!(main_of(&setup.bare), commit);

    // Both attempts are image.update events; the update's names its commit.
    let events = image_update_events(&herald, "web").await;
    let reasons: Vec<&str> = events
        .iter()
        .map(|e| e["reason"].as_str().unwrap_or_default())
        .collect();
    let updated: Vec<&Value> = events.iter().filter(|e| e["reason"] == "Updated").collect();
    assert_eq!(updated.len(), 1, "{reasons:?}");
    assert_eq!(updated[0]["revision"], commit.as_str(), "{:?}", updated[0]);
    assert_eq!(updated[0]["payload"]["to"], "1.1.0", "{:?}", updated[0]);
    assert_eq!(updated[0]["payload"]["commit"], commit.as_str());
    assert_eq!(
        events.last().unwrap()["reason"],
        "UpToDate",
        "the last attempt: {reasons:?}"
    );
    assert!(
        events.len() >= 3,
        "the first attempt, the update and the up-to-date check: {reasons:?}"
    );

    // The debug view shows the ImageUpdate and its last report, and no secret.
    for path in ["/debug", "/api/v1/imageupdates"] {
        let (status, body) = get(&herald, path).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        let list: Value = serde_json::from_str(&body).unwrap();
        let web = list
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "web")
            .unwrap_or_else(|| panic!("GET {path} lists web: {body}"));
        assert_eq!(web["namespace"], NAMESPACE);
        assert_eq!(
            web["spec"]["image"]["repository"],
            format!("{}/team/web", registry.host)
        );
        assert_eq!(web["last"]["action"], "upToDate", "{web}");
        assert_eq!(web["status"]["latestTag"], "1.1.0", "{web}");
        assert_no_secret(&body, ssh);
    }
    herald.stop().await;
}

/// No password, registry auth or private key in `body`.
fn assert_no_secret(body: &str, ssh: &SshGitServer) {
    let config: Value =
        serde_json::from_str(&docker_config_json(htpasswd_registry().unwrap())).unwrap();
    let auth = config["auths"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()["auth"]
        .clone();
    assert!(!body.contains(PASSWORD), "the password is shown: {body}");
    assert!(
        !body.contains(auth.as_str().unwrap()),
        "the registry auth is shown: {body}"
    );
    assert!(
        !body.contains("PRIVATE KEY"),
        "a private key is shown: {body}"
    );
    let key = ssh.client_private_key();
    for line in key.lines().filter(|l| !l.starts_with("-----")) {
        assert!(!body.contains(line), "the private key is shown: {body}");
    }
}

#[tokio::test]
async fn a_dry_run_answers_the_diff_and_pushes_nothing() {
    let Some((registry, ssh)) = parts() else {
        return;
    };
    let setup = semver_setup(
        registry,
        ssh,
        "dry-run",
        "dry/web",
        &image_update(
            "web",
            &format!("{}/dry/web", registry.host),
            &semver_policy(),
            "",
        ),
    );
    let before = main_of(&setup.bare);
    let herald = LocalHerald::start(&setup.manifests).await;
    first_attempt(&herald, "web").await;
    push_image(registry, "dry/web", &semver_tags(), OCI_MANIFEST).await;

    let report = reconcile(&herald, "web", true).await;
    assert_eq!(report["action"], "dryRun", "{report}");
    assert_eq!(report["status"], "Success", "{report}");
    assert_eq!(report["from"], "1.0.0", "{report}");
    assert_eq!(report["to"], "1.1.0", "{report}");
    assert!(report.get("commit").is_none_or(Value::is_null), "{report}");
    let diff = report["diff"]
        .as_str()
        .unwrap_or_else(|| panic!("{report}"));
    let host = &setup.host;
    assert!(
        diff.lines()
            .any(|l| l.starts_with('-') && l.contains(&format!("\"{host}/dry/web:1.0.0\""))),
        "{diff}"
    );
    assert!(
        diff.lines()
            .any(|l| l.starts_with('+') && l.contains(&format!("\"{host}/dry/web:1.1.0\""))),
        "{diff}"
    );
    assert!(diff.contains("deploy/web.yaml"), "{diff}");
    assert!(
        !diff.contains("dry/web-worker:1.1.0"),
        "the worker's image is another one: {diff}"
    );

    assert_eq!(main_of(&setup.bare), before, "a dry run pushes nothing");
    assert_eq!(show(&setup.bare, "deploy/web.yaml"), setup.original);
    herald.stop().await;
}

#[tokio::test]
async fn a_git_commit_tag_waits_for_its_image_then_updates() {
    let Some((registry, ssh)) = parts() else {
        return;
    };
    let host = &registry.host;
    let manifest = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: api}}\nspec:\n  template:\n    spec:\n      containers:\n        - name: api\n          image: {host}/team/api:0000000\n"
    );
    let (bare, before) = ssh.add_seeded_repo("git-commit", &[("api.yaml", &manifest)]);
    // The application's repository appears only once Herald has made its first attempt, so
    // that attempt fails (no branch to read) instead of waiting for the image on its own.
    let app_dir = tempfile::tempdir().unwrap();
    let app_path = app_dir.path().join("app.git");
    let app = format!(
        r#"---
apiVersion: herald.dev/v1alpha1
kind: GitRepo
metadata: {{name: app, namespace: {NAMESPACE}}}
spec: {{repoUri: "file://{}"}}
"#,
        app_path.display()
    );
    let policy = "    gitCommit:\n      source: {kind: GitRepo, name: app}\n      branch: main\n      tag: \"{{shortSha}}\"\n";
    let manifests = Manifests::new();
    manifests.write(
        "herald.yaml",
        &(manifests_repo_and_secrets(ssh, "git-commit", registry)
            + &app
            + &image_update(
                "api",
                &format!("{host}/team/api"),
                policy,
                "  requireImage: {timeout: 10m}\n",
            )),
    );
    let herald = LocalHerald::start(&manifests).await;
    let first = first_attempt(&herald, "api").await;
    assert_eq!(first["action"], "failed", "no application yet: {first}");

    let source = TestRepo::new();
    let sha = source.commit_file("main.go", "package main\n", "the application");
    git(
        app_dir.path(),
        &[
            "clone",
            "-q",
            "--bare",
            source.path().to_str().unwrap(),
            app_path.to_str().unwrap(),
        ],
    );
    let short = &sha[..7];

    let waiting = reconcile(&herald, "api", false).await;
    assert_eq!(waiting["action"], "waitingForImage", "{waiting}");
    assert_eq!(waiting["status"], "Success", "{waiting}");
    assert_eq!(waiting["to"], short, "{waiting}");
    assert!(waiting.get("commit").is_none_or(Value::is_null));
    assert_eq!(
        main_of(&bare),
        before,
        "nothing is written before the image"
    );

    push_image(registry, "team/api", &tags(&[short]), OCI_MANIFEST).await;
    let updated = reconcile(&herald, "api", false).await;
    assert_eq!(updated["action"], "updated", "{updated}");
    assert_eq!(updated["from"], "0000000", "{updated}");
    assert_eq!(updated["to"], short, "{updated}");
    assert!(is_commit_id(&updated["commit"]), "{updated}");
    assert_eq!(main_of(&bare), updated["commit"].as_str().unwrap());
    assert_eq!(
        show(&bare, "api.yaml"),
        manifest.replace(":0000000", &format!(":{short}"))
    );
    herald.stop().await;
}

/// A receiver of notifications on a loopback port: every body POSTed to `/ok/...` (answered
/// 200) or `/broken` (answered 500), by path.
#[derive(Clone, Default)]
struct Receiver {
    received: Arc<Mutex<Vec<(String, Value)>>>,
}

impl Receiver {
    async fn start() -> (Self, String) {
        use axum::extract::{Request, State};
        use axum::http::StatusCode;
        let receiver = Self::default();
        async fn receive(State(receiver): State<Receiver>, request: Request) -> StatusCode {
            let path = request.uri().path().to_owned();
            let body = axum::body::to_bytes(request.into_body(), 1 << 20)
                .await
                .unwrap();
            let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
            receiver.received.lock().unwrap().push((path.clone(), body));
            if path.starts_with("/broken") {
                StatusCode::INTERNAL_SERVER_ERROR
            } else {
                StatusCode::OK
            }
        }
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, base)
    }

    fn bodies(&self, path: &str) -> Vec<Value> {
        let received = self.received.lock().unwrap();
        received
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, body)| body.clone())
            .collect()
    }

    /// The first body at `path` for which `matches` holds, once it has arrived.
    async fn wait_for(&self, path: &str, matches: impl Fn(&Value) -> bool) -> Value {
        wait_for(&format!("a notification at {path}"), DEADLINE, || async {
            self.bodies(path).into_iter().find(|b| matches(b))
        })
        .await
    }
}

#[tokio::test]
async fn notifications_carry_the_report_and_a_failing_receiver_does_not_fail_the_update() {
    let Some((registry, ssh)) = parts() else {
        return;
    };
    let (receiver, base) = Receiver::start().await;
    let secrets = format!(
        r#"---
apiVersion: v1
kind: Secret
metadata: {{name: hook-json, namespace: {NAMESPACE}}}
stringData: {{webhook-url: "{base}/ok/json/T0KEN-json"}}
---
apiVersion: v1
kind: Secret
metadata: {{name: hook-slack, namespace: {NAMESPACE}}}
stringData: {{url: "{base}/ok/slack/T0KEN-slack"}}
---
apiVersion: v1
kind: Secret
metadata: {{name: hook-broken, namespace: {NAMESPACE}}}
stringData: {{webhook-url: "{base}/broken"}}
"#
    );
    let notifications = "  notifications:\n    - {format: json, secretRef: {name: hook-json}}\n    - {format: slack, secretRef: {name: hook-slack}, key: url}\n    - {format: json, secretRef: {name: hook-broken}}\n";
    let setup = semver_setup(
        registry,
        ssh,
        "notify",
        "notify/web",
        &(image_update(
            "web",
            &format!("{}/notify/web", registry.host),
            &semver_policy(),
            notifications,
        ) + &secrets),
    );
    let herald = LocalHerald::start(&setup.manifests).await;
    first_attempt(&herald, "web").await;
    push_image(registry, "notify/web", &semver_tags(), OCI_MANIFEST).await;

    let report = reconcile(&herald, "web", false).await;
    assert_eq!(
        report["action"], "updated",
        "a receiver answering 500 does not fail the update: {report}"
    );
    assert_eq!(report["status"], "Success", "{report}");
    let commit = report["commit"].as_str().unwrap().to_owned();
    assert_eq!(main_of(&setup.bare), commit);

    let json = receiver
        .wait_for("/ok/json/T0KEN-json", |b| b["action"] == "updated")
        .await;
    assert_eq!(json["deployment"], "web", "{json}");
    assert_eq!(json["namespace"], NAMESPACE, "{json}");
    assert_eq!(json["from"], "1.0.0", "{json}");
    assert_eq!(json["to"], "1.1.0", "{json}");
    assert_eq!(json["status"], "Success", "{json}");
    assert_eq!(json["commit"], commit.as_str(), "{json}");
    assert!(json["message"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(json.get("diff").is_none_or(Value::is_null), "{json}");

    let slack = receiver
        .wait_for("/ok/slack/T0KEN-slack", |b| {
            b["text"].as_str().is_some_and(|t| t.contains("1.1.0"))
        })
        .await;
    let fields: Vec<&String> = slack.as_object().unwrap().keys().collect();
    assert_eq!(fields, ["text"], "{slack}");
    let text = slack["text"].as_str().unwrap();
    assert!(text.contains("web"), "{text}");
    assert!(text.contains(&commit[..7]), "the short commit: {text}");

    let broken = receiver
        .wait_for("/broken", |b| b["action"] == "updated")
        .await;
    assert_eq!(broken["commit"], commit.as_str());
    herald.stop().await;
}

#[tokio::test]
async fn a_push_refused_by_a_pre_receive_hook_is_rejected_and_nothing_lands() {
    let Some((registry, ssh)) = parts() else {
        return;
    };
    let setup = semver_setup(
        registry,
        ssh,
        "refused",
        "refused/web",
        &image_update(
            "web",
            &format!("{}/refused/web", registry.host),
            &semver_policy(),
            "",
        ),
    );
    let hook = setup.bare.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\necho 'main is frozen by the release policy' >&2\nexit 1\n",
    )
    .unwrap();
    let status = std::process::Command::new("chmod")
        .args(["+x", hook.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let before = main_of(&setup.bare);
    let herald = LocalHerald::start(&setup.manifests).await;
    first_attempt(&herald, "web").await;
    push_image(registry, "refused/web", &semver_tags(), OCI_MANIFEST).await;

    let report = reconcile(&herald, "web", false).await;
    assert_eq!(report["action"], "rejected", "{report}");
    assert_eq!(report["status"], "Failure", "{report}");
    let message = report["message"].as_str().unwrap();
    assert!(
        message.contains("main is frozen by the release policy"),
        "the hook's words: {message}"
    );
    assert!(report.get("commit").is_none_or(Value::is_null), "{report}");
    assert_eq!(main_of(&setup.bare), before, "nothing landed");
    assert_eq!(show(&setup.bare, "deploy/web.yaml"), setup.original);

    let events = image_update_events(&herald, "web").await;
    let last = events.last().unwrap();
    assert_eq!(last["reason"], "PushRejected", "{last}");
    assert_eq!(last["severity"], "error", "{last}");
    herald.stop().await;
}

#[tokio::test]
async fn an_invalid_range_is_a_load_error_and_does_not_stop_a_valid_update() {
    let Some((registry, ssh)) = parts() else {
        return;
    };
    let broken = image_update(
        "broken",
        &format!("{}/bad/web", registry.host),
        "    semver: {range: \">=banana\"}\n",
        "",
    );
    let setup = semver_setup(
        registry,
        ssh,
        "bad-input",
        "bad/web",
        &(image_update(
            "web",
            &format!("{}/bad/web", registry.host),
            &semver_policy(),
            "",
        ) + &broken),
    );
    let loaded = herald_local::load_dir(&setup.manifests.path()).unwrap();
    let errors: Vec<String> = loaded.errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].contains("broken"), "names the object: {errors:?}");
    assert!(errors[0].contains("banana"), "names the range: {errors:?}");
    assert!(
        loaded
            .catalog
            .image_updates
            .contains_key(&(NAMESPACE.to_owned(), "web".to_owned())),
        "the valid one is loaded"
    );

    let herald = LocalHerald::start(&setup.manifests).await;
    first_attempt(&herald, "web").await;
    push_image(registry, "bad/web", &semver_tags(), OCI_MANIFEST).await;
    let report = reconcile(&herald, "web", false).await;
    assert_eq!(report["action"], "updated", "{report}");
    assert_eq!(report["to"], "1.1.0", "{report}");
    assert_eq!(main_of(&setup.bare), report["commit"].as_str().unwrap());

    let (status, body) = herald
        .post(
            &format!("/api/v1/imageupdates/{NAMESPACE}/broken/reconcile"),
            &[],
            b"",
        )
        .await;
    assert_eq!(status, 404, "the invalid one is not loaded: {body}");
    assert!(view(&herald, "broken").await.is_none());
    herald.stop().await;
}

#[tokio::test]
async fn two_updates_to_one_branch_reconciled_together_land_in_one_commit() {
    let Some((registry, ssh)) = parts() else {
        return;
    };
    let host = &registry.host;
    let front = format!("image: {host}/pair/front:1.0.0\n");
    let back = format!("image: {host}/pair/back:1.0.0\n");
    let deployment = |name: &str, image: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}}}\nspec:\n  template:\n    spec:\n      containers:\n        - name: {name}\n          {image}"
        )
    };
    let (bare, before) = ssh.add_seeded_repo(
        "pair",
        &[
            ("front.yaml", &deployment("front", &front)),
            ("back.yaml", &deployment("back", &back)),
        ],
    );
    let manifests = Manifests::new();
    manifests.write(
        "herald.yaml",
        &(manifests_repo_and_secrets(ssh, "pair", registry)
            + &image_update("front", &format!("{host}/pair/front"), &semver_policy(), "")
            + &image_update("back", &format!("{host}/pair/back"), &semver_policy(), "")),
    );
    let herald = LocalHerald::start(&manifests).await;
    first_attempt(&herald, "front").await;
    first_attempt(&herald, "back").await;
    push_image(
        registry,
        "pair/front",
        &tags(&["1.0.0", "1.2.0"]),
        OCI_MANIFEST,
    )
    .await;
    push_image(
        registry,
        "pair/back",
        &tags(&["1.0.0", "1.3.0"]),
        OCI_MANIFEST,
    )
    .await;

    let (status, reports) = herald.post("/reconcile", &[], b"").await;
    assert_eq!(status, 200, "{reports}");
    let reports = reports.as_array().unwrap();
    assert_eq!(reports.len(), 2, "{reports:?}");
    let by_name = |name: &str| {
        reports
            .iter()
            .find(|r| r["deployment"] == name)
            .unwrap_or_else(|| panic!("a report for {name}: {reports:?}"))
            .clone()
    };
    let (front_report, back_report) = (by_name("front"), by_name("back"));
    assert_eq!(front_report["action"], "updated", "{front_report}");
    assert_eq!(back_report["action"], "updated", "{back_report}");
    assert_eq!(front_report["to"], "1.2.0");
    assert_eq!(back_report["to"], "1.3.0");
    assert!(is_commit_id(&front_report["commit"]), "{front_report}");
    assert_eq!(
        front_report["commit"], back_report["commit"],
        "one commit for both"
    );
    let commit = front_report["commit"].as_str().unwrap();
    assert_eq!(main_of(&bare), commit);
    assert_eq!(
        git(
            &bare,
            &["rev-list", "--count", &format!("{before}..{commit}")]
        ),
        "1",
        "exactly one commit on top of the seed"
    );
    assert!(show(&bare, "front.yaml").contains(&format!("{host}/pair/front:1.2.0")));
    assert!(show(&bare, "back.yaml").contains(&format!("{host}/pair/back:1.3.0")));
    herald.stop().await;
}

#[tokio::test]
async fn a_host_key_not_in_known_hosts_fails_the_update_and_nothing_lands() {
    let Some((registry, ssh)) = parts() else {
        return;
    };
    let updates = image_update(
        "web",
        &format!("{}/stranger/web", registry.host),
        &semver_policy(),
        "",
    );
    let setup = semver_setup(registry, ssh, "stranger", "stranger/web", &updates);
    // The same key listed for another port: the server's own entry is missing.
    let right = ssh.known_hosts();
    let wrong = right.replacen(
        &format!("[127.0.0.1]:{}", ssh.port()),
        &format!("[127.0.0.1]:{}", support::free_port()),
        1,
    );
    let folder = setup.manifests.path().join("herald.yaml");
    let text = std::fs::read_to_string(&folder).unwrap();
    std::fs::write(&folder, text.replace(right.trim(), wrong.trim())).unwrap();
    let before = main_of(&setup.bare);
    let herald = LocalHerald::start(&setup.manifests).await;
    first_attempt(&herald, "web").await;
    push_image(registry, "stranger/web", &semver_tags(), OCI_MANIFEST).await;

    let report = reconcile(&herald, "web", false).await;
    assert_eq!(report["action"], "failed", "{report}");
    assert_eq!(report["status"], "Failure", "{report}");
    let message = report["message"].as_str().unwrap().to_lowercase();
    assert!(message.contains("host key"), "names the host key: {report}");
    assert!(report.get("commit").is_none_or(Value::is_null), "{report}");
    assert_eq!(main_of(&setup.bare), before, "nothing landed");
    assert_no_secret(&report.to_string(), ssh);
    herald.stop().await;
}
