//! Herald's HTTP surface: hook endpoints, health, metrics and the query API (`/api/v1`: events,
//! revisions, Flux's notifications, image updates). The same router serves local and cluster mode; what a hook
//! fires is behind the [`Hooks`] trait.

pub mod api;
mod delivery_log;
mod health;
mod hook_handler;
mod hooks;
mod image_updates;
mod json_errors;
mod limits;
mod metrics;
mod reconcile;
mod router;

pub use api::{ApiConfig, ReconcileAccess, Retention, Secret, prune_events_forever};
pub use health::{Closing, Health};
pub use hooks::{
    Delivery, FireError, Fired, FiredRun, HookAuth, Hooks, LookupError, NotReady, SecretAt,
    SkippedSource,
};
pub use image_updates::{ImageUpdateFuture, ImageUpdateView, ImageUpdates};
pub use limits::RateLimits;
pub use metrics::{
    ErrorLabels, HookLabels, HookTimingLabels, KindLabels, Metrics, PhaseLabels, ResultLabels,
    RunLabels, TriggerKindLabels,
};
pub use reconcile::{Reconcile, ReconcileError, ReconcileFuture, TriggerId};
pub use router::{ServerConfig, router, serve};
