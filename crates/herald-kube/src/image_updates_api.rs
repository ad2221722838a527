//! Cluster mode's side of the image automation endpoints: the ImageUpdates from the cache,
//! and attempts made at once by whichever replica took the request (a write is race-safe from
//! any replica; the leader's controller brings the status up to date on its next look).

use std::sync::Arc;

use herald_api::{ImageUpdate, UpdateReport};
use herald_automation::Mode;
use herald_server::{ImageUpdateFuture, ImageUpdateView, ImageUpdates, ReconcileError};
use kube::ResourceExt;

use crate::caches;
use crate::gitops_compat::GitopsCompat;
use crate::image_update_controller::ImageContext;

/// The endpoints, over the ImageUpdate cache.
#[derive(Debug, Clone)]
pub struct ClusterImageUpdates {
    pub image: Arc<ImageContext>,
    /// With `--gitops-operator-annotations`: the annotated Deployments, shown and attempted
    /// beside the ImageUpdates.
    pub compat: Option<Arc<GitopsCompat>>,
}

impl ClusterImageUpdates {
    fn all(&self) -> Vec<Arc<ImageUpdate>> {
        let mut all = self.image.ctx.caches.image_updates.state();
        all.sort_by_key(|u| (u.namespace(), u.name_any()));
        all
    }
}

impl ImageUpdates for ClusterImageUpdates {
    fn list(&self) -> ImageUpdateFuture<'_, Vec<ImageUpdateView>> {
        Box::pin(async move {
            let mut views: Vec<ImageUpdateView> = self
                .all()
                .into_iter()
                .map(|update| ImageUpdateView {
                    namespace: update.namespace().unwrap_or_default(),
                    name: update.name_any(),
                    spec: update.spec.clone(),
                    status: update.status.clone().unwrap_or_default(),
                    last: None,
                })
                .collect();
            if let Some(compat) = &self.compat {
                views.extend(compat.views());
            }
            views
        })
    }

    fn reconcile<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        dry_run: bool,
    ) -> ImageUpdateFuture<'a, Result<UpdateReport, ReconcileError>> {
        Box::pin(async move {
            let label = format!("ImageUpdate {namespace}/{name}");
            let cache = &self.image.ctx.caches.image_updates;
            let Some(update) = caches::namespaced(cache, namespace, name) else {
                // An annotated Deployment of that name, when those are followed.
                let compat = self.compat.as_ref();
                let deployment = match compat {
                    Some(compat) => compat.attempt_one(namespace, name, dry_run).await,
                    None => None,
                };
                return deployment.ok_or(ReconcileError::NotFound(label));
            };
            let mode = Mode::requested(&update, dry_run)?;
            Ok(self.image.updater.attempt(&update, mode).await.report)
        })
    }

    fn reconcile_all(&self) -> ImageUpdateFuture<'_, Vec<UpdateReport>> {
        Box::pin(async move {
            let due = self.all().into_iter().filter(|u| !u.spec.suspend);
            let attempts = due.map(|update| async move {
                self.image.updater.attempt(&update, Mode::Push).await.report
            });
            // Together, so updates to one branch land in one commit.
            let compat = async {
                match &self.compat {
                    Some(compat) => compat.attempt_all().await.0,
                    None => Vec::new(),
                }
            };
            let (mut reports, compat) = futures::join!(futures::future::join_all(attempts), compat);
            reports.extend(compat);
            reports
        })
    }
}
