//! Cluster mode: Herald as a Kubernetes operator. Triggers create `Run` resources; each Run
//! launches a Job (a cloner init container, then the Action's container) and follows it to
//! the end. One replica holds a Lease and does the scheduling; every replica serves hooks.

mod caches;
mod conditions;
mod context;
mod credentials;
mod error;
mod fire;
mod gitops_compat;
mod history;
mod hook_registration;
mod hooks;
mod image_update_controller;
mod image_updates_api;
mod job;
mod labels;
mod lease;
mod notifier_controller;
mod operator;
mod reconcile;
mod resource_controller;
mod run_controller;
mod run_status;
mod run_steps;
mod source_controller;
mod sources;
mod store_events;
mod tekton;
mod trigger_controller;
mod ui_board;
mod ui_records;

pub use caches::SecretCache;
pub use context::{Context, Leadership, OperatorConfig};
pub use error::Error;
pub use gitops_compat::GitopsCompat;
pub use history::beyond_limits;
pub use hooks::ClusterHooks;
pub use image_update_controller::{ClusterEnv, ImageContext};
pub use image_updates_api::ClusterImageUpdates;
pub use job::{CREDENTIALS_DIR, JobInputs, WORKSPACE, build_job};
pub use labels::{
    FIELD_MANAGER, RUN as RUN_LABEL, SOURCE as SOURCE_LABEL, TRIGGER as TRIGGER_LABEL,
};
pub use lease::{LEASE_NAME, elect, try_hold};
pub use operator::{Streams, controllers, run, watches};
pub use reconcile::ClusterReconciler;
pub use tekton::{TASK_API_VERSION, TASK_KIND};
pub use ui_board::{ClusterBoard, UiError};
