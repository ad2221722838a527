//! Traces and logs of the real `herald local` binary: a signed hook delivery runs an action,
//! and an OTLP receiver started here (HTTP/protobuf or gRPC, decoding the real protobuf)
//! gets one trace from the delivery to the step's store writes, whose step context the
//! action's process finds in `TRACEPARENT`. Without the OpenTelemetry variables nothing is
//! exported and `TRACEPARENT` is not set. JSON log lines carry `run`, `trace_id` and
//! `span_id`, and no secret Herald was given appears in the log or the answers.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message;
use serde_json::{Value, json};

use support::{DEADLINE, answer, free_port, git, hmac_hex, scratch, spawn_local_with, wait_ready};

const HOOK_SECRET: &str = "hook-secret-5f1e9c0a77";
const GIT_TOKEN: &str = "git-token-0c94b1e2d3";
const STEP_TOKEN: &str = "step-token-8a2d4e6f10";

/// One span as the receiver decoded it.
#[derive(Debug, Clone)]
struct Span {
    service: String,
    trace_id: String,
    span_id: String,
    parent: String,
    name: String,
    attributes: HashMap<String, String>,
}

/// What the receiver has been sent, whatever the protocol.
#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<Span>>>);

impl Received {
    fn take(&self, request: ExportTraceServiceRequest) {
        let mut spans = self.0.lock().unwrap();
        for resource in request.resource_spans {
            let attributes = resource.resource.map(|r| r.attributes).unwrap_or_default();
            let service = (attributes.iter())
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| text(kv.value.as_ref()?.value.as_ref()?))
                .unwrap_or_default();
            for scope in resource.scope_spans {
                for span in scope.spans {
                    let attributes = (span.attributes.iter())
                        .filter_map(|kv| {
                            let value = text(kv.value.as_ref()?.value.as_ref()?)?;
                            Some((kv.key.clone(), value))
                        })
                        .collect();
                    spans.push(Span {
                        service: service.clone(),
                        trace_id: hex::encode(&span.trace_id),
                        span_id: hex::encode(&span.span_id),
                        parent: hex::encode(&span.parent_span_id),
                        name: span.name,
                        attributes,
                    });
                }
            }
        }
    }

    fn spans(&self) -> Vec<Span> {
        self.0.lock().unwrap().clone()
    }
}

fn text(value: &AnyValue) -> Option<String> {
    match value {
        AnyValue::StringValue(s) => Some(s.clone()),
        AnyValue::IntValue(i) => Some(i.to_string()),
        AnyValue::BoolValue(b) => Some(b.to_string()),
        AnyValue::DoubleValue(d) => Some(d.to_string()),
        _ => None,
    }
}

#[tonic::async_trait]
impl TraceService for Received {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.take(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// An OTLP/HTTP receiver (`POST /v1/traces`, protobuf) on a loopback port: its base URL.
async fn http_receiver(received: Received) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(|body: axum::body::Bytes| async move {
            let request = ExportTraceServiceRequest::decode(body).unwrap();
            received.take(request);
            let answer = ExportTraceServiceResponse::default().encode_to_vec();
            ([("content-type", "application/x-protobuf")], answer)
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// An OTLP/gRPC receiver on a loopback port: its URL.
async fn grpc_receiver(received: Received) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(received))
            .serve_with_incoming(incoming)
            .await
            .unwrap();
    });
    url
}

/// `herald local` with one webhook trigger whose action writes `$TRACEPARENT` (or `unset`)
/// to a file, its Git source read with a token and its step given a secret.
struct Herald {
    url: String,
    dir: PathBuf,
    log: PathBuf,
    head: String,
    child: Child,
}

