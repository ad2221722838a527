//! The seam of `POST /api/v1/reconcile/{kind}/{namespace}/{name}` (`herald reconcile`): ask a
//! trigger to check its sources now, as `flux reconcile` asks Flux. What "now" takes differs by
//! mode: local mode fires a schedule trigger at once (or rechecks a webhook trigger's
//! readiness); cluster mode sets the `reconcile.fluxcd.io/requestedAt` annotation on the
//! object and its controller does the rest on the leader.

use std::future::Future;
use std::pin::Pin;

use herald_api::TriggerKind;

/// The trigger a reconcile request names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TriggerId<'a> {
    pub kind: TriggerKind,
    pub namespace: &'a str,
    pub name: &'a str,
}

impl std::fmt::Display for TriggerId<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// What [`Reconcile::reconcile`] returns: boxed, so the API can hold any mode's reconciler
/// without being generic over it.
pub type ReconcileFuture<'a> =
    Pin<Box<dyn Future<Output = Result<(), ReconcileError>> + Send + 'a>>;

/// How a mode acts on a reconcile request.
pub trait Reconcile: Send + Sync + std::fmt::Debug {
    /// Ask `trigger` to check its sources now. `requested_at` (RFC 3339, the time of the
    /// request) is the request's value: what the trigger records as handled. Returns once
    /// the request is accepted; the check itself may come after.
    fn reconcile<'a>(
        &'a self,
        trigger: TriggerId<'a>,
        requested_at: &'a str,
    ) -> ReconcileFuture<'a>;
}

/// Why a reconcile request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReconcileError {
    #[error("{0} not found")]
    NotFound(String),
    /// The trigger has `spec.suspend: true`: as with Flux, a suspended object is not
    /// reconciled on request.
    #[error("{0} is suspended; set spec.suspend to false to reconcile it")]
    Suspended(String),
    /// The request could not be passed on now (e.g. the API server refused the patch).
    #[error("{0}")]
    Unavailable(String),
}
