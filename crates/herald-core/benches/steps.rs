//! The step scheduler on big graphs: planning (validation, needs resolved, order) and one
//! `advance` per transition, as an executor calls it each time a step finishes, until the
//! run's verdict. Three shapes of 1,000 steps, and the same shapes at 10 steps as the baseline
//! measured in the same run (so the printed ratio is what 100 times more steps cost):
//! - `layers`: 10 layers of 100, each step needing 3 steps of the layer before;
//! - `chain`: each step needs the one before (the deepest graph);
//! - `fan`: one step, everything else needing it, and one step needing everything.
//!
//! Every attempt succeeds except one step in five of a `retries: {limit: 1}` set, whose first
//! attempt fails, so retries are decided too. Times are wall-clock per call on this thread
//! (the work is pure and single-threaded), and the thread's CPU time over the whole drive
//! from `/proc/thread-self/schedstat`.
//!
//! `cargo bench -p herald-core --bench steps`; knob: `HERALD_BENCH_STEPS` (default 1000).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use herald_api::{ActionDefinition, Retries, RunPhase, Step, reasons};
use herald_core::steps::{Move, StepGraph, StepState, advance};

/// What issue 12 asks of a 1,000-step graph: each transition planned and advanced in less.
const TARGET_PER_TRANSITION: Duration = Duration::from_millis(10);

fn main() {
    let steps: usize = std::env::var("HERALD_BENCH_STEPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let mut table = String::from(
        "| shape | steps | plan ms | transitions | advance µs mean / p99 / max | CPU ms, whole drive |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    let mut worst = Duration::ZERO;
    for shape in [Shape::Layers, Shape::Chain, Shape::Fan] {
        let baseline = measure(shape, 10);
        let big = measure(shape, steps);
        worst = worst.max(big.max).max(big.plan);
        for m in [&baseline, &big] {
            table.push_str(&m.row());
        }
        println!(
            "{}: mean advance {:.1}x the 10-step baseline for {}x the steps",
            shape.name(),
            big.mean.as_secs_f64() / baseline.mean.as_secs_f64().max(1e-9),
            steps / 10
        );
    }
    println!("\n{table}");
    if worst < TARGET_PER_TRANSITION {
        println!(
            "target met: the slowest plan or transition took {:.2} ms (< {} ms)",
            worst.as_secs_f64() * 1e3,
            TARGET_PER_TRANSITION.as_millis()
        );
    } else {
        println!(
            "TARGET MISSED: the slowest plan or transition took {:.2} ms (>= {} ms)",
            worst.as_secs_f64() * 1e3,
            TARGET_PER_TRANSITION.as_millis()
        );
    }
}

#[derive(Clone, Copy)]
enum Shape {
    Layers,
    Chain,
    Fan,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Self::Layers => "layers",
            Self::Chain => "chain",
            Self::Fan => "fan",
        }
    }

    /// The steps step `i` of `n` needs.
    fn needs(self, i: usize, n: usize) -> Vec<usize> {
        match self {
            Self::Layers => {
                let width = (n / 10).max(1);
                let layer = i / width;
                if layer == 0 {
                    return Vec::new();
                }
                let start = (layer - 1) * width;
                // Three distinct steps of the layer before, spread by a fixed stride.
                let mut needs: Vec<usize> =
                    (0..3).map(|k| start + (i * 7 + k * 31) % width).collect();
                needs.sort_unstable();
                needs.dedup();
                needs
            }
            Self::Chain => (i > 0).then(|| i - 1).into_iter().collect(),
            Self::Fan if i == 0 => Vec::new(),
            Self::Fan if i == n - 1 => (1..n - 1).collect(),
            Self::Fan => vec![0],
        }
    }
}

fn definition(shape: Shape, n: usize) -> ActionDefinition {
    ActionDefinition {
        steps: (0..n)
            .map(|i| Step {
                name: format!("s{i}"),
                command: vec!["true".into()],
                needs: shape.needs(i, n).iter().map(|j| format!("s{j}")).collect(),
                retries: i.is_multiple_of(5).then(|| Retries {
                    limit: 1,
                    backoff: Some("1s".into()),
                }),
                ..Step::default()
            })
            .collect(),
        ..ActionDefinition::default()
    }
}

struct Measured {
    shape: Shape,
    steps: usize,
    plan: Duration,
    transitions: usize,
    mean: Duration,
    p99: Duration,
    max: Duration,
    cpu: Duration,
}

impl Measured {
    fn row(&self) -> String {
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        format!(
            "| {} | {} | {:.2} | {} | {:.1} / {:.1} / {:.1} | {:.1} |\n",
            self.shape.name(),
            self.steps,
            self.plan.as_secs_f64() * 1e3,
            self.transitions,
            us(self.mean),
            us(self.p99),
            us(self.max),
            self.cpu.as_secs_f64() * 1e3
        )
    }
}

/// Plans the graph, then drives it one transition at a time: the oldest running attempt
/// finishes, and `advance` says what follows.
fn measure(shape: Shape, n: usize) -> Measured {
    let def = definition(shape, n);
    let cpu_start = thread_cpu();
    let started = Instant::now();
    let graph = StepGraph::new(&def).expect("the bench's graphs are valid");
    let plan = started.elapsed();
    let mut states = vec![StepState::default(); n];
    let mut running: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
    let mut times = Vec::with_capacity(2 * n);
    loop {
        let started = Instant::now();
        let next = advance(&graph, &states, None);
        times.push(started.elapsed());
        for m in &next.moves {
            if let Move::Start { step, attempt, .. } = *m {
                states[step] = StepState::new(RunPhase::Running, reasons::RUN_STARTED);
                states[step].attempt = attempt;
                running.push_back(step);
            }
        }
        if let Some(verdict) = next.verdict {
            assert_eq!(verdict.phase, RunPhase::Succeeded, "{verdict:?}");
            break;
        }
        let done = running.pop_front().expect("a step runs until the verdict");
        let fails = done.is_multiple_of(5) && states[done].attempt == 1;
        states[done].phase = if fails {
            RunPhase::Failed
        } else {
            RunPhase::Succeeded
        };
    }
    let cpu = thread_cpu().saturating_sub(cpu_start);
    let transitions = times.len();
    let mean = times.iter().sum::<Duration>() / u32::try_from(transitions).unwrap();
    times.sort_unstable();
    Measured {
        shape,
        steps: n,
        plan,
        transitions,
        mean,
        p99: times[(transitions * 99 / 100).min(transitions - 1)],
        max: times[transitions - 1],
        cpu,
    }
}

/// This thread's time on a CPU so far.
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}
