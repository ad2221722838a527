//! Flux's conventions for pausing and prodding, in local mode over real HTTP against the real
//! binary: `spec.suspend` on a trigger (no checks, deliveries answered 409 once verified, no
//! hand firing) and on a source (skipped with a reason), and reconcile requests, by `herald
//! reconcile` and by the `reconcile.fluxcd.io/requestedAt` annotation in a manifest.
//!
//! One `herald local` serves every test of this binary (each test uses its own triggers and
//! repositories). It runs under a small shell that kills it when this test process's end of
//! a pipe closes, so no server outlives the tests.
#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

use hmac::Mac;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use support::{DEADLINE, free_port, git, scratch, spawn_local, wait_ready};

const GITHUB_SECRET: &str = "github-secret";
const REQUESTED_AT: &str = "2026-11-23T10:00:00.123456789Z";

struct Herald {
    url: String,
    log: PathBuf,
    db: PathBuf,
    dir: PathBuf,
    _child: Child,
}

static HERALD: OnceCell<Herald> = OnceCell::const_new();

async fn herald() -> &'static Herald {
    HERALD.get_or_init(start).await
}

/// A repository with one commit on `main`, under the scratch folder.
fn repo(dir: &Path, name: &str) -> String {
    let repo = dir.join(name);
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["commit", "-q", "--allow-empty", "-m", "first"]);
    format!("file://{}", repo.display())
}

async fn start() -> Herald {
    let dir = scratch("suspend");
    let repos = ["repo", "hourly", "annotated"].map(|name| repo(&dir, name));
    let manifests = dir.join("manifests");
    std::fs::write(manifests.join("herald.yaml"), main_manifests(&repos)).unwrap();
    std::fs::write(manifests.join("annotated.yaml"), annotated(None)).unwrap();
    let port = free_port();
    let log = dir.join("herald.log");
    let db = dir.join("state/herald.db");
    // The server asks reconcile requests for this token; `Herald::reconcile` sends it.
    let token = dir.join("api-token");
    std::fs::write(&token, "reconcile-token\n").unwrap();
    let token_arg = ["--api-token-file", token.to_str().unwrap()];
    let extra = [&["--reload-every", "200ms"][..], &token_arg].concat();
    let child = spawn_local(&manifests, &db, port, &log, &extra);
    let herald = Herald {
        url: format!("http://127.0.0.1:{port}"),
        log,
        db,
        dir,
        _child: child,
    };
    wait_ready(&herald.url).await;
    herald
}

/// Every object but the annotated trigger, which has a file of its own to be rewritten.
fn main_manifests([repo, hourly, annotated]: &[String; 3]) -> String {
    let schedule = |name: &str, source: &str, extra: &str, on_change_only: bool, every: &str| {
        format!(
            r#"---
apiVersion: herald.dev/v1alpha1
kind: ScheduleTrigger
metadata: {{name: {name}}}
spec:
  sources: {{kind: GitRepo, names: [{source}], watchOn: {{onChangeOnly: {on_change_only}, reference: {{branch: main}}}}}}
  schedule: {{interval: {every}}}
  action: {{kind: Action, name: act}}
{extra}"#
        )
    };
    let hook = |name: &str, source: &str, extra: &str| {
        format!(
            r#"---
apiVersion: herald.dev/v1alpha1
kind: WebhookTrigger
metadata: {{name: {name}}}
spec:
  sources: {{kind: GitRepo, names: [{source}], watchOn: {{reference: {{branch: main}}}}}}
  webhook: {{provider: github, authConfig: {{secretRef: {{name: gh}}}}}}
  action: {{kind: Action, name: act}}
{extra}"#
        )
    };
    let mut text = format!(
        r#"apiVersion: herald.dev/v1alpha1
kind: GitRepo
metadata: {{name: repo}}
spec: {{repoUri: "{repo}"}}
---
apiVersion: herald.dev/v1alpha1
kind: GitRepo
metadata: {{name: frozen}}
spec: {{repoUri: "{repo}", suspend: true}}
---
apiVersion: herald.dev/v1alpha1
kind: GitRepo
metadata: {{name: hourly}}
spec: {{repoUri: "{hourly}"}}
---
apiVersion: herald.dev/v1alpha1
kind: GitRepo
metadata: {{name: annotated}}
spec: {{repoUri: "{annotated}"}}
---
apiVersion: herald.dev/v1alpha1
kind: Action
metadata: {{name: act}}
spec: {{actionJob: {{command: ["true"]}}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: gh}}
stringData: {{token: "{GITHUB_SECRET}"}}
"#
    );
    // Identical but for `suspend`.
    text += &schedule("ticking", "repo", "", false, "1s");
    text += &schedule("paused", "repo", "  suspend: true\n", false, "1s");
    text += &schedule("hourly", "hourly", "", true, "1h");
    text += &hook("paused-hook", "repo", "  suspend: true\n");
    text += &hook("on-frozen", "frozen", "");
    text
}

