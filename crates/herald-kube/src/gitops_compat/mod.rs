//! Compatibility with gitops-operator (issue 13): Deployments annotated the way it reads them
//! (`gitops.operator.*`) are kept in step with their application as an `ImageUpdate` would be,
//! by the same engine. Off unless `herald run --gitops-operator-annotations`, which also needs
//! the right to watch Deployments (the chart's `gitopsOperatorAnnotations`).
//!
//! - [`annotations`]: the annotations, their defaults, and why a Deployment is skipped.
//! - [`convert`]: a Deployment as the ImageUpdate it amounts to.
//! - [`env`]: its repositories and Secrets, where the annotations say.
//! - [`deployments`]: the metadata-only watch.
//! - [`GitopsCompat`]: the leader's loop, the endpoints' attempts and the last reports.

pub mod annotations;
pub mod convert;
mod deployments;
pub mod env;
mod runner;

pub use runner::GitopsCompat;
