//! Shared fixtures: real Git repositories made with the `git` CLI, manifest folders, waiting
//! for conditions with deadlines.
#![allow(dead_code, unused_imports, clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use herald_testkit::TestRepo;

/// A folder of manifests.
pub struct Manifests {
    pub dir: tempfile::TempDir,
}

impl Manifests {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub fn write(&self, name: &str, yaml: &str) {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, yaml).unwrap();
    }
}

/// Manifests for one repo, one action running `script` with `sh -c`, and one schedule trigger.
pub fn schedule_setup(
    repo_url: &str,
    script: &str,
    on_change_only: bool,
    interval: &str,
) -> String {
    format!(
        r#"apiVersion: herald.dev/v1alpha1
kind: GitRepo
metadata: {{name: repo}}
spec: {{repoUri: "{repo_url}"}}
---
apiVersion: herald.dev/v1alpha1
kind: Action
metadata: {{name: act}}
spec:
  actionJob:
    command: [sh, -c, {script:?}]
    activeDeadlineSeconds: 20
---
apiVersion: herald.dev/v1alpha1
kind: ScheduleTrigger
metadata: {{name: every}}
spec:
  sources:
    kind: GitRepo
    names: [repo]
    watchOn:
      onChangeOnly: {on_change_only}
      reference: {{branch: main}}
  schedule: {{interval: {interval}}}
  action: {{kind: Action, name: act}}
"#
    )
}

/// Poll `check` until it returns `Some`, failing the test after `timeout`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
