//! A Run's steps in a cluster: what its Jobs show folded into its status, and the scheduler's
//! moves turned into Jobs to create or delete. Pure (the controller does the IO), and built
//! only from the Run's status and its Jobs, never from memory, so after a restart or a leader
//! change the same pass adopts the Jobs that exist and creates only the ones that do not.

use std::time::Duration;

use herald_api::{RunPhase, RunStatus, RunStep, RunTransition, StepOutputs, reasons};
use herald_core::steps::{
    Halt, Move, StepGraph, StepState, advance, fits_run, outputs_size, parse_outputs,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::conditions::conditions;

/// One Job of the Run, as seen now.
#[derive(Debug, Clone, PartialEq)]
pub struct SeenJob {
    pub step: String,
    pub attempt: u32,
    pub name: String,
    pub phase: RunPhase,
    pub reason: String,
    pub message: String,
    pub exit_code: Option<i32>,
    /// The step container's termination message: the `$HERALD_OUTPUT` file on success.
    pub termination: Option<String>,
    /// The tail of its log, else the termination message.
    pub excerpt: Option<String>,
}

/// What the controller does after one pass.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Pass {
    /// The next status; `None` when nothing changed.
    pub status: Option<RunStatus>,
    /// Steps (index, attempt) whose Job is to be created now.
    pub create: Vec<(usize, u32)>,
    /// Jobs to delete (their steps were cancelled).
    pub delete: Vec<String>,
    /// When to look again without a Job's change (a retry's backoff, the action's timeout).
    pub wake_after: Option<Duration>,
    /// The history entries this pass added, for events and the store.
    pub added: Vec<RunTransition>,
}

/// Everything a pass reads besides the graph.
pub struct Seen<'a> {
    pub previous: Option<&'a RunStatus>,
    pub jobs: &'a [SeenJob],
    /// Secret values the steps were given, refused in outputs.
    pub secrets: &'a [&'a str],
    pub generation: Option<i64>,
    pub now: Time,
    /// Why the Run is cancelled (a newer Run replaced it), if it is.
    pub cancel: Option<&'a str>,
}

/// One pass over the Run: fold the Jobs in, ask the scheduler, and say what to do.
pub fn pass(graph: &StepGraph, seen: &Seen<'_>) -> Pass {
    let previous = seen.previous.cloned().unwrap_or_default();
    let mut run = RunState::new(graph, &previous, seen.now.clone());
    for (i, node) in graph.nodes().iter().enumerate() {
        let latest = (seen.jobs.iter())
            .filter(|j| j.step == node.step.name)
            .max_by_key(|j| j.attempt);
        if let Some(job) = latest {
            run.fold(graph, i, job, seen.secrets);
        }
    }
    let halt = match seen.cancel {
        Some(message) => Some(Halt::Cancelled {
            reason: reasons::RUN_REPLACED,
            message: message.to_owned(),
        }),
        None => run.deadline_passed(graph).then_some(Halt::TimedOut),
    };
    let next = advance(graph, &run.states, halt.as_ref());
    let mut pass = Pass::default();
    for m in next.moves {
        run.apply(graph, m, seen.jobs, &mut pass);
    }
    run.due_jobs(graph, seen.jobs, &mut pass);
    if halt.is_none()
        && next.verdict.is_none()
        && let Some(left) = run.time_left(graph)
    {
        pass.wake_after = Some(pass.wake_after.map_or(left, |w| w.min(left)));
    }
    let status = run.status(graph, &previous, next.verdict.as_ref(), seen.generation);
    pass.added = run.added;
    pass.status = (status != previous).then_some(status);
    pass
}

/// The steps while a pass works on them.
struct RunState {
    states: Vec<StepState>,
    steps: Vec<RunStep>,
    history: Vec<RunTransition>,
    added: Vec<RunTransition>,
    /// Where this pass's entries start in `history`: the Run's own go before its steps'.
    base: usize,
    run_entries: usize,
    start_time: Option<Time>,
    now: Time,
}