impl Herald {
    async fn start(name: &str, env: &[(&str, Option<&str>)]) -> Self {
        let dir = scratch(name);
        let repo = dir.join("repo");
        std::fs::create_dir(&repo).unwrap();
        git(&repo, &["init", "-q", "-b", "main"]);
        git(&repo, &["commit", "-q", "--allow-empty", "-m", "first"]);
        let head = git(&repo, &["rev-parse", "HEAD"]);
        // Served over HTTP (`git http-backend`): a `file://` source takes no credentials.
        let served = dir.join("served");
        std::fs::create_dir(&served).unwrap();
        git(&served, &["clone", "-q", "--bare", "../repo", "app.git"]);
        let server =
            herald_testkit::git_http::HttpBackend::start(&served, true).expect("git http-backend");
        let seen = dir.join("traceparent");
        let manifests = format!(
            r#"apiVersion: herald.dev/v1alpha1
kind: GitRepo
metadata: {{name: app}}
spec:
  repoUri: "{url}"
  auth: {{type: token, secretRef: {{name: git-creds}}}}
---
apiVersion: v1
kind: Secret
metadata: {{name: git-creds}}
stringData: {{token: "{GIT_TOKEN}"}}
---
apiVersion: v1
kind: Secret
metadata: {{name: step-creds}}
stringData: {{token: "{STEP_TOKEN}"}}
---
apiVersion: v1
kind: Secret
metadata: {{name: hook}}
stringData: {{token: "{HOOK_SECRET}"}}
---
apiVersion: herald.dev/v1alpha1
kind: Action
metadata: {{name: act}}
spec:
  actionJob:
    command: [sh, -c, 'test -n "$TOKEN" && printf %s "${{TRACEPARENT-unset}}" > "{seen}"']
    env:
    - name: TOKEN
      valueFrom: {{secretKeyRef: {{name: step-creds, key: token}}}}
---
apiVersion: herald.dev/v1alpha1
kind: Action
metadata: {{name: tick-act}}
spec:
  actionJob:
    command: [sh, -c, 'printf %s "${{TRACEPARENT-unset}}" > "{seen}.tick"']
---
apiVersion: herald.dev/v1alpha1
kind: ScheduleTrigger
metadata: {{name: ticking}}
spec:
  sources: {{kind: GitRepo, names: [app], watchOn: {{reference: {{branch: main}}}}}}
  schedule: {{interval: 1h}}
  action: {{kind: Action, name: tick-act}}
---
apiVersion: herald.dev/v1alpha1
kind: WebhookTrigger
metadata: {{name: traced}}
spec:
  sources: {{kind: GitRepo, names: [app], watchOn: {{reference: {{branch: main}}}}}}
  webhook: {{provider: github, authConfig: {{secretRef: {{name: hook}}}}}}
  action: {{kind: Action, name: act}}
"#,
            url = server.url("app.git"),
            seen = seen.display(),
        );
        std::fs::write(dir.join("manifests/herald.yaml"), manifests).unwrap();
        let port = free_port();
        let log = dir.join("herald.log");
        let db = dir.join("state/herald.db");
        let extra = ["--log-format", "json"];
        let child = spawn_local_with(&dir.join("manifests"), &db, port, &log, &extra, env);
        let herald = Self {
            url: format!("http://127.0.0.1:{port}"),
            dir,
            log,
            head,
            child,
        };
        wait_ready(&herald.url).await;
        herald
    }

    /// A signed push of `main` at its head; the answer's status and body.
    async fn deliver(&self) -> (u16, Value) {
        let body = serde_json::to_vec(&json!({
            "ref": "refs/heads/main", "before": "1".repeat(40), "after": self.head,
            "created": false, "deleted": false, "forced": false,
            "repository": {"full_name": "acme/app", "clone_url": "https://example.com/acme/app.git"},
            "commits": [], "head_commit": {"id": self.head}
        }))
        .unwrap();
        let signature = format!("sha256={}", hmac_hex(HOOK_SECRET.as_bytes(), &body));
        let response = reqwest::Client::new()
            .post(format!("{}/hooks/default/traced", self.url))
            .header("content-type", "application/json")
            .header("x-github-event", "push")
            .header("x-github-delivery", "delivery-traced-1")
            .header("x-hub-signature-256", signature)
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, _, body) = answer(response).await;
        (status, body)
    }

    /// Waits until the log says the run `name` finished, and returns its phase.
    async fn finished(&self, name: &str) -> String {
        wait_for("the run to finish", || {
            self.log_lines().into_iter().find_map(|line| {
                (line["fields"]["message"] == "run finished" && line["run"] == name)
                    .then(|| line["fields"]["phase"].as_str().unwrap().to_owned())
            })
        })
        .await
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }

    /// The log's lines, each JSON.
    fn log_lines(&self) -> Vec<Value> {
        (self.log().lines())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }

    /// What the action wrote: `$TRACEPARENT`, or `unset`.
    fn traceparent_seen(&self) -> String {
        std::fs::read_to_string(self.dir.join("traceparent")).unwrap()
    }

    /// Stops Herald (SIGTERM, as the pipe closes) and waits for it: the log is complete.
    fn stop(&mut self) {
        drop(self.child.stdin.take());
        self.child.wait().unwrap();
    }
}

