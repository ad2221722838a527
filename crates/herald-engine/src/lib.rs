//! The one path from a change to a run, written once and used by both modes: look at the
//! revision (a hook's pushed refs, or the watched ref listed now), decide with the last seen
//! revision, name the run, create it idempotently, count it; then, for a hook, gather what each
//! source did into one answer.
//!
//! What differs between the modes sits behind two narrow traits: [`RunStore`] (where runs and
//! last seen revisions are kept: SQLite rows, or Run resources and trigger status) and
//! [`SourceReader`] (where a source's definition and credentials come from, and listing its
//! refs). Everything here is generic and has no IO of its own, so every decision is tested
//! with in-memory implementations.

mod fanout;
mod fire;
mod listing;
mod secrets;
mod source_health;
mod threads;

pub use fanout::{HookOutcomes, delivery_firing, occasion_id};
pub use fire::{
    Created, Failure, Outcome, RunStore, SourceError, SourceReader, TriggerDef, fire_source,
    fire_sources,
};
pub use listing::{ListError, RefLister, RevisionError, current_revision};
pub use secrets::SecretReader;
pub use source_health::SourceHealth;