impl RunState {
    fn new(graph: &StepGraph, previous: &RunStatus, now: Time) -> Self {
        let steps: Vec<RunStep> = (graph.nodes().iter())
            .map(|node| {
                (previous.steps.iter())
                    .find(|s| s.name == node.step.name)
                    .cloned()
                    .unwrap_or_else(|| pending_step(&node.step.name))
            })
            .collect();
        let states = steps
            .iter()
            .map(|s| StepState {
                phase: s.phase,
                attempt: s.attempt.and_then(|a| u32::try_from(a).ok()).unwrap_or(0),
                reason: s.reason.clone(),
                message: s.message.clone(),
            })
            .collect();
        Self {
            states,
            steps,
            history: previous.history.clone(),
            added: Vec::new(),
            base: previous.history.len(),
            run_entries: 0,
            start_time: previous.start_time.clone(),
            now,
        }
    }

    /// Records step `i` moving to `to` (attempt, reason, message) in the history.
    fn move_step(&mut self, i: usize, to: StepState) {
        let from = self.states[i].phase;
        let entry = RunTransition {
            step: Some(self.steps[i].name.clone()),
            attempt: Some(i32::try_from(to.attempt).unwrap_or(i32::MAX)),
            from: Some(from),
            phase: to.phase,
            time: self.now.clone(),
            reason: to.reason.clone(),
            message: to.message.clone(),
        };
        self.history.push(entry.clone());
        self.added.push(entry);
        let step = &mut self.steps[i];
        step.phase = to.phase;
        step.attempt = Some(i32::try_from(to.attempt).unwrap_or(i32::MAX));
        step.reason.clone_from(&to.reason);
        step.message.clone_from(&to.message);
        if to.phase == RunPhase::Running {
            step.started_at = Some(self.now.clone());
            step.finished_at = None;
            step.exit_code = None;
            step.output_excerpt = None;
            step.outputs = StepOutputs::new();
            step.job_name = None;
        } else if to.phase.is_terminal() {
            step.finished_at = Some(self.now.clone());
        }
        self.states[i] = to;
        if self.start_time.is_none() && self.states[i].phase != RunPhase::Pending {
            self.start_time = Some(self.now.clone());
        }
    }

    /// Folds step `i`'s latest Job in: adopts an attempt the status does not know yet (its
    /// Job was created before the status was written), and finishes the attempt its Job
    /// finished.
    fn fold(&mut self, graph: &StepGraph, i: usize, job: &SeenJob, secrets: &[&str]) {
        let known = self.states[i].attempt;
        if job.attempt > known
            || (job.attempt == known && self.states[i].phase == RunPhase::Pending)
        {
            self.move_step(i, running(job.attempt, reasons::RUN_STARTED, None));
        }
        if job.attempt != self.states[i].attempt {
            return;
        }
        self.steps[i].job_name = Some(job.name.clone());
        if self.states[i].phase != RunPhase::Running || !job.phase.is_terminal() {
            return;
        }
        let mut phase = job.phase;
        let mut reason = job.reason.clone();
        let mut message = job.message.clone();
        if phase == RunPhase::Failed && reason == reasons::RUN_DEADLINE_EXCEEDED {
            phase = RunPhase::TimedOut;
        }
        let mut outputs = StepOutputs::new();
        let node = &graph.nodes()[i];
        // The termination message of a step that declares no outputs is only shown (the file
        // had its own uses before outputs existed); one that declares some is read strictly.
        if phase == RunPhase::Succeeded && !node.step.outputs.is_empty() {
            let bytes = job.termination.as_deref().unwrap_or_default().as_bytes();
            let kept: usize = self.steps.iter().map(|s| outputs_size(&s.outputs)).sum();
            let read = parse_outputs(bytes, &node.step.outputs, secrets)
                .and_then(|o| fits_run(kept, &o).map(|()| o));
            match read {
                Ok(read) => outputs = read,
                Err(e) => {
                    phase = RunPhase::Failed;
                    reason = e.reason().to_owned();
                    message = e.to_string();
                }
            }
        }
        let attempt = self.states[i].attempt;
        self.move_step(
            i,
            StepState {
                phase,
                attempt,
                reason: Some(reason),
                message: Some(message),
            },
        );
        let step = &mut self.steps[i];
        step.exit_code = job.exit_code;
        step.output_excerpt.clone_from(&job.excerpt);
        step.outputs = outputs;
    }

