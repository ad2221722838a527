//! Whether a run of an action may start now, given the action's other runs: one rule for both
//! modes (`concurrency: {max, policy}`).

use herald_api::{Concurrency, ConcurrencyPolicy};

/// What a run waiting to start does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// Start now.
    Start,
    /// Wait for a run to finish (and for the runs queued before it).
    Wait,
    /// Do not run: end `Skipped` with this message.
    Skip { message: String },
    /// Cancel the oldest executing run, then ask again.
    Replace,
}

/// The decision for a run of an action whose `running` runs execute now and `queued_before`
/// older runs wait to start.
pub fn admit(limit: Option<&Concurrency>, running: usize, queued_before: usize) -> Admission {
    let Some(limit) = limit else {
        return Admission::Start;
    };
    let max = usize::try_from(limit.max).unwrap_or(1).max(1);
    let full = running >= max;
    match limit.policy {
        // Creation order: a free slot goes to the oldest waiting run.
        ConcurrencyPolicy::Queue if full || queued_before > 0 => Admission::Wait,
        ConcurrencyPolicy::Forbid if full => Admission::Skip {
            message: format!(
                "{running} run(s) of the action already executing (concurrency.max {max}, policy Forbid)"
            ),
        },
        ConcurrencyPolicy::Replace if full => Admission::Replace,
        _ => Admission::Start,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(max: i32, policy: ConcurrencyPolicy) -> Concurrency {
        Concurrency { max, policy }
    }

    #[test]
    fn each_policy_at_and_below_the_limit() {
        assert_eq!(admit(None, 100, 100), Admission::Start);
        let queue = limit(2, ConcurrencyPolicy::Queue);
        assert_eq!(admit(Some(&queue), 1, 0), Admission::Start);
        assert_eq!(admit(Some(&queue), 2, 0), Admission::Wait);
        // A free slot, but an older run waits for it.
        assert_eq!(admit(Some(&queue), 1, 1), Admission::Wait);
        let forbid = limit(1, ConcurrencyPolicy::Forbid);
        assert_eq!(admit(Some(&forbid), 0, 0), Admission::Start);
        assert!(
            matches!(admit(Some(&forbid), 1, 0), Admission::Skip { message } if message.contains("concurrency.max 1"))
        );
        let replace = limit(1, ConcurrencyPolicy::Replace);
        assert_eq!(admit(Some(&replace), 0, 0), Admission::Start);
        assert_eq!(admit(Some(&replace), 1, 0), Admission::Replace);
    }
}
