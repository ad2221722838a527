//! Image automation, the pure part (issue 13): image references that match exactly, tag
//! policies that choose the tag to deploy, byte-exact YAML edits from intents, and the scan
//! for files that hold targets. No IO here: callers bring the registry's tags and the files'
//! bytes, and write what comes back.

pub mod edit;
pub mod policy;
pub mod reference;
pub mod scan;

pub use edit::{
    Change, EditError, Edited, Intent, PolicyName, SkipReason, Skipped, Target, YamlPath, apply,
};
pub use policy::{
    Choice, CommitTagTemplate, DEFAULT_EXCLUSIONS, FilterSpec, NotACommit, Order, Policy,
    PolicyError, PolicySpec, TagPolicy, TagPolicySpec, validate,
};
pub use reference::{Reference, ReferenceError, ReferenceProblem, Repository};
pub use scan::{FileTargets, ScanReport, Watched, find_targets};
