//! Traces in cluster mode, on a real control plane: the operator runs in this process under a
//! subscriber with an OpenTelemetry layer whose spans the test keeps. A schedule tick's trace
//! reaches the Run as its `herald.dev/traceparent` (the `create_run` span), the Run
//! controller's passes continue it, and the Job's containers get it as `TRACEPARENT`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};

use herald_testkit::wait_for;
use k8s_openapi::api::batch::v1::Job;
use opentelemetry::trace::TracerProvider;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use support::{Operator, TIMEOUT, TestRepo, namespace, schedule_setup, wait_for_run};

/// Keeps every span ended, in memory.
#[derive(Debug, Clone, Default)]
struct Kept(Arc<Mutex<Vec<SpanData>>>);

impl SpanExporter for Kept {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.lock().unwrap().extend(batch);
        Ok(())
    }
}

impl Kept {
    /// The first span named `name` that `pick` accepts.
    fn find(&self, name: &str, pick: impl Fn(&SpanData) -> bool) -> Option<SpanData> {
        let spans = self.0.lock().unwrap();
        spans.iter().find(|s| s.name == name && pick(s)).cloned()
    }
}

/// This process's subscriber: Herald's spans to `kept`, as `herald_telemetry::init` sets it up
/// with an exporter.
fn trace_into(kept: &Kept) -> SdkTracerProvider {
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(kept.clone())
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test"));
    tracing_subscriber::registry().with(layer).init();
    provider
}

#[tokio::test]
async fn a_runs_trace_reaches_its_jobs_and_its_controller() {
    let kept = Kept::default();
    let _provider = trace_into(&kept);
    let ns = namespace("traces").await;
    let repo = TestRepo::new();
    let operator = Operator::start(&ns.client, &ns.name, "a").await;
    schedule_setup(&ns, &repo.url()).await;
    let head = repo.git(&["rev-parse", "HEAD"]);
    let run = wait_for_run(&ns, &head).await;
    let name = run.metadata.name.clone().unwrap();
    let annotations = run.metadata.annotations.clone().unwrap_or_default();
    let traceparent = annotations
        .get("herald.dev/traceparent")
        .unwrap_or_else(|| panic!("no traceparent: {annotations:?}"))
        .clone();
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent}");
    let (trace_id, span_id) = (parts[1].to_owned(), parts[2].to_owned());

    // The annotation names the engine's create_run span, under fire, under the tick (a root).
    let create = kept
        .find("create_run", |s| {
            s.span_context.span_id().to_string() == span_id
        })
        .expect("the create_run span the annotation names");
    assert_eq!(create.span_context.trace_id().to_string(), trace_id);
    let fire = kept
        .find("fire", |s| {
            s.span_context.span_id() == create.parent_span_id
        })
        .expect("create_run's parent is fire");
    let tick = kept
        .find("tick", |s| s.span_context.span_id() == fire.parent_span_id)
        .expect("fire's parent is the tick");
    assert_eq!(tick.parent_span_id, opentelemetry::trace::SpanId::INVALID);

    // Each container of the Run's Job has it as TRACEPARENT.
    let job: Job = wait_for(&format!("Job {name}"), TIMEOUT, || async {
        ns.api::<Job>().get(&name).await.ok()
    })
    .await
    .unwrap();
    let pod = job.spec.unwrap().template.spec.unwrap();
    let containers = pod
        .init_containers
        .unwrap()
        .into_iter()
        .chain(pod.containers);
    for container in containers {
        let env = container.env.unwrap_or_default();
        let value = env.iter().find(|e| e.name == "TRACEPARENT");
        assert_eq!(
            value.and_then(|e| e.value.as_deref()),
            Some(traceparent.as_str()),
            "container {}",
            container.name
        );
    }

    // The pass that created the Job is a child of create_run, in the same trace.
    wait_for("a reconcile_run span under create_run", TIMEOUT, || async {
        kept.find("reconcile_run", |s| {
            s.parent_span_id.to_string() == span_id
                && s.span_context.trace_id().to_string() == trace_id
        })
    })
    .await
    .unwrap();
    operator.stop().await;
}