/// Polls `check` until it gives a value, failing after [`DEADLINE`].
async fn wait_for<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(started.elapsed() < DEADLINE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The variables that turn traces on towards `endpoint` with `protocol`, exporting every
/// 100 ms so the test need not wait for the default 5 s.
fn otel_env<'a>(endpoint: &'a str, protocol: &'a str) -> Vec<(&'a str, Option<&'a str>)> {
    vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", Some(endpoint)),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", Some(protocol)),
        ("OTEL_SERVICE_NAME", Some("herald-test")),
        ("OTEL_BSP_SCHEDULE_DELAY", Some("100")),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None),
        ("TRACEPARENT", None),
    ]
}

/// Delivers a hook, waits for its run to succeed and for its spans, and checks the trace:
/// one trace id from the hook (its root) through the decision, the run's creation, the run
/// and its step to the step's store writes, and `TRACEPARENT` naming the step's span.
async fn one_trace(herald: &Herald, received: &Received) {
    let (status, body) = herald.deliver().await;
    assert_eq!(status, 202, "{body}");
    let run = body["runs"][0]["name"].as_str().unwrap().to_owned();
    assert_eq!(herald.finished(&run).await, "Succeeded", "{}", herald.log());
    let named = |spans: &[Span], name: &str| spans.iter().find(|s| s.name == name).cloned();
    // A run's span ends after its steps' and store writes', and is exported after them.
    let ended = |spans: &[Span], run: &str| {
        (spans.iter()).any(|s| s.name == "run" && s.attributes.get("run").is_some_and(|r| r == run))
    };
    let spans = wait_for("the run's spans", || {
        let spans = received.spans();
        let done = named(&spans, "hook").is_some() && ended(&spans, &run);
        done.then_some(spans)
    })
    .await;
    let one = |name: &str| named(&spans, name).unwrap_or_else(|| panic!("no {name}: {spans:#?}"));
    let child_of = |name: &str, parent: &Span| {
        let found = spans
            .iter()
            .find(|s| s.name == name && s.parent == parent.span_id);
        found
            .cloned()
            .unwrap_or_else(|| panic!("no {name} under {}: {spans:#?}", parent.name))
    };
    let hook = one("hook");
    assert_eq!(hook.parent, "", "the hook's span is the root");
    assert_eq!(hook.service, "herald-test");
    assert_eq!(hook.attributes["trigger"], "traced");
    assert_eq!(hook.attributes["status"], "202");
    let fire = child_of("fire", &hook);
    assert_eq!(fire.attributes["outcome"], "created");
    assert_eq!(fire.attributes["revision"], herald.head);
    let create = child_of("create_run", &fire);
    child_of("store.create_run", &create);
    let run_span = child_of("run", &create);
    assert_eq!(run_span.attributes["run"], run);
    let step = child_of("step", &run_span);
    assert_eq!(step.attributes["step"], "main");
    child_of("store.record_step", &step);
    child_of("store.finish_run", &run_span);
    let trace = &hook.trace_id;
    for span in [&fire, &create, &run_span, &step] {
        assert_eq!(&span.trace_id, trace, "{span:?}");
    }
    assert_eq!(
        herald.traceparent_seen(),
        format!("00-{trace}-{}-01", step.span_id),
        "the action sees its step's context"
    );
    // The run's log lines carry the run and the trace.
    let finished = (herald.log_lines().into_iter())
        .find(|l| l["fields"]["message"] == "run finished" && l["run"] == run.as_str())
        .unwrap();
    assert_eq!(finished["run"], run.as_str());
    assert_eq!(finished["trace_id"], trace.as_str());
    assert_eq!(finished["span_id"], run_span.span_id.as_str());

    // The schedule's first tick (at start) is a trace of its own, rooted in the tick.
    let ticked = wait_for("the tick's run", || {
        let seen = std::fs::read_to_string(herald.dir.join("traceparent.tick")).ok()?;
        let spans = received.spans();
        let tick = named(&spans, "tick")?;
        let run = (spans.iter()).find(|s| s.name == "run" && s.trace_id == tick.trace_id)?;
        Some((seen, tick, run.clone(), spans))
    })
    .await;
    let (seen, tick, tick_run, spans) = ticked;
    assert_eq!(tick.parent, "");
    assert_eq!(tick.attributes["trigger"], "ticking");
    assert_ne!(tick.trace_id, *trace, "one trace per occasion");
    let fire = (spans.iter()).find(|s| s.name == "fire" && s.parent == tick.span_id);
    let fire = fire.expect("the tick's fire span");
    let create = (spans.iter()).find(|s| s.name == "create_run" && s.parent == fire.span_id);
    assert_eq!(tick_run.parent, create.expect("its create_run").span_id);
    assert!(
        seen.starts_with(&format!("00-{}-", tick.trace_id)),
        "{seen}"
    );
}

