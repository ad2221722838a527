//! From a firing to a run plan: its cause and the identity its name is derived from.

use herald_api::RunCause;

use crate::decide::{Decision, decide};

/// What asks for a firing, and what sets it apart from other firings of the same revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Firing {
    /// A schedule tick at this time (RFC 3339).
    Tick(String),
    /// A hook delivery with this id.
    Delivery(String),
    /// A request by hand with this id.
    Manual(String),
}

/// The cause a run records and the identity its name is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPlan {
    pub cause: RunCause,
    pub identity: RunCause,
    pub occasion: Option<String>,
    /// Whether the run moves the trigger's last seen revision (a hand firing does not, so it
    /// never hides a change from `onChangeOnly`).
    pub records_last_seen: bool,
}

/// Plan a run for `revision`, or `None` when `onChangeOnly` has already seen it.
///
/// With `onChangeOnly` the identity is the change itself, so a change seen by a tick and by a
/// hook is one run; otherwise each tick or delivery is its own occasion.
pub fn plan_run(
    firing: &Firing,
    on_change_only: bool,
    last_seen: Option<&str>,
    revision: &str,
) -> Option<RunPlan> {
    let (cause, occasion) = match firing {
        Firing::Manual(id) => {
            return Some(RunPlan {
                cause: RunCause::Manual,
                identity: RunCause::Manual,
                occasion: Some(id.clone()),
                records_last_seen: false,
            });
        }
        Firing::Tick(at) => (RunCause::Schedule, at),
        Firing::Delivery(id) => (RunCause::Webhook, id),
    };
    if !on_change_only {
        return Some(RunPlan {
            cause,
            identity: cause,
            occasion: Some(occasion.clone()),
            records_last_seen: true,
        });
    }
    match decide(true, last_seen, revision) {
        Decision::Skip(_) => None,
        Decision::Fire(_) => Some(RunPlan {
            cause: if cause == RunCause::Schedule {
                RunCause::Change
            } else {
                cause
            },
            identity: RunCause::Change,
            occasion: None,
            records_last_seen: true,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REV: &str = "a";

    #[test]
    fn a_change_is_one_identity_whoever_sees_it() {
        let tick = plan_run(&Firing::Tick("t".into()), true, None, REV).unwrap();
        let hook = plan_run(&Firing::Delivery("d".into()), true, None, REV).unwrap();
        assert_eq!(
            (tick.cause, hook.cause),
            (RunCause::Change, RunCause::Webhook)
        );
        assert_eq!(
            (tick.identity, tick.occasion.as_deref()),
            (RunCause::Change, None)
        );
        assert_eq!(
            (hook.identity, hook.occasion),
            (tick.identity, tick.occasion)
        );
        assert_eq!(
            plan_run(&Firing::Tick("t".into()), true, Some(REV), REV),
            None
        );
    }

    #[test]
    fn without_on_change_only_each_occasion_counts() {
        let plan = plan_run(&Firing::Tick("t1".into()), false, Some(REV), REV).unwrap();
        assert_eq!(
            (plan.cause, plan.occasion.as_deref()),
            (RunCause::Schedule, Some("t1"))
        );
    }

    #[test]
    fn manual_always_runs_and_leaves_last_seen_alone() {
        let plan = plan_run(&Firing::Manual("m".into()), true, Some(REV), REV).unwrap();
        assert_eq!(plan.cause, RunCause::Manual);
        assert!(!plan.records_last_seen);
    }
}
