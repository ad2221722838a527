//! The Deployments, metadata only: the annotations are all gitops-operator reads, and a
//! metadata watch keeps memory flat however many Deployments (and Pod templates) a cluster
//! has. Each cached object keeps only its `gitops.operator.*` annotations.

use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use kube::api::PartialObjectMeta;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};

use super::annotations::PREFIX;

/// A Deployment as cached here.
pub type DeploymentMeta = PartialObjectMeta<Deployment>;

/// The cache, whether it has listed, and the watch that fills it (to be driven).
pub struct Watched {
    pub store: Store<DeploymentMeta>,
    pub listed: tokio::sync::watch::Receiver<bool>,
    pub watch: futures::stream::BoxStream<'static, ()>,
}

/// Deployments in `namespace`, or in all.
pub fn watch(client: Client, namespace: Option<&str>) -> Watched {
    // An API of `PartialObjectMeta` asks for metadata only (`application/json;as=PartialObjectMetadata`).
    let api: Api<DeploymentMeta> = match namespace {
        Some(namespace) => Api::namespaced(client, namespace),
        None => Api::all(client),
    };
    let (store, writer) = reflector::store();
    let (listed_tx, listed) = tokio::sync::watch::channel(false);
    let events = watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(trim)
        .reflect(writer)
        .inspect(move |event| {
            if matches!(event, Ok(watcher::Event::InitDone)) {
                listed_tx.send_replace(true);
            }
        });
    Watched {
        store,
        listed,
        watch: drained(events).boxed(),
    }
}

/// Keeps the name, namespace and gitops-operator's annotations.
fn trim(meta: &mut DeploymentMeta) {
    let meta = &mut meta.metadata;
    meta.managed_fields = None;
    meta.labels = None;
    meta.owner_references = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.retain(|key, _| key.starts_with(PREFIX));
    }
}

/// The watch's events, logged when they fail (the backoff retries).
fn drained<S, E>(events: S) -> impl Stream<Item = ()>
where
    S: Stream<Item = Result<E, watcher::Error>>,
{
    events.map(|event| {
        if let Err(error) = event {
            tracing::warn!(%error, "watching Deployments for gitops-operator annotations");
        }
    })
}
