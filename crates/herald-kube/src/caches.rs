//! Cluster mode reads definitions from caches fed by watches (reflectors), never with a GET
//! per check or per delivery: at 500 triggers the GETs of GitRepos and Secrets were most of
//! the API server's load and a hook's latency.
//!
//! Herald's kinds are watched where the operator watches (one namespace or all). Secrets are
//! watched one by one, by the names Herald's objects reference, each watch started the first
//! time that Secret is asked for; their values stay in memory.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use herald_api::{Action, ClusterAction, ClusterGitRepo, GitRepo, ScheduleTrigger, WebhookTrigger};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, predicates, watcher};
use kube::{Api, Client, Resource};

use crate::error::Error;

/// How long a first read of a Secret waits for its watch to list it.
const SECRETS_READY: Duration = Duration::from_secs(10);

/// What the controllers and the hook server read.
#[derive(Clone)]
pub struct Caches {
    pub schedule_triggers: Store<ScheduleTrigger>,
    pub webhook_triggers: Store<WebhookTrigger>,
    pub git_repos: Store<GitRepo>,
    pub cluster_git_repos: Store<ClusterGitRepo>,
    pub actions: Store<Action>,
    pub cluster_actions: Store<ClusterAction>,
    /// Runs, for `concurrency`: how many of an action's Runs execute or wait.
    pub runs: Store<herald_api::Run>,
    /// Herald's Jobs, without their spec: what a Run's pass folds in.
    pub jobs: Store<Job>,
    pub image_updates: Store<herald_api::ImageUpdate>,
    pub notifiers: Store<herald_api::Notifier>,
    pub secrets: SecretCache,
    /// One per watch of Herald's kinds.
    pub listed: Vec<Listed>,
}

impl std::fmt::Debug for Caches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caches").finish_non_exhaustive()
    }
}

impl Caches {
    /// Waits until every watch of Herald's kinds has listed once, so an early lookup never
    /// mistakes "not listed yet" for "does not exist".
    pub async fn wait_until_ready(&self) {
        futures::future::join_all(self.listed.iter().map(Listed::wait)).await;
    }

    /// The URL of Git source `name` of `kind`, as an object in `namespace` names it.
    pub fn source_url(
        &self,
        kind: herald_api::SourceKind,
        namespace: &str,
        name: &str,
    ) -> Option<String> {
        use kube::runtime::reflector::ObjectRef;
        match kind {
            herald_api::SourceKind::GitRepo => self
                .git_repos
                .get(&ObjectRef::new(name).within(namespace))
                .map(|r| r.spec.repo_uri.clone()),
            herald_api::SourceKind::ClusterGitRepo => self
                .cluster_git_repos
                .get(&ObjectRef::new(name))
                .map(|r| r.spec.repo_uri.clone()),
        }
    }
}

/// Whether a watch has listed what exists (its first `InitDone`), for any number of waiters.
///
/// Not `Store::wait_until_ready`: in kube-runtime 5.0 its waiters share one oneshot receiver,
/// which keeps only the last waker, so of two tasks waiting at once (the controller's own
/// start and `/readyz`, or two hooks reading one Secret) one is never woken.
#[derive(Debug, Clone)]
pub struct Listed(Arc<tokio::sync::watch::Sender<bool>>);

impl Default for Listed {
    fn default() -> Self {
        Self(Arc::new(tokio::sync::watch::Sender::new(false)))
    }
}

impl Listed {
    fn mark(&self) {
        self.0.send_replace(true);
    }

    /// Resolves once listed; at once if it has been.
    pub async fn wait(&self) {
        // The sender is held by `self`, so this cannot fail.
        let _ = self.0.subscribe().wait_for(|listed| *listed).await;
    }
}

/// Marks `listed` when the watch `events` come from has listed once.
fn marking<K, S>(events: S, listed: Listed) -> impl Stream<Item = S::Item>
where
    S: Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
{
    events.inspect(move |event| {
        if matches!(event, Ok(watcher::Event::InitDone)) {
            listed.mark();
        }
    })
}

/// A cache of `K` fed by a watch on `api`, whether it has listed, and the stream its controller
/// reacts to: objects whose spec changed (generation) or that were asked to reconcile, never
/// their own status writes, so writing status never wakes a controller into another check.
pub fn watched<K>(
    api: Api<K>,
) -> (
    Store<K>,
    Listed,
    impl Stream<Item = Result<K, watcher::Error>>,
)
where
    K: Resource<DynamicType = ()> + Clone + std::fmt::Debug + Send + Sync + 'static,
    K: serde::de::DeserializeOwned,
{
    let (reader, listed, events) = reflected(api, watcher::Config::default(), drop_bookkeeping);
    (reader, listed, reacted_to(events))
}

