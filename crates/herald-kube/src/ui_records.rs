//! Run objects as the dashboard's records: the store's shapes (`RunRecord`, `RunDetail`), so
//! the pages read both modes alike. Pure, over what the Run cache holds.

use std::collections::BTreeMap;

use herald_api::{Run, RunPhase, RunStep, RunTransition};
use herald_store::{RunDetail, RunFilter, RunRecord, StepRecord, Transition};
use jiff::Timestamp;

/// A Run's row in the lists. `id` is 0: Runs have no store id, and the pages never use it.
pub fn record(run: &Run) -> RunRecord {
    let meta = &run.metadata;
    // Borrowed, not cloned: a Run's status carries its history and output excerpts, and
    // every cached Run becomes a record for each list shown.
    let status = run.status.as_ref();
    let decisive = decisive_step(steps_of(run));
    RunRecord {
        id: 0,
        name: meta.name.clone().unwrap_or_default(),
        namespace: meta.namespace.clone().unwrap_or_default(),
        trigger_kind: run.spec.trigger.kind,
        trigger: run.spec.trigger.name.clone(),
        source_kind: run.spec.source.kind,
        source: run.spec.source.name.clone(),
        git_ref: run.spec.git_ref.clone(),
        revision: run.spec.revision.clone(),
        action_kind: run.spec.action.kind,
        action: run.spec.action.name.clone(),
        cause: run.spec.cause,
        phase: status.and_then(|s| s.phase).unwrap_or(RunPhase::Pending),
        // A cached object always has one; the epoch only sorts a malformed one last.
        created_at: meta
            .creation_timestamp
            .as_ref()
            .map_or(Timestamp::UNIX_EPOCH, |t| t.0),
        started_at: status.and_then(|s| s.start_time.as_ref()).map(|t| t.0),
        finished_at: status.and_then(|s| s.completion_time.as_ref()).map(|t| t.0),
        exit_code: decisive.and_then(|s| s.exit_code),
        message: (status.and_then(|s| s.conditions.first()))
            .map(|c| c.message.clone())
            .filter(|m| !m.is_empty()),
    }
}

/// A Run with its history and steps, as the run page shows it.
pub fn detail(run: &Run) -> RunDetail {
    let steps = steps_of(run);
    let output = decisive_step(steps)
        .and_then(|s| s.output_excerpt.clone())
        .or_else(|| steps.iter().rev().find_map(|s| s.output_excerpt.clone()));
    let history = run.status.as_ref().map(|s| s.history.as_slice());
    RunDetail {
        run: record(run),
        history: history.unwrap_or_default().iter().map(transition).collect(),
        steps: steps.iter().enumerate().map(step).collect(),
        output,
    }
}

fn steps_of(run: &Run) -> &[RunStep] {
    run.status
        .as_ref()
        .map(|s| s.steps.as_slice())
        .unwrap_or_default()
}

/// The step that speaks for the run's outcome: the first that failed, else the last.
fn decisive_step(steps: &[RunStep]) -> Option<&RunStep> {
    let failed = |s: &&RunStep| matches!(s.phase, RunPhase::Failed | RunPhase::TimedOut);
    steps.iter().find(failed).or(steps.last())
}

fn transition(t: &RunTransition) -> Transition {
    Transition {
        step: t.step.clone(),
        attempt: t.attempt.and_then(|a| u32::try_from(a).ok()),
        from: t.from,
        phase: t.phase,
        at: t.time.0,
        reason: t.reason.clone().unwrap_or_default(),
        message: t.message.clone(),
    }
}

fn step((position, s): (usize, &RunStep)) -> StepRecord {
    StepRecord {
        name: s.name.clone(),
        position,
        phase: s.phase,
        attempt: s.attempt.and_then(|a| u32::try_from(a).ok()).unwrap_or(0),
        reason: s.reason.clone(),
        message: s.message.clone(),
        exit_code: s.exit_code,
        started_at: s.started_at.as_ref().map(|t| t.0),
        finished_at: s.finished_at.as_ref().map(|t| t.0),
        outputs: s.outputs.clone(),
        output: s.output_excerpt.clone(),
    }
}

/// The records matching `filter`, newest first (creation time, then name), at most its limit.
pub fn select(records: impl IntoIterator<Item = RunRecord>, filter: &RunFilter) -> Vec<RunRecord> {
    let wanted = |want: &Option<String>, have: &str| want.as_deref().is_none_or(|w| w == have);
    let mut found: Vec<RunRecord> = (records.into_iter())
        .filter(|r| wanted(&filter.namespace, &r.namespace))
        .filter(|r| wanted(&filter.trigger, &r.trigger))
        .filter(|r| wanted(&filter.source, &r.source))
        .filter(|r| filter.phase.is_none_or(|p| p == r.phase))
        .collect();
    newest_first(&mut found);
    let limit = filter.limit.unwrap_or(RunFilter::DEFAULT_LIMIT);
    found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    found
}