    fn apply(&mut self, graph: &StepGraph, m: Move, jobs: &[SeenJob], pass: &mut Pass) {
        match m {
            Move::Start {
                step,
                attempt,
                delay,
            } => {
                let reason = if attempt > 1 {
                    reasons::STEP_RETRYING
                } else {
                    reasons::RUN_STARTED
                };
                self.move_step(step, running(attempt, reason, None));
                if delay.is_zero() {
                    pass.create.push((step, attempt));
                } else {
                    wake(pass, delay);
                }
            }
            Move::Skip {
                step,
                reason,
                message,
            } => {
                let attempt = self.states[step].attempt;
                self.move_step(step, finished(RunPhase::Skipped, attempt, reason, message));
            }
            Move::Cancel {
                step,
                reason,
                message,
            } => {
                let attempt = self.states[step].attempt;
                let name = &graph.nodes()[step].step.name;
                let live = jobs
                    .iter()
                    .find(|j| j.step == *name && j.attempt == attempt && !j.phase.is_terminal());
                if let Some(job) = live {
                    pass.delete.push(job.name.clone());
                }
                self.move_step(
                    step,
                    finished(RunPhase::Cancelled, attempt, reason, message),
                );
            }
        }
    }

    /// Steps running an attempt whose Job does not exist yet: created once their backoff has
    /// passed (counted from the attempt's start in the history).
    fn due_jobs(&self, graph: &StepGraph, jobs: &[SeenJob], pass: &mut Pass) {
        for (i, state) in self.states.iter().enumerate() {
            let name = &graph.nodes()[i].step.name;
            let exists = jobs
                .iter()
                .any(|j| j.step == *name && j.attempt == state.attempt);
            if state.phase != RunPhase::Running
                || exists
                || pass.create.contains(&(i, state.attempt))
            {
                continue;
            }
            let delay = graph.nodes()[i].backoff_before(state.attempt);
            let since = self
                .started(i)
                .map_or(Duration::ZERO, |t| elapsed(t, &self.now));
            if since >= delay || state.attempt <= 1 {
                pass.create.push((i, state.attempt));
            } else {
                wake(pass, delay - since);
            }
        }
    }

    /// When step `i`'s current attempt started, from the history.
    fn started(&self, i: usize) -> Option<&Time> {
        let name = &self.steps[i].name;
        let attempt = i32::try_from(self.states[i].attempt).ok();
        (self.history.iter().rev())
            .find(|t| {
                t.step.as_ref() == Some(name)
                    && t.attempt == attempt
                    && t.phase == RunPhase::Running
            })
            .map(|t| &t.time)
    }

    fn time_left(&self, graph: &StepGraph) -> Option<Duration> {
        let budget = graph.timeout()?;
        let since = self
            .start_time
            .as_ref()
            .map_or(Duration::ZERO, |t| elapsed(t, &self.now));
        Some(budget.saturating_sub(since))
    }

    fn deadline_passed(&self, graph: &StepGraph) -> bool {
        self.start_time.is_some() && self.time_left(graph).is_some_and(|l| l.is_zero())
    }

