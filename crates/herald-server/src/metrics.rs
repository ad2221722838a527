//! Prometheus metrics, owned by whoever builds the server and handed to the loops that count.
//! The same names in both modes; labels are bounded sets (a kind, a result word, a provider,
//! a status code), never a revision, a delivery id or an object's name.

use std::sync::Arc;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HookLabels {
    pub status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HookTimingLabels {
    /// The trigger's provider (`github`, `gitlab`, ...), `unknown` before it is known.
    pub provider: String,
    pub status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RunLabels {
    pub trigger_kind: String,
    pub cause: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TriggerKindLabels {
    pub trigger_kind: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub kind: String,
    pub category: String,
}

/// A bounded outcome word: `created`, `existing`, `skipped`, `failed`; `sent`, `failed`; a
/// reason constant of `herald_api::reasons`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub result: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabels {
    /// The run's terminal phase (`Succeeded`, `Failed`, ...).
    pub phase: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// Buckets from 1 ms to about 65 s: checks, hooks, reconciles and store writes.
fn latency() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// Buckets from 1 s to about 4.5 hours: runs.
fn long() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 15))
}

/// Herald's metrics. Cheap to clone; all clones count into one registry.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    /// `herald_hook_requests_total{status}`: hook requests by response status.
    pub hook_requests: Family<HookLabels, Counter>,
    /// `herald_hook_request_duration_seconds{provider, status}`.
    pub hook_duration: Histograms<HookTimingLabels>,
    /// `herald_runs_created_total{trigger_kind, cause}`.
    pub runs_created: Family<RunLabels, Counter>,
    /// `herald_change_to_run_seconds{trigger_kind}`: from the start of the hook handling or
    /// check that saw a change to its run stored (a Run object created, in a cluster).
    pub change_to_run: Histograms<TriggerKindLabels>,
    /// `herald_runs_queued`: runs waiting for a run of their action to end (`concurrency`).
    pub runs_queued: Gauge,
    /// `herald_run_duration_seconds{phase}`: from a run's creation to its end.
    pub run_duration: Histograms<PhaseLabels>,
    /// `herald_run_start_latency_seconds`: from a run's creation to its start (its first Job
    /// created, or its first process started), queueing for `concurrency` included.
    pub run_start_latency: Histogram,
    /// `herald_reconcile_errors_total{kind, category}`.
    pub reconcile_errors: Family<ErrorLabels, Counter>,
    /// `herald_reconcile_duration_seconds{kind}` (cluster mode's controllers).
    pub reconcile_duration: Histograms<KindLabels>,
    /// `herald_schedule_checks_total`: scheduled checks of a trigger's sources, in both modes.
    pub schedule_checks: Counter,
    /// `herald_schedule_lag_seconds`: how late a scheduled check started against its due time.
    pub schedule_lag: Histogram,
    /// `herald_source_checks_total{result}`: one source of one trigger looked at
    /// (`created`, `existing`, `skipped`, `failed`).
    pub source_checks: Family<ResultLabels, Counter>,
    /// `herald_source_check_duration_seconds`: listing, deciding and storing, per source.
    pub source_check_duration: Histogram,
    /// `herald_image_updates_total{result}`: image update attempts by reason (`Updated`,
    /// `UpToDate`, `WaitingForImage`, ...).
    pub image_updates: Family<ResultLabels, Counter>,
    /// `herald_notifications_total{result}`: notifications `sent` or `failed`.
    pub notifications: Family<ResultLabels, Counter>,
    /// `herald_git_listings_waiting`: ref listings waiting for one of the `--git-concurrency`
    /// slots.
    pub git_listings_waiting: Gauge,
    /// `herald_notifications_pending`: Notifiers' notifications waiting in the outbox (due
    /// now, retrying, or ending a fold window), as the notifier last counted them.
    pub notifications_pending: Gauge,
    /// `herald_leader`: 1 while this process does the scheduling (always in local mode).
    pub leader: Gauge,
    /// `herald_store_write_duration_seconds`: one transaction of events (group commit).
    pub store_write_duration: Histogram,
    /// `herald_store_write_batch_events`: the events one transaction took.
    pub store_write_batch: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("herald");
        let metrics = Self {
            registry: Arc::default(),
            hook_requests: Family::default(),
            hook_duration: Family::new_with_constructor(latency),
            runs_created: Family::default(),
            change_to_run: Family::new_with_constructor(latency),
            runs_queued: Gauge::default(),
            run_duration: Family::new_with_constructor(long),
            run_start_latency: latency(),
            reconcile_errors: Family::default(),
            reconcile_duration: Family::new_with_constructor(latency),
            schedule_checks: Counter::default(),
            schedule_lag: latency(),
            source_checks: Family::default(),
            source_check_duration: latency(),
            image_updates: Family::default(),
            notifications: Family::default(),
            leader: Gauge::default(),
            notifications_pending: Gauge::default(),
            git_listings_waiting: Gauge::default(),
            store_write_duration: latency(),
            store_write_batch: Histogram::new(exponential_buckets(1.0, 2.0, 11)),
        };
        metrics.register(&mut registry);
        Self {
            registry: Arc::new(registry),
            ..metrics
        }
    }
}

