//! Cluster test fixtures: a real control plane (one per test binary), a namespace per test, an
//! operator per test scoped to that namespace, and real Git repositories.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use herald_kube::OperatorConfig;
use herald_server::ServerConfig;
use herald_testkit::TestNamespace;
use kube::Client;
use kube::api::{Patch, PatchParams};
use serde_json::Value;

pub const TIMEOUT: Duration = Duration::from_secs(60);

/// A test's namespace on the shared control plane, with Herald's CRDs applied.
pub async fn namespace(prefix: &str) -> TestNamespace {
    let cluster = herald_testkit::shared()
        .await
        .expect("the test control plane (run scripts/control-plane.sh build)");
    let ns = cluster.namespace(prefix).await.unwrap();
    herald_testkit::apply_crds(&ns.client, &herald_api::all_crds())
        .await
        .unwrap();
    ns
}

/// An operator running in this test's runtime, watching only `namespace`.
pub struct Operator {
    pub listen: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Operator {
    pub async fn start(client: &Client, namespace: &str, identity: &str) -> Self {
        let listen = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let config = OperatorConfig {
            namespace: namespace.to_owned(),
            watch_namespace: Some(namespace.to_owned()),
            identity: identity.to_owned(),
            cloner_image: "herald:test".into(),
            lease_duration: Duration::from_secs(3),
            lease_renew: Duration::from_millis(500),
            source_interval: Duration::from_secs(5),
            keep_succeeded: 2,
            keep_failed: 2,
            ..OperatorConfig::default()
        };
        let server = ServerConfig {
            listen,
            ..ServerConfig::default()
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let client = client.clone();
        let task = tokio::spawn(async move {
            herald_kube::run(client, config, server, async {
                stopped.await.unwrap_or(())
            })
            .await
            .unwrap();
        });
        Self {
            listen,
            stop: Some(stop),
            task,
        }
    }

    /// Stop it and wait until it is gone.
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Git repository built with the real `git` CLI.
pub struct TestRepo {
    pub dir: tempfile::TempDir,
}

impl TestRepo {
    pub fn new() -> Self {
        let repo = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo.commit("first");
        repo
    }

    pub fn url(&self) -> String {
        format!("file://{}", self.dir.path().display())
    }

    pub fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    pub fn commit(&self, message: &str) -> String {
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"])
    }
}

/// Server-side apply a manifest given as JSON into `ns`.
pub async fn apply(ns: &TestNamespace, manifest: Value) {
    let kind = manifest["kind"].as_str().unwrap().to_owned();
    let name = manifest["metadata"]["name"].as_str().unwrap().to_owned();
    let (group, version) = match manifest["apiVersion"].as_str().unwrap().split_once('/') {
        Some((g, v)) => (g.to_owned(), v.to_owned()),
        None => (
            String::new(),
            manifest["apiVersion"].as_str().unwrap().to_owned(),
        ),
    };
    let gvk = kube::api::GroupVersionKind::gvk(&group, &version, &kind);
    let (resource, caps) = kube::discovery::pinned_kind(&ns.client, &gvk)
        .await
        .unwrap();
    let api: kube::Api<kube::api::DynamicObject> = if caps.scope == kube::discovery::Scope::Cluster
    {
        kube::Api::all_with(ns.client.clone(), &resource)
    } else {
        kube::Api::namespaced_with(ns.client.clone(), &ns.name, &resource)
    };
    api.patch(
        &name,
        &PatchParams::apply("herald-test").force(),
        &Patch::Apply(&manifest),
    )
    .await
    .unwrap();
}

/// ServiceAccount `herald-action`, GitRepo `repo`, Action `act` and ScheduleTrigger `every`
/// (1 s, onChangeOnly).
pub async fn schedule_setup(ns: &TestNamespace, repo_url: &str) {
    // What the chart creates: the Jobs' default service account, with no rights.
    apply(ns, serde_json::json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "herald-action"}})).await;
    apply(
        ns,
        serde_json::json!({
            "apiVersion": "herald.dev/v1alpha1", "kind": "GitRepo",
            "metadata": {"name": "repo"}, "spec": {"repoUri": repo_url}
        }),
    )
    .await;
    apply(ns, serde_json::json!({
        "apiVersion": "herald.dev/v1alpha1", "kind": "Action",
        "metadata": {"name": "act"},
        "spec": {"actionJob": {"image": "alpine:3", "command": ["sh", "-c", "echo hi"], "activeDeadlineSeconds": 60, "ttlSecondsAfterFinished": 600}}
    })).await;
    apply(ns, serde_json::json!({
        "apiVersion": "herald.dev/v1alpha1", "kind": "ScheduleTrigger",
        "metadata": {"name": "every"},
        "spec": {
            "sources": {"kind": "GitRepo", "names": ["repo"], "watchOn": {"onChangeOnly": true, "reference": {"branch": "main"}}},
            "schedule": {"interval": "1s"},
            "action": {"kind": "Action", "name": "act"}
        }
    })).await;
}
