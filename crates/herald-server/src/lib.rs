//! Herald's HTTP surface: hook endpoints and health. The same router serves local and cluster
//! mode; what a hook fires is behind the [`Hooks`] trait.

mod health;
mod hook_handler;
mod hooks;
mod limits;
mod metrics;
mod router;

pub use health::Health;
pub use hooks::{Delivery, FireError, FiredRun, HookAuth, Hooks, LookupError};
pub use limits::RateLimits;
pub use metrics::{ErrorLabels, HookLabels, Metrics, RunLabels};
pub use router::{ServerConfig, router, serve};