/// The store reports every transaction of events it commits.
impl herald_store::WriteObserver for Metrics {
    fn batch_written(&self, events: usize, seconds: f64) {
        self.store_write_duration.observe(seconds);
        self.store_write_batch.observe(events as f64);
    }
}

impl Metrics {
    /// Every family with its help text: the list the README documents and a test holds.
    fn register(&self, registry: &mut Registry) {
        let r = registry;
        r.register(
            "hook_requests",
            "Hook requests by response status",
            self.hook_requests.clone(),
        );
        r.register(
            "hook_request_duration_seconds",
            "Time to answer a hook request, by provider and status",
            self.hook_duration.clone(),
        );
        r.register("runs_created", "Runs created", self.runs_created.clone());
        r.register(
            "change_to_run_seconds",
            "From the start of the hook handling or check that saw a change to its run stored",
            self.change_to_run.clone(),
        );
        r.register(
            "runs_queued",
            "Runs waiting for a run of their action to end (concurrency)",
            self.runs_queued.clone(),
        );
        r.register(
            "run_duration_seconds",
            "Runs from creation to their end, by terminal phase",
            self.run_duration.clone(),
        );
        r.register(
            "run_start_latency_seconds",
            "Runs from creation to start: the first Job created, or the first process started",
            self.run_start_latency.clone(),
        );
        r.register(
            "reconcile_errors",
            "Failed reconciles by kind and category",
            self.reconcile_errors.clone(),
        );
        r.register(
            "reconcile_duration_seconds",
            "Time a controller took to reconcile one object, by kind",
            self.reconcile_duration.clone(),
        );
        r.register(
            "schedule_checks",
            "Scheduled checks of a trigger's sources",
            self.schedule_checks.clone(),
        );
        r.register(
            "schedule_lag_seconds",
            "How late a scheduled check started against its due time",
            self.schedule_lag.clone(),
        );
        r.register(
            "source_checks",
            "Sources of a trigger looked at, by result",
            self.source_checks.clone(),
        );
        r.register(
            "source_check_duration_seconds",
            "Time to look at one source of a trigger: list, decide, store",
            self.source_check_duration.clone(),
        );
        r.register(
            "image_updates",
            "Image update attempts by reason",
            self.image_updates.clone(),
        );
        r.register(
            "notifications",
            "Notifications by result",
            self.notifications.clone(),
        );
        r.register(
            "store_write_duration_seconds",
            "Time to commit one transaction of events",
            self.store_write_duration.clone(),
        );
        r.register(
            "store_write_batch_events",
            "Events one transaction took (group commit)",
            self.store_write_batch.clone(),
        );
        r.register(
            "leader",
            "1 while this process does the scheduling",
            self.leader.clone(),
        );
        r.register(
            "git_listings_waiting",
            "Ref listings waiting for a --git-concurrency slot",
            self.git_listings_waiting.clone(),
        );
        r.register(
            "notifications_pending",
            "Notifiers' notifications waiting in the outbox",
            self.notifications_pending.clone(),
        );
    }

    /// Count one outcome word in `family`.
    pub fn count(family: &Family<ResultLabels, Counter>, result: &str) {
        family
            .get_or_create(&ResultLabels {
                result: result.to_owned(),
            })
            .inc();
    }

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