/// Herald's Jobs (those labelled with their Run), cached without their spec, and every change
/// of one, which wakes its Run. A Run's pass reads its Jobs here: a LIST by label made the API
/// server read and decode every Job of the namespace on each pass (500 of them at 500
/// triggers, about 100 ms), in the middle of a step's hand-over.
pub fn watched_jobs(
    api: Api<Job>,
) -> (
    Store<Job>,
    Listed,
    impl Stream<Item = Result<Job, watcher::Error>>,
) {
    let config = watcher::Config::default().labels(crate::labels::RUN);
    let (reader, listed, events) = reflected(api, config, |job: &mut Job| {
        drop_bookkeeping(job);
        // Only the labels, the owner and the status are read; the Pod template is most of it.
        job.spec = None;
    });
    (reader, listed, events.touched_objects())
}

/// As [`watched`], and the objects `wakes` names for each change the watch sees after its
/// first listing: what must be looked at again because another object changed or went (a
/// queued Run when a peer ends). `wakes` reads the cache, which already holds the change.
pub fn watched_waking<K, F>(
    api: Api<K>,
    wakes: F,
) -> (
    Store<K>,
    Listed,
    impl Stream<Item = Result<K, watcher::Error>>,
    impl Stream<Item = ObjectRef<K>>,
)
where
    K: Resource<DynamicType = ()> + Clone + std::fmt::Debug + Send + Sync + 'static,
    K: serde::de::DeserializeOwned,
    F: Fn(&Store<K>, &watcher::Event<K>) -> Vec<ObjectRef<K>> + Send + 'static,
{
    let (reader, listed, events) = reflected(api, watcher::Config::default(), drop_bookkeeping);
    let (woken, wake_stream) = futures::channel::mpsc::unbounded();
    let cache = reader.clone();
    let events = events.inspect(move |event| {
        if let Ok(event @ (watcher::Event::Apply(_) | watcher::Event::Delete(_))) = event {
            for object in wakes(&cache, event) {
                // Fails only once the controller, the receiver, has stopped.
                let _ = woken.unbounded_send(object);
            }
        }
    });
    (reader, listed, reacted_to(events), wake_stream)
}

/// The objects of `events` a controller reconciles: those whose spec changed (generation) or
/// that were asked to reconcile, never their own status writes.
fn reacted_to<K, S>(events: S) -> impl Stream<Item = Result<K, watcher::Error>>
where
    K: Resource<DynamicType = ()> + Clone + Send + Sync + 'static,
    S: Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
{
    events
        .applied_objects()
        .predicate_filter(spec_or_request, Default::default())
}

/// A watch on `api` feeding a store (each object `trim`med of what Herald never reads),
/// marking `Listed` once it has listed, and its events.
fn reflected<K>(
    api: Api<K>,
    config: watcher::Config,
    trim: impl FnMut(&mut K),
) -> (
    Store<K>,
    Listed,
    impl Stream<Item = Result<watcher::Event<K>, watcher::Error>>,
)
where
    K: Resource<DynamicType = ()> + Clone + std::fmt::Debug + Send + Sync + 'static,
    K: serde::de::DeserializeOwned,
{
    let (reader, writer) = reflector::store();
    let listed = Listed::default();
    let events = watcher(api, config)
        .default_backoff()
        .modify(trim)
        .reflect(writer);
    (reader, listed.clone(), marking(events, listed))
}

/// Drops what Herald never reads and the API server keeps on every object: the field managers
/// and `kubectl apply`'s copy of the last applied object, often larger than the spec itself.
fn drop_bookkeeping<K: Resource>(object: &mut K) {
    let meta = object.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove(LAST_APPLIED_ANNOTATION);
    }
}

const LAST_APPLIED_ANNOTATION: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// What a controller reacts to: the generation, the reconcile request annotation and a Run's
/// cancel request.
fn spec_or_request<K: Resource>(object: &K) -> Option<u64> {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    predicates::generation(object).hash(&mut hasher);
    requested_at(object).hash(&mut hasher);
    cancel_requested(object).hash(&mut hasher);
    annotation(object, RERUN_ANNOTATION).hash(&mut hasher);
    Some(hasher.finish())
}

/// Set on a finished Run to re-run it from a step (the value): a new Run keeps the steps
/// before it that succeeded, as `herald runs rerun` does locally.
pub const RERUN_ANNOTATION: &str = "herald.dev/rerun-from";

/// The value of annotation `key` on `object`.
pub fn annotation<'a, K: Resource>(object: &'a K, key: &str) -> Option<&'a str> {
    object
        .meta()
        .annotations
        .as_ref()?
        .get(key)
        .map(String::as_str)
}

/// Set on a Run that a newer Run of its action replaces (`concurrency.policy: Replace`): its
/// graph is halted, `finally` runs, and it ends `Cancelled`. The value says why.
pub const CANCEL_ANNOTATION: &str = "herald.dev/cancel-requested";

