//! Property tests over random step graphs: a cycle is reported exactly when there is one (as
//! a real path through the needs), and an acyclic graph runs every step once, after its needs.

use std::collections::{BTreeSet, HashMap};

use herald_api::validate::{FieldError, Validate};
use herald_api::{ActionDefinition, RunPhase, Step, reasons};
use herald_core::steps::{Move, StepGraph, StepState, advance};
use proptest::prelude::*;

/// `needs[i]` lists the steps step `i` needs (no self-needs, no repeats).
fn random_needs(max_steps: usize) -> impl Strategy<Value = Vec<Vec<usize>>> {
    (1..max_steps).prop_flat_map(|n| {
        prop::collection::vec(prop::collection::btree_set(0..n, 0..4), n).prop_map(|sets| {
            sets.into_iter()
                .enumerate()
                .map(|(i, set)| set.into_iter().filter(|&j| j != i).collect())
                .collect()
        })
    })
}

fn name(i: usize) -> String {
    format!("s{i}")
}

fn definition(needs: &[Vec<usize>]) -> ActionDefinition {
    ActionDefinition {
        steps: needs
            .iter()
            .enumerate()
            .map(|(i, n)| Step {
                name: name(i),
                command: vec!["true".into()],
                needs: n.iter().map(|&j| name(j)).collect(),
                ..Step::default()
            })
            .collect(),
        ..ActionDefinition::default()
    }
}

/// Kahn's algorithm, written apart from Herald's: whether every step can be placed.
fn acyclic(needs: &[Vec<usize>]) -> bool {
    let mut waiting: Vec<usize> = needs.iter().map(Vec::len).collect();
    let mut ready: Vec<usize> = (0..needs.len()).filter(|&i| waiting[i] == 0).collect();
    let mut placed = 0;
    while let Some(done) = ready.pop() {
        placed += 1;
        for (i, n) in needs.iter().enumerate() {
            if n.contains(&done) {
                waiting[i] -= 1;
                if waiting[i] == 0 {
                    ready.push(i);
                }
            }
        }
    }
    placed == needs.len()
}

fn cycle_error(errors: &[FieldError]) -> Option<Vec<String>> {
    errors.iter().find_map(|e| {
        e.message
            .strip_prefix("the needs form a cycle: ")
            .map(|path| path.split(" -> ").map(str::to_owned).collect())
    })
}

/// An acyclic graph: each step needs only steps before it in a hidden order, declared in a
/// shuffled one.
fn random_dag(max_steps: usize) -> impl Strategy<Value = Vec<Vec<usize>>> {
    random_needs(max_steps).prop_flat_map(|needs| {
        let n = needs.len();
        Just((0..n).collect::<Vec<usize>>())
            .prop_shuffle()
            .prop_map(move |rank| {
                needs
                    .iter()
                    .enumerate()
                    .map(|(i, set)| set.iter().copied().filter(|&j| rank[j] < rank[i]).collect())
                    .collect()
            })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_cycle_is_reported_exactly_when_there_is_one(needs in random_needs(24)) {
        let errors = definition(&needs).validate().err().unwrap_or_default();
        let cycle = cycle_error(&errors);
        prop_assert_eq!(cycle.is_some(), !acyclic(&needs), "{:?}", errors);
        if let Some(path) = cycle {
            prop_assert!(path.len() >= 3, "{:?}", path);
            prop_assert_eq!(path.first(), path.last());
            let index: HashMap<String, usize> = (0..needs.len()).map(|i| (name(i), i)).collect();
            for pair in path.windows(2) {
                let (from, to) = (index[&pair[0]], index[&pair[1]]);
                prop_assert!(needs[from].contains(&to), "{} does not need {}", pair[0], pair[1]);
            }
        } else {
            prop_assert!(errors.is_empty(), "{:?}", errors);
        }
    }

    #[test]
    fn an_acyclic_graph_runs_every_step_once_after_its_needs(needs in random_dag(40)) {
        prop_assert!(acyclic(&needs));
        let graph = StepGraph::new(&definition(&needs)).expect("acyclic graphs are valid");
        let mut states = vec![StepState::default(); needs.len()];
        let mut finished = BTreeSet::new();
        let mut starts = 0;
        for _ in 0..=needs.len() {
            let next = advance(&graph, &states, None);
            if let Some(verdict) = next.verdict {
                prop_assert_eq!(verdict.phase, RunPhase::Succeeded);
                break;
            }
            let mut wave = Vec::new();
            for m in next.moves {
                let Move::Start { step, .. } = m else {
                    return Err(TestCaseError::fail(format!("not a start: {m:?}")));
                };
                for need in &needs[step] {
                    prop_assert!(finished.contains(need), "s{} before its need s{}", step, need);
                }
                states[step] = StepState::new(RunPhase::Running, reasons::RUN_STARTED);
                wave.push(step);
                starts += 1;
            }
            prop_assert!(!wave.is_empty(), "stuck with steps left");
            for step in wave {
                states[step].phase = RunPhase::Succeeded;
                finished.insert(step);
            }
        }
        prop_assert_eq!(starts, needs.len());
        prop_assert_eq!(finished.len(), needs.len());
    }
}
