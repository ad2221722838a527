//! A Run's own verdicts outside its steps' passes (it failed before a Job, it waits queued,
//! it was skipped), and the phase a Job shows. Pure, so every transition is unit-tested.

use herald_api::{RunPhase, RunStatus, RunTransition, reasons};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::conditions::conditions;

/// A phase the Run itself enters, with why.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub phase: RunPhase,
    pub reason: String,
    pub message: String,
}

impl Observed {
    /// A Run that ended before a Job could be made (e.g. its Action is missing).
    pub fn failed_before_launch(reason: &str, message: String) -> Self {
        Self {
            phase: RunPhase::Failed,
            reason: reason.into(),
            message,
        }
    }
}

/// The phase a Job is in, with the reason and message of its deciding condition.
pub fn job_phase(job: &Job) -> (RunPhase, String, String) {
    let status = job.status.as_ref();
    let condition = |type_: &str| {
        status
            .and_then(|s| s.conditions.as_ref())
            .and_then(|cs| cs.iter().find(|c| c.type_ == type_ && c.status == "True"))
    };
    if let Some(c) = condition("Complete") {
        return (
            RunPhase::Succeeded,
            reasons::RUN_COMPLETED.into(),
            c.message
                .clone()
                .unwrap_or_else(|| "the Job completed".into()),
        );
    }
    if let Some(c) = condition("Failed") {
        let reason = c.reason.clone().unwrap_or_else(|| "JobFailed".into());
        return (
            RunPhase::Failed,
            reason,
            c.message.clone().unwrap_or_else(|| "the Job failed".into()),
        );
    }
    let started = status.is_some_and(|s| s.active.unwrap_or(0) > 0 || s.start_time.is_some());
    if started {
        (
            RunPhase::Running,
            reasons::RUN_STARTED.into(),
            "the Job is running".into(),
        )
    } else {
        (
            RunPhase::Pending,
            reasons::RUN_CREATED.into(),
            "waiting for the Job to start".into(),
        )
    }
}

/// The status after observing `observed`, or `None` when nothing changed (no patch needed).
pub fn next_status(
    previous: Option<&RunStatus>,
    observed: &Observed,
    generation: Option<i64>,
    now: Time,
) -> Option<RunStatus> {
    let previous = previous.cloned().unwrap_or_default();
    let mut next = previous.clone();
    if previous.phase != Some(observed.phase) {
        // A Run seen for the first time already Running still gets its Pending entry.
        if previous.history.is_empty() && observed.phase != RunPhase::Pending {
            next.history.push(transition(
                RunPhase::Pending,
                reasons::RUN_CREATED,
                "the Run was created",
                &now,
            ));
        }
        let mut entry = transition(observed.phase, &observed.reason, &observed.message, &now);
        // The phase the Run left: its own last entry, not a step's.
        entry.from = (next.history.iter().rev())
            .find(|t| t.step.is_none())
            .map(|t| t.phase);
        next.history.push(entry);
        next.phase = Some(observed.phase);
    }
    if observed.phase != RunPhase::Pending && next.start_time.is_none() {
        next.start_time = Some(now.clone());
    }
    if observed.phase.is_terminal() && next.completion_time.is_none() {
        next.completion_time = Some(now.clone());
    }
    let ready = observed.phase == RunPhase::Succeeded;
    next.conditions = conditions(
        &previous.conditions,
        ready,
        false,
        &observed.reason,
        &observed.message,
        generation,
    );
    // The steps (of a Run that fails at a later step's launch) are kept as they were.
    next.observed_generation = generation;
    (next != previous).then_some(next)
}

