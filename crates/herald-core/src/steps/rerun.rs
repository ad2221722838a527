//! Re-running a finished run from one of its steps: which steps keep their recorded result
//! (and outputs) and which run again. One rule for both modes.

use herald_api::RunPhase;

use super::graph::StepGraph;

/// Why a re-run cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RerunError {
    #[error("the action has no step {step:?}; its steps are {steps}")]
    UnknownStep { step: String, steps: String },
    #[error("{step:?} is a finally step, which runs again anyway; name a step of the graph")]
    FinallyStep { step: String },
}

/// The steps whose recorded result a re-run from `from` keeps: every step of the graph that
/// succeeded in the original run and neither is `from` nor needs it, directly or through
/// others. The rest runs again (`finally` always). `phase_of` gives a step's phase in the
/// original run, by name.
pub fn reused_steps(
    graph: &StepGraph,
    from: &str,
    phase_of: impl Fn(&str) -> Option<RunPhase>,
) -> Result<Vec<usize>, RerunError> {
    let Some(start) = graph.position(from) else {
        let steps: Vec<&str> = graph.nodes().iter().map(|n| n.step.name.as_str()).collect();
        return Err(RerunError::UnknownStep {
            step: from.to_owned(),
            steps: steps.join(", "),
        });
    };
    if graph.is_finally(start) {
        return Err(RerunError::FinallyStep {
            step: from.to_owned(),
        });
    }
    // Everything downstream of `from`: in the graph's order a step comes after its needs.
    let mut again = vec![false; graph.nodes().len()];
    again[start] = true;
    for &i in graph.order() {
        if graph.nodes()[i].needs.iter().any(|&n| again[n]) {
            again[i] = true;
        }
    }
    Ok((0..graph.graph_len())
        .filter(|&i| !again[i])
        .filter(|&i| phase_of(&graph.nodes()[i].step.name) == Some(RunPhase::Succeeded))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_api::{ActionDefinition, Step};

    fn graph() -> StepGraph {
        let step = |name: &str, needs: &[&str]| Step {
            name: name.into(),
            command: vec!["true".into()],
            needs: needs.iter().map(|n| (*n).to_owned()).collect(),
            ..Step::default()
        };
        StepGraph::new(&ActionDefinition {
            steps: vec![
                step("build", &[]),
                step("test", &["build"]),
                step("lint", &["build"]),
                step("deploy", &["test", "lint"]),
                step("docs", &[]),
            ],
            finally: vec![step("report", &[])],
            ..ActionDefinition::default()
        })
        .unwrap()
    }

    #[test]
    fn steps_before_the_named_one_that_succeeded_are_kept() {
        let g = graph();
        let phase = |name: &str| {
            Some(match name {
                "lint" => RunPhase::Failed,
                "deploy" => RunPhase::Skipped,
                _ => RunPhase::Succeeded,
            })
        };
        let names = |v: Vec<usize>| -> Vec<String> {
            v.into_iter()
                .map(|i| g.nodes()[i].step.name.clone())
                .collect()
        };
        // From lint: build, test and docs are kept; lint, deploy and report run again.
        assert_eq!(
            names(reused_steps(&g, "lint", phase).unwrap()),
            ["build", "test", "docs"]
        );
        // From build: only docs, which does not need it.
        assert_eq!(names(reused_steps(&g, "build", phase).unwrap()), ["docs"]);
        // A step that did not succeed runs again even when it is not downstream.
        let failed_docs = |name: &str| {
            Some(if name == "docs" {
                RunPhase::Failed
            } else {
                RunPhase::Succeeded
            })
        };
        assert_eq!(
            names(reused_steps(&g, "deploy", failed_docs).unwrap()),
            ["build", "test", "lint"]
        );
    }

    #[test]
    fn unknown_and_finally_steps_are_refused() {
        let g = graph();
        let e = reused_steps(&g, "nope", |_| None).unwrap_err();
        assert!(
            e.to_string()
                .contains("build, test, lint, deploy, docs, report"),
            "{e}"
        );
        assert!(matches!(
            reused_steps(&g, "report", |_| None),
            Err(RerunError::FinallyStep { .. })
        ));
    }
}
