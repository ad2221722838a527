//! The Runs page: runs as rows, and the filters that chose them.

use herald_api::RunPhase;
use herald_store::RunRecord;
use jiff::Timestamp;

use super::{encode, phase_class, query, short};
use crate::time::{When, between};

/// One run in a list.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub name: String,
    pub href: String,
    pub namespace: String,
    pub trigger: String,
    pub trigger_href: String,
    pub source: String,
    pub source_href: String,
    pub revision: String,
    pub revision_short: String,
    pub revision_href: String,
    /// The branch or tag, without `refs/heads/` or `refs/tags/`.
    pub git_ref: String,
    pub phase: String,
    pub class: &'static str,
    pub created: When,
    pub duration: Option<String>,
    pub message: String,
}

impl RunRow {
    pub fn new(run: &RunRecord, now: Timestamp) -> Self {
        let git_ref = run.git_ref.as_deref().unwrap_or("");
        let git_ref = (git_ref.strip_prefix("refs/heads/"))
            .or_else(|| git_ref.strip_prefix("refs/tags/"))
            .unwrap_or(git_ref);
        Self {
            name: run.name.clone(),
            href: format!("/ui/runs/{}", encode(&run.name)),
            namespace: run.namespace.clone(),
            trigger: run.trigger.clone(),
            trigger_href: format!("/ui/runs{}", query(&[("trigger", Some(&run.trigger))])),
            source: run.source.clone(),
            source_href: format!("/ui/runs{}", query(&[("source", Some(&run.source))])),
            revision: run.revision.clone(),
            revision_short: short(&run.revision),
            revision_href: format!("/ui/revisions/{}", encode(&run.revision)),
            git_ref: git_ref.to_owned(),
            phase: run.phase.to_string(),
            class: phase_class(run.phase),
            created: When::new(run.created_at, now),
            duration: between(run.started_at, run.finished_at, now),
            message: run.message.clone().unwrap_or_default(),
        }
    }
}

/// What the Runs page was asked for: every filter is a query parameter, so a view is a link.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunsQuery {
    pub trigger: Option<String>,
    pub source: Option<String>,
    pub phase: Option<String>,
    pub namespace: Option<String>,
}

impl RunsQuery {
    /// The store filter, or why a parameter is wrong.
    pub fn filter(&self) -> Result<herald_store::RunFilter, String> {
        let phase = match self.phase.as_deref().filter(|p| !p.is_empty()) {
            None => None,
            Some(word) => Some(parse_phase(word)?),
        };
        let text = |v: &Option<String>| v.clone().filter(|v| !v.is_empty());
        Ok(herald_store::RunFilter {
            namespace: text(&self.namespace),
            trigger: text(&self.trigger),
            source: text(&self.source),
            phase,
            limit: Some(RUNS_SHOWN),
        })
    }
}

/// Runs one page lists.
pub const RUNS_SHOWN: u32 = 100;

/// Every phase, in the order the filter offers them.
pub const PHASES: [RunPhase; 7] = [
    RunPhase::Pending,
    RunPhase::Running,
    RunPhase::Succeeded,
    RunPhase::Failed,
    RunPhase::TimedOut,
    RunPhase::Cancelled,
    RunPhase::Skipped,
];

fn parse_phase(word: &str) -> Result<RunPhase, String> {
    (PHASES.into_iter())
        .find(|p| p.to_string().eq_ignore_ascii_case(word))
        .ok_or_else(|| {
            let known: Vec<String> = PHASES.iter().map(ToString::to_string).collect();
            format!("phase {word:?} is not one of {}", known.join(", "))
        })
}

#[cfg(test)]
pub(crate) mod tests {
    use herald_api::{ActionKind, RunCause, SourceKind, TriggerKind};

    use super::*;

    pub(crate) fn record(name: &str, phase: RunPhase) -> RunRecord {
        let at = |s| Timestamp::from_second(s).expect("in range");
        RunRecord {
            id: 1,
            name: name.into(),
            namespace: "default".into(),
            trigger_kind: TriggerKind::WebhookTrigger,
            trigger: "on push".into(),
            source_kind: SourceKind::GitRepo,
            source: "repo".into(),
            git_ref: Some("refs/heads/<b>main</b>".into()),
            revision: "0123456789abcdef0123456789abcdef01234567".into(),
            action_kind: ActionKind::Action,
            action: "build".into(),
            cause: RunCause::Change,
            phase,
            created_at: at(1000),
            started_at: Some(at(1001)),
            finished_at: phase.is_terminal().then(|| at(1031)),
            exit_code: None,
            message: Some("<script>alert(1)</script>".into()),
        }
    }

    #[test]
    fn a_row_links_its_run_trigger_source_and_revision() {
        let now = Timestamp::from_second(1100).expect("in range");
        let row = RunRow::new(&record("web-1", RunPhase::Succeeded), now);
        assert_eq!(row.href, "/ui/runs/web-1");
        assert_eq!(row.trigger_href, "/ui/runs?trigger=on+push");
        assert_eq!(row.source_href, "/ui/runs?source=repo");
        assert_eq!(row.revision_short, "0123456789ab");
        assert_eq!(
            row.git_ref, "<b>main</b>",
            "kept as text; the page escapes it"
        );
        assert_eq!(row.duration.as_deref(), Some("30 s"));
        assert_eq!(row.class, "ok");
        assert_eq!(row.created.relative, "1 min ago");
    }

    #[test]
    fn the_phase_filter_takes_any_case_and_names_the_choices() {
        let query = RunsQuery {
            phase: Some("failed".into()),
            trigger: Some(String::new()),
            ..RunsQuery::default()
        };
        let filter = query.filter().expect("valid");
        assert_eq!(filter.phase, Some(RunPhase::Failed));
        assert_eq!(filter.trigger, None, "an empty field is no filter");
        let bad = RunsQuery {
            phase: Some("done".into()),
            ..RunsQuery::default()
        };
        assert!(bad.filter().unwrap_err().contains("Succeeded"));
    }
}