fn transition(phase: RunPhase, reason: &str, message: &str, now: &Time) -> RunTransition {
    RunTransition {
        step: None,
        attempt: None,
        from: None,
        phase,
        time: now.clone(),
        reason: Some(reason.to_owned()),
        message: Some(message.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::batch::v1::{JobCondition, JobStatus};

    fn observed(phase: RunPhase) -> Observed {
        Observed {
            phase,
            reason: format!("{phase}"),
            message: "m".into(),
        }
    }

    fn at(s: &str) -> Time {
        Time(s.parse().unwrap())
    }

    #[test]
    fn each_transition_is_recorded_once() {
        let pending = next_status(
            None,
            &observed(RunPhase::Pending),
            Some(1),
            at("2026-01-01T00:00:00Z"),
        )
        .unwrap();
        assert_eq!(pending.history.len(), 1);
        assert!(
            next_status(
                Some(&pending),
                &observed(RunPhase::Pending),
                Some(1),
                at("2026-01-01T00:00:01Z")
            )
            .is_none(),
            "no change, no patch"
        );
        let running = next_status(
            Some(&pending),
            &observed(RunPhase::Running),
            Some(1),
            at("2026-01-01T00:00:02Z"),
        )
        .unwrap();
        let done = next_status(
            Some(&running),
            &observed(RunPhase::Succeeded),
            Some(1),
            at("2026-01-01T00:00:03Z"),
        )
        .unwrap();
        let phases: Vec<_> = done.history.iter().map(|t| t.phase).collect();
        assert_eq!(
            phases,
            [RunPhase::Pending, RunPhase::Running, RunPhase::Succeeded]
        );
        assert_eq!(done.start_time, Some(at("2026-01-01T00:00:02Z")));
        assert_eq!(done.completion_time, Some(at("2026-01-01T00:00:03Z")));
        assert_eq!(done.conditions[0].status, "True");
        assert_eq!(done.history[2].from, Some(RunPhase::Running));
    }

    #[test]
    fn a_run_failing_after_some_steps_keeps_them_and_leaves_its_own_phase() {
        let step = herald_api::RunStep {
            name: "build".into(),
            job_name: Some("r-build-1".into()),
            phase: RunPhase::Succeeded,
            attempt: Some(1),
            reason: None,
            message: None,
            outputs: herald_api::StepOutputs::new(),
            exit_code: Some(0),
            started_at: None,
            finished_at: None,
            output_excerpt: None,
        };
        let mut running = RunStatus {
            phase: Some(RunPhase::Running),
            steps: vec![step],
            ..RunStatus::default()
        };
        running.history.push(transition(
            RunPhase::Running,
            "Started",
            "m",
            &at("2026-01-01T00:00:00Z"),
        ));
        running.history.push(RunTransition {
            step: Some("build".into()),
            phase: RunPhase::Succeeded,
            ..transition(
                RunPhase::Succeeded,
                "Completed",
                "m",
                &at("2026-01-01T00:00:01Z"),
            )
        });
        let failed = next_status(
            Some(&running),
            &observed(RunPhase::Failed),
            None,
            at("2026-01-01T00:00:02Z"),
        )
        .unwrap();
        assert_eq!(failed.steps, running.steps);
        assert_eq!(failed.history.last().unwrap().from, Some(RunPhase::Running));
    }

    #[test]
    fn a_run_first_seen_finished_still_has_its_pending_entry() {
        let failed = next_status(
            None,
            &observed(RunPhase::Failed),
            None,
            at("2026-01-01T00:00:00Z"),
        )
        .unwrap();
        let phases: Vec<_> = failed.history.iter().map(|t| t.phase).collect();
        assert_eq!(phases, [RunPhase::Pending, RunPhase::Failed]);
        assert_eq!(failed.conditions[0].status, "False");
    }

    fn job(conditions: Vec<(&str, &str)>, active: i32) -> Job {
        Job {
            status: Some(JobStatus {
                active: Some(active),
                conditions: Some(
                    conditions
                        .into_iter()
                        .map(|(t, r)| JobCondition {
                            type_: t.into(),
                            status: "True".into(),
                            reason: Some(r.into()),
                            ..JobCondition::default()
                        })
                        .collect(),
                ),
                ..JobStatus::default()
            }),
            ..Job::default()
        }
    }

    #[test]
    fn job_conditions_map_to_phases() {
        assert_eq!(job_phase(&job(vec![], 0)).0, RunPhase::Pending);
        assert_eq!(job_phase(&job(vec![], 1)).0, RunPhase::Running);
        assert_eq!(
            job_phase(&job(vec![("Complete", "")], 0)).0,
            RunPhase::Succeeded
        );
        let (phase, reason, _) = job_phase(&job(vec![("Failed", "DeadlineExceeded")], 0));
        assert_eq!(
            (phase, reason.as_str()),
            (RunPhase::Failed, "DeadlineExceeded")
        );
    }
}