/// The trigger the annotation test prods by rewriting its manifest.
fn annotated(requested_at: Option<&str>) -> String {
    let annotations = requested_at.map_or_else(String::new, |at| {
        format!("\n  annotations: {{reconcile.fluxcd.io/requestedAt: \"{at}\"}}")
    });
    format!(
        r#"apiVersion: herald.dev/v1alpha1
kind: ScheduleTrigger
metadata:
  name: annotated{annotations}
spec:
  sources: {{kind: GitRepo, names: [annotated], watchOn: {{onChangeOnly: true, reference: {{branch: main}}}}}}
  schedule: {{interval: 1h}}
  action: {{kind: Action, name: act}}
"#
    )
}

impl Herald {
    /// A GitHub push delivery of `main` at `revision`, signed with `secret`; the status and
    /// the JSON answer.
    async fn github(&self, path: &str, id: &str, secret: &str, revision: &str) -> (u16, Value) {
        let body = serde_json::to_vec(&json!({
            "ref": "refs/heads/main", "before": "1".repeat(40), "after": revision,
            "created": false, "deleted": false, "forced": false,
            "repository": {"full_name": "acme/app", "clone_url": "https://example.com/acme/app.git"},
            "commits": [], "head_commit": {"id": revision}
        }))
        .unwrap();
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(&body);
        let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        let response = reqwest::Client::new()
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .header("x-github-event", "push")
            .header("x-github-delivery", id)
            .header("x-hub-signature-256", signature)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// The log so far.
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }

    /// Waits until the log holds every one of `texts` on one line.
    async fn wait_log(&self, texts: &[&str]) -> String {
        self.wait(&format!("a log line with {texts:?}"), || {
            let log = self.log();
            let found = log.lines().find(|l| texts.iter().all(|t| l.contains(t)));
            found.map(str::to_owned)
        })
        .await
    }