/// A Run's cancel request, if any.
pub fn cancel_requested<K: Resource>(object: &K) -> Option<&str> {
    let annotations = object.meta().annotations.as_ref()?;
    annotations.get(CANCEL_ANNOTATION).map(String::as_str)
}

/// An object's reconcile request: the value of its `reconcile.fluxcd.io/requestedAt`.
pub fn requested_at<K: Resource>(object: &K) -> Option<&str> {
    herald_api::reconcile_requested_at(object.meta())
}

/// One object of a namespaced kind from a cache.
pub fn namespaced<K>(store: &Store<K>, namespace: &str, name: &str) -> Option<Arc<K>>
where
    K: Resource<DynamicType = ()> + Clone,
{
    store.get(&ObjectRef::new(name).within(namespace))
}

/// One object of a cluster-scoped kind from a cache.
pub fn cluster<K>(store: &Store<K>, name: &str) -> Option<Arc<K>>
where
    K: Resource<DynamicType = ()> + Clone,
{
    store.get(&ObjectRef::new(name))
}

/// Secrets, each watched by its name (a field selector on `metadata.name`) from the first time
/// it is asked for, until it has not been asked for in [`SECRET_IDLE`]: only what sources and
/// triggers reference is read, and nothing else of the namespace is held.
#[derive(Clone)]
pub struct SecretCache {
    client: Client,
    watches: Arc<Mutex<SecretWatches>>,
}

/// A Secret watch not asked for in this long is stopped (a trigger deleted, a reference
/// changed); asking again starts it again.
pub const SECRET_IDLE: Duration = Duration::from_secs(30 * 60);

#[derive(Default)]
struct SecretWatches {
    by_name: HashMap<(String, String), SecretWatch>,
    swept: Option<Instant>,
}

struct SecretWatch {
    store: Store<Secret>,
    listed: Listed,
    used: Instant,
    task: tokio::task::AbortHandle,
}

impl Drop for SecretWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

// Never shows a Secret, only which are watched.
impl std::fmt::Debug for SecretCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretCache")
            .field("watched", &self.watched())
            .finish_non_exhaustive()
    }
}

impl SecretCache {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            watches: Arc::default(),
        }
    }

    /// Key `key` of Secret `namespace/name`, with the reason of what is missing.
    pub async fn value(
        &self,
        namespace: &str,
        name: &str,
        key: &str,
    ) -> Result<Vec<u8>, herald_engine::SourceError> {
        let secret = self.get(namespace, name).await?;
        let secret =
            secret.ok_or_else(|| herald_engine::SourceError::secret_missing(namespace, name))?;
        herald_api::secret_key(&secret, key)
            .ok_or_else(|| herald_engine::SourceError::secret_key_missing(namespace, name, key))
    }

    /// Secret `namespace/name`, `None` when it does not exist.
    pub async fn get(&self, namespace: &str, name: &str) -> Result<Option<Arc<Secret>>, Error> {
        let (store, listed) = self.watch(namespace, name);
        match tokio::time::timeout(SECRETS_READY, listed.wait()).await {
            Ok(()) => Ok(namespaced(&store, namespace, name)),
            Err(_) => Err(Error::Source(format!(
                "Secret {namespace}/{name} could not be read (no rights, or the API server is \
                 unavailable)"
            ))),
        }
    }

    /// The Secrets watched now, as `namespace/name`.
    pub fn watched(&self) -> Vec<String> {
        let watches = self.watches.lock().unwrap_or_else(|e| e.into_inner());
        let mut names: Vec<_> = watches
            .by_name
            .keys()
            .map(|(namespace, name)| format!("{namespace}/{name}"))
            .collect();
        names.sort();
        names
    }

    fn watch(&self, namespace: &str, name: &str) -> (Store<Secret>, Listed) {
        let mut watches = self.watches.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if watches.swept.is_none_or(|at| now - at > SECRET_IDLE / 4) {
            watches.by_name.retain(|_, w| now - w.used < SECRET_IDLE);
            watches.swept = Some(now);
        }
        let key = (namespace.to_owned(), name.to_owned());
        let watch = watches
            .by_name
            .entry(key)
            .or_insert_with(|| self.start(namespace, name, now));
        watch.used = now;
        (watch.store.clone(), watch.listed.clone())
    }

    fn start(&self, namespace: &str, name: &str, now: Instant) -> SecretWatch {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        let (store, listed, events) = reflected(api, config, drop_bookkeeping);
        let secret = format!("{namespace}/{name}");
        let task = tokio::spawn(async move {
            events
                .for_each(|event| {
                    if let Err(e) = event {
                        tracing::warn!(%secret, error = %e, "watching a Secret");
                    }
                    async {}
                })
                .await;
        });
        SecretWatch {
            store,
            listed,
            used: now,
            task: task.abort_handle(),
        }
    }
}
