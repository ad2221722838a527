//! Image updates in local mode: the folder's ImageUpdates, each checked on its interval by a
//! task of its own (none while suspended), with the engine every mode uses
//! (`herald_automation::Updater`). The last attempt of each is kept in memory for the API.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use herald_api::{
    ImageUpdate, ImageUpdateSpec, ImageUpdateStatus, SourceRef, UpdateReport, reasons,
};
use herald_automation::{Attempt, Mode, UpdateEnv, Updater};
use herald_engine::SourceError;
use herald_git::Remote;
use herald_server::{ImageUpdateFuture, ImageUpdateView, ImageUpdates, ReconcileError};
use herald_store::{NewEvent, Store};
use tokio::sync::watch;

use crate::catalog::{Catalog, Key};
use crate::resolve;
use crate::scheduler::AbortOnDrop;

/// What the engine reads in local mode: the folder's catalog (as it is now) and the store.
#[derive(Debug)]
pub struct LocalEnv {
    pub catalog: watch::Receiver<Arc<Catalog>>,
    pub store: Store,
}

impl UpdateEnv for LocalEnv {
    async fn remote(&self, namespace: &str, source: &SourceRef) -> Result<Remote, SourceError> {
        let catalog = self.catalog.borrow().clone();
        resolve::source(&catalog, namespace, source.kind, &source.name)
    }

    async fn record(&self, event: NewEvent) {
        if let Err(error) = self.store.record_event(&event).await {
            tracing::warn!(%error, "an image.update event could not be stored");
        }
    }
}

impl herald_engine::SecretReader for LocalEnv {
    async fn secret_value(
        &self,
        namespace: &str,
        name: &str,
        key: &str,
    ) -> Result<Vec<u8>, SourceError> {
        self.catalog.borrow().secret_value(namespace, name, key)
    }
}

/// Local mode's image updates: the engine, the tasks and the last attempts.
#[derive(Debug, Clone)]
pub struct LocalImageUpdates {
    updater: Updater<LocalEnv>,
    catalog: watch::Receiver<Arc<Catalog>>,
    last: Arc<Mutex<BTreeMap<Key, Attempt>>>,
}

impl LocalImageUpdates {
    pub fn new(updater: Updater<LocalEnv>, catalog: watch::Receiver<Arc<Catalog>>) -> Self {
        Self {
            updater,
            catalog,
            last: Arc::default(),
        }
    }

    /// Keep one task per ImageUpdate in step with the catalog, until its sender is dropped.
    pub async fn run(self) {
        let mut catalog = self.catalog.clone();
        let mut tasks: BTreeMap<Key, (Wanted, AbortOnDrop)> = BTreeMap::new();
        loop {
            let current = catalog.borrow_and_update().clone();
            // A changed spec or a new reconcile request restarts the task, which attempts at
            // once.
            tasks.retain(|key, (wanted, _)| {
                current
                    .image_updates
                    .get(key)
                    .is_some_and(|u| &Wanted::of(u) == wanted && !u.spec.suspend)
            });
            self.forget_removed(&current);
            for (key, update) in &current.image_updates {
                if update.spec.suspend || tasks.contains_key(key) {
                    continue;
                }
                let task = tokio::spawn(self.clone().check_forever(update.clone()));
                tasks.insert(key.clone(), (Wanted::of(update), AbortOnDrop(task)));
            }
            if catalog.changed().await.is_err() {
                return;
            }
        }
    }

    fn forget_removed(&self, current: &Catalog) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        last.retain(|key, _| current.image_updates.contains_key(key));
    }

    /// Attempt now, then on the interval (sooner while waiting for an image).
    async fn check_forever(self, update: ImageUpdate) {
        let interval = Updater::<LocalEnv>::interval(&update.spec);
        loop {
            let attempt = self.attempt(&update, Mode::Push).await;
            tokio::time::sleep(attempt.retry_after.unwrap_or(interval)).await;
        }
    }

    async fn attempt(&self, update: &ImageUpdate, mode: Mode) -> Attempt {
        let attempt = self.updater.attempt(update, mode).await;
        let report = &attempt.report;
        tracing::info!(
            namespace = %report.namespace, image_update = %report.deployment,
            reason = attempt.reason, tag = report.to.as_deref().unwrap_or("-"),
            commit = report.commit.as_deref().unwrap_or("-"), message = %report.message,
            "image update attempted"
        );
        if mode == Mode::Push {
            let key = (report.namespace.clone(), report.deployment.clone());
            let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
            last.insert(key, attempt.clone());
        }
        attempt
    }

    fn status(&self, key: &Key, update: &ImageUpdate) -> (ImageUpdateStatus, Option<UpdateReport>) {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let attempt = last.get(key);
        let status = ImageUpdateStatus {
            conditions: attempt.map(condition).into_iter().collect(),
            observed_generation: update.metadata.generation,
            latest_tag: attempt.and_then(|a| a.latest_tag.clone()),
            last_commit: attempt.and_then(|a| a.report.commit.clone()),
            last_update_time: None,
            last_handled_reconcile_at: None,
        };
        (status, attempt.map(|a| a.report.clone()))
    }
}

/// The `Ready` condition an attempt gives.
fn condition(attempt: &Attempt) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
        type_: reasons::READY.into(),
        status: if attempt.ready() { "True" } else { "False" }.into(),
        reason: attempt.reason.into(),
        message: attempt.report.message.clone(),
        last_transition_time: k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::now(),
        ),
        observed_generation: None,
    }
}

impl ImageUpdates for LocalImageUpdates {
    fn list(&self) -> ImageUpdateFuture<'_, Vec<ImageUpdateView>> {
        Box::pin(async move {
            let catalog = self.catalog.borrow().clone();
            catalog
                .image_updates
                .iter()
                .map(|(key, update)| {
                    let (status, last) = self.status(key, update);
                    ImageUpdateView {
                        namespace: key.0.clone(),
                        name: key.1.clone(),
                        spec: update.spec.clone(),
                        status,
                        last,
                    }
                })
                .collect()
        })
    }

    fn reconcile<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        dry_run: bool,
    ) -> ImageUpdateFuture<'a, Result<UpdateReport, ReconcileError>> {
        Box::pin(async move {
            let key = (namespace.to_owned(), name.to_owned());
            let update = self.catalog.borrow().image_updates.get(&key).cloned();
            let label = format!("ImageUpdate {namespace}/{name}");
            let update = update.ok_or(ReconcileError::NotFound(label))?;
            let mode = Mode::requested(&update, dry_run)?;
            Ok(self.attempt(&update, mode).await.report)
        })
    }

    fn reconcile_all(&self) -> ImageUpdateFuture<'_, Vec<UpdateReport>> {
        Box::pin(async move {
            let catalog = self.catalog.borrow().clone();
            let due = catalog.image_updates.values().filter(|u| !u.spec.suspend);
            let attempts = due.map(|update| self.attempt(update, Mode::Push));
            // Together, so updates to one branch land in one commit.
            let attempts = futures::future::join_all(attempts).await;
            attempts.into_iter().map(|attempt| attempt.report).collect()
        })
    }
}

/// What an ImageUpdate's task was started for: its spec and its reconcile request (the
/// `reconcile.fluxcd.io/requestedAt` annotation, as for schedule triggers).
#[derive(Debug, PartialEq)]
struct Wanted {
    spec: ImageUpdateSpec,
    requested: Option<String>,
}

impl Wanted {
    fn of(update: &ImageUpdate) -> Self {
        Self {
            spec: update.spec.clone(),
            requested: herald_api::reconcile_requested_at(&update.metadata).map(str::to_owned),
        }
    }
}
