//! Prometheus metrics, owned by whoever builds the server and handed to the loops that count.

use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HookLabels {
    pub status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RunLabels {
    pub trigger_kind: String,
    pub cause: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub kind: String,
    pub category: String,
}

/// Herald's counters. Cheap to clone; all clones count into one registry.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    /// `herald_hook_requests_total{status}`: hook requests by response status.
    pub hook_requests: Family<HookLabels, Counter>,
    /// `herald_runs_created_total{trigger_kind, cause}`.
    pub runs_created: Family<RunLabels, Counter>,
    /// `herald_reconcile_errors_total{kind, category}`.
    pub reconcile_errors: Family<ErrorLabels, Counter>,
    /// `herald_schedule_checks_total`: scheduled checks of a trigger's sources, in both modes.
    pub schedule_checks: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("herald");
        let hook_requests = Family::<HookLabels, Counter>::default();
        let runs_created = Family::<RunLabels, Counter>::default();
        let reconcile_errors = Family::<ErrorLabels, Counter>::default();
        let schedule_checks = Counter::default();
        registry.register(
            "hook_requests",
            "Hook requests by response status",
            hook_requests.clone(),
        );
        registry.register("runs_created", "Runs created", runs_created.clone());
        registry.register(
            "schedule_checks",
            "Scheduled checks of a trigger's sources",
            schedule_checks.clone(),
        );
        registry.register(
            "reconcile_errors",
            "Failed reconciles by kind and category",
            reconcile_errors.clone(),
        );
        Self {
            registry: Arc::new(registry),
            hook_requests,
            runs_created,
            reconcile_errors,
            schedule_checks,
        }
    }
}

impl Metrics {
    /// The metrics in Prometheus' text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// `GET /metrics`.
    pub fn router(&self) -> Router {
        let metrics = self.clone();
        Router::new().route(
            "/metrics",
            get(move || async move {
                let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, content_type)],
                    metrics.render(),
                )
                    .into_response()
            }),
        )
    }
}
