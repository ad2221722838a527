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
    let action =
        format!("  actionJob:\n    command: [sh, -c, {script:?}]\n    activeDeadlineSeconds: 20\n");
    setup_with_action(repo_url, &action, on_change_only, interval)
}

/// As [`schedule_setup`], with the Action's spec given as YAML indented by two spaces.
pub fn setup_with_action(
    repo_url: &str,
    action_spec: &str,
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
{action_spec}---
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

/// How long a test waits for a local Herald to listen or for its runs to reach a state.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// `herald local` on a free loopback port, over a manifests folder, with its own SQLite store.
pub struct LocalHerald {
    pub listen: std::net::SocketAddr,
    db: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    _state: tempfile::TempDir,
}

impl LocalHerald {
    /// Start Herald and wait until it accepts connections.
    pub async fn start(manifests: &Manifests) -> Self {
        Self::start_with(manifests, herald_server::RateLimits::default()).await
    }

    /// [`LocalHerald::start`] with hook limits.
    pub async fn start_with(manifests: &Manifests, rate_limits: herald_server::RateLimits) -> Self {
        let state = tempfile::tempdir().unwrap();
        let listen = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
        let db = state.path().join("herald.db");
        let config = herald_local::LocalConfig {
            dir: manifests.path(),
            db: db.clone(),
            work_root: state.path().join("work"),
            listen,
            max_parallel: 2,
            reload_every: Duration::from_millis(100),
            rate_limits,
            ..herald_local::LocalConfig::default()
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            herald_local::run(config, async { stopped.await.unwrap_or(()) })
                .await
                .unwrap();
        });
        wait_for("the server to listen", DEADLINE, || async {
            tokio::net::TcpStream::connect(listen)
                .await
                .ok()
                .map(|_| ())
        })
        .await;
        Self {
            listen,
            db,
            stop: Some(stop),
            task,
            _state: state,
        }
    }

    /// Every run in the store, newest first.
    pub async fn runs(&self) -> Vec<herald_store::RunRecord> {
        let store = herald_store::Store::open(&self.db).await.unwrap();
        let filter = herald_store::RunFilter {
            limit: Some(100),
            ..herald_store::RunFilter::default()
        };
        store.list_runs(&filter).await.unwrap()
    }

    /// The runs once `done` holds for them; fails the test after [`DEADLINE`].
    pub async fn wait_for_runs(
        &self,
        what: &str,
        done: impl Fn(&[herald_store::RunRecord]) -> bool,
    ) -> Vec<herald_store::RunRecord> {
        wait_for(what, DEADLINE, || async {
            let runs = self.runs().await;
            done(&runs).then_some(runs)
        })
        .await
    }

    /// The `hook.delivery` events recorded so far.
    pub async fn deliveries(&self) -> Vec<herald_store::EventRecord> {
        let store = herald_store::Store::open(&self.db).await.unwrap();
        let query = herald_store::EventQuery {
            kind: Some(herald_store::EventKind::HookDelivery),
            ..herald_store::EventQuery::default()
        };
        store.query_events(&query).await.unwrap().events
    }

    /// POST `body` with `headers` to `path`; the status and the JSON answer (null if none).
    pub async fn post(
        &self,
        path: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> (u16, serde_json::Value) {
        let mut request = client().post(format!("http://{}{path}", self.listen));
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request
            .body(body.to_vec())
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    /// Stop Herald and wait for it to finish.
    pub async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        tokio::time::timeout(REQUEST_DEADLINE, &mut self.task)
            .await
            .expect("Herald stops within the deadline")
            .unwrap();
    }
}

/// An HTTP client for the tests' requests to Herald: an answer that never comes fails the
/// test at [`REQUEST_DEADLINE`], naming the request, instead of hanging it.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(REQUEST_DEADLINE)
        .build()
        .expect("an HTTP client")
}

/// How long one request to Herald may take in a test (an image update's push included).
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(90);

/// The hex HMAC-SHA256 of `body` under `secret`, as Git hosts sign their hooks.
pub fn hmac_sha256_hex(secret: &[u8], body: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// An engine over the manifests' folder and a fresh SQLite file in `state`, with checkouts in
/// `state/work`.
pub async fn engine_at(manifests: &Manifests, state: &std::path::Path) -> herald_local::Engine {
    let loaded = herald_local::load_dir(&manifests.path()).unwrap();
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let store = herald_store::Store::open(&state.join("herald.db"))
        .await
        .unwrap();
    // The receiver keeps the last catalog after the sender is gone.
    let (_, receiver) = tokio::sync::watch::channel(std::sync::Arc::new(loaded.catalog));
    herald_local::Engine::new(
        store,
        receiver,
        herald_local::EngineConfig {
            work_root: state.join("work"),
            max_parallel: 2,
            metrics: herald_server::Metrics::default(),
            git_concurrency: 4,
            git_timeout: Duration::from_secs(30),
        },
    )
}
