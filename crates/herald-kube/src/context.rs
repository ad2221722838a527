//! What every reconciler is handed: the client, settings, the leader flag and the Event
//! recorder. Injected, never global.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use herald_engine::RefLister;

use crate::caches::Caches;
use herald_server::Metrics;
use kube::Client;
use kube::runtime::events::{Recorder, Reporter};

/// Settings of the operator.
#[derive(Debug, Clone)]
pub struct OperatorConfig {
    /// Namespace of Herald itself: the Lease, and ClusterGitRepo secrets that name none.
    pub namespace: String,
    /// The image of the cloner init container (Herald's own).
    pub cloner_image: String,
    /// Service account of Jobs whose Action names none.
    pub default_service_account: String,
    /// Finished Runs kept per trigger.
    pub keep_succeeded: usize,
    pub keep_failed: usize,
    /// How often sources are re-checked for readiness.
    pub source_interval: Duration,
    /// Leader election timing.
    pub lease_duration: Duration,
    pub lease_renew: Duration,
    /// This replica's identity in the Lease.
    pub identity: String,
    /// Watch namespaced kinds in this namespace only (a namespace-scoped install); all
    /// namespaces when `None`.
    pub watch_namespace: Option<String>,
    /// The event store, read by the Tekton custom task for Flux's events; without it only
    /// the Flux objects' status is read.
    pub store: Option<herald_store::Store>,
    /// How often a pending Tekton `FluxRevisionWait` run looks again.
    pub flux_wait_interval: Duration,
    /// How many ref listings may run at once, and how long each may take.
    pub git_concurrency: usize,
    pub git_timeout: Duration,
    /// Where image automation keeps its clones of manifests repositories (one per repository
    /// and push branch, reused across updates; an emptyDir in the chart).
    pub clone_cache: std::path::PathBuf,
    /// Also follow Deployments annotated the way gitops-operator reads them
    /// (`gitops.operator.*`); off by default, and it needs the right to watch Deployments.
    pub gitops_operator_annotations: bool,
    /// How often the leader attempts those Deployments.
    pub gitops_operator_interval: Duration,
    /// Where people reach Herald: notifications link there (none without it).
    pub external_url: Option<String>,
    /// How long a deleted WebhookTrigger waits for its hooks to be removed at an unreachable
    /// Git host before it is let go (and the hooks are left there, logged).
    pub hook_removal_grace: Duration,
    /// Serve the read-only dashboard at `/ui/` from the caches (needs `store`, which holds
    /// its events and revisions).
    pub ui: bool,
}

impl Default for OperatorConfig {
    fn default() -> Self {
        Self {
            namespace: "herald".into(),
            cloner_image: "ghcr.io/herald-dev/herald:0.1.0".into(),
            default_service_account: "herald-action".into(),
            keep_succeeded: 10,
            keep_failed: 10,
            source_interval: Duration::from_secs(300),
            lease_duration: Duration::from_secs(15),
            lease_renew: Duration::from_secs(5),
            identity: "herald".into(),
            watch_namespace: None,
            store: None,
            flux_wait_interval: Duration::from_secs(5),
            git_concurrency: 4,
            git_timeout: Duration::from_secs(30),
            clone_cache: std::env::temp_dir().join("herald-clones"),
            gitops_operator_annotations: false,
            gitops_operator_interval: Duration::from_secs(300),
            external_url: None,
            hook_removal_grace: Duration::from_secs(300),
            ui: false,
        }
    }
}

/// Whether this replica currently holds the Lease, also shown as `herald_leader`.
#[derive(Debug, Clone, Default)]
pub struct Leadership {
    held: Arc<AtomicBool>,
    gauge: prometheus_client::metrics::gauge::Gauge,
}

impl Leadership {
    /// Leadership reported in `metrics`' `herald_leader`.
    pub fn reported_in(metrics: &Metrics) -> Self {
        Self {
            held: Arc::default(),
            gauge: metrics.leader.clone(),
        }
    }

