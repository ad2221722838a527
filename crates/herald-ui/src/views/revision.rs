//! The Revision page: everything known of one commit, in the order it happened, and Flux's
//! verdict (the question `herald wait` answers).

use herald_store::{EventRecord, RevisionSummary, RunRecord};
use jiff::Timestamp;

use super::runs::RunRow;
use super::{encode, phase_class};
use crate::time::When;

#[derive(Debug, Clone, PartialEq)]
pub struct RevisionPage {
    pub revision: String,
    pub events_href: String,
    /// `pending`, `ready` or `failed`.
    pub state: &'static str,
    pub class: &'static str,
    pub verdict: String,
    pub steps: Vec<Stage>,
    pub runs: Vec<RunRow>,
}

/// One thing that happened to the revision.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    at: Timestamp,
    pub when: When,
    /// What kind of thing: `detected`, `delivered`, `run`, `flux`, `image update`.
    pub stage: &'static str,
    pub title: String,
    pub detail: String,
    pub class: &'static str,
    pub href: Option<String>,
}

impl RevisionPage {
    pub fn new(summary: &RevisionSummary, images: &[EventRecord], now: Timestamp) -> Self {
        let outcome = herald_server::api::flux_outcome(&summary.flux);
        let (class, verdict) = match &outcome {
            herald_core::flux::FluxOutcome::Pending => {
                ("wait", "Flux has not applied it yet".to_owned())
            }
            herald_core::flux::FluxOutcome::Ready { object, message } => {
                ("ok", format!("{object} is ready: {message}"))
            }
            herald_core::flux::FluxOutcome::Failed {
                object,
                reason,
                message,
            } => ("bad", format!("{object} failed ({reason}): {message}")),
        };
        let mut steps: Vec<Stage> = Vec::new();
        steps.extend(
            summary
                .detected
                .iter()
                .map(|e| event_stage(e, "detected", now)),
        );
        steps.extend(
            summary
                .deliveries
                .iter()
                .map(|e| event_stage(e, "delivered", now)),
        );
        steps.extend(summary.runs.iter().flat_map(|r| run_stages(r, now)));
        steps.extend(summary.flux.iter().map(|e| event_stage(e, "flux", now)));
        steps.extend(images.iter().map(|e| event_stage(e, "image update", now)));
        steps.sort_by_key(|s| s.at);
        Self {
            revision: summary.revision.clone(),
            events_href: format!("/ui/events?revision={}", encode(&summary.revision)),
            state: outcome.state(),
            class,
            verdict,
            steps,
            runs: summary.runs.iter().map(|r| RunRow::new(r, now)).collect(),
        }
    }
}

fn event_stage(event: &EventRecord, stage: &'static str, now: Timestamp) -> Stage {
    let object = super::event_subject(event, " ");
    let reason = event.reason.as_deref().unwrap_or("");
    let bad = event.severity.as_deref() == Some("error") || matches!(reason, "Failed" | "Rejected");
    Stage {
        at: event.at,
        when: When::new(event.at, now),
        stage,
        title: format!("{object} {reason}").trim().to_owned(),
        detail: event.message.clone().unwrap_or_default(),
        class: if bad { "bad" } else { "ok" },
        href: None,
    }
}

/// A run's creation, and its end when it has ended.
fn run_stages(run: &RunRecord, now: Timestamp) -> Vec<Stage> {
    let href = Some(format!("/ui/runs/{}", encode(&run.name)));
    let mut stages = vec![Stage {
        at: run.created_at,
        when: When::new(run.created_at, now),
        stage: "run",
        title: format!("run {} created by {}", run.name, run.trigger),
        detail: format!("{} {}", run.action_kind, run.action),
        class: "wait",
        href: href.clone(),
    }];
    if let Some(end) = run.finished_at {
        stages.push(Stage {
            at: end,
            when: When::new(end, now),
            stage: "run",
            title: format!("run {} {}", run.name, run.phase),
            detail: run.message.clone().unwrap_or_default(),
            class: phase_class(run.phase),
            href,
        });
    }
    stages
}

#[cfg(test)]
mod tests {
    use herald_api::RunPhase;
    use herald_store::EventKind;

    use super::*;
    use crate::views::runs::tests::record;

    fn event(id: i64, at: i64, kind: EventKind, reason: &str, severity: &str) -> EventRecord {
        EventRecord {
            id,
            at: Timestamp::from_second(at).expect("in range"),
            kind,
            namespace: Some("default".into()),
            trigger: Some("on push".into()),
            source: Some("repo".into()),
            revision: Some("0123".into()),
            involved_kind: (kind == EventKind::FluxEvent).then(|| "Kustomization".into()),
            involved_namespace: None,
            involved_name: (kind == EventKind::FluxEvent).then(|| "apps".into()),
            reason: Some(reason.into()),
            severity: Some(severity.into()),
            message: Some(format!("{reason} message")),
            delivery_id: None,
            payload: None,
        }
    }

    #[test]
    fn the_journey_is_in_time_order_and_ends_with_flux_verdict() {
        let summary = RevisionSummary {
            revision: "0123".into(),
            detected: vec![event(
                1,
                999,
                EventKind::RevisionDetected,
                "Detected",
                "info",
            )],
            deliveries: vec![event(2, 998, EventKind::HookDelivery, "Accepted", "info")],
            runs: vec![record("web-1", RunPhase::Succeeded)],
            flux: vec![event(
                3,
                1100,
                EventKind::FluxEvent,
                "ReconciliationSucceeded",
                "info",
            )],
        };
        let page = RevisionPage::new(
            &summary,
            &[],
            Timestamp::from_second(1200).expect("in range"),
        );
        let stages: Vec<&str> = page.steps.iter().map(|s| s.stage).collect();
        assert_eq!(stages, ["delivered", "detected", "run", "run", "flux"]);
        assert_eq!(page.state, "ready");
        assert_eq!(page.class, "ok");
        assert!(
            page.verdict.starts_with("Kustomization/"),
            "{}",
            page.verdict
        );
        assert_eq!(page.steps[3].class, "ok");
        assert_eq!(page.steps[3].href.as_deref(), Some("/ui/runs/web-1"));
    }
}