#[tokio::test]
async fn a_delivery_is_one_trace_over_otlp_http() {
    let received = Received::default();
    let endpoint = http_receiver(received.clone()).await;
    let mut herald = Herald::start("traces_http", &otel_env(&endpoint, "http/protobuf")).await;
    one_trace(&herald, &received).await;
    herald.stop();
}

#[tokio::test]
async fn a_delivery_is_one_trace_over_otlp_grpc() {
    let received = Received::default();
    let endpoint = grpc_receiver(received.clone()).await;
    let mut herald = Herald::start("traces_grpc", &otel_env(&endpoint, "grpc")).await;
    one_trace(&herald, &received).await;
    herald.stop();
}

/// With no OpenTelemetry variable, nothing is exported (a receiver is listening where the
/// default endpoints would be irrelevant: none is configured), the action has no
/// `TRACEPARENT`, log lines carry the run but no trace; and no secret appears in the complete
/// log (at debug) or in the hook's answer.
#[tokio::test]
async fn without_otel_variables_nothing_is_traced_and_no_secret_is_logged() {
    let received = Received::default();
    let _endpoint = http_receiver(received.clone()).await;
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", None),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", None),
        ("TRACEPARENT", None),
        ("RUST_LOG", Some("debug")),
    ];
    let mut herald = Herald::start("traces_off", &env).await;
    let (status, body) = herald.deliver().await;
    assert_eq!(status, 202, "{body}");
    let run = body["runs"][0]["name"].as_str().unwrap().to_owned();
    assert_eq!(herald.finished(&run).await, "Succeeded", "{}", herald.log());
    assert_eq!(herald.traceparent_seen(), "unset");
    let events = reqwest::get(format!("{}/api/v1/events", herald.url)).await;
    let events = events.unwrap().text().await.unwrap();
    herald.stop();
    assert!(received.spans().is_empty());
    let lines = herald.log_lines();
    let finished = (lines.iter())
        .find(|l| l["fields"]["message"] == "run finished" && l["run"] == run.as_str())
        .unwrap();
    assert_eq!(finished["run"], run.as_str());
    assert!(finished.get("trace_id").is_none(), "{finished}");
    let log = herald.log();
    for secret in [HOOK_SECRET, GIT_TOKEN, STEP_TOKEN] {
        assert!(!log.contains(secret), "the log holds {secret}:\n{log}");
        assert!(!body.to_string().contains(secret));
        assert!(!events.contains(secret), "the events hold {secret}");
    }
}