    /// The Run's status after this pass.
    fn status(
        &mut self,
        graph: &StepGraph,
        previous: &RunStatus,
        verdict: Option<&herald_core::steps::RunVerdict>,
        generation: Option<i64>,
    ) -> RunStatus {
        let (phase, reason, message) = match verdict {
            Some(v) => (v.phase, v.reason.clone(), v.message.clone()),
            None if self.states.iter().any(|s| s.phase != RunPhase::Pending) => (
                RunPhase::Running,
                reasons::RUN_STARTED.to_owned(),
                running_message(graph, &self.states),
            ),
            None => (
                RunPhase::Pending,
                reasons::RUN_CREATED.to_owned(),
                "waiting for the first step's Job".to_owned(),
            ),
        };
        let mut next = previous.clone();
        if previous.phase != Some(phase) {
            if previous.history.is_empty() && phase != RunPhase::Pending {
                self.run_moved(
                    RunPhase::Pending,
                    None,
                    reasons::RUN_CREATED,
                    "the Run was created",
                );
            }
            let from = self.last_run_phase();
            self.run_moved(phase, from, &reason, &message);
            next.phase = Some(phase);
        }
        next.history = std::mem::take(&mut self.history);
        next.steps = std::mem::take(&mut self.steps);
        next.start_time.clone_from(&self.start_time);
        if phase.is_terminal() && next.completion_time.is_none() {
            next.completion_time = Some(self.now.clone());
        }
        next.conditions = conditions(
            &previous.conditions,
            phase == RunPhase::Succeeded,
            false,
            &reason,
            &message,
            generation,
        );
        next.observed_generation = generation;
        next
    }

    fn last_run_phase(&self) -> Option<RunPhase> {
        (self.history.iter().rev())
            .find(|t| t.step.is_none())
            .map(|t| t.phase)
    }

    fn run_moved(&mut self, phase: RunPhase, from: Option<RunPhase>, reason: &str, message: &str) {
        let entry = RunTransition {
            step: None,
            attempt: None,
            from,
            phase,
            time: self.now.clone(),
            reason: Some(reason.to_owned()),
            message: Some(message.to_owned()),
        };
        // The Run starts before its steps of this pass and ends after them.
        if phase.is_terminal() {
            self.history.push(entry.clone());
            self.added.push(entry);
            return;
        }
        let at = self.base + self.run_entries;
        self.history.insert(at, entry.clone());
        self.added.insert(self.run_entries, entry);
        self.run_entries += 1;
    }
}

fn pending_step(name: &str) -> RunStep {
    RunStep {
        name: name.to_owned(),
        job_name: None,
        phase: RunPhase::Pending,
        attempt: None,
        reason: None,
        message: None,
        outputs: StepOutputs::new(),
        exit_code: None,
        started_at: None,
        finished_at: None,
        output_excerpt: None,
    }
}

fn running(attempt: u32, reason: &str, message: Option<String>) -> StepState {
    StepState {
        phase: RunPhase::Running,
        attempt,
        reason: Some(reason.to_owned()),
        message,
    }
}

fn finished(phase: RunPhase, attempt: u32, reason: &str, message: String) -> StepState {
    StepState {
        phase,
        attempt,
        reason: Some(reason.to_owned()),
        message: Some(message),
    }
}

fn wake(pass: &mut Pass, after: Duration) {
    pass.wake_after = Some(pass.wake_after.map_or(after, |w| w.min(after)));
}

fn elapsed(since: &Time, now: &Time) -> Duration {
    Duration::try_from(now.0.duration_since(since.0)).unwrap_or_default()
}

fn running_message(graph: &StepGraph, states: &[StepState]) -> String {
    let names: Vec<&str> = (graph.nodes().iter().zip(states))
        .filter(|(_, s)| s.phase == RunPhase::Running)
        .map(|(n, _)| n.step.name.as_str())
        .collect();
    if names.is_empty() {
        "between steps".to_owned()
    } else {
        format!("running {}", names.join(", "))
    }
}

