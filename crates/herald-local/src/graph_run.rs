//! One run's action as a graph of steps, on this machine: one checkout for the run, a
//! worktree and a process group per step attempt, and every move stored before the next
//! decision. What happens next is always `herald_core::steps::advance`'s call, from the
//! stored states, so a run resumed after a restart continues where the store says it was.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use herald_api::{RunPhase, StepOutputs, reasons};
use herald_core::WORKDIR_ENV;
use herald_core::steps::{
    Halt, Move, OUTPUT_ENV, RunVerdict, StepGraph, StepState, advance, fits_run, needs_env,
    outputs_size, parse_outputs,
};
use herald_git::Remote;
use herald_store::{RunOutcome, RunRecord, StepChange, StepRecord, Store, StoreError};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

use crate::executor::{self, Command, ProcessOutcome};

/// What the run's steps need besides the graph.
pub(crate) struct GraphRun<'a> {
    pub store: &'a Store,
    pub run: RunRecord,
    pub graph: StepGraph,
    pub remote: Remote,
    pub work_root: &'a Path,
    /// The `HERALD_*` variables of the run.
    pub run_env: Vec<(String, String)>,
    /// Each step's own `env`, resolved, and the secret values among it (or why it could not
    /// be resolved, which fails the step when it is due).
    pub step_env: Vec<Result<ResolvedEnv, String>>,
}

/// A step's own variables and which of their values are secrets.
#[derive(Debug, Clone, Default)]
pub(crate) struct ResolvedEnv {
    pub vars: Vec<(String, String)>,
    pub secrets: Vec<String>,
}

/// How one attempt ended, outputs read.
struct Attempt {
    step: usize,
    attempt: u32,
    outcome: ProcessOutcome,
    outputs: StepOutputs,
}

/// The run's state while it is driven.
struct Progress {
    states: Vec<StepState>,
    outputs: Vec<StepOutputs>,
    exit_codes: Vec<Option<i32>>,
    excerpts: Vec<Option<String>>,
    kept: usize,
}

impl Progress {
    fn new(graph: &StepGraph, recorded: &[StepRecord]) -> Self {
        let n = graph.nodes().len();
        let mut p = Self {
            states: vec![StepState::default(); n],
            outputs: vec![StepOutputs::new(); n],
            exit_codes: vec![None; n],
            excerpts: vec![None; n],
            kept: 0,
        };
        for record in recorded {
            let Some(i) = graph.position(&record.name) else {
                continue;
            };
            p.states[i] = StepState {
                phase: record.phase,
                attempt: record.attempt,
                reason: record.reason.clone(),
                message: record.message.clone(),
            };
            p.outputs[i] = record.outputs.clone();
            p.exit_codes[i] = record.exit_code;
            p.excerpts[i] = record.output.clone();
        }
        p.kept = p.outputs.iter().map(outputs_size).sum();
        p
    }
}

