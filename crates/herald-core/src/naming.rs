//! Run names: derived from what the run is for, so that the same firing never runs twice.

use herald_api::RunCause;
use sha2::{Digest, Sha256};

/// Kubernetes object names (and the Job and label values made from them) stop at 63.
const MAX_NAME: usize = 63;
const HASH_LEN: usize = 10;

/// The name of the run for `trigger` firing on `source` at `revision` for `cause`.
///
/// `occasion` tells apart firings that are meant to run again for the same revision: the
/// scheduled time of a tick, a hook's delivery id, a manual request's id. A `Change` has none,
/// so a revision seen twice maps to one name.
pub fn run_name(
    trigger: &str,
    source: &str,
    revision: &str,
    cause: RunCause,
    occasion: Option<&str>,
) -> String {
    let mut hasher = Sha256::new();
    for part in [
        trigger,
        source,
        revision,
        &cause.to_string(),
        occasion.unwrap_or(""),
    ] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    let hash: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let prefix_len = MAX_NAME - HASH_LEN - 1;
    let prefix: String = trigger.chars().take(prefix_len).collect();
    let prefix = prefix.trim_end_matches(['-', '.']);
    format!("{prefix}-{}", &hash[..HASH_LEN])
}

#[cfg(test)]
mod tests {
    use super::*;

    const REV: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn same_change_same_name() {
        let a = run_name("t", "s", REV, RunCause::Change, None);
        assert_eq!(a, run_name("t", "s", REV, RunCause::Change, None));
        assert!(a.starts_with("t-"));
        assert_eq!(a.len(), 2 + HASH_LEN);
    }

    #[test]
    fn every_part_changes_the_name() {
        let base = run_name("t", "s", REV, RunCause::Schedule, Some("1"));
        assert_ne!(base, run_name("u", "s", REV, RunCause::Schedule, Some("1")));
        assert_ne!(base, run_name("t", "x", REV, RunCause::Schedule, Some("1")));
        assert_ne!(
            base,
            run_name(
                "t",
                "s",
                &REV.replace('0', "f"),
                RunCause::Schedule,
                Some("1")
            )
        );
        assert_ne!(base, run_name("t", "s", REV, RunCause::Webhook, Some("1")));
        assert_ne!(base, run_name("t", "s", REV, RunCause::Schedule, Some("2")));
    }

    #[test]
    fn parts_cannot_run_into_each_other() {
        assert_ne!(
            run_name("t", "ab", REV, RunCause::Change, None),
            run_name("t", "a", &format!("b{REV}"), RunCause::Change, None)
        );
    }

    #[test]
    fn long_trigger_names_fit_kubernetes_limits() {
        let long = "a".repeat(100) + "-";
        let name = run_name(&long, "s", REV, RunCause::Change, None);
        assert_eq!(name.len(), MAX_NAME);
        let dashed = format!("{}-{}", "a".repeat(51), "b".repeat(20));
        assert!(!run_name(&dashed, "s", REV, RunCause::Change, None).contains("--"));
    }
}
