//! The seam of the image automation endpoints: `GET /api/v1/imageupdates` (the seed's
//! `/debug`), `POST /api/v1/imageupdates/{namespace}/{name}/reconcile` (with `?dryRun=true`)
//! and the seed's `/reconcile` (every update, now). Each mode attempts with the same engine
//! (`herald_automation::Updater`); what it reads the objects from differs.

use std::future::Future;
use std::pin::Pin;

use herald_api::{ImageUpdateSpec, ImageUpdateStatus, UpdateReport as Report};
use serde::Serialize;

use crate::reconcile::ReconcileError;

/// A boxed future, so the router can hold any mode's implementation.
pub type ImageUpdateFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One ImageUpdate as the debug view shows it: its spec names Secrets, never holds their
/// values, so nothing needs redacting beyond what is never read into it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageUpdateView {
    pub namespace: String,
    pub name: String,
    pub spec: ImageUpdateSpec,
    pub status: ImageUpdateStatus,
    /// The last attempt's report, when this process made one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<Report>,
}

/// How a mode serves image updates.
pub trait ImageUpdates: Send + Sync + std::fmt::Debug {
    /// Every ImageUpdate, by namespace and name.
    fn list(&self) -> ImageUpdateFuture<'_, Vec<ImageUpdateView>>;

    /// Attempt `namespace/name` now and answer with its report (`dry_run`: the diff, nothing
    /// pushed).
    fn reconcile<'a>(
        &'a self,
        namespace: &'a str,
        name: &'a str,
        dry_run: bool,
    ) -> ImageUpdateFuture<'a, Result<Report, ReconcileError>>;

    /// Attempt every ImageUpdate that is not suspended, now.
    fn reconcile_all(&self) -> ImageUpdateFuture<'_, Vec<Report>>;
}
