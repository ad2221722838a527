//! Image automation, the engine (issue 13): what both modes run to keep a manifests
//! repository's image references in step with new images.
//!
//! - [`writer`]: one writer per (repository, push branch), with a cached clone; updates that
//!   arrive close together land as one commit, and a stale push is re-applied on the new tip.
//! - [`notify`]: Slack-format and generic JSON webhooks, the answer's status checked.
//! - [`report`]: what an update attempt came to, in the shape the seed's API answered.

pub mod notify;
pub mod report;
pub mod writer;
