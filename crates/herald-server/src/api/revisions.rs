//! `GET /api/v1/revisions/{revision}`: what is known of one revision, and Flux's verdict on it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use herald_core::flux::{FluxOutcome, Report, outcome};
use herald_store::{EventRecord, RevisionSummary};
use serde_json::json;

use super::ApiState;
use super::json::{RunJson, store_failed};
use crate::router::error;

pub(crate) async fn show(State(api): State<ApiState>, Path(revision): Path<String>) -> Response {
    if revision.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "the revision is empty");
    }
    let summary = match api.store.revision_summary(&revision).await {
        Ok(summary) => summary,
        Err(e) => return store_failed("reading a revision", &e),
    };
    (StatusCode::OK, Json(body(&summary))).into_response()
}

/// The answer: an unknown revision has empty lists and a pending outcome, so a waiter can
/// poll before anything is known.
fn body(summary: &RevisionSummary) -> serde_json::Value {
    let runs: Vec<RunJson<'_>> = summary.runs.iter().map(RunJson::from).collect();
    let outcome = flux_outcome(&summary.flux);
    json!({
        "revision": summary.revision,
        // At the top, where a script looks first; `flux.outcome` says which object and why.
        "state": outcome.state(),
        "detected": summary.detected,
        "deliveries": summary.deliveries,
        "runs": runs,
        "flux": {
            "outcome": outcome,
            "events": summary.flux,
        },
    })
}

/// Flux's verdict from its events. They are judged in the order Flux reported them (its
/// timestamps, then arrival), not the order they arrived in: notification-controller retries
/// a failed delivery, so an old failure may arrive after a newer success.
pub fn flux_outcome(events: &[EventRecord]) -> FluxOutcome {
    let mut ordered: Vec<(&EventRecord, String)> = events.iter().map(|e| (e, object(e))).collect();
    ordered.sort_by_key(|(e, _)| (e.at, e.id));
    outcome(ordered.iter().map(|(e, object)| Report {
        object,
        reason: e.reason.as_deref().unwrap_or(""),
        severity: e.severity.as_deref().unwrap_or(""),
        message: e.message.as_deref().unwrap_or(""),
    }))
}

/// `Kind/namespace/name` of the object an event is about.
fn object(event: &EventRecord) -> String {
    let part = |p: &Option<String>| p.clone().unwrap_or_default();
    format!(
        "{}/{}/{}",
        part(&event.involved_kind),
        part(&event.involved_namespace),
        part(&event.involved_name)
    )
}

#[cfg(test)]
mod tests {
    use herald_store::EventKind;
    use jiff::Timestamp;

    use super::*;

    fn flux(id: i64, at: i64, reason: &str, severity: &str) -> EventRecord {
        EventRecord {
            id,
            at: Timestamp::from_second(at).expect("in range"),
            kind: EventKind::FluxEvent,
            namespace: None,
            trigger: None,
            source: None,
            revision: None,
            involved_kind: Some("Kustomization".into()),
            involved_namespace: Some("flux-system".into()),
            involved_name: Some("apps".into()),
            reason: Some(reason.into()),
            severity: Some(severity.into()),
            message: Some(format!("{reason} at {at}")),
            delivery_id: None,
            payload: None,
        }
    }

    #[test]
    fn flux_time_not_arrival_orders_the_verdicts() {
        // The success happened last but arrived first (newest first, as the store lists).
        let events = [
            flux(2, 100, "HealthCheckFailed", "error"),
            flux(1, 200, "ReconciliationSucceeded", "info"),
        ];
        let verdict = flux_outcome(&events);
        assert!(
            matches!(&verdict, FluxOutcome::Ready { object, .. }
                if object == "Kustomization/flux-system/apps"),
            "{verdict:?}"
        );
        let failed_later = [
            flux(2, 300, "HealthCheckFailed", "error"),
            flux(1, 200, "ReconciliationSucceeded", "info"),
        ];
        assert!(matches!(
            flux_outcome(&failed_later),
            FluxOutcome::Failed { .. }
        ));
        assert_eq!(flux_outcome(&[]), FluxOutcome::Pending);
    }
}
