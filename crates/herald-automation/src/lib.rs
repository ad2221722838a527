//! Image automation, the engine (issue 13): what both modes run to keep a manifests
//! repository's image references in step with new images.
//!
//! - [`Updater::attempt`]: one attempt for one ImageUpdate: the tag chosen (the policy over
//!   the registry's tags, listed once per image per interval, or the application's newest
//!   commit), `requireImage` waited for, the intents handed to the writer, the outcome
//!   recorded as an `image.update` event and announced.
//! - [`writer`]: one writer per (repository, push branch), with a cached clone; updates that
//!   arrive close together land as one commit, and a stale push is re-applied on the new tip.
//! - [`notify`]: Slack-format and generic JSON webhooks, the answer's status checked.
//! - [`report`]: what an attempt came to, in the shape the seed's API answered.
//! - [`UpdateEnv`]: what a mode supplies (its GitRepos, Secrets and store).

mod choose;
mod env;
mod error;
pub mod events;
pub mod notify;
mod notify_targets;
pub mod report;
mod tags;
mod update;
pub mod writer;

pub use choose::DOCKER_CONFIG_KEY;
pub use env::UpdateEnv;
pub use error::UpdateError;
pub use report::{Outcome, Report};
pub use update::{Attempt, IMAGE_WAIT_RECHECK, Mode, Updater};
