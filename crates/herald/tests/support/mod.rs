//! What the tests that run the real `herald local` binary share: a scratch folder, Git, one
//! server tied to the test process, and JSON answers.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hmac::Mac;
use serde_json::Value;

pub const DEADLINE: Duration = Duration::from_secs(30);

/// A fresh folder `name` under Cargo's temp dir for tests, with `manifests/` in it (not /tmp:
/// the server is a static, never dropped).
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("manifests")).unwrap();
    dir
}

/// `git ARGS` in `dir`; its trimmed output.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=Test", "-c", "user.email=test@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A free loopback port.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `herald local MANIFESTS --db DB --listen 127.0.0.1:PORT EXTRA...`, logging to `log`. It
/// runs under a small shell that keeps the read end of a pipe from this process: when the
/// test process exits the pipe closes, `cat` returns and the shell stops Herald.
pub fn spawn_local(manifests: &Path, db: &Path, port: u16, log: &Path, extra: &[&str]) -> Child {
    spawn_local_with(manifests, db, port, log, extra, &[])
}

/// [`spawn_local`] with `env` set (a value of `None` removes the variable).
pub fn spawn_local_with(
    manifests: &Path,
    db: &Path,
    port: u16,
    log: &Path,
    extra: &[&str],
    env: &[(&str, Option<&str>)],
) -> Child {
    let mut command = Command::new("sh");
    command
        .args([
            "-c",
            r#"exec 3<&0; "$@" <&- & pid=$!; cat <&3 >/dev/null; kill $pid; wait $pid"#,
            "sh",
        ])
        .arg(env!("CARGO_BIN_EXE_herald"))
        .arg("local")
        .arg(manifests)
        .arg("--db")
        .arg(db)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(extra)
        .env("RUST_LOG", "info");
    for (name, value) in env {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

/// Polls `{url}/readyz` until it answers 200, failing after [`DEADLINE`].
pub async fn wait_ready(url: &str) {
    let started = Instant::now();
    loop {
        let ready = reqwest::get(format!("{url}/readyz")).await;
        if ready.is_ok_and(|r| r.status() == 200) {
            return;
        }
        assert!(started.elapsed() < DEADLINE, "herald local not ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The status, the headers and the JSON answer, which every answer must be.
pub async fn answer(response: reqwest::Response) -> (u16, reqwest::header::HeaderMap, Value) {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{status} is not JSON ({e}): {text:?}"));
    (status, headers, body)
}

/// The hex HMAC-SHA256 of `body` under `secret`, as Git hosts sign their hooks.
pub fn hmac_hex(secret: &[u8], body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}