impl GraphRun<'_> {
    /// Drives the graph to its verdict. `recorded` are the steps the store holds for this
    /// run (empty for a new run); `elapsed` is how long the run has been going, so a resumed
    /// run keeps its original time budget.
    pub async fn drive(
        self,
        recorded: &[StepRecord],
        elapsed: Duration,
        mut cancel: watch::Receiver<Option<Halt>>,
    ) -> Result<RunOutcome, StoreError> {
        let mut progress = Progress::new(&self.graph, recorded);
        let deadline = self
            .graph
            .timeout()
            .map(|t| tokio::time::Instant::now() + t.saturating_sub(elapsed));
        let mut halt: Option<Halt> = None;
        let mut checkout: Option<tempfile::TempDir> = None;
        // libgit2 reads every worktree of a repository when adding one: a worktree half made
        // by a concurrent step fails it. Steps take turns adding theirs (running is parallel).
        let worktrees = Arc::new(tokio::sync::Mutex::new(()));
        let mut tasks: JoinSet<Attempt> = JoinSet::new();
        let mut cancels: Vec<Option<oneshot::Sender<()>>> =
            (0..self.graph.nodes().len()).map(|_| None).collect();
        // Each attempt's span `step`, from its start to its result stored.
        let mut spans: Vec<Option<tracing::Span>> =
            (0..self.graph.nodes().len()).map(|_| None).collect();
        loop {
            let next = advance(&self.graph, &progress.states, halt.as_ref());
            for m in next.moves {
                match m {
                    Move::Skip {
                        step,
                        reason,
                        message,
                    } => {
                        self.settle(&mut progress, step, RunPhase::Skipped, reason, &message)
                            .await?;
                    }
                    Move::Cancel {
                        step,
                        reason,
                        message,
                    } => {
                        if let Some(cancel) = cancels[step].take() {
                            let _ = cancel.send(());
                        }
                        self.settle(&mut progress, step, RunPhase::Cancelled, reason, &message)
                            .await?;
                    }
                    Move::Start {
                        step,
                        attempt,
                        delay,
                    } => {
                        let (tx, rx) = oneshot::channel();
                        cancels[step] = Some(tx);
                        let name = &self.graph.nodes()[step].step.name;
                        let span = tracing::info_span!("step", step = %name, attempt);
                        self.record_start(&mut progress, step, attempt)
                            .instrument(span.clone())
                            .await?;
                        // The repository is `checkout` inside the run's folder; the
                        // worktrees and output files sit beside it.
                        let dir = match &checkout {
                            Some(dir) => Ok(dir.path().join("checkout")),
                            None => self
                                .checkout()
                                .instrument(tracing::info_span!("checkout"))
                                .await
                                .map(|dir| {
                                    let path = dir.path().join("checkout");
                                    checkout = Some(dir);
                                    path
                                }),
                        };
                        let mut spec = self.attempt_spec(&progress, step, attempt, delay);
                        // The step's own trace context, so what it runs can join the trace.
                        if let Some(traceparent) = herald_telemetry::traceparent_of(&span) {
                            let name = herald_telemetry::TRACEPARENT_ENV.to_owned();
                            spec.env.push((name, traceparent));
                        }
                        let turn = worktrees.clone();
                        tasks.spawn(run_attempt(spec, dir, rx, turn).instrument(span.clone()));
                        spans[step] = Some(span);
                    }
                }
            }
            if let Some(verdict) = next.verdict {
                // Cancelled attempts are still stopping: let them, before their folder goes.
                while tasks.join_next().await.is_some() {}
                drop(checkout);
                return Ok(self.outcome(&progress, &verdict));
            }
            tokio::select! {
                joined = tasks.join_next(), if !tasks.is_empty() => {
                    match joined {
                        Some(Ok(done)) => {
                            let span = spans[done.step].take().unwrap_or_else(tracing::Span::none);
                            self.finish_attempt(&mut progress, done).instrument(span).await?;
                        }
                        Some(Err(e)) => tracing::error!(run = %self.run.name, error = %e, "a step's task failed"),
                        None => {}
                    }
                }
                () = sleep_until(deadline), if halt.is_none() && deadline.is_some() => {
                    halt = Some(Halt::TimedOut);
                }
                Ok(()) = cancel.changed(), if halt.is_none() => {
                    halt = cancel.borrow_and_update().clone();
                }
                else => {
                    // Nothing runs, nothing is due and no verdict: the graph cannot move.
                    return Ok(stuck_outcome());
                }
            }
        }
    }

    async fn checkout(&self) -> Result<tempfile::TempDir, String> {
        executor::prepare_checkout(
            &self.remote,
            self.run.git_ref.as_deref(),
            &self.run.revision,
            self.work_root,
        )
        .await
    }

    fn attempt_spec(
        &self,
        progress: &Progress,
        step: usize,
        attempt: u32,
        delay: Duration,
    ) -> AttemptSpec {
        let node = &self.graph.nodes()[step];
        let mut env = self.run_env.clone();
        env.push(("HERALD_STEP".into(), node.step.name.clone()));
        env.push(("HERALD_STEP_ATTEMPT".into(), attempt.to_string()));
        env.extend(needs_env(
            &self.graph,
            &progress.states,
            &progress.outputs,
            step,
        ));
        let own = self.step_env[step].clone();
        AttemptSpec {
            step,
            attempt,
            delay,
            step_def: node.step.clone(),
            timeout: node.timeout,
            env,
            own,
        }
    }

    async fn record_start(
        &self,
        progress: &mut Progress,
        step: usize,
        attempt: u32,
    ) -> Result<(), StoreError> {
        let from = progress.states[step].phase;
        let reason = if attempt > 1 {
            reasons::STEP_RETRYING
        } else {
            reasons::RUN_STARTED
        };
        self.record(step, from, RunPhase::Running, attempt, reason, None)
            .await?;
        progress.states[step] = StepState {
            phase: RunPhase::Running,
            attempt,
            reason: Some(reason.to_owned()),
            message: None,
        };
        Ok(())
    }

    /// Records a step that ends without (another) attempt: skipped or cancelled.
    async fn settle(
        &self,
        progress: &mut Progress,
        step: usize,
        to: RunPhase,
        reason: &str,
        message: &str,
    ) -> Result<(), StoreError> {
        let state = &progress.states[step];
        let (from, attempt) = (state.phase, state.attempt);
        self.record(step, from, to, attempt, reason, Some(message))
            .await?;
        progress.states[step] = StepState {
            phase: to,
            attempt,
            reason: Some(reason.to_owned()),
            message: Some(message.to_owned()),
        };
        Ok(())
    }

    async fn finish_attempt(
        &self,
        progress: &mut Progress,
        done: Attempt,
    ) -> Result<(), StoreError> {
        let Attempt {
            step,
            attempt,
            mut outcome,
            mut outputs,
        } = done;
        let state = &progress.states[step];
        if state.phase != RunPhase::Running || state.attempt != attempt {
            // Cancelled while it ran: already recorded.
            return Ok(());
        }
        if let Err(e) = fits_run(progress.kept, &outputs) {
            outcome.phase = RunPhase::Failed;
            outcome.reason = e.reason();
            outcome.message = e.to_string();
            outputs.clear();
        }
        let change = StepChange {
            message: Some(&outcome.message),
            exit_code: outcome.exit_code,
            outputs: Some(&outputs),
            output: Some(&outcome.output),
            ..self.change(
                step,
                RunPhase::Running,
                outcome.phase,
                attempt,
                outcome.reason,
            )
        };
        self.store.record_step(&self.run, &change).await?;
        progress.kept += outputs_size(&outputs);
        progress.states[step] = StepState {
            phase: outcome.phase,
            attempt,
            reason: Some(outcome.reason.to_owned()),
            message: Some(outcome.message.clone()),
        };
        progress.outputs[step] = outputs;
        progress.exit_codes[step] = outcome.exit_code;
        progress.excerpts[step] = Some(outcome.output);
        Ok(())
    }

    /// Records a move that carries no result of its own (a start, a skip, a cancel).
    async fn record(
        &self,
        step: usize,
        from: RunPhase,
        to: RunPhase,
        attempt: u32,
        reason: &str,
        message: Option<&str>,
    ) -> Result<(), StoreError> {
        let change = StepChange {
            message,
            ..self.change(step, from, to, attempt, reason)
        };
        self.store.record_step(&self.run, &change).await
    }

    fn change<'c>(
        &'c self,
        step: usize,
        from: RunPhase,
        to: RunPhase,
        attempt: u32,
        reason: &'c str,
    ) -> StepChange<'c> {
        StepChange {
            name: &self.graph.nodes()[step].step.name,
            position: step,
            from,
            to,
            attempt,
            reason,
            message: None,
            exit_code: None,
            outputs: None,
            output: None,
        }
    }

    /// The run's outcome: the verdict, with the exit code and output of the step that
    /// decided it (the one step of an `actionJob`, else the failed step).
    fn outcome(&self, progress: &Progress, verdict: &RunVerdict) -> RunOutcome {
        let deciding = if self.graph.nodes().len() == 1 {
            Some(0)
        } else {
            (0..self.graph.nodes().len()).find(|&i| {
                matches!(
                    progress.states[i].phase,
                    RunPhase::Failed | RunPhase::TimedOut
                ) && !self.graph.nodes()[i].step.continue_on_error
            })
        };
        RunOutcome {
            phase: verdict.phase,
            reason: verdict.reason.clone(),
            message: Some(verdict.message.clone()),
            exit_code: deciding.and_then(|i| progress.exit_codes[i]),
            output: deciding.and_then(|i| progress.excerpts[i].clone()),
        }
    }
}

