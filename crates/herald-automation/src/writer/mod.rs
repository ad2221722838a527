//! The batching writer of image automation (issue 13): one writer per (repository, push
//! branch), holding a cached clone, turning every update that arrives close together into
//! ONE commit.
//!
//! Why batch: a manifests repository serves many images, and writing them one commit (one
//! fetch, one push) at a time serialises write-back to minutes per repository under a burst
//! of new images. Why intents: a push that lost a race is re-applied on the new tip, so no
//! writer's update is ever dropped.
//!
//! - [`Writers`]: the process-wide handle; `write` and `preview` hand an [`Update`] to the
//!   writer of its [`Destination`], started on first use.
//! - A batch: the writer waits for the first request, then collects until none arrived for
//!   [`WriterConfig::quiet_window`] or [`WriterConfig::max_batch_wait`] passed since the
//!   first. Requests arriving while a batch is written form the next batch.
//! - Conflicts: when two updates of one batch set the same target (the same image
//!   repository, setter policy or values path in the same file), the LATER request wins;
//!   the earlier one's intent is dropped for that file and reported to it in
//!   [`Written::superseded`].
//! - The commit message is rendered from the FIRST request's template (requests for one
//!   destination normally share it: it belongs to the target, not the image); the author
//!   is the first request's too. See [`DEFAULT_MESSAGE_TEMPLATE`]. So are the checkout
//!   branch, credentials and push options: requests share a writer by (URL, push branch),
//!   and one target's requests agree on the rest.
//! - Dry runs ([`Writers::preview`]) are served by the same writer after its batch, so they
//!   never see a half-written clone.

mod batch;
mod edit;
mod error;
mod files;
mod message;
mod preview;
mod task;
mod types;
mod writers;

pub use error::WriteError;
pub use message::{DEFAULT_MESSAGE_TEMPLATE, render_message};
pub use types::{
    Destination, FileChange, FileSkipped, Preview, Superseded, Update, WriteOutcome, WriterConfig,
    Written,
};
pub use writers::Writers;