/// The newest record of each trigger (by namespace, kind and name), newest first.
pub fn latest_of_each_trigger(records: impl IntoIterator<Item = RunRecord>) -> Vec<RunRecord> {
    let mut latest: BTreeMap<_, RunRecord> = BTreeMap::new();
    for r in records {
        let key = (r.namespace.clone(), r.trigger_kind, r.trigger.clone());
        match latest.get(&key) {
            Some(kept) if newer_key(kept) >= newer_key(&r) => {}
            _ => {
                latest.insert(key, r);
            }
        }
    }
    let mut found: Vec<RunRecord> = latest.into_values().collect();
    newest_first(&mut found);
    found
}

fn newer_key(r: &RunRecord) -> (Timestamp, &str) {
    (r.created_at, &r.name)
}

fn newest_first(records: &mut [RunRecord]) {
    records.sort_by(|a, b| newer_key(b).cmp(&newer_key(a)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_api::{ActionKind, RunCause, RunSpec, RunStatus, SourceKind, TriggerKind};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    fn run(name: &str, trigger: &str, created: i64) -> Run {
        let spec = RunSpec {
            cause: RunCause::Change,
            trigger: herald_api::TriggerRef {
                kind: TriggerKind::ScheduleTrigger,
                name: trigger.into(),
            },
            source: herald_api::SourceRef {
                kind: SourceKind::GitRepo,
                name: "repo".into(),
            },
            git_ref: Some("refs/heads/main".into()),
            revision: "a".repeat(40),
            action: herald_api::ActionRef {
                kind: ActionKind::Action,
                name: "act".into(),
            },
            rerun_of: None,
        };
        let mut run = Run::new(name, spec);
        run.metadata.namespace = Some("team".into());
        run.metadata.creation_timestamp = Some(Time(at(created)));
        run
    }

    fn step(name: &str, phase: RunPhase, exit_code: Option<i32>, excerpt: Option<&str>) -> RunStep {
        RunStep {
            name: name.into(),
            job_name: None,
            phase,
            attempt: Some(1),
            reason: None,
            message: None,
            outputs: Default::default(),
            exit_code,
            started_at: Some(Time(at(2))),
            finished_at: Some(Time(at(3))),
            output_excerpt: excerpt.map(Into::into),
        }
    }

    fn condition(message: &str) -> Condition {
        Condition {
            type_: "Ready".into(),
            status: "False".into(),
            reason: "Failed".into(),
            message: message.into(),
            last_transition_time: Time(at(3)),
            observed_generation: None,
        }
    }

    #[test]
    fn a_new_run_is_pending_with_its_spec() {
        let r = record(&run("every-1", "every", 0));
        assert_eq!(r.name, "every-1");
        assert_eq!(r.namespace, "team");
        assert_eq!(r.trigger_kind, TriggerKind::ScheduleTrigger);
        assert_eq!((r.trigger.as_str(), r.source.as_str()), ("every", "repo"));
        assert_eq!(r.git_ref.as_deref(), Some("refs/heads/main"));
        assert_eq!(
            (r.action_kind, r.action.as_str()),
            (ActionKind::Action, "act")
        );
        assert_eq!(r.cause, RunCause::Change);
        assert_eq!(r.phase, RunPhase::Pending);
        assert_eq!(r.created_at, at(0));
        assert_eq!(
            (r.started_at, r.finished_at, r.exit_code),
            (None, None, None)
        );
        assert_eq!(r.message, None);
    }

    #[test]
    fn a_failed_run_says_its_first_failing_step_and_condition() {
        let mut failed = run("every-1", "every", 0);
        failed.status = Some(RunStatus {
            phase: Some(RunPhase::Failed),
            conditions: vec![condition("step build failed"), condition("other")],
            start_time: Some(Time(at(1))),
            completion_time: Some(Time(at(4))),
            steps: vec![
                step("fetch", RunPhase::Succeeded, Some(0), Some("fetched")),
                step("build", RunPhase::Failed, Some(2), Some("boom")),
                step("notify", RunPhase::Succeeded, Some(0), None),
            ],
            ..RunStatus::default()
        });
        let d = detail(&failed);
        assert_eq!(d.run.phase, RunPhase::Failed);
        assert_eq!(d.run.exit_code, Some(2));
        assert_eq!(d.run.message.as_deref(), Some("step build failed"));
        assert_eq!(
            (d.run.started_at, d.run.finished_at),
            (Some(at(1)), Some(at(4)))
        );
        assert_eq!(d.output.as_deref(), Some("boom"));
        let names: Vec<_> = d
            .steps
            .iter()
            .map(|s| (s.position, s.name.as_str()))
            .collect();
        assert_eq!(names, [(0, "fetch"), (1, "build"), (2, "notify")]);
        assert_eq!(d.steps[1].attempt, 1);
        assert_eq!(d.steps[1].output.as_deref(), Some("boom"));
    }

    #[test]
    fn a_succeeded_run_takes_its_last_steps_exit_code_and_an_output_carried() {
        let mut done = run("every-1", "every", 0);
        done.status = Some(RunStatus {
            phase: Some(RunPhase::Succeeded),
            steps: vec![
                step("main", RunPhase::Succeeded, Some(0), Some("hi")),
                step("after", RunPhase::Succeeded, Some(3), None),
            ],
            ..RunStatus::default()
        });
        let d = detail(&done);
        assert_eq!(d.run.exit_code, Some(3));
        assert_eq!(d.output.as_deref(), Some("hi"));
        let bare = detail(&run("every-2", "every", 0));
        assert_eq!((bare.output, bare.steps.len()), (None, 0));
    }

    #[test]
    fn history_keeps_each_transition() {
        let mut moved = run("every-1", "every", 0);
        let transition = |step: Option<&str>, from, phase, reason: Option<&str>| RunTransition {
            step: step.map(Into::into),
            attempt: step.map(|_| 1),
            from,
            phase,
            time: Time(at(1)),
            reason: reason.map(Into::into),
            message: Some("said".into()),
        };
        moved.status = Some(RunStatus {
            history: vec![
                transition(None, None, RunPhase::Pending, Some("Created")),
                transition(
                    Some("main"),
                    Some(RunPhase::Pending),
                    RunPhase::Running,
                    None,
                ),
            ],
            ..RunStatus::default()
        });
        let history = detail(&moved).history;
        assert_eq!(history.len(), 2);
        assert_eq!(
            (history[0].step.as_deref(), history[0].attempt),
            (None, None)
        );
        assert_eq!(history[0].reason, "Created");
        assert_eq!(history[1].step.as_deref(), Some("main"));
        assert_eq!(history[1].attempt, Some(1));
        assert_eq!(history[1].from, Some(RunPhase::Pending));
        assert_eq!(
            (history[1].phase, history[1].at),
            (RunPhase::Running, at(1))
        );
        assert_eq!(history[1].reason, "");
        assert_eq!(history[1].message.as_deref(), Some("said"));
    }

    fn records(runs: &[Run]) -> Vec<RunRecord> {
        runs.iter().map(record).collect()
    }

    #[test]
    fn select_filters_and_lists_newest_first_up_to_the_limit() {
        let mut other_ns = run("b-1", "b", 5);
        other_ns.metadata.namespace = Some("elsewhere".into());
        let mut failed = run("a-3", "a", 3);
        failed.status = Some(RunStatus {
            phase: Some(RunPhase::Failed),
            ..RunStatus::default()
        });
        let all = records(&[run("a-1", "a", 1), failed, run("a-2", "a", 3), other_ns]);
        let names = |found: Vec<RunRecord>| found.into_iter().map(|r| r.name).collect::<Vec<_>>();

        let everything = select(all.clone(), &RunFilter::default());
        assert_eq!(names(everything), ["b-1", "a-3", "a-2", "a-1"]);
        let in_team = RunFilter {
            namespace: Some("team".into()),
            limit: Some(2),
            ..RunFilter::default()
        };
        assert_eq!(names(select(all.clone(), &in_team)), ["a-3", "a-2"]);
        let of_b = RunFilter {
            trigger: Some("b".into()),
            ..RunFilter::default()
        };
        assert_eq!(names(select(all.clone(), &of_b)), ["b-1"]);
        let failed_only = RunFilter {
            phase: Some(RunPhase::Failed),
            ..RunFilter::default()
        };
        assert_eq!(names(select(all.clone(), &failed_only)), ["a-3"]);
        let other_source = RunFilter {
            source: Some("other".into()),
            ..RunFilter::default()
        };
        assert!(select(all, &other_source).is_empty());
    }

    #[test]
    fn select_defaults_to_the_default_limit() {
        let many: Vec<Run> = (0..60).map(|i| run(&format!("r-{i:02}"), "a", i)).collect();
        let found = select(records(&many), &RunFilter::default());
        assert_eq!(found.len(), RunFilter::DEFAULT_LIMIT as usize);
        assert_eq!(found[0].name, "r-59");
    }

    #[test]
    fn latest_keeps_the_newest_run_of_each_trigger() {
        let mut hook = run("a-hook", "a", 9);
        hook.spec.trigger.kind = TriggerKind::WebhookTrigger;
        let mut elsewhere = run("a-elsewhere", "a", 0);
        elsewhere.metadata.namespace = Some("elsewhere".into());
        let all = records(&[
            run("a-1", "a", 1),
            run("a-2", "a", 2),
            run("b-1", "b", 1),
            hook,
            elsewhere,
        ]);
        let names: Vec<_> = (latest_of_each_trigger(all).into_iter())
            .map(|r| r.name)
            .collect();
        assert_eq!(names, ["a-hook", "a-2", "b-1", "a-elsewhere"]);
    }
}
