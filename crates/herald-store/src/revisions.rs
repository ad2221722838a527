//! What the store knows of one revision: when it was detected, the hook deliveries that carried
//! it, the runs made for it, and what Flux reported about it.

use crate::Store;
use crate::error::StoreError;
use crate::events::{EventKind, EventQuery, EventRecord};
use crate::revision::canonical;
use crate::rows;
use crate::types::RunRecord;

/// The `runs` columns a [`RunRecord`] is read from (as in `runs.rs`; `output` is left out, it
/// can be 64 KiB per run).
const RUN_COLUMNS: &str = "id, name, namespace, trigger_kind, trigger_name, source_kind, \
     source_name, git_ref, revision, action_kind, action_name, cause, phase, created_at, \
     started_at, finished_at, exit_code, message";

/// Everything known of one revision, each list newest first and at most
/// [`RevisionSummary::LIMIT`] long.
#[derive(Debug, Clone, PartialEq)]
pub struct RevisionSummary {
    /// The revision as stored and matched: the bare lower-case SHA-1 when it holds one.
    pub revision: String,
    /// `revision.detected` events.
    pub detected: Vec<EventRecord>,
    /// `hook.delivery` events.
    pub deliveries: Vec<EventRecord>,
    /// Runs made for the revision.
    pub runs: Vec<RunRecord>,
    /// `flux.event` events.
    pub flux: Vec<EventRecord>,
}

impl RevisionSummary {
    /// The longest list a summary holds (the newest entries are kept).
    pub const LIMIT: u32 = EventQuery::MAX_LIMIT;
}

impl Store {
    /// What is known of `revision`, given in any form
    /// [`normalize_revision`](crate::normalize_revision) knows. An unknown revision has empty
    /// lists: it may simply not have been seen yet.
    pub async fn revision_summary(&self, revision: &str) -> Result<RevisionSummary, StoreError> {
        let wanted = canonical(revision);
        let events = |kind| EventQuery {
            kind: Some(kind),
            revision: Some(wanted.clone()),
            limit: Some(RevisionSummary::LIMIT),
            ..EventQuery::default()
        };
        let queries = [
            EventKind::RevisionDetected,
            EventKind::HookDelivery,
            EventKind::FluxEvent,
        ]
        .map(events);
        let [detected, deliveries, flux] = &queries;
        let (detected, deliveries, flux, runs) = tokio::try_join!(
            self.query_events(detected),
            self.query_events(deliveries),
            self.query_events(flux),
            self.runs_for(revision, &wanted),
        )?;
        Ok(RevisionSummary {
            revision: wanted,
            detected: detected.events,
            deliveries: deliveries.events,
            runs,
            flux: flux.events,
        })
    }

    /// Runs whose revision is `wanted` (canonical) or `given` as typed: runs keep the revision
    /// as their trigger resolved it, which is a bare SHA-1 in both modes.
    async fn runs_for(&self, given: &str, wanted: &str) -> Result<Vec<RunRecord>, StoreError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE revision IN ($1, $2) ORDER BY id DESC LIMIT $3"
        );
        let found = sqlx::query(&sql)
            .bind(wanted)
            .bind(given.trim())
            .bind(i64::from(RevisionSummary::LIMIT))
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query("listing the runs of a revision"))?;
        found.iter().map(rows::run_record).collect()
    }
}
