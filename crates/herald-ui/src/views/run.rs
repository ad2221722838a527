//! The Run page: the run, its steps as a graph and as cards, and its history as a timeline.

use herald_store::{StepRecord, Transition};
use jiff::Timestamp;

use super::graph::{Graph, Placed};
use super::runs::RunRow;
use super::{Folded, phase_class};
use crate::board::RunView;
use crate::time::{When, between};

#[derive(Debug, Clone, PartialEq)]
pub struct RunPage {
    pub run: RunRow,
    pub cause: String,
    pub action: String,
    pub trigger_kind: String,
    pub exit_code: Option<i32>,
    pub graph: Graph,
    pub steps: Vec<StepCard>,
    pub timeline: Vec<Moment>,
    pub output: Option<Folded>,
}

/// One step: its latest attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct StepCard {
    pub name: String,
    pub anchor: String,
    pub phase: String,
    pub class: &'static str,
    pub attempt: u32,
    pub duration: Option<String>,
    pub exit_code: Option<i32>,
    pub message: String,
    pub needs: Vec<String>,
    pub outputs: Vec<(String, String)>,
    pub output: Option<Folded>,
}

/// One transition in the history.
#[derive(Debug, Clone, PartialEq)]
pub struct Moment {
    pub when: When,
    /// `run`, or the step's name with its attempt (`test #2`).
    pub subject: String,
    pub phase: String,
    pub class: &'static str,
    pub reason: String,
    pub message: String,
}

impl RunPage {
    pub fn new(view: &RunView, now: Timestamp) -> Self {
        let detail = &view.detail;
        let placed: Vec<Placed<'_>> = (detail.steps.iter())
            .map(|s| Placed {
                name: &s.name,
                phase: s.phase.to_string(),
                class: phase_class(s.phase),
            })
            .collect();
        let steps: Vec<StepCard> = (detail.steps.iter())
            .map(|s| StepCard::new(s, view, now))
            .collect();
        // A one-step action's output is its step's: shown once.
        let output = (detail.output.as_deref())
            .filter(|o| !o.is_empty())
            .filter(|o| {
                !steps
                    .iter()
                    .any(|s| s.output.as_ref().is_some_and(|f| f.full == *o))
            })
            .map(Folded::new);
        Self {
            run: RunRow::new(&detail.run, now),
            cause: detail.run.cause.to_string(),
            action: format!("{} {}", detail.run.action_kind, detail.run.action),
            trigger_kind: detail.run.trigger_kind.to_string(),
            exit_code: detail.run.exit_code,
            graph: Graph::layout(&placed, &view.needs, &view.finally),
            steps,
            timeline: detail.history.iter().map(|t| Moment::new(t, now)).collect(),
            output,
        }
    }
}

impl StepCard {
    fn new(step: &StepRecord, view: &RunView, now: Timestamp) -> Self {
        Self {
            name: step.name.clone(),
            anchor: super::step_anchor(&step.name),
            phase: step.phase.to_string(),
            class: phase_class(step.phase),
            attempt: step.attempt,
            duration: between(step.started_at, step.finished_at, now),
            exit_code: step.exit_code,
            message: step.message.clone().unwrap_or_default(),
            needs: view.needs.get(&step.name).cloned().unwrap_or_default(),
            outputs: step.outputs.clone().into_iter().collect(),
            output: step
                .output
                .as_deref()
                .filter(|o| !o.is_empty())
                .map(Folded::new),
        }
    }
}

impl Moment {
    fn new(transition: &Transition, now: Timestamp) -> Self {
        let subject = match (&transition.step, transition.attempt) {
            (Some(step), Some(attempt)) if attempt > 1 => format!("{step} #{attempt}"),
            (Some(step), _) => step.clone(),
            (None, _) => "run".to_owned(),
        };
        Self {
            when: When::new(transition.at, now),
            subject,
            phase: transition.phase.to_string(),
            class: phase_class(transition.phase),
            reason: transition.reason.clone(),
            message: transition.message.clone().unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use herald_api::RunPhase;
    use herald_store::RunDetail;

    use super::*;
    use crate::views::runs::tests::record;

    fn step(name: &str, position: usize, phase: RunPhase) -> StepRecord {
        StepRecord {
            name: name.into(),
            position,
            phase,
            attempt: 1,
            reason: None,
            message: None,
            exit_code: Some(0),
            started_at: Some(Timestamp::from_second(1001).expect("in range")),
            finished_at: Some(Timestamp::from_second(1003).expect("in range")),
            outputs: BTreeMap::from([("image".to_owned(), "web:1.2".to_owned())]),
            output: Some("built\n".into()),
        }
    }

    #[test]
    fn the_page_shows_each_step_with_its_needs_outputs_and_history() {
        let at = |s| Timestamp::from_second(s).expect("in range");
        let detail = RunDetail {
            run: record("web-1", RunPhase::Failed),
            history: vec![Transition {
                step: Some("test".into()),
                attempt: Some(2),
                from: Some(RunPhase::Running),
                phase: RunPhase::Failed,
                at: at(1030),
                reason: "ExitCode".into(),
                message: Some("exit code 1".into()),
            }],
            steps: vec![
                step("build", 0, RunPhase::Succeeded),
                step("test", 1, RunPhase::Failed),
            ],
            output: None,
        };
        let view = RunView {
            detail,
            needs: BTreeMap::from([("test".to_owned(), vec!["build".to_owned()])]),
            finally: Vec::new(),
        };
        let page = RunPage::new(&view, at(1100));
        assert_eq!(page.steps[1].needs, ["build"]);
        assert_eq!(
            page.steps[0].outputs,
            [("image".to_owned(), "web:1.2".to_owned())]
        );
        assert_eq!(page.steps[0].duration.as_deref(), Some("2.0 s"));
        assert_eq!(page.graph.edges.len(), 1);
        assert_eq!(page.timeline[0].subject, "test #2");
        assert_eq!(page.timeline[0].class, "bad");
        assert_eq!(page.output, None);
    }
}