/// The status a re-run of `old` from step `from` starts with: the steps `reused_steps` keeps,
/// `Succeeded` with the reason `Reused` and their outputs, after a first entry saying what it
/// re-runs.
pub fn rerun_status(
    graph: &StepGraph,
    old: &herald_api::Run,
    from: &str,
    now: Time,
) -> Result<RunStatus, herald_core::steps::RerunError> {
    let recorded = |name: &str| {
        (old.status.iter())
            .flat_map(|s| &s.steps)
            .find(|s| s.name == name)
    };
    let reused =
        herald_core::steps::reused_steps(graph, from, |name| recorded(name).map(|s| s.phase))?;
    let old_name = old.metadata.name.clone().unwrap_or_default();
    let entry =
        |step: Option<String>, attempt, from, phase, reason: &str, message: String| RunTransition {
            step,
            attempt,
            from,
            phase,
            time: now.clone(),
            reason: Some(reason.to_owned()),
            message: Some(message),
        };
    let mut status = RunStatus {
        phase: Some(RunPhase::Pending),
        ..RunStatus::default()
    };
    status.history.push(entry(
        None,
        None,
        None,
        RunPhase::Pending,
        reasons::RUN_RERUN,
        format!("re-run of Run {old_name} from step {from}"),
    ));
    for i in reused {
        let Some(step) = recorded(&graph.nodes()[i].step.name) else {
            continue;
        };
        let kept = format!("kept from Run {old_name}");
        status.history.push(entry(
            Some(step.name.clone()),
            step.attempt,
            Some(RunPhase::Pending),
            RunPhase::Succeeded,
            reasons::STEP_REUSED,
            kept.clone(),
        ));
        status.steps.push(RunStep {
            reason: Some(reasons::STEP_REUSED.to_owned()),
            message: Some(kept),
            ..step.clone()
        });
    }
    Ok(status)
}

