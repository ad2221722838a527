//! An action as a graph of steps, by index: what the scheduler walks.

use std::collections::HashMap;
use std::time::Duration;

use herald_api::validate::{FieldError, Validate, step_duration};
use herald_api::{ACTION_JOB_STEP, ActionDefinition, ActionJob, Step, StepCondition};

/// A step's attempt time budget when neither it nor the action sets one: a stuck process or
/// Pod must not hold a slot forever.
pub const DEFAULT_STEP_TIMEOUT: Duration = Duration::from_secs(3600);
/// The wait before a first retry when `retries.backoff` is not set.
pub const DEFAULT_BACKOFF: Duration = Duration::from_secs(10);
/// The longest wait between attempts, however many came before.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// A validated action's steps: the graph first, then `finally`, in declaration order.
#[derive(Debug, Clone, PartialEq)]
pub struct StepGraph {
    nodes: Vec<StepNode>,
    /// Every step after the steps it needs, the graph before `finally`.
    order: Vec<usize>,
    graph_len: usize,
    parallelism: Option<usize>,
    timeout: Option<Duration>,
}

/// One step, its needs resolved to indices.
#[derive(Debug, Clone, PartialEq)]
pub struct StepNode {
    /// What it executes, as declared (an `actionJob` becomes a step named `main`).
    pub step: Step,
    pub needs: Vec<usize>,
    pub condition: StepCondition,
    /// Attempts in all: one plus `retries.limit`.
    pub max_attempts: u32,
    pub backoff: Duration,
    /// One attempt's budget.
    pub timeout: Duration,
    pub finally: bool,
}

impl StepGraph {
    /// The graph of a definition, once it passes validation.
    pub fn new(def: &ActionDefinition) -> Result<Self, Vec<FieldError>> {
        def.validate()?;
        let timeout = def.timeout.as_deref().and_then(|t| step_duration(t).ok());
        let graph: Vec<Step> = match &def.action_job {
            Some(job) => vec![job_step(job)],
            None => def.steps.clone(),
        };
        let graph_len = graph.len();
        let steps: Vec<(Step, bool)> = graph
            .into_iter()
            .map(|s| (s, false))
            .chain(def.finally.iter().cloned().map(|s| (s, true)))
            .collect();
        let index: HashMap<&str, usize> = steps
            .iter()
            .enumerate()
            .map(|(i, (s, _))| (s.name.as_str(), i))
            .collect();
        let nodes: Vec<StepNode> = steps
            .iter()
            .map(|(step, finally)| node(step, *finally, &index, timeout))
            .collect();
        let mut order = topological(&nodes, 0..graph_len);
        order.extend(topological(&nodes, graph_len..nodes.len()));
        Ok(Self {
            nodes,
            order,
            graph_len,
            parallelism: def
                .parallelism
                .and_then(|p| usize::try_from(p).ok())
                .filter(|p| *p > 0),
            timeout,
        })
    }

    pub fn nodes(&self) -> &[StepNode] {
        &self.nodes
    }

    /// Every step after the steps it needs (declaration order where that leaves a choice),
    /// the graph before `finally`.
    pub fn order(&self) -> &[usize] {
        &self.order
    }

    /// The index of the step named `name`.
    pub fn position(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.step.name == name)
    }

    /// Whether step `i` is a `finally` step.
    pub fn is_finally(&self, i: usize) -> bool {
        i >= self.graph_len
    }

    pub fn graph_len(&self) -> usize {
        self.graph_len
    }

    /// Most steps running at once, if limited.
    pub fn parallelism(&self) -> Option<usize> {
        self.parallelism
    }

    /// The graph's time budget (`finally` excluded), if any.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }
}

fn node(
    step: &Step,
    finally: bool,
    index: &HashMap<&str, usize>,
    action_timeout: Option<Duration>,
) -> StepNode {
    let default_condition = if finally {
        StepCondition::Always
    } else {
        StepCondition::Success
    };
    let retries = step.retries.as_ref();
    StepNode {
        needs: step
            .needs
            .iter()
            .filter_map(|n| index.get(n.as_str()).copied())
            .collect(),
        condition: step.condition.unwrap_or(default_condition),
        max_attempts: 1 + retries
            .and_then(|r| u32::try_from(r.limit).ok())
            .unwrap_or(0),
        backoff: retries
            .and_then(|r| r.backoff.as_deref())
            .and_then(|b| step_duration(b).ok())
            .unwrap_or(DEFAULT_BACKOFF),
        timeout: step
            .timeout
            .as_deref()
            .and_then(|t| step_duration(t).ok())
            .or(if finally { None } else { action_timeout })
            .unwrap_or(DEFAULT_STEP_TIMEOUT),
        finally,
        step: step.clone(),
    }
}

/// The steps of `part` (a range of `nodes`), each after its needs inside it: Kahn's
/// algorithm. Validation has refused cycles, so every step is placed.
fn topological(nodes: &[StepNode], part: std::ops::Range<usize>) -> Vec<usize> {
    let inside = |n: &usize| part.contains(n);
    let mut waiting: Vec<usize> = nodes
        .iter()
        .map(|node| node.needs.iter().filter(|n| inside(n)).count())
        .collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for i in part.clone() {
        for &n in nodes[i].needs.iter().filter(|n| inside(n)) {
            dependents[n].push(i);
        }
    }
    let mut ready: std::collections::BTreeSet<usize> =
        part.clone().filter(|&i| waiting[i] == 0).collect();
    let mut order = Vec::with_capacity(part.len());
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &d in &dependents[i] {
            waiting[d] -= 1;
            if waiting[d] == 0 {
                ready.insert(d);
            }
        }
    }
    order
}

/// `actionJob` as the one step of its graph.
fn job_step(job: &ActionJob) -> Step {
    Step {
        name: ACTION_JOB_STEP.to_owned(),
        image: job.image.clone(),
        command: job.command.clone(),
        args: job.args.clone(),
        env: job.env.clone(),
        workdir: job.workdir.clone(),
        resources: job.resources.clone(),
        timeout: job
            .active_deadline_seconds
            .and_then(|s| u64::try_from(s).ok())
            .map(|s| format!("{s}s")),
        ..Step::default()
    }
}

impl StepNode {
    /// The wait before attempt `attempt` (from 2): the backoff, doubled per retry before it.
    pub fn backoff_before(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(2).min(20);
        self.backoff.saturating_mul(1 << doublings).min(MAX_BACKOFF)
    }
}
