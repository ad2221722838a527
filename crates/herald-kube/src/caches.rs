//! Cluster mode reads definitions from caches fed by watches (reflectors), never with a GET
//! per check or per delivery: at 500 triggers the GETs of GitRepos and Secrets were most of
//! the API server's load and a hook's latency.
//!
//! Herald's kinds are watched where the operator watches (one namespace or all). Secrets are
//! watched only in the namespaces Herald's objects read them from, each namespace's watch
//! started the first time a Secret there is asked for; their values stay in memory.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{Stream, StreamExt};
use herald_api::{
    ClusterGitRepo, GitRepo, RECONCILE_REQUESTED_ANNOTATION, ScheduleTrigger, WebhookTrigger,
};
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, predicates, watcher};
use kube::{Api, Client, Resource};

use crate::error::Error;

/// How long a first read of a namespace's Secrets waits for its watch to list them.
const SECRETS_READY: Duration = Duration::from_secs(10);

/// What the controllers and the hook server read.
#[derive(Clone)]
pub struct Caches {
    pub schedule_triggers: Store<ScheduleTrigger>,
    pub webhook_triggers: Store<WebhookTrigger>,
    pub git_repos: Store<GitRepo>,
    pub cluster_git_repos: Store<ClusterGitRepo>,
    pub secrets: SecretCache,
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
        let _ = tokio::join!(
            self.schedule_triggers.wait_until_ready(),
            self.webhook_triggers.wait_until_ready(),
            self.git_repos.wait_until_ready(),
            self.cluster_git_repos.wait_until_ready(),
        );
    }
}

/// A cache of `K` fed by a watch on `api`, and the stream its controller reacts to: objects
/// whose spec changed (generation) or that were asked to reconcile, never their own status
/// writes, so writing status never wakes a controller into another check.
pub fn watched<K>(api: Api<K>) -> (Store<K>, impl Stream<Item = Result<K, watcher::Error>>)
where
    K: Resource<DynamicType = ()> + Clone + std::fmt::Debug + Send + Sync + 'static,
    K: serde::de::DeserializeOwned,
{
    let (reader, writer) = reflector::store();
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .predicate_filter(spec_or_request, Default::default());
    (reader, stream)
}

/// What a controller reacts to: the generation and the reconcile request annotation.
fn spec_or_request<K: Resource>(object: &K) -> Option<u64> {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    predicates::generation(object).hash(&mut hasher);
    requested_at(object).hash(&mut hasher);
    Some(hasher.finish())
}

/// An object's reconcile request: the value of its `reconcile.fluxcd.io/requestedAt`.
pub fn requested_at<K: Resource>(object: &K) -> Option<&str> {
    let annotations = object.meta().annotations.as_ref()?;
    annotations
        .get(RECONCILE_REQUESTED_ANNOTATION)
        .map(String::as_str)
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

/// Secrets, watched per namespace on first use.
#[derive(Clone)]
pub struct SecretCache {
    client: Client,
    namespaces: Arc<Mutex<HashMap<String, Store<Secret>>>>,
}

// Never shows a Secret, only where the watches are.
impl std::fmt::Debug for SecretCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let namespaces = self
            .namespaces
            .lock()
            .map(|n| n.keys().cloned().collect::<Vec<_>>());
        f.debug_struct("SecretCache")
            .field("namespaces", &namespaces.unwrap_or_default())
            .finish_non_exhaustive()
    }
}

impl SecretCache {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            namespaces: Arc::default(),
        }
    }

    /// Secret `namespace/name`, `None` when it does not exist.
    pub async fn get(&self, namespace: &str, name: &str) -> Result<Option<Arc<Secret>>, Error> {
        let store = self.store(namespace);
        match tokio::time::timeout(SECRETS_READY, store.wait_until_ready()).await {
            Ok(Ok(())) => Ok(namespaced(&store, namespace, name)),
            _ => Err(Error::Source(format!(
                "the Secrets of namespace {namespace} could not be listed (no rights, or the \
                 API server is unavailable)"
            ))),
        }
    }

    fn store(&self, namespace: &str) -> Store<Secret> {
        let mut namespaces = self.namespaces.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(store) = namespaces.get(namespace) {
            return store.clone();
        }
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let (reader, writer) = reflector::store();
        let stream = watcher(api, watcher::Config::default())
            .default_backoff()
            .reflect(writer);
        let ns = namespace.to_owned();
        tokio::spawn(async move {
            stream
                .for_each(|event| {
                    if let Err(e) = event {
                        tracing::warn!(namespace = %ns, error = %e, "watching Secrets");
                    }
                    async {}
                })
                .await;
        });
        namespaces.insert(namespace.to_owned(), reader.clone());
        reader
    }
}
