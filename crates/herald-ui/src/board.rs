//! What the dashboard reads that differs between the modes: the triggers and sources (a
//! manifest folder, or the cluster's caches) and the runs (the store's `runs` table, or Run
//! objects). Events and revisions come from the store in both modes.

use std::collections::BTreeMap;

use futures::future::BoxFuture;
use herald_api::{SourceKind, TriggerKind};
use herald_store::{RunDetail, RunFilter, RunRecord, StoreError};
use jiff::Timestamp;

/// Why the dashboard could not read what a page shows.
#[derive(Debug, thiserror::Error)]
pub enum BoardError {
    #[error("the store could not be read: {0}")]
    Store(#[from] StoreError),
}

/// One trigger as the overview lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerRow {
    pub kind: TriggerKind,
    pub namespace: String,
    pub name: String,
    /// How it fires: `every 5m`, `cron 0 * * * *`, `hooks from github`.
    pub fires: String,
    pub sources: Vec<String>,
    pub suspended: bool,
    /// When it last looked at its sources, if it has since this process started.
    pub last_checked: Option<Timestamp>,
    /// When it looks next (schedules only).
    pub next_due: Option<Timestamp>,
}

/// One source as the overview lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRow {
    pub kind: SourceKind,
    /// Empty for a cluster-scoped source.
    pub namespace: String,
    pub name: String,
    pub url: String,
    pub ready: bool,
    /// Why it is not ready, or what it last said.
    pub message: String,
}

/// A run with the shape of its action's steps, when the action is still known.
#[derive(Debug, Clone, PartialEq)]
pub struct RunView {
    pub detail: RunDetail,
    /// Each step's `needs`, by step name; `finally` steps are listed in `finally`.
    pub needs: BTreeMap<String, Vec<String>>,
    pub finally: Vec<String>,
}

impl RunView {
    /// `detail` with the shape of `action`'s steps, when the action is still known.
    pub fn new(detail: RunDetail, action: Option<&herald_api::ActionDefinition>) -> Self {
        let needs = (action.iter().flat_map(|a| a.steps.iter()))
            .map(|s| (s.name.clone(), s.needs.clone()))
            .collect();
        let finally = (action.iter().flat_map(|a| a.finally.iter()))
            .map(|s| s.name.clone())
            .collect();
        Self {
            detail,
            needs,
            finally,
        }
    }
}

/// The mode's side of the dashboard: one implementation per mode, read-only.
pub trait Board: Send + Sync + 'static {
    /// Every trigger, in namespace and name order.
    fn triggers(&self) -> BoxFuture<'_, Result<Vec<TriggerRow>, BoardError>>;
    /// Every source, in namespace and name order.
    fn sources(&self) -> BoxFuture<'_, Result<Vec<SourceRow>, BoardError>>;
    /// Runs matching `filter`, newest first.
    fn runs<'a>(
        &'a self,
        filter: &'a RunFilter,
    ) -> BoxFuture<'a, Result<Vec<RunRecord>, BoardError>>;
    /// The newest run of every trigger.
    fn latest_runs(&self) -> BoxFuture<'_, Result<Vec<RunRecord>, BoardError>>;
    /// One run by name.
    fn run<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<RunView>, BoardError>>;
}
