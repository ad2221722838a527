//! The scheduler: from every step's state, what happens next. Pure, so both modes make the
//! same decisions, and a state rebuilt after a restart (from Jobs or the store) gives the same
//! moves as the one that was lost.

use std::time::Duration;

use herald_api::{RunPhase, StepCondition, reasons};

use super::graph::StepGraph;

/// Where one step is: its latest attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepState {
    pub phase: RunPhase,
    /// Attempts started so far (0 while it waits for its first).
    pub attempt: u32,
    /// Why it is in its phase, one of [`reasons`].
    pub reason: Option<String>,
    pub message: Option<String>,
}

impl Default for StepState {
    fn default() -> Self {
        Self {
            phase: RunPhase::Pending,
            attempt: 0,
            reason: None,
            message: None,
        }
    }
}

impl StepState {
    /// A state with a phase and a reason (and attempt 1 when it has run).
    pub fn new(phase: RunPhase, reason: &str) -> Self {
        Self {
            phase,
            attempt: u32::from(!matches!(phase, RunPhase::Pending | RunPhase::Skipped)),
            reason: Some(reason.to_owned()),
            message: None,
        }
    }
}

/// Why the graph stops before its end: `finally` still runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Halt {
    /// The action's `timeout` ran out: the run fails with `DeadlineExceeded`.
    TimedOut,
    /// The run was cancelled (another run replaced it): it ends `Cancelled` with this reason.
    Cancelled {
        reason: &'static str,
        message: String,
    },
}

/// One thing the executor must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Move {
    /// Start `attempt` of step `step` once `delay` has passed (a retry's backoff).
    Start {
        step: usize,
        attempt: u32,
        delay: Duration,
    },
    /// Record the step as skipped; it never runs.
    Skip {
        step: usize,
        reason: &'static str,
        message: String,
    },
    /// Stop the step if it runs, and record it as cancelled.
    Cancel {
        step: usize,
        reason: &'static str,
        message: String,
    },
}

/// How the run ended, once every step is final.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunVerdict {
    pub phase: RunPhase,
    pub reason: String,
    pub message: String,
}

/// The moves that follow from `states` (one per step, in the graph's order), and the run's
/// verdict when nothing more can happen. A `halt` (the action's timeout ran out, or the run
/// was cancelled) cancels the graph's unfinished steps and lets `finally` run.
///
/// Apply every move before calling again: the state the moves lead to is what the next call
/// must see (a started step as `Running`, a skipped one as `Skipped`).
pub fn advance(graph: &StepGraph, states: &[StepState], halt: Option<&Halt>) -> Advance {
    assert_eq!(states.len(), graph.nodes().len(), "one state per step");
    let mut view: Vec<StepState> = states.to_vec();
    let mut moves = Vec::new();
    let graph_timed_out = halt.is_some();
    if let Some(halt) = halt {
        cancel_graph(graph, halt, &mut view, &mut moves);
    }
    let mut running = view.iter().filter(|s| s.phase == RunPhase::Running).count();
    let limit = graph.parallelism().unwrap_or(usize::MAX);
    let mut graph_done = false;
    for &i in graph.order() {
        if !graph_done && graph.is_finally(i) {
            graph_done = (0..graph.graph_len()).all(|g| is_final(graph, &view, g, graph_timed_out));
            if !graph_done {
                break;
            }
        }
        let node = &graph.nodes()[i];
        let state = &view[i];
        if retryable(graph, state, i, graph_timed_out) {
            if running < limit {
                let attempt = state.attempt + 1;
                moves.push(Move::Start {
                    step: i,
                    attempt,
                    delay: node.backoff_before(attempt),
                });
                view[i] = running_state(attempt, reasons::STEP_RETRYING);
                running += 1;
            }
            continue;
        }
        if state.phase != RunPhase::Pending
            || !node
                .needs
                .iter()
                .all(|&n| is_final(graph, &view, n, graph_timed_out))
        {
            continue;
        }
        match judge(graph, &view, i) {
            Judged::Run if running < limit => {
                moves.push(Move::Start {
                    step: i,
                    attempt: state.attempt + 1,
                    delay: Duration::ZERO,
                });
                view[i] = running_state(state.attempt + 1, reasons::RUN_STARTED);
                running += 1;
            }
            Judged::Run => {}
            Judged::Skip { reason, message } => {
                view[i] = StepState {
                    phase: RunPhase::Skipped,
                    attempt: state.attempt,
                    reason: Some(reason.to_owned()),
                    message: Some(message.clone()),
                };
                moves.push(Move::Skip {
                    step: i,
                    reason,
                    message,
                });
            }
        }
    }
    let verdict = (0..view.len())
        .all(|i| is_final(graph, &view, i, graph_timed_out))
        .then(|| verdict(graph, &view, halt));
    Advance { moves, verdict }
}

/// What [`advance`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advance {
    pub moves: Vec<Move>,
    /// Set once every step is final.
    pub verdict: Option<RunVerdict>,
}

fn running_state(attempt: u32, reason: &str) -> StepState {
    StepState {
        phase: RunPhase::Running,
        attempt,
        reason: Some(reason.to_owned()),
        message: None,
    }
}

fn cancel_graph(graph: &StepGraph, halt: &Halt, view: &mut [StepState], moves: &mut Vec<Move>) {
    let (reason, message) = match halt {
        Halt::TimedOut => (
            reasons::STEP_ACTION_TIMED_OUT,
            format!("the action's timeout of {} ran out", budget(graph)),
        ),
        Halt::Cancelled { message, .. } => (reasons::STEP_RUN_CANCELLED, message.clone()),
    };
    for (i, state) in view.iter_mut().enumerate().take(graph.graph_len()) {
        if matches!(state.phase, RunPhase::Pending | RunPhase::Running) {
            moves.push(Move::Cancel {
                step: i,
                reason,
                message: message.clone(),
            });
            *state = StepState {
                phase: RunPhase::Cancelled,
                attempt: state.attempt,
                reason: Some(reason.to_owned()),
                message: Some(message.clone()),
            };
        }
    }
}

