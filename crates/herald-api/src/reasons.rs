//! Condition types and the reasons Herald gives in them, in one place for both modes (as Flux
//! keeps its own in its API package): the same state has the same word in a cluster's
//! conditions, in local mode's load report and in a hook's answer.

/// Condition type: the object does what it is for.
pub const READY: &str = "Ready";
/// Condition type: not ready yet, and Herald keeps trying.
pub const RECONCILING: &str = "Reconciling";
/// Condition type: not ready until the spec changes.
pub const STALLED: &str = "Stalled";

/// The spec breaks a rule the API server cannot check.
pub const INVALID_SPEC: &str = "InvalidSpec";
/// A trigger's sources were checked.
pub const CHECKED: &str = "Checked";
/// A source could not be checked.
pub const SOURCE_UNAVAILABLE: &str = "SourceUnavailable";
/// A webhook trigger can verify its senders.
pub const ACCEPTING_HOOKS: &str = "AcceptingHooks";
/// A source listed its refs.
pub const REACHABLE: &str = "Reachable";
/// A source could not be reached.
pub const UNREACHABLE: &str = "Unreachable";
/// A Secret an object names does not exist.
pub const SECRET_MISSING: &str = "SecretMissing";
/// A Secret exists but lacks the key an object names.
pub const SECRET_KEY_MISSING: &str = "SecretKeyMissing";
/// A hook's secret is empty, so nothing could verify.
pub const SECRET_EMPTY: &str = "SecretEmpty";
/// A Bitbucket Cloud path token too short to be the whole proof of a sender.
pub const TOKEN_TOO_SHORT: &str = "TokenTooShort";
