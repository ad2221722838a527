//! What a new user meets first, over real HTTP against the real `herald local` binary: the hook
//! paths Herald advertises, misconfiguration reported at load, deduplication of every
//! delivery, the rule that names a hook's run, JSON for every answer, and the small things
//! (a form content type, a signature header's default, a branch deletion).
//!
//! One `herald local` serves every test of this binary (each test uses its own triggers and
//! delivery ids). It runs under a small shell that kills it when this test process's end of
//! a pipe closes, so no server outlives the tests.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::OnceCell;

use support::{DEADLINE, answer, free_port, git, hmac_hex, scratch, spawn_local, wait_ready};

const GITHUB_SECRET: &str = "github-secret";
const BITBUCKET_TOKEN: &str = "0123456789abcdef0123456789abcdef-bitbucket";

struct Herald {
    url: String,
    log: PathBuf,
    db: PathBuf,
    head: String,
    manifest: PathBuf,
    _child: Child,
}

static HERALD: OnceCell<Herald> = OnceCell::const_new();

async fn herald() -> &'static Herald {
    HERALD.get_or_init(start).await
}

async fn start() -> Herald {
    let dir = scratch("first_contact");
    let repo = dir.join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["commit", "-q", "--allow-empty", "-m", "first"]);
    let head = git(&repo, &["rev-parse", "HEAD"]);
    let manifest = dir.join("manifests/herald.yaml");
    std::fs::write(&manifest, manifests(&format!("file://{}", repo.display()))).unwrap();
    let port = free_port();
    let log = dir.join("herald.log");
    let db = dir.join("state/herald.db");
    let child = spawn_local(&dir.join("manifests"), &db, port, &log, &[]);
    let herald = Herald {
        url: format!("http://127.0.0.1:{port}"),
        log,
        db,
        head,
        manifest,
        _child: child,
    };
    wait_ready(&herald.url).await;
    herald
}

impl Herald {
    /// POSTs `body` with `headers` to `path`; the status, the headers and the JSON answer,
    /// which every answer must be.
    async fn post(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut request = reqwest::Client::new().post(format!("{}{path}", self.url));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        answer(request.body(body).send().await.unwrap()).await
    }

    /// A signed GitHub delivery of `event` with id `id`.
    async fn github(&self, path: &str, event: &str, id: &str, body: &[u8]) -> (u16, Value) {
        let signature = format!("sha256={}", hmac_hex(GITHUB_SECRET.as_bytes(), body));
        let headers = [
            ("content-type", "application/json"),
            ("x-github-event", event),
            ("x-github-delivery", id),
            ("x-hub-signature-256", signature.as_str()),
        ];
        let (status, _, body) = self.post(path, &headers, body.to_vec()).await;
        (status, body)
    }

