//! Cluster test fixtures: a real control plane (one per test binary), a namespace per test, an
//! operator per test scoped to that namespace, and real Git repositories.
#![allow(dead_code, unused_imports, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use herald_api::Run;
use herald_kube::OperatorConfig;
use herald_server::ServerConfig;
use herald_testkit::{TestNamespace, wait_for};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::Api;
use kube::Client;
use kube::api::{ListParams, Patch, PatchParams};
use serde_json::Value;

pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Herald's CRDs, applied once per test binary: concurrent applies of the same CRDs race on
/// v1.20.
static HERALD_CRDS: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
/// Tekton's and Flux's CRDs, applied once per test binary.
static TEKTON_AND_FLUX_CRDS: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();

/// A test's namespace on the shared control plane, with Herald's CRDs applied.
pub async fn namespace(prefix: &str) -> TestNamespace {
    let cluster = herald_testkit::shared()
        .await
        .expect("the test control plane (run scripts/control-plane.sh build)");
    let ns = cluster.namespace(prefix).await.unwrap();
    HERALD_CRDS
        .get_or_init(|| async {
            herald_testkit::apply_crds(&ns.client, &herald_api::all_crds())
                .await
                .unwrap();
        })
        .await;
    ns
}

/// [`namespace`], with Tekton's (CustomRun, Run) and Flux's (Kustomization, HelmRelease) CRDs
/// served too.
pub async fn namespace_with_tekton_and_flux(prefix: &str) -> TestNamespace {
    let ns = namespace(prefix).await;
    TEKTON_AND_FLUX_CRDS
        .get_or_init(|| async {
            let crds = herald_testkit::tekton_and_flux_crds().unwrap();
            herald_testkit::apply_crds(&ns.client, &crds).await.unwrap();
        })
        .await;
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
        Self::start_with(client, namespace, identity, |_| {}).await
    }

    /// [`Operator::start`], with the test's settings changed by `configure` (e.g. a store).
    pub async fn start_with(
        client: &Client,
        namespace: &str,
        identity: &str,
        configure: impl FnOnce(&mut OperatorConfig),
    ) -> Self {
        let listen = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let mut config = OperatorConfig {
            namespace: namespace.to_owned(),
            watch_namespace: Some(namespace.to_owned()),
            identity: identity.to_owned(),
            cloner_image: "herald:test".into(),
            lease_duration: Duration::from_secs(3),
            lease_renew: Duration::from_millis(500),
            source_interval: Duration::from_secs(5),
            keep_succeeded: 2,
            keep_failed: 2,
            flux_wait_interval: Duration::from_millis(500),
            ..OperatorConfig::default()
        };
        configure(&mut config);
        // With a store the query API is served too (reconcile requests included).
        let api = config.store.clone().map(|store| herald_server::ApiConfig {
            store,
            flux_secret: None,
            reconciler: None,
            // Loopback, so open, as `herald run --listen 127.0.0.1:…` without a token.
            reconcile_access: herald_server::ReconcileAccess::for_listener(None, listen),
            image_updates: None,
        });
        let server = ServerConfig {
            listen,
            api,
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
    /// `herald_schedule_checks_total` as this operator's `/metrics` says now.
    pub async fn schedule_checks(&self) -> u64 {
        let url = format!("http://{}/metrics", self.listen);
        let text = reqwest::get(url).await.unwrap().text().await.unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("herald_schedule_checks_total "))
            .map_or(0, |v| v.trim().parse().unwrap())
    }

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

pub use herald_testkit::TestRepo;

/// Every Run in the namespace.
pub async fn runs(ns: &TestNamespace) -> Vec<Run> {
    ns.api::<Run>()
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
}

/// The Run created for `revision`, once there is one.
pub async fn wait_for_run(ns: &TestNamespace, revision: &str) -> Run {
    wait_for("a Run for the revision", TIMEOUT, || async {
        runs(ns)
            .await
            .into_iter()
            .find(|r| r.spec.revision == revision)
    })
    .await
    .unwrap()
}

/// The Pod the Job controller made for Job `job`. On a timeout the failure says what the
/// namespace's Jobs and Events showed, so a slow control plane is told from a missing Job.
pub async fn job_pod(ns: &TestNamespace, job: &str) -> Pod {
    let pods: Api<Pod> = ns.api();
    let found = wait_for("the Job's pod", TIMEOUT, || async {
        pods.list(&ListParams::default().labels(&format!("job-name={job}")))
            .await
            .ok()?
            .items
            .into_iter()
            .next()
    })
    .await;
    match found {
        Ok(pod) => pod,
        Err(e) => {
            let jobs = ns
                .api::<k8s_openapi::api::batch::v1::Job>()
                .list(&ListParams::default())
                .await;
            let jobs: Vec<_> = jobs
                .map(|l| {
                    l.items
                        .into_iter()
                        .map(|j| (j.metadata.name, j.status))
                        .collect()
                })
                .unwrap_or_default();
            let events = ns
                .api::<k8s_openapi::api::core::v1::Event>()
                .list(&ListParams::default())
                .await;
            let events: Vec<_> = events
                .map(|l| {
                    l.items
                        .into_iter()
                        .map(|e| (e.involved_object.name, e.reason, e.message))
                        .collect()
                })
                .unwrap_or_default();
            panic!("{e} for Job {job}: jobs {jobs:?}; events {events:?}")
        }
    }
}

/// The status condition `type_` of a source, once it has one.
pub async fn wait_for_condition<K>(api: &Api<K>, name: &str, type_: &str) -> Condition
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug + HasConditions,
{
    wait_for(&format!("condition {type_} of {name}"), TIMEOUT, || async {
        api.get(name)
            .await
            .ok()?
            .conditions()
            .into_iter()
            .find(|c| c.type_ == type_)
    })
    .await
    .unwrap()
}

/// Kinds whose status carries standard conditions.
pub trait HasConditions {
    fn conditions(&self) -> Vec<Condition>;
}

/// Every kind here keeps its conditions in `status.conditions`.
macro_rules! has_conditions {
    ($($kind:ty),+) => {$(
        impl HasConditions for $kind {
            fn conditions(&self) -> Vec<Condition> {
                self.status.clone().map(|s| s.conditions).unwrap_or_default()
            }
        }
    )+};
}

has_conditions!(
    herald_api::GitRepo,
    herald_api::ClusterGitRepo,
    herald_api::ScheduleTrigger,
    herald_api::WebhookTrigger,
    herald_api::Action,
    herald_api::Notifier
);

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
    let action = serde_json::json!({"actionJob": {"image": "alpine:3", "command": ["sh", "-c", "echo hi"], "activeDeadlineSeconds": 60, "ttlSecondsAfterFinished": 600}});
    schedule_setup_with(ns, repo_url, action).await;
}