    /// Polls `check` until it answers, failing the test at the deadline.
    async fn wait<T>(&self, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
        let started = Instant::now();
        loop {
            if let Some(found) = check() {
                return found;
            }
            assert!(
                started.elapsed() < DEADLINE,
                "never saw {what}:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The runs of trigger `name`, via the CLI (`herald runs -o json`).
    fn runs(&self, trigger: &str) -> Vec<Value> {
        let out = Command::new(env!("CARGO_BIN_EXE_herald"))
            .args([
                "runs",
                "--trigger",
                trigger,
                "-o",
                "json",
                "--limit",
                "1000",
            ])
            .arg("--db")
            .arg(&self.db)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Waits for a run of `trigger` for `revision`.
    async fn wait_run(&self, trigger: &str, revision: &str) -> Value {
        let what = format!("a run of {trigger} for {revision}");
        self.wait(&what, || {
            let runs = self.runs(trigger);
            runs.into_iter().find(|r| r["revision"] == revision)
        })
        .await
    }

    /// `herald reconcile ARGS` against this server, with its API token.
    fn reconcile(&self, args: &[&str]) -> Output {
        self.reconcile_with(Some(&self.dir.join("api-token")), args)
    }

    /// `herald reconcile ARGS` against this server with the token in `token_file`, if any.
    fn reconcile_with(&self, token_file: Option<&Path>, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_herald"));
        command
            .arg("reconcile")
            .args(args)
            .env("HERALD_SERVER", &self.url)
            .env_remove("HERALD_API_TOKEN_FILE");
        if let Some(token_file) = token_file {
            command.env("HERALD_API_TOKEN_FILE", token_file);
        }
        command.output().unwrap()
    }

    fn repo(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn a_suspended_schedule_trigger_never_checks_while_its_twin_does() {
    let h = herald().await;
    h.wait_log(&["schedule trigger suspended", "trigger=paused"])
        .await;
    // The twin checks every second; by its third run the suspended one has had three chances.
    h.wait("three runs of the unsuspended twin", || {
        (h.runs("ticking").len() >= 3).then_some(())
    })
    .await;
    assert!(
        h.runs("paused").is_empty(),
        "a suspended trigger runs nothing"
    );
}

#[tokio::test]
async fn a_suspended_webhook_trigger_answers_409_only_to_verified_deliveries() {
    let h = herald().await;
    let head = git(&h.repo("repo"), &["rev-parse", "HEAD"]);
    let path = "/hooks/default/paused-hook";
    let (status, body) = h.github(path, "paused-1", GITHUB_SECRET, &head).await;
    assert_eq!(
        (status, &body["reason"]),
        (409, &json!("Suspended")),
        "{body}"
    );
    assert!(
        body["error"].as_str().unwrap().contains("suspended"),
        "{body}"
    );
    // A caller that cannot prove itself learns nothing new: the same 401 as ever.
    let (status, body) = h.github(path, "paused-2", "wrong", &head).await;
    assert_eq!((status, body), (401, json!({"error": "unauthorized"})));
    assert!(h.runs("paused-hook").is_empty());
    // Nothing is recorded, so the same delivery fires once the trigger is resumed.
    let events = reqwest::get(format!(
        "{}/api/v1/events?kind=hook.delivery&trigger=paused-hook",
        h.url
    ))
    .await
    .unwrap();
    let events: Value = events.json().await.unwrap();
    assert_eq!(events["events"], json!([]), "{events}");
}

#[tokio::test]
async fn a_suspended_source_is_skipped_with_a_reason() {
    let h = herald().await;
    let head = git(&h.repo("repo"), &["rev-parse", "HEAD"]);
    let (status, body) = h
        .github("/hooks/default/on-frozen", "frozen-1", GITHUB_SECRET, &head)
        .await;
    assert_eq!((status, &body["runs"]), (202, &json!([])), "{body}");
    assert_eq!(
        body["skipped"],
        json!([{"source": "frozen", "reason": "GitRepo default/frozen is suspended"}])
    );
}

#[tokio::test]
async fn a_suspended_trigger_is_not_fired_by_hand() {
    let h = herald().await;
    let out = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["trigger", "default/paused", "--dir"])
        .arg(h.dir.join("manifests"))
        .arg("--db")
        .arg(h.dir.join("by-hand/herald.db"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("ScheduleTrigger default/paused is suspended"),
        "{stderr}"
    );
}

#[tokio::test]
async fn herald_reconcile_checks_a_schedule_trigger_now() {
    let h = herald().await;
    let repo = h.repo("hourly");
    h.wait_run("hourly", &git(&repo, &["rev-parse", "HEAD"]))
        .await;
    // Checked at start, next in an hour: only a reconcile request sees this commit now.
    git(&repo, &["commit", "-q", "--allow-empty", "-m", "second"]);
    let next = git(&repo, &["rev-parse", "HEAD"]);
    let out = h.reconcile(&["ScheduleTrigger/hourly"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("ScheduleTrigger default/hourly: reconcile requested at"),
        "{stdout}"
    );
    let run = h.wait_run("hourly", &next).await;
    assert_eq!(run["cause"], "Change", "{run}");
    h.wait_log(&["reconcile request handled", "trigger=hourly"])
        .await;
    assert_eq!(h.runs("hourly").len(), 2);
}

#[tokio::test]
async fn herald_reconcile_says_what_went_wrong_by_its_exit_code() {
    let h = herald().await;
    let webhook = h.reconcile(&["wtrig/on-frozen", "-n", "default"]);
    assert_eq!(webhook.status.code(), Some(0), "{}", text(&webhook.stderr));
    for (args, code, says) in [
        (&["strig/nothing"][..], 1, "not found"),
        (&["strig/paused"], 1, "suspended"),
        (&["strig/hourly", "-n", "elsewhere"], 1, "not found"),
        (&["hourly"], 2, "KIND/NAME"),
        (&["GitRepo/repo"], 2, "KIND/NAME"),
    ] {
        let out = h.reconcile(args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    // The server was started with a token: without it, or with another, nothing is passed on.
    let wrong = h.dir.join("wrong-token");
    std::fs::write(&wrong, "not-it").unwrap();
    for token in [None, Some(wrong.as_path())] {
        let out = h.reconcile_with(token, &["strig/hourly"]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{token:?}: {stderr}");
        assert!(stderr.contains("unauthorized"), "{token:?}: {stderr}");
    }
    // Nothing listens on port 9 of loopback.
    let out = h.reconcile(&["strig/hourly", "--server", "http://127.0.0.1:9"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot reach Herald"));
}

#[tokio::test]
async fn the_annotation_in_a_manifest_checks_now_once() {
    let h = herald().await;
    let repo = h.repo("annotated");
    h.wait_run("annotated", &git(&repo, &["rev-parse", "HEAD"]))
        .await;
    git(&repo, &["commit", "-q", "--allow-empty", "-m", "second"]);
    let next = git(&repo, &["rev-parse", "HEAD"]);
    let manifest = h.dir.join("manifests/annotated.yaml");
    std::fs::write(&manifest, annotated(Some(REQUESTED_AT))).unwrap();
    h.wait_run("annotated", &next).await;
    let handled = format!("requested_at={REQUESTED_AT}");
    h.wait_log(&["reconcile request handled", "trigger=annotated", &handled])
        .await;
    assert_eq!(h.runs("annotated").len(), 2);
}