fn budget(graph: &StepGraph) -> String {
    graph
        .timeout()
        .map(|t| humantime::format_duration(t).to_string())
        .unwrap_or_default()
}

fn failed(phase: RunPhase) -> bool {
    matches!(phase, RunPhase::Failed | RunPhase::TimedOut)
}

/// A failed attempt that another attempt may follow.
fn retryable(graph: &StepGraph, state: &StepState, i: usize, graph_timed_out: bool) -> bool {
    failed(state.phase)
        && state.attempt < graph.nodes()[i].max_attempts
        // After the action's timeout only `finally` steps may try again.
        && (!graph_timed_out || graph.is_finally(i))
}

/// Nothing more will happen to step `i`.
fn is_final(graph: &StepGraph, view: &[StepState], i: usize, graph_timed_out: bool) -> bool {
    view[i].phase.is_terminal() && !retryable(graph, &view[i], i, graph_timed_out)
}

/// How a final step looks to the steps that need it.
enum Seen {
    Succeeded,
    Failed,
    /// Skipped; `by_failure` when a failure before it caused the skip.
    Skipped {
        by_failure: bool,
    },
    Cancelled,
}

fn seen(graph: &StepGraph, view: &[StepState], i: usize) -> Seen {
    let state = &view[i];
    match state.phase {
        RunPhase::Succeeded => Seen::Succeeded,
        p if failed(p) && graph.nodes()[i].step.continue_on_error => Seen::Succeeded,
        p if failed(p) => Seen::Failed,
        RunPhase::Skipped => Seen::Skipped {
            by_failure: state.reason.as_deref() == Some(reasons::STEP_NEED_FAILED),
        },
        RunPhase::Cancelled => Seen::Cancelled,
        // Not reached: only final steps are judged.
        RunPhase::Pending | RunPhase::Running | RunPhase::Failed | RunPhase::TimedOut => {
            Seen::Skipped { by_failure: false }
        }
    }
}

enum Judged {
    Run,
    Skip {
        reason: &'static str,
        message: String,
    },
}

/// Whether step `i`, its needs final, runs or is skipped (and why).
fn judge(graph: &StepGraph, view: &[StepState], i: usize) -> Judged {
    let node = &graph.nodes()[i];
    let name = |n: usize| graph.nodes()[n].step.name.as_str();
    match node.condition {
        StepCondition::Always => Judged::Run,
        StepCondition::Success => {
            for &n in &node.needs {
                let (reason, why) = match seen(graph, view, n) {
                    Seen::Succeeded => continue,
                    Seen::Failed => (reasons::STEP_NEED_FAILED, "failed"),
                    Seen::Cancelled => (reasons::STEP_NEED_FAILED, "was cancelled"),
                    Seen::Skipped { by_failure: true } => (
                        reasons::STEP_NEED_FAILED,
                        "was skipped because a step before it failed",
                    ),
                    Seen::Skipped { by_failure: false } => {
                        (reasons::STEP_NEED_SKIPPED, "was skipped")
                    }
                };
                return Judged::Skip {
                    reason,
                    message: format!("skipped: {} {why}", name(n)),
                };
            }
            Judged::Run
        }
        StepCondition::Failure => {
            let any_failed = node.needs.iter().any(|&n| {
                matches!(
                    seen(graph, view, n),
                    Seen::Failed | Seen::Cancelled | Seen::Skipped { by_failure: true }
                )
            });
            if any_failed {
                Judged::Run
            } else {
                let names: Vec<&str> = node.needs.iter().map(|&n| name(n)).collect();
                Judged::Skip {
                    reason: reasons::STEP_CONDITION_FALSE,
                    message: format!(
                        "skipped: if: failure, and none of {} failed",
                        names.join(", ")
                    ),
                }
            }
        }
    }
}

fn verdict(graph: &StepGraph, view: &[StepState], halt: Option<&Halt>) -> RunVerdict {
    let single = graph.nodes().len() == 1;
    match halt {
        Some(Halt::TimedOut) => {
            return RunVerdict {
                phase: RunPhase::Failed,
                reason: reasons::RUN_DEADLINE_EXCEEDED.to_owned(),
                message: format!("the action ran past its timeout of {}", budget(graph)),
            };
        }
        Some(Halt::Cancelled { reason, message }) => {
            return RunVerdict {
                phase: RunPhase::Cancelled,
                reason: (*reason).to_owned(),
                message: message.clone(),
            };
        }
        None => {}
    }
    let failure = graph
        .nodes()
        .iter()
        .zip(view)
        .find(|(node, state)| failed(state.phase) && !node.step.continue_on_error);
    if let Some((node, state)) = failure {
        let message = state.message.clone().unwrap_or_default();
        return RunVerdict {
            phase: RunPhase::Failed,
            reason: state
                .reason
                .clone()
                .unwrap_or_else(|| reasons::RUN_ERROR.to_owned()),
            message: if single {
                message
            } else {
                format!("step {} failed: {message}", node.step.name)
            },
        };
    }
    let message = if single {
        view[0].message.clone().unwrap_or_default()
    } else {
        let count = |p: RunPhase| view.iter().filter(|s| s.phase == p).count();
        format!(
            "{} steps succeeded, {} skipped",
            count(RunPhase::Succeeded),
            count(RunPhase::Skipped)
        )
    };
    RunVerdict {
        phase: RunPhase::Succeeded,
        reason: reasons::RUN_COMPLETED.to_owned(),
        message,
    }
}