fn stuck_outcome() -> RunOutcome {
    RunOutcome {
        phase: RunPhase::Failed,
        reason: reasons::RUN_ERROR.to_owned(),
        message: Some("the step graph stopped moving; this is a bug in Herald".into()),
        exit_code: None,
        output: None,
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Everything one attempt's task owns.
struct AttemptSpec {
    step: usize,
    attempt: u32,
    delay: Duration,
    /// What it executes: command, args, workdir, declared outputs.
    step_def: herald_api::Step,
    timeout: Duration,
    env: Vec<(String, String)>,
    own: Result<ResolvedEnv, String>,
}

/// One attempt: wait out its backoff, make its worktree, run it, read its outputs.
async fn run_attempt(
    spec: AttemptSpec,
    checkout: Result<PathBuf, String>,
    cancel: oneshot::Receiver<()>,
    worktrees: Arc<tokio::sync::Mutex<()>>,
) -> Attempt {
    let (step, attempt) = (spec.step, spec.attempt);
    let done = |outcome, outputs| Attempt {
        step,
        attempt,
        outcome,
        outputs,
    };
    let mut cancel = std::pin::pin!(async move {
        let _ = cancel.await;
    });
    tokio::select! {
        () = tokio::time::sleep(spec.delay) => {}
        () = &mut cancel => {
            return done(ProcessOutcome::failed(reasons::STEP_ACTION_TIMED_OUT, "cancelled".into()), StepOutputs::new());
        }
    }
    let prepared = match (checkout, spec.own) {
        (Err(message), _) => Err(ProcessOutcome::failed("CheckoutFailed", message)),
        (_, Err(message)) => Err(ProcessOutcome::failed(
            reasons::RUN_INVALID_DEFINITION,
            message,
        )),
        (Ok(checkout), Ok(own)) => Ok((checkout, own)),
    };
    let (checkout, own) = match prepared {
        Ok(parts) => parts,
        Err(outcome) => return done(outcome, StepOutputs::new()),
    };
    let runs = checkout.parent().unwrap_or(&checkout).to_path_buf();
    let label = format!("{}-{attempt}", spec.step_def.name);
    let tree = runs.join(&label);
    let added = {
        let _turn = worktrees.lock().await;
        executor::add_worktree(
            checkout.clone(),
            format!("herald-step-{label}"),
            tree.clone(),
        )
        .await
    };
    if let Err(message) = added {
        return done(
            ProcessOutcome::failed("CheckoutFailed", message),
            StepOutputs::new(),
        );
    }
    let workdir = match executor::working_dir(&tree, spec.step_def.workdir.as_deref()) {
        Ok(dir) => dir,
        Err(message) => {
            return done(
                ProcessOutcome::failed("StartFailed", message),
                StepOutputs::new(),
            );
        }
    };
    let output_file = runs.join(format!("{label}.out"));
    if let Err(e) = std::fs::write(&output_file, b"") {
        let message = format!("cannot create {}: {e}", output_file.display());
        return done(
            ProcessOutcome::failed("StartFailed", message),
            StepOutputs::new(),
        );
    }
    let mut env = spec.env;
    env.extend(own.vars);
    env.push((WORKDIR_ENV.into(), tree.display().to_string()));
    env.push((OUTPUT_ENV.into(), output_file.display().to_string()));
    let outcome = executor::run_command(
        Command {
            command: &spec.step_def.command,
            args: &spec.step_def.args,
            workdir: &workdir,
            env: &env,
            deadline: spec.timeout,
        },
        cancel,
    )
    .await;
    if outcome.phase != RunPhase::Succeeded {
        return done(outcome, StepOutputs::new());
    }
    let secrets: Vec<&str> = own.secrets.iter().map(String::as_str).collect();
    let read = std::fs::read(&output_file).map_err(|e| e.to_string());
    match read.map(|bytes| parse_outputs(&bytes, &spec.step_def.outputs, &secrets)) {
        Ok(Ok(outputs)) => done(outcome, outputs),
        Ok(Err(e)) => done(
            ProcessOutcome {
                phase: RunPhase::Failed,
                reason: e.reason(),
                message: e.to_string(),
                ..outcome
            },
            StepOutputs::new(),
        ),
        Err(e) => done(
            ProcessOutcome {
                phase: RunPhase::Failed,
                reason: reasons::STEP_OUTPUT_MALFORMED,
                message: format!("cannot read $HERALD_OUTPUT: {e}"),
                ..outcome
            },
            StepOutputs::new(),
        ),
    }
}
