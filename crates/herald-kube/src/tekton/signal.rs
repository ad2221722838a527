//! What Flux says about a revision, from both signals: its events in the store, and the
//! status of its objects in the cluster.

use herald_core::flux::{FluxOutcome, Report, outcome};
use herald_store::{EventKind, EventQuery, Store};

use super::TaskContext;
use super::custom_run::WaitRequest;
use super::flux_status;

/// A [`Report`] that owns its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedReport {
    /// `Kind/namespace/name`.
    pub object: String,
    pub reason: String,
    pub severity: String,
    pub message: String,
}

impl OwnedReport {
    fn as_report(&self) -> Report<'_> {
        Report {
            object: &self.object,
            reason: &self.reason,
            severity: &self.severity,
            message: &self.message,
        }
    }
}

/// The outcome of `request` so far. A signal that cannot be read is logged and left out:
/// the run stays pending (and its timeout still applies) rather than failing on a blip.
pub async fn flux_outcome(ctx: &TaskContext, request: &WaitRequest) -> FluxOutcome {
    let mut reports = Vec::new();
    if let Some(store) = &ctx.operator.config.store {
        match stored_reports(store, request).await {
            Ok(found) => reports.extend(found),
            Err(e) => tracing::warn!(error = %e, "could not read Flux events from the store"),
        }
    }
    // Read after the events, so an object's current status is its newest word.
    let client = &ctx.operator.client;
    let scope = ctx.operator.config.watch_namespace.as_deref();
    let objects = match ctx.flux_kinds.served(client).await {
        Ok(kinds) => flux_status::reports(client, &kinds, request, scope).await,
        Err(e) => Err(e),
    };
    match objects {
        Ok(found) => reports.extend(found),
        Err(e) => tracing::warn!(error = %e, "could not read Flux objects"),
    }
    outcome(reports.iter().map(OwnedReport::as_report))
}

/// The newest Flux events stored for the request's revision (and object, when narrowed),
/// oldest first. One page of the newest is enough: only each object's newest decisive event
/// counts.
async fn stored_reports(
    store: &Store,
    request: &WaitRequest,
) -> Result<Vec<OwnedReport>, herald_store::StoreError> {
    let page = store
        .query_events(&EventQuery {
            kind: Some(EventKind::FluxEvent),
            revision: Some(request.revision.clone()),
            involved_kind: request.kind.clone(),
            involved_namespace: request.namespace.clone(),
            involved_name: request.name.clone(),
            limit: Some(EventQuery::MAX_LIMIT),
            ..EventQuery::default()
        })
        .await?;
    let reports = page.events.into_iter().rev().filter_map(|event| {
        Some(OwnedReport {
            object: format!(
                "{}/{}/{}",
                event.involved_kind.unwrap_or_default(),
                event.involved_namespace.unwrap_or_default(),
                event.involved_name.unwrap_or_default()
            ),
            reason: event.reason?,
            severity: event.severity.unwrap_or_default(),
            message: event.message.unwrap_or_default(),
        })
    });
    Ok(reports.collect())
}