    pub fn is_leader(&self) -> bool {
        self.held.load(Ordering::Acquire)
    }

    pub(crate) fn set(&self, leader: bool) {
        self.held.store(leader, Ordering::Release);
        self.gauge.set(i64::from(leader));
    }
}

/// Shared by all reconcilers.
#[derive(Clone)]
pub struct Context {
    pub client: Client,
    pub config: OperatorConfig,
    pub leadership: Leadership,
    /// Who publishes Herald's Events; see [`Context::recorder`].
    pub reporter: Reporter,
    pub metrics: Metrics,
    /// Every ref listing of the operator: bounded, with deadlines, shared between triggers.
    pub lister: Arc<RefLister>,
    /// Herald's kinds and the Secrets they name, as the watches last saw them.
    pub caches: Caches,
    /// When each ScheduleTrigger (by uid) was last checked, so a check that finds nothing new
    /// needs no status write.
    pub checks: Arc<Remembered<jiff::Timestamp>>,
    /// The revision each (trigger, source) last created a Run for in this process: newer than
    /// a cached trigger's `status.checkedSources` until the watch brings that write back. By
    /// `kind/namespace/trigger/source`.
    pub seen: Arc<Remembered<String>>,
    /// Which sources this process saw failing: a source that starts failing is a
    /// `source.failed` event once.
    pub source_health: herald_engine::SourceHealth,
    /// The one client of everything the operator posts (notifications, image updates'
    /// webhooks, Git hosts' APIs); `None` when it could not be built (no TLS roots), which
    /// each use reports.
    poster: Option<herald_notify::webhook::Poster>,
}

/// Values by key, in this process's memory only: what need not be written to the API server
/// for every check (when a trigger was last checked, the revision it last ran).
#[derive(Debug)]
pub struct Remembered<V>(std::sync::Mutex<std::collections::HashMap<String, V>>);

impl<V> Default for Remembered<V> {
    fn default() -> Self {
        Self(std::sync::Mutex::default())
    }
}

impl<V: Clone> Remembered<V> {
    pub fn get(&self, key: &str) -> Option<V> {
        let values = self.0.lock().unwrap_or_else(|e| e.into_inner());
        values.get(key).cloned()
    }

    pub fn set(&self, key: String, value: V) {
        let mut values = self.0.lock().unwrap_or_else(|e| e.into_inner());
        values.insert(key, value);
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Context {
    /// A recorder for one publish, as kube means it to be used (one per reconcile). A
    /// recorder keeps every Event it published for six minutes, to count repeats as a series,
    /// in a table that never shrinks: one shared by all Runs, whose Events never repeat, held
    /// 3.3 MB at 500 Runs.
    pub fn recorder(&self) -> Recorder {
        Recorder::new(self.client.clone(), self.reporter.clone())
    }

    /// The client of everything the operator posts.
    pub fn poster(&self) -> Result<&herald_notify::webhook::Poster, crate::error::Error> {
        self.poster.as_ref().ok_or_else(|| {
            crate::error::Error::Source("no HTTP client for what Herald posts".into())
        })
    }

    pub fn new(
        client: Client,
        config: OperatorConfig,
        leadership: Leadership,
        metrics: Metrics,
        caches: Caches,
    ) -> Arc<Self> {
        let reporter = Reporter {
            controller: "herald".into(),
            instance: Some(config.identity.clone()),
        };
        let lister = Arc::new(
            RefLister::new(config.git_concurrency, config.git_timeout)
                .reporting_waits_in(metrics.git_listings_waiting.clone()),
        );
        Arc::new(Self {
            lister,
            caches,
            checks: Arc::default(),
            seen: Arc::default(),
            source_health: herald_engine::SourceHealth::default(),
            poster: herald_notify::webhook::Poster::new()
                .inspect_err(
                    |error| tracing::error!(%error, "no HTTP client for what Herald posts"),
                )
                .ok(),
            client,
            config,
            leadership,
            reporter,
            metrics,
        })
    }
}
