//! `herald events` and `herald wait` against a real `herald local` (the binary, on a loopback
//! port, with a real SQLite file), fed real Flux notification events over HTTP.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use hmac::Mac;
use serde_json::{Value, json};

const SECRET: &[u8] = b"flux-webhook-secret";
const DEADLINE: Duration = Duration::from_secs(30);

fn sha(n: u8) -> String {
    format!("{n:x}").repeat(40)
}

/// `herald local` on a free port, stopped when dropped.
struct Herald {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Herald {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

impl Herald {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("manifests")).unwrap();
        // A trailing newline, as `echo` writes, is not part of the secret.
        let secret_file = dir.path().join("flux-secret");
        std::fs::write(&secret_file, [SECRET, b"\n"].concat()).unwrap();
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_herald"))
            .arg("local")
            .arg(dir.path().join("manifests"))
            .arg("--db")
            .arg(dir.path().join("state/herald.db"))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .arg("--flux-secret-file")
            .arg(&secret_file)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let herald = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        herald.wait_ready().await;
        herald
    }

    /// Polls `/readyz` until it answers 200, failing after [`DEADLINE`].
    async fn wait_ready(&self) {
        let started = Instant::now();
        let client = reqwest::Client::new();
        loop {
            let ready = client.get(format!("{}/readyz", self.url)).send().await;
            if ready.is_ok_and(|r| r.status() == 200) {
                return;
            }
            assert!(started.elapsed() < DEADLINE, "herald local not ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Posts a signed Flux event; the status.
    async fn post(&self, event: &Value, signed: bool) -> u16 {
        let body = serde_json::to_vec(event).unwrap();
        let mut request = reqwest::Client::new()
            .post(format!("{}/api/v1/flux/events", self.url))
            .header("content-type", "application/json");
        if signed {
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
            mac.update(&body);
            let signature = hex::encode(mac.finalize().into_bytes());
            request = request.header("x-signature", format!("sha256={signature}"));
        }
        request.body(body).send().await.unwrap().status().as_u16()
    }

    async fn report(&self, reason: &str, severity: &str, revision: &str, at: &str) {
        let event = flux_event(reason, severity, revision, at);
        assert_eq!(self.post(&event, true).await, 202, "{reason}");
    }

    /// Runs `herald ARGS --server URL` and waits for it.
    async fn herald(&self, args: &[&str]) -> Output {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_herald"));
        command.args(args).args(["--server", &self.url]);
        run(command).await
    }
}

async fn run(mut command: tokio::process::Command) -> Output {
    let output = command.kill_on_drop(true).output();
    tokio::time::timeout(DEADLINE, output)
        .await
        .expect("herald finished in time")
        .unwrap()
}

fn flux_event(reason: &str, severity: &str, revision: &str, at: &str) -> Value {
    json!({
        "involvedObject": {"kind": "Kustomization", "namespace": "flux-system", "name": "apps",
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "uid": "4d1c7a2e"},
        "severity": severity,
        "timestamp": at,
        "message": format!("{reason}: applied revision {revision}"),
        "reason": reason,
        "metadata": {"revision": revision},
        "reportingController": "kustomize-controller"
    })
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exited, not killed")
}

#[tokio::test]
async fn events_lists_what_flux_reported() {
    let herald = Herald::start().await;
    let (a, b) = (sha(1), sha(2));
    assert_eq!(
        herald
            .post(
                &flux_event("Progressing", "info", &a, "2026-11-23T10:00:00Z"),
                false
            )
            .await,
        401,
        "unsigned events are refused when a secret is set"
    );
    herald
        .report(
            "Progressing",
            "info",
            &format!("main@sha1:{a}"),
            "2026-11-23T10:00:00Z",
        )
        .await;
    herald
        .report(
            "ReconciliationSucceeded",
            "info",
            &format!("main/{a}"),
            "2026-11-23T10:01:00Z",
        )
        .await;
    herald
        .report("BuildFailed", "error", &b, "2026-11-23T10:02:00Z")
        .await;

    let json = herald
        .herald(&["events", "--revision", &a, "-o", "json"])
        .await;
    assert_eq!(code(&json), 0, "{}", text(&json.stderr));
    let page: Value = serde_json::from_slice(&json.stdout).unwrap();
    let reasons: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["ReconciliationSucceeded", "Progressing"]);
    assert_eq!(page["nextCursor"], Value::Null);

    let table = herald
        .herald(&[
            "events",
            "--object",
            "Kustomization/flux-system/apps",
            "--severity",
            "error",
        ])
        .await;
    assert_eq!(code(&table), 0, "{}", text(&table.stderr));
    let table = text(&table.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("REVISION"),
        "{table}"
    );
    assert_eq!(lines.len(), 2, "{table}");
    for expected in [
        "flux.event",
        "Kustomization/flux-system/apps",
        "BuildFailed",
        &b[..12],
    ] {
        assert!(lines[1].contains(expected), "{expected} in {table}");
    }

    let paged = herald
        .herald(&["events", "--limit", "1", "-o", "json"])
        .await;
    let first: Value = serde_json::from_slice(&paged.stdout).unwrap();
    assert_eq!(first["events"].as_array().unwrap().len(), 1);
    assert!(
        text(&paged.stderr).contains("--cursor"),
        "{}",
        text(&paged.stderr)
    );
    let all = herald
        .herald(&["events", "--limit", "1", "--all", "-o", "json"])
        .await;
    let all: Value = serde_json::from_slice(&all.stdout).unwrap();
    assert_eq!(all["events"].as_array().unwrap().len(), 3);

    let none = herald.herald(&["events", "--kind", "hook.delivery"]).await;
    assert!(
        text(&none.stdout).contains("(no events)"),
        "{}",
        text(&none.stdout)
    );
    let bad = herald.herald(&["events", "--since", "noon"]).await;
    assert_eq!(code(&bad), 2, "bad usage");
    assert!(
        text(&bad.stderr).contains("--since"),
        "{}",
        text(&bad.stderr)
    );
}

/// Without `--limit`, a page is as long as the API's default page: one more event than that is
/// stored, and the first page holds all but one and points at the rest.
#[tokio::test]
async fn events_pages_are_the_apis_default_size() {
    let herald = Herald::start().await;
    let default = herald_store::EventQuery::DEFAULT_LIMIT;
    for n in 0..=default {
        let revision = format!("{n:040x}");
        herald
            .report("Progressing", "info", &revision, "2026-11-23T10:00:00Z")
            .await;
    }
    let out = herald.herald(&["events", "-o", "json"]).await;
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    let page: Value = serde_json::from_slice(&out.stdout).unwrap();
    let listed = page["events"].as_array().unwrap().len();
    assert_eq!(listed, usize::try_from(default).unwrap());
    assert!(page["nextCursor"].is_i64(), "{}", page["nextCursor"]);
}

#[tokio::test]
async fn wait_exit_codes_follow_flux() {
    let herald = Herald::start().await;
    let wait = |revision: String, timeout: &'static str| {
        let herald = &herald;
        async move {
            herald
                .herald(&[
                    "wait",
                    "--revision",
                    &revision,
                    "--timeout",
                    timeout,
                    "--interval",
                    "100ms",
                ])
                .await
        }
    };

    // Ready.
    let ready = sha(3);
    herald
        .report(
            "ReconciliationSucceeded",
            "info",
            &format!("main@sha1:{ready}"),
            "2026-11-23T10:00:00Z",
        )
        .await;
    let out = wait(format!("main/{ready}"), "10s").await;
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("ready: Kustomization/flux-system/apps"),
        "{}",
        text(&out.stdout)
    );

