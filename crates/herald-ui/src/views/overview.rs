//! The Overview page: every trigger with its last check, next due time and last run, every
//! source with its readiness, failures first.

use std::collections::HashMap;

use herald_api::RunPhase;
use herald_store::RunRecord;
use jiff::Timestamp;

use super::runs::RunRow;
use super::{encode, query};
use crate::board::{SourceRow, TriggerRow};
use crate::time::When;

#[derive(Debug, Clone, PartialEq)]
pub struct OverviewPage {
    pub triggers: Vec<TriggerLine>,
    pub sources: Vec<SourceLine>,
    /// The newest failed runs.
    pub failures: Vec<RunRow>,
    pub failing_triggers: usize,
    pub sources_not_ready: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TriggerLine {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub runs_href: String,
    pub fires: String,
    pub sources: String,
    pub suspended: bool,
    pub last_checked: Option<When>,
    pub next_due: Option<When>,
    pub last_run: Option<RunRow>,
    /// Its last run failed or timed out.
    pub failing: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SourceLine {
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub runs_href: String,
    pub url: String,
    pub ready: bool,
    pub message: String,
}

impl OverviewPage {
    pub fn new(
        triggers: &[TriggerRow],
        sources: &[SourceRow],
        latest: &[RunRecord],
        failures: &[RunRecord],
        now: Timestamp,
    ) -> Self {
        let last: HashMap<(&str, &str), &RunRecord> = (latest.iter())
            .map(|r| ((r.namespace.as_str(), r.trigger.as_str()), r))
            .collect();
        let mut triggers: Vec<TriggerLine> = (triggers.iter())
            .map(|t| TriggerLine::new(t, last.get(&(t.namespace.as_str(), t.name.as_str())), now))
            .collect();
        // Failing first; otherwise the order given (namespace, then name).
        triggers.sort_by_key(|t| !t.failing);
        let mut sources: Vec<SourceLine> = sources.iter().map(SourceLine::new).collect();
        sources.sort_by_key(|s| s.ready);
        Self {
            failing_triggers: triggers.iter().filter(|t| t.failing).count(),
            sources_not_ready: sources.iter().filter(|s| !s.ready).count(),
            triggers,
            sources,
            failures: failures.iter().map(|r| RunRow::new(r, now)).collect(),
        }
    }
}

impl TriggerLine {
    fn new(trigger: &TriggerRow, last_run: Option<&&RunRecord>, now: Timestamp) -> Self {
        let failing =
            last_run.is_some_and(|r| matches!(r.phase, RunPhase::Failed | RunPhase::TimedOut));
        Self {
            kind: trigger.kind.to_string(),
            namespace: trigger.namespace.clone(),
            name: trigger.name.clone(),
            runs_href: format!(
                "/ui/runs{}",
                query(&[
                    ("namespace", Some(&trigger.namespace)),
                    ("trigger", Some(&trigger.name))
                ])
            ),
            fires: trigger.fires.clone(),
            sources: trigger.sources.join(", "),
            suspended: trigger.suspended,
            last_checked: trigger.last_checked.map(|t| When::new(t, now)),
            next_due: trigger.next_due.map(|t| When::new(t, now)),
            last_run: last_run.map(|r| RunRow::new(r, now)),
            failing,
        }
    }
}

impl SourceLine {
    fn new(source: &SourceRow) -> Self {
        Self {
            kind: source.kind.to_string(),
            namespace: source.namespace.clone(),
            name: source.name.clone(),
            runs_href: format!("/ui/runs?source={}", encode(&source.name)),
            url: source.url.clone(),
            ready: source.ready,
            message: source.message.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use herald_api::{SourceKind, TriggerKind};

    use super::*;
    use crate::views::runs::tests::record;

    fn trigger(name: &str) -> TriggerRow {
        TriggerRow {
            kind: TriggerKind::WebhookTrigger,
            namespace: "default".into(),
            name: name.into(),
            fires: "hooks from github".into(),
            sources: vec!["repo".into()],
            suspended: false,
            last_checked: None,
            next_due: None,
        }
    }

    #[test]
    fn failing_triggers_and_sources_not_ready_come_first() {
        let now = Timestamp::from_second(2000).expect("in range");
        let mut failed = record("x-1", RunPhase::Failed);
        failed.trigger = "deploy".into();
        let mut fine = record("y-1", RunPhase::Succeeded);
        fine.trigger = "build".into();
        let sources = [
            SourceRow {
                kind: SourceKind::GitRepo,
                namespace: "default".into(),
                name: "fine".into(),
                url: "https://git.example/fine.git".into(),
                ready: true,
                message: String::new(),
            },
            SourceRow {
                kind: SourceKind::GitRepo,
                namespace: "default".into(),
                name: "gone".into(),
                url: "https://git.example/gone.git".into(),
                ready: false,
                message: "unreachable".into(),
            },
        ];
        let page = OverviewPage::new(
            &[trigger("build"), trigger("deploy"), trigger("idle")],
            &sources,
            &[failed.clone(), fine],
            &[failed],
            now,
        );
        let names: Vec<&str> = page.triggers.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["deploy", "build", "idle"]);
        assert_eq!(page.failing_triggers, 1);
        assert!(page.triggers[2].last_run.is_none());
        assert_eq!(
            page.triggers[0].runs_href,
            "/ui/runs?namespace=default&trigger=deploy"
        );
        assert_eq!(page.sources[0].name, "gone");
        assert_eq!(page.sources_not_ready, 1);
        assert_eq!(page.failures.len(), 1);
    }
}