/// As [`schedule_setup`], with the Action's spec given.
pub async fn schedule_setup_with(ns: &TestNamespace, repo_url: &str, action: serde_json::Value) {
    // What the chart creates: the Jobs' default service account, with no rights.
    apply(ns, serde_json::json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "herald-action"}})).await;
    // Kubernetes 1.20 refuses a Pod whose service account has no token Secret yet, and the
    // Job controller then backs off for 10 s, 20 s, 40 s...: wait for the token first.
    let accounts: Api<k8s_openapi::api::core::v1::ServiceAccount> = ns.api();
    wait_for("the herald-action token", TIMEOUT, || async {
        let sa = accounts.get("herald-action").await.ok()?;
        sa.secrets.filter(|s| !s.is_empty()).map(|_| ())
    })
    .await
    .unwrap();
    apply(
        ns,
        serde_json::json!({
            "apiVersion": "herald.dev/v1alpha1", "kind": "GitRepo",
            "metadata": {"name": "repo"}, "spec": {"repoUri": repo_url}
        }),
    )
    .await;
    apply(
        ns,
        serde_json::json!({
            "apiVersion": "herald.dev/v1alpha1", "kind": "Action",
            "metadata": {"name": "act"},
            "spec": action
        }),
    )
    .await;
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

/// A SQLite store in a fresh folder, for an operator that records events; keep the folder
/// as long as the store is used.
pub async fn temp_store() -> (herald_store::Store, tempfile::TempDir) {
    let state = tempfile::tempdir().unwrap();
    let store = herald_store::Store::open(&state.path().join("herald.db"))
        .await
        .unwrap();
    (store, state)
}