    // Failed: exit 3 with the reason and the object.
    let failed = sha(4);
    herald
        .report(
            "HealthCheckFailed",
            "error",
            &failed,
            "2026-11-23T10:00:00Z",
        )
        .await;
    let out = wait(failed.clone(), "10s").await;
    assert_eq!(code(&out), 3, "{}", text(&out.stderr));
    let shown = text(&out.stderr);
    assert!(
        shown.contains("HealthCheckFailed") && shown.contains("Kustomization/flux-system/apps"),
        "{shown}"
    );

    // A failure, then a success of the same object: ready.
    let retried = sha(5);
    herald
        .report(
            "HealthCheckFailed",
            "error",
            &retried,
            "2026-11-23T10:00:00Z",
        )
        .await;
    herald
        .report(
            "ReconciliationSucceeded",
            "info",
            &retried,
            "2026-11-23T10:00:30Z",
        )
        .await;
    let out = wait(retried, "10s").await;
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));

    // Nothing decisive in time: exit 4.
    let progressing = sha(6);
    herald
        .report("Progressing", "info", &progressing, "2026-11-23T10:00:00Z")
        .await;
    let out = wait(progressing, "1s").await;
    assert_eq!(code(&out), 4, "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("timed out"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn wait_polls_until_flux_reports() {
    let herald = Herald::start().await;
    let revision = sha(7);
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_herald"));
    command.args([
        "wait",
        "--revision",
        &revision,
        "--timeout",
        "30s",
        "--interval",
        "100ms",
    ]);
    command.args(["--server", &herald.url]);
    let waiting = tokio::spawn(run(command));
    // Reported while the waiter runs (before or after its first poll): it must exit 0.
    herald
        .report(
            "ReconciliationSucceeded",
            "info",
            &revision,
            "2026-11-23T10:00:00Z",
        )
        .await;
    let out = waiting.await.unwrap();
    assert_eq!(code(&out), 0, "{}", text(&out.stderr));
}

#[tokio::test]
async fn wait_errors_are_1_and_usage_is_2() {
    let closed = format!("http://127.0.0.1:{}", free_port());
    let unreachable = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args([
            "wait",
            "--revision",
            &sha(8),
            "--timeout",
            "10s",
            "--server",
            &closed,
        ])
        .output()
        .unwrap();
    assert_eq!(code(&unreachable), 1);
    assert!(
        text(&unreachable.stderr).contains("cannot reach Herald"),
        "{}",
        text(&unreachable.stderr)
    );

    let usage = Command::new(env!("CARGO_BIN_EXE_herald"))
        .arg("wait")
        .output()
        .unwrap();
    assert_eq!(code(&usage), 2, "{}", text(&usage.stderr));
    let help = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["wait", "--help"])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .output()
        .unwrap();
    let help = text(&help.stdout);
    for line in [
        "0  Flux reported",
        "3  Flux reported a failure",
        "4  timed out",
    ] {
        assert!(help.contains(line), "{line} in {help}");
    }
}