/// The `HERALD_NEEDS_*` variables step `step`'s Job gets, from the steps recorded in `status`.
pub fn needs_env_of(
    graph: &StepGraph,
    status: Option<&RunStatus>,
    step: usize,
) -> Vec<(String, String)> {
    let recorded = |name: &str| status.and_then(|s| s.steps.iter().find(|r| r.name == name));
    let states: Vec<StepState> = (graph.nodes().iter())
        .map(|n| match recorded(&n.step.name) {
            Some(r) => StepState {
                phase: r.phase,
                attempt: r.attempt.and_then(|a| u32::try_from(a).ok()).unwrap_or(0),
                reason: r.reason.clone(),
                message: r.message.clone(),
            },
            None => StepState::default(),
        })
        .collect();
    let outputs: Vec<StepOutputs> = (graph.nodes().iter())
        .map(|n| {
            recorded(&n.step.name)
                .map(|r| r.outputs.clone())
                .unwrap_or_default()
        })
        .collect();
    herald_core::steps::needs_env(graph, &states, &outputs, step)
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_api::{ActionDefinition, Retries, Step};

    fn graph() -> StepGraph {
        let step = |name: &str, needs: &[&str]| Step {
            name: name.into(),
            command: vec!["true".into()],
            needs: needs.iter().map(|n| (*n).to_owned()).collect(),
            ..Step::default()
        };
        StepGraph::new(&ActionDefinition {
            steps: vec![
                Step {
                    outputs: vec!["tag".into()],
                    retries: Some(Retries {
                        limit: 1,
                        backoff: Some("30s".into()),
                    }),
                    ..step("build", &[])
                },
                step("ship", &["build"]),
            ],
            ..ActionDefinition::default()
        })
        .unwrap()
    }

    fn at(s: &str) -> Time {
        Time(s.parse().unwrap())
    }

    fn job(step: &str, attempt: u32, phase: RunPhase, termination: &str) -> SeenJob {
        SeenJob {
            step: step.into(),
            attempt,
            name: format!("r-{step}-{attempt}"),
            phase,
            reason: if phase == RunPhase::Failed {
                "BackoffLimitExceeded"
            } else {
                "Completed"
            }
            .into(),
            message: "m".into(),
            exit_code: Some(i32::from(phase != RunPhase::Succeeded)),
            termination: Some(termination.into()),
            excerpt: None,
        }
    }

    fn run(
        g: &StepGraph,
        previous: Option<&RunStatus>,
        jobs: &[SeenJob],
        secrets: &[&str],
        now: &str,
    ) -> Pass {
        pass(
            g,
            &Seen {
                previous,
                jobs,
                secrets,
                generation: Some(1),
                now: at(now),
                cancel: None,
            },
        )
    }

    #[test]
    fn a_first_pass_creates_the_first_job_and_a_stale_status_adopts_it() {
        let g = graph();
        let first = run(&g, None, &[], &[], "2026-01-01T00:00:00Z");
        assert_eq!(first.create, [(0, 1)]);
        // The status write was lost (a crash, a new leader): the Job is found, not made again.
        let again = run(
            &g,
            None,
            &[job("build", 1, RunPhase::Running, "")],
            &[],
            "2026-01-01T00:00:05Z",
        );
        assert!(again.create.is_empty(), "{:?}", again.create);
        let status = again.status.unwrap();
        assert_eq!(status.steps[0].job_name.as_deref(), Some("r-build-1"));
        assert_eq!(status.phase, Some(RunPhase::Running));
    }

    #[test]
    fn a_failed_attempt_waits_out_its_backoff_then_gets_its_job() {
        let g = graph();
        let started = run(&g, None, &[], &[], "2026-01-01T00:00:00Z")
            .status
            .unwrap();
        let failed_job = [job("build", 1, RunPhase::Failed, "")];
        let failed = run(&g, Some(&started), &failed_job, &[], "2026-01-01T00:00:10Z");
        assert!(failed.create.is_empty());
        assert_eq!(failed.wake_after, Some(Duration::from_secs(30)));
        let retrying = failed.status.unwrap();
        assert_eq!(retrying.steps[0].attempt, Some(2));
        // Halfway through the backoff: still waiting, for the rest of it.
        let early = run(
            &g,
            Some(&retrying),
            &failed_job,
            &[],
            "2026-01-01T00:00:25Z",
        );
        assert!(early.create.is_empty());
        assert_eq!(early.wake_after, Some(Duration::from_secs(15)));
        let due = run(
            &g,
            Some(&retrying),
            &failed_job,
            &[],
            "2026-01-01T00:00:41Z",
        );
        assert_eq!(due.create, [(0, 2)]);
    }

    #[test]
    fn outputs_are_read_strictly_from_the_termination_message() {
        let g = graph();
        let started = run(&g, None, &[], &[], "2026-01-01T00:00:00Z")
            .status
            .unwrap();
        let ok = run(
            &g,
            Some(&started),
            &[job("build", 1, RunPhase::Succeeded, "tag=v7\n")],
            &[],
            "2026-01-01T00:00:10Z",
        );
        assert_eq!(ok.create, [(1, 1)]);
        let status = ok.status.unwrap();
        assert_eq!(status.steps[0].outputs["tag"], "v7");
        assert_eq!(
            needs_env_of(&g, Some(&status), 1),
            [
                ("HERALD_NEEDS_BUILD_TAG".to_owned(), "v7".to_owned()),
                ("HERALD_NEEDS_BUILD_RESULT".to_owned(), "success".to_owned())
            ]
        );
        for (termination, reason) in [
            ("other=1\n", reasons::STEP_OUTPUT_UNDECLARED),
            ("tag=token-123456\n", reasons::STEP_OUTPUT_SECRET),
        ] {
            let bad = run(
                &g,
                Some(&started),
                &[job("build", 1, RunPhase::Succeeded, termination)],
                &["token-123456"],
                "2026-01-01T00:00:10Z",
            );
            let status = bad.status.unwrap();
            let moved = (status.history.iter())
                .find(|t| t.step.as_deref() == Some("build") && t.phase == RunPhase::Failed)
                .unwrap();
            assert_eq!(moved.reason.as_deref(), Some(reason));
            assert!(status.steps[0].outputs.is_empty());
        }
    }
}