    /// The log so far.
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }

    /// Waits until the log holds `text`.
    async fn wait_log(&self, text: &str) -> String {
        let started = Instant::now();
        loop {
            let log = self.log();
            if log.contains(text) {
                return log;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "the log never said {text:?}:\n{log}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The runs of trigger `name`, via the CLI (`herald runs -o json`).
    fn runs(&self, trigger: &str) -> Vec<Value> {
        let out = Command::new(env!("CARGO_BIN_EXE_herald"))
            .args(["runs", "--trigger", trigger, "-o", "json", "--db"])
            .arg(&self.db)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn push(git_ref: &str, after: &str) -> Vec<u8> {
    let deleted = after.bytes().all(|b| b == b'0');
    serde_json::to_vec(&json!({
        "ref": git_ref, "before": "1".repeat(40), "after": after,
        "created": false, "deleted": deleted, "forced": false,
        "repository": {"full_name": "acme/app", "clone_url": "https://example.com/acme/app.git"},
        "commits": [], "head_commit": if deleted { Value::Null } else { json!({"id": after}) }
    }))
    .unwrap()
}

/// Every trigger the tests use; the document numbers matter to the load report's test.
fn manifests(repo: &str) -> String {
    let trigger = |name: &str, provider: &str, sources: &str, secret: &str, extra: &str| {
        format!(
            r#"---
apiVersion: herald.dev/v1alpha1
kind: WebhookTrigger
metadata: {{name: {name}}}
spec:
  sources:
    kind: GitRepo
    names: {sources}
    watchOn: {{reference: {{branch: main}}{extra}}}
  webhook:
    provider: {provider}
    authConfig: {{secretRef: {{name: {secret}}}}}
  action: {{kind: Action, name: act}}
"#
        )
    };
    let secret = |name: &str, value: &str| {
        format!(
            "---\napiVersion: v1\nkind: Secret\nmetadata: {{name: {name}}}\nstringData: {{token: \"{value}\"}}\n"
        )
    };
    let mut text = format!(
        r#"apiVersion: herald.dev/v1alpha1
kind: GitRepo
metadata: {{name: app}}
spec: {{repoUri: "{repo}"}}
---
apiVersion: herald.dev/v1alpha1
kind: GitRepo
metadata: {{name: lib}}
spec: {{repoUri: "{repo}"}}
---
apiVersion: herald.dev/v1alpha1
kind: Action
metadata: {{name: act}}
spec: {{actionJob: {{command: ["true"]}}}}
"#
    );
    // Documents 4-7: misconfigured, reported at load.
    text += &trigger("no-secret", "github", "[app]", "absent", "");
    text += &trigger("no-key", "github", "[app]", "wrong-key", "");
    text += &trigger("short-token", "bitbucket-cloud", "[app]", "short", "");
    text += &trigger("empty-hmac", "generic-hmac", "[app]", "empty", "");
    text +=
        "---\napiVersion: v1\nkind: Secret\nmetadata: {name: wrong-key}\nstringData: {other: x}\n";
    text += &secret("short", "too-short");
    text += &secret("empty", "");
    // Good triggers.
    text += &trigger("one", "github", "[app]", "gh", "");
    text += &trigger("two", "github", "[app, lib]", "gh", "");
    text += &trigger("bb", "bitbucket-cloud", "[app, lib]", "bb", "");
    text += &trigger("changes", "github", "[app]", "gh", ", onChangeOnly: true");
    text += &trigger("hmac", "generic-hmac", "[app]", "gh", "");
    text += &trigger("ids", "github", "[app]", "gh", "");
    text += &trigger("rules", "github", "[app]", "gh", "");
    text += &trigger("deletes", "github", "[app]", "gh", "");
    text += &secret("gh", GITHUB_SECRET);
    text += &secret("bb", BITBUCKET_TOKEN);
    text
}

#[tokio::test]
async fn the_advertised_hook_paths_accept_a_delivery() {
    let h = herald().await;
    let log = h.wait_log("manifests read").await;
    for path in [
        "/hooks/default/one",
        "/hooks/default/two/app",
        "/hooks/default/two/lib",
        "/hooks/default/bb/app/t/{token}",
        "/hooks/default/bb/lib/t/{token}",
    ] {
        assert!(
            log.lines().any(|l| l.ends_with(&format!(" path={path}"))),
            "Herald tells users to configure {path}:\n{log}"
        );
    }
    let trigger_path = " path=/hooks/default/two";
    assert!(!log.lines().any(|l| l.ends_with(trigger_path)), "{log}");

    // A trigger with one source is called at its own path.
    let (status, body) = h
        .github(
            "/hooks/default/one",
            "push",
            "paths-1",
            &push("refs/heads/main", &h.head),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["runs"][0]["source"], "app");
    // Each advertised per-source path works; the trigger's own path names them.
    let (status, body) = h
        .github(
            "/hooks/default/two/lib",
            "push",
            "paths-2",
            &push("refs/heads/main", &h.head),
        )
        .await;
    assert_eq!(
        (status, &body["runs"][0]["source"]),
        (202, &json!("lib")),
        "{body}"
    );
    let (status, body) = h
        .github(
            "/hooks/default/two",
            "push",
            "paths-3",
            &push("refs/heads/main", &h.head),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["paths"],
        json!(["/hooks/default/two/app", "/hooks/default/two/lib"])
    );
    let message = body["error"].as_str().unwrap();
    assert!(message.contains("/hooks/default/two/app"), "{message}");

    // Bitbucket Cloud: the hint keeps the token form, and the token path fires.
    let bitbucket = |path: String| async move {
        let body = serde_json::to_vec(&json!({"push": {"changes": [{
            "new": {"type": "branch", "name": "main", "target": {"hash": h.head}},
            "old": null}]}}))
        .unwrap();
        let headers = [
            ("content-type", "application/json"),
            ("x-event-key", "repo:push"),
            ("x-request-uuid", "paths-bb"),
        ];
        let (status, _, body) = h.post(&path, &headers, body).await;
        (status, body)
    };
    let (status, body) = bitbucket(format!("/hooks/default/bb/t/{BITBUCKET_TOKEN}")).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["paths"][0], "/hooks/default/bb/app/t/{token}");
    let (status, body) = bitbucket(format!("/hooks/default/bb/app/t/{BITBUCKET_TOKEN}")).await;
    assert_eq!(status, 202, "{body}");
}

#[tokio::test]
async fn misconfiguration_is_reported_at_load_and_in_the_503() {
    let h = herald().await;
    let log = h.wait_log("manifests read").await;
    let file = h.manifest.display().to_string();
    for (document, trigger, reason) in [
        (
            4,
            "no-secret",
            "SecretMissing: secret default/absent not found",
        ),
        (
            5,
            "no-key",
            "SecretKeyMissing: secret default/wrong-key has no key \"token\"",
        ),
        (6, "short-token", "TokenTooShort: a bitbucket-cloud token"),
        (
            7,
            "empty-hmac",
            "SecretEmpty: key \"token\" of secret default/empty is empty",
        ),
    ] {
        let line = log
            .lines()
            .find(|l| l.contains(&format!("WebhookTrigger default/{trigger}")))
            .unwrap_or_else(|| panic!("no load error for {trigger}:\n{log}"));
        assert!(
            line.contains(&format!(
                "{file} (document {document}, WebhookTrigger default/{trigger}): {reason}"
            )),
            "{line}"
        );
    }
    let summary = log.lines().find(|l| l.contains("manifests read")).unwrap();
    assert!(summary.contains("errors=4"), "{summary}");

    for (trigger, reason) in [
        ("no-secret", "SecretMissing"),
        ("no-key", "SecretKeyMissing"),
        ("empty-hmac", "SecretEmpty"),
    ] {
        let (status, headers, body) = h
            .post(&format!("/hooks/default/{trigger}"), &[], b"{}".to_vec())
            .await;
        assert_eq!((status, &body["reason"]), (503, &json!(reason)), "{body}");
        assert!(headers.contains_key("retry-after"));
        assert!(
            body["error"].as_str().unwrap().contains("not ready"),
            "{body}"
        );
    }
    let path = format!("/hooks/default/short-token/t/{}", "too-short");
    let (status, _, body) = h.post(&path, &[], b"{}".to_vec()).await;
    assert_eq!(
        (status, &body["reason"]),
        (503, &json!("TokenTooShort")),
        "{body}"
    );
}

#[tokio::test]
async fn every_delivery_id_deduplicates_however_long() {
    let h = herald().await;
    let body = push("refs/heads/main", &h.head);
    for id in ["short-id".to_owned(), "x".repeat(300)] {
        let (status, first) = h.github("/hooks/default/ids", "push", &id, &body).await;
        assert_eq!(status, 202, "{first}");
        let (status, again) = h.github("/hooks/default/ids", "push", &id, &body).await;
        assert_eq!(
            (status, &again["duplicate"]),
            (200, &json!(true)),
            "{again}"
        );
    }
    assert_eq!(
        h.runs("ids").len(),
        2,
        "one run per delivery, however long its id"
    );
}

#[tokio::test]
async fn a_hooks_run_is_named_by_its_delivery_or_by_the_change() {
    let h = herald().await;
    let body = push("refs/heads/main", &h.head);
    // Without onChangeOnly each delivery is its own run; a redelivery is none.
    let (status, a) = h
        .github("/hooks/default/rules", "push", "rule-a", &body)
        .await;
    assert_eq!(
        (status, &a["runs"][0]["created"]),
        (202, &json!(true)),
        "{a}"
    );
    let (status, b) = h
        .github("/hooks/default/rules", "push", "rule-b", &body)
        .await;
    assert_eq!(
        (status, &b["runs"][0]["created"]),
        (202, &json!(true)),
        "{b}"
    );
    assert_ne!(a["runs"][0]["name"], b["runs"][0]["name"]);
    let (status, _) = h
        .github("/hooks/default/rules", "push", "rule-a", &body)
        .await;
    assert_eq!(status, 200);
    assert_eq!(h.runs("rules").len(), 2);

    // With onChangeOnly the change is the run: a new delivery of it runs nothing, and says why.
    let (status, first) = h
        .github("/hooks/default/changes", "push", "change-a", &body)
        .await;
    assert_eq!(
        (status, &first["runs"][0]["created"]),
        (202, &json!(true)),
        "{first}"
    );
    let (status, second) = h
        .github("/hooks/default/changes", "push", "change-b", &body)
        .await;
    assert_eq!((status, &second["runs"]), (202, &json!([])), "{second}");
    let skipped = second["skipped"][0]["reason"].as_str().unwrap();
    assert!(skipped.contains("already seen"), "{second}");
    assert_eq!(h.runs("changes").len(), 1);
}

#[tokio::test]
async fn every_answer_is_json() {
    let h = herald().await;
    let big = vec![b'x'; 2 * 1024 * 1024];
    let (status, _, body) = h.post("/hooks/default/one", &[], big).await;
    assert_eq!(status, 413);
    assert!(body["error"].is_string(), "{body}");
    // A path that is not UTF-8 (%FF), no such route, a wrong method: JSON too.
    let (status, _, body) = h.post("/hooks/default/%FF", &[], Vec::new()).await;
    assert_eq!(status, 400);
    assert!(body["error"].is_string(), "{body}");
    let (status, _, body) = h.post("/nowhere", &[], Vec::new()).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not found")));
    let response = reqwest::get(format!("{}/hooks/default/one", h.url))
        .await
        .unwrap();
    let (status, _, body) = answer(response).await;
    assert_eq!(status, 405);
    assert!(body["error"].is_string(), "{body}");
    let (status, _, body) = answer(reqwest::get(format!("{}/healthz", h.url)).await.unwrap()).await;
    assert_eq!((status, body), (200, json!({"status": "ok"})));
}

#[tokio::test]
async fn the_small_things_a_user_meets_first() {
    let h = herald().await;
    // JSON sent as a form (curl -d's default content type): the answer says why it was a form.
    let body = push("refs/heads/main", &h.head);
    let signature = format!("sha256={}", hmac_hex(GITHUB_SECRET.as_bytes(), &body));
    let headers = [
        ("content-type", "application/x-www-form-urlencoded"),
        ("x-github-event", "push"),
        ("x-github-delivery", "form-1"),
        ("x-hub-signature-256", signature.as_str()),
    ];
    let (status, _, reply) = h.post("/hooks/default/one", &headers, body.clone()).await;
    assert_eq!(status, 400);
    let message = reply["error"].as_str().unwrap();
    assert!(
        message.contains("read as a form because its Content-Type")
            && message.contains("application/json"),
        "{message}"
    );

    // generic-hmac reads X-Hub-Signature-256 when no header is set.
    let signed = format!("sha256={}", hmac_hex(GITHUB_SECRET.as_bytes(), b"{}"));
    let (status, _, reply) = h
        .post(
            "/hooks/default/hmac",
            &[("x-hub-signature-256", &signed)],
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(status, 202, "{reply}");
    // A refused delivery's log line says which header was read.
    let (status, _, _) = h
        .post(
            "/hooks/default/hmac",
            &[("x-trigger-auth", &signed)],
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(status, 401);
    h.wait_log("header=x-hub-signature-256").await;

    // A branch deletion runs nothing and is recorded as a deletion, without a revision.
    let zero = "0".repeat(40);
    let (status, reply) = h
        .github(
            "/hooks/default/deletes",
            "push",
            "delete-1",
            &push("refs/heads/main", &zero),
        )
        .await;
    assert_eq!((status, &reply["runs"]), (202, &json!([])), "{reply}");
    assert!(
        reply["message"].as_str().unwrap().contains("deleted"),
        "{reply}"
    );
    assert!(h.runs("deletes").is_empty());
    let events = reqwest::get(format!(
        "{}/api/v1/events?kind=hook.delivery&trigger=deletes",
        h.url
    ))
    .await
    .unwrap();
    let (_, _, events) = answer(events).await;
    let delivery = &events["events"][0];
    assert_eq!(delivery["reason"], "delete", "{delivery}");
    assert_eq!(delivery["revision"], Value::Null, "{delivery}");
    assert_eq!(delivery["payload"]["pushes"][0]["revision"], Value::Null);
}
