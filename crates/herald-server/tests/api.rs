//! The query API and the Flux endpoint over real HTTP on loopback, with a real SQLite store in a
//! temp dir (and a real PostgreSQL for the ingest-and-query suite). Every answer is checked
//! against the OpenAPI document the server serves.
#![allow(clippy::unwrap_used)]

mod support;

use herald_api::{ActionKind, RunCause, SourceKind, TriggerKind};
use herald_server::ReconcileAccess;
use herald_server::api::Route;
use herald_store::{EventKind, EventQuery, NewEvent, NewRun, Store, TriggerKey};
use reqwest::Method;
use serde_json::{Value, json};
use support::{Document, SHA, SHA2, Server, flux_event, signature};

const LIMIT: usize = 1024 * 1024;

/// A SQLite store in a temp dir that lives as long as the store is used.
async fn sqlite() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("herald.db")).await.unwrap();
    (store, dir)
}

async fn stored_events(store: &Store) -> usize {
    let query = EventQuery {
        limit: Some(EventQuery::MAX_LIMIT),
        ..EventQuery::default()
    };
    store.query_events(&query).await.unwrap().events.len()
}

fn apps(reason: &str, severity: &str, revision: &str, at: &str) -> Value {
    flux_event(
        ("Kustomization", "flux-system", "apps"),
        reason,
        severity,
        revision,
        at,
    )
}

/// Ingests Flux events in every revision form and queries them back by each filter.
async fn ingest_and_query(store: Store) {
    let server = Server::start(&store, None, LIMIT).await;
    let first = server
        .ingest(&apps(
            "Progressing",
            "info",
            &format!("main@sha1:{SHA}"),
            "2026-11-23T10:00:00Z",
        ))
        .await;
    let web = flux_event(
        ("HelmRelease", "apps", "web"),
        "UpgradeFailed",
        "error",
        &format!("main/{SHA}"),
        "2026-11-23T10:05:00Z",
    );
    server.ingest(&web).await;
    let other = server
        .ingest(&apps(
            "ReconciliationSucceeded",
            "info",
            SHA2,
            "2026-11-23T11:00:00Z",
        ))
        .await;
    assert!(other > first);

    // Every form of a revision finds the same events, newest first.
    for form in [
        format!("main@sha1:{SHA}"),
        format!("main/{SHA}"),
        SHA.to_owned(),
        SHA.to_ascii_uppercase(),
    ] {
        let encoded = form
            .replace('/', "%2F")
            .replace(':', "%3A")
            .replace('@', "%40");
        let events = server.all_events(&format!("revision={encoded}")).await;
        let reasons: Vec<&str> = events
            .iter()
            .map(|e| e["reason"].as_str().unwrap())
            .collect();
        assert_eq!(reasons, ["UpgradeFailed", "Progressing"], "{form}");
        assert!(events.iter().all(|e| e["revision"] == SHA), "{events:?}");
    }

    let (_, page) = server
        .get("/api/v1/events?involvedKind=HelmRelease&involvedNamespace=apps&involvedName=web")
        .await;
    let event = &page["events"][0];
    assert_eq!(page["events"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(event["kind"], "flux.event");
    assert_eq!(event["namespace"], "apps");
    assert_eq!(event["severity"], "error");
    assert_eq!(event["message"], "UpgradeFailed for web");
    assert_eq!(event["at"], "2026-11-23T10:05:00Z", "Flux's own timestamp");
    assert_eq!(event["payload"], web, "the payload is the body Flux sent");
    assert_eq!(event["deliveryId"], Value::Null);

    for (query, count) in [
        ("kind=flux.event", 3),
        ("kind=run.transition", 0),
        ("reason=ReconciliationSucceeded", 1),
        ("severity=error", 1),
        ("since=2026-11-23T10:05:00Z", 2),
        ("until=2026-11-23T10:05:00Z", 2),
        ("since=2026-11-23T10:01:00Z&until=2026-11-23T10:59:00Z", 1),
        ("involvedName=apps&severity=info", 2),
        ("source=nope", 0),
        ("trigger=nope", 0),
    ] {
        let events = server.all_events(query).await;
        assert_eq!(events.len(), count, "{query}: {events:?}");
    }

    // The revision's summary reads runs and events alike on this backend.
    store.create_run(&run_for("build-1", SHA)).await.unwrap();
    let (status, summary) = server.get(&format!("/api/v1/revisions/main/{SHA}")).await;
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["runs"][0]["name"], "build-1");
    assert_eq!(summary["flux"]["events"].as_array().unwrap().len(), 2);
    assert_eq!(summary["flux"]["outcome"]["state"], "failed", "{summary}");
    assert_eq!(summary["flux"]["outcome"]["object"], "HelmRelease/apps/web");
}

mod ingest {
    use super::*;

    #[tokio::test]
    async fn sqlite() {
        let (store, _dir) = super::sqlite().await;
        super::ingest_and_query(store).await;
    }

    #[tokio::test]
    async fn postgres() {
        let Some(cluster) = herald_testkit::postgres::postgres() else {
            return;
        };
        let url = cluster.fresh_database().await;
        let store = Store::connect(&url).await.unwrap();
        super::ingest_and_query(store).await;
    }
}

#[tokio::test]
async fn pages_follow_the_cursor_newest_first() {
    let (store, _dir) = sqlite().await;
    let server = Server::start(&store, None, LIMIT).await;
    let mut ids = Vec::new();
    for minute in 0..5 {
        let at = format!("2026-11-23T10:0{minute}:00Z");
        ids.push(server.ingest(&apps("Progressing", "info", SHA, &at)).await);
    }
    let (status, page) = server.get("/api/v1/events?limit=2").await;
    assert_eq!(status, 200);
    let got: Vec<i64> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(got, [ids[4], ids[3]]);
    assert_eq!(page["nextCursor"], ids[3]);
    let all: Vec<i64> = server
        .all_events("limit=2")
        .await
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    ids.reverse();
    assert_eq!(all, ids);
    let (_, last) = server
        .get(&format!("/api/v1/events?cursor={}", ids[4]))
        .await;
    assert_eq!(last, json!({"events": [], "nextCursor": null}));
}

#[tokio::test]
async fn bad_query_parameters_are_400_naming_them() {
    let (store, _dir) = sqlite().await;
    let server = Server::start(&store, None, LIMIT).await;
    for (query, named) in [
        ("colour=red", "colour"),
        ("kind=flux", "kind"),
        ("since=yesterday", "since"),
        ("until=2026-13-01T00:00:00Z", "until"),
        ("limit=0", "limit"),
        ("limit=5000", "limit"),
        ("limit=ten", "limit"),
        ("cursor=-4", "cursor"),
        ("source=a&source=b", "source"),
    ] {
        let (status, body) = server.get(&format!("/api/v1/events?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(error.contains(named), "{query}: {error}");
    }
}

#[tokio::test]
async fn signed_flux_events_need_the_right_signature() {
    let (store, _dir) = sqlite().await;
    let secret = b"flux-shared-secret";
    let server = Server::start(&store, Some(secret), LIMIT).await;
    let body = serde_json::to_vec(&apps(
        "ReconciliationSucceeded",
        "info",
        SHA,
        "2026-11-23T10:00:00Z",
    ))
    .unwrap();
    let good = signature(secret, &body);
    let wrong_key = signature(b"another-secret", &body);
    let other_body = signature(secret, b"{}");
    let bare_hex = good.trim_start_matches("sha256=").to_owned();
    let refusals = [
        vec![],
        vec![("x-signature", wrong_key)],
        vec![("x-signature", other_body)],
        vec![("x-signature", bare_hex)],
        vec![("x-signature", "sha256=zz".to_owned())],
        vec![("x-hub-signature-256", good.clone())],
    ];
    for headers in refusals {
        let shown = format!("{headers:?}");
        let (status, answer) = server.post_flux(&body, headers).await;
        assert_eq!(status, 401, "{shown}");
        assert_eq!(
            answer,
            json!({"error": "unauthorized"}),
            "no detail: {shown}"
        );
    }
    assert_eq!(stored_events(&store).await, 0, "nothing refused is stored");

    let (status, answer) = server.post_flux(&body, vec![("x-signature", good)]).await;
    assert_eq!(status, 202, "{answer}");
    let id = answer["id"].as_i64().unwrap();
    // 202 came after the store returned: the event is there now.
    let (_, page) = server.get("/api/v1/events").await;
    assert_eq!(page["events"][0]["id"], id);
    assert_eq!(stored_events(&store).await, 1);
}

#[tokio::test]
async fn malformed_or_oversized_flux_events_are_refused_and_stored_nowhere() {
    let (store, _dir) = sqlite().await;
    let server = Server::start(&store, None, 4096).await;
    let valid = apps("Progressing", "info", SHA, "2026-11-23T10:00:00Z");
    let mut no_object = valid.clone();
    no_object.as_object_mut().unwrap().remove("involvedObject");
    let mut bad_severity = valid.clone();
    bad_severity["severity"] = json!("loud");
    let mut bad_time = valid.clone();
    bad_time["timestamp"] = json!("yesterday");
    let cases = [
        (b"{".to_vec(), "not a Flux event"),
        (b"[]".to_vec(), "not a Flux event"),
        (serde_json::to_vec(&no_object).unwrap(), "involvedObject"),
        (serde_json::to_vec(&bad_severity).unwrap(), "loud"),
        (serde_json::to_vec(&bad_time).unwrap(), "yesterday"),
    ];
    for (body, reason) in cases {
        let (status, answer) = server.post_flux(&body, Vec::new()).await;
        assert_eq!(status, 400, "{answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.contains(reason), "{reason}: {error}");
    }
    let mut huge = valid.clone();
    huge["message"] = json!("x".repeat(5000));
    let (status, answer) = server
        .post_flux(&serde_json::to_vec(&huge).unwrap(), Vec::new())
        .await;
    assert_eq!(status, 413, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("4096"),
        "{answer}"
    );
    assert_eq!(stored_events(&store).await, 0, "nothing refused is stored");
    server.ingest(&valid).await;
    assert_eq!(stored_events(&store).await, 1);
}

fn run_for(name: &str, revision: &str) -> NewRun {
    NewRun {
        name: name.into(),
        namespace: "ci".into(),
        trigger: TriggerKey {
            kind: TriggerKind::WebhookTrigger,
            namespace: "ci".into(),
            name: "on-push".into(),
        },
        source_kind: SourceKind::GitRepo,
        source: "app".into(),
        git_ref: Some("refs/heads/main".into()),
        revision: revision.into(),
        action_kind: ActionKind::Action,
        action: "build".into(),
        cause: RunCause::Webhook,
        record_last_seen: false,
    }
}

#[tokio::test]
async fn a_revision_summarises_detection_deliveries_runs_and_flux() {
    let (store, _dir) = sqlite().await;
    let server = Server::start(&store, None, LIMIT).await;
    let revision = |kind| NewEvent {
        namespace: Some("ci".into()),
        trigger: Some("on-push".into()),
        source: Some("app".into()),
        revision: Some(format!("main@sha1:{SHA}")),
        ..NewEvent::new(kind)
    };
    store
        .record_event(&revision(EventKind::RevisionDetected))
        .await
        .unwrap();
    let delivery = NewEvent {
        delivery_id: Some("ci/on-push/d-1".into()),
        ..revision(EventKind::HookDelivery)
    };
    store.record_event(&delivery).await.unwrap();
    store.create_run(&run_for("build-1", SHA)).await.unwrap();
    store.create_run(&run_for("build-2", SHA2)).await.unwrap();

    // Unknown: empty lists and pending, not an error.
    let (status, unknown) = server
        .get(&format!("/api/v1/revisions/{}", "f".repeat(40)))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        unknown["flux"],
        json!({"outcome": {"state": "pending"}, "events": []})
    );
    assert_eq!(unknown["state"], "pending");
    assert_eq!(unknown["runs"], json!([]));

    let summary = |form: String| {
        let server = &server;
        async move {
            let (status, body) = server.get(&format!("/api/v1/revisions/{form}")).await;
            assert_eq!(status, 200, "{form}: {body}");
            body
        }
    };
    let known = summary(SHA.to_owned()).await;
    assert_eq!(known["revision"], SHA);
    assert_eq!(known["detected"].as_array().unwrap().len(), 1);
    assert_eq!(known["deliveries"][0]["deliveryId"], "ci/on-push/d-1");
    let runs = known["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["name"], "build-1");
    assert_eq!(runs[0]["phase"], "Pending");
    assert_eq!(runs[0]["triggerKind"], "WebhookTrigger");
    assert_eq!(known["flux"]["outcome"]["state"], "pending");

    server
        .ingest(&apps(
            "HealthCheckFailed",
            "error",
            &format!("main/{SHA}"),
            "2026-11-23T10:00:00Z",
        ))
        .await;
    let failed = summary(format!("main@sha1:{SHA}")).await;
    assert_eq!(
        failed["flux"]["outcome"],
        json!({"state": "failed", "object": "Kustomization/flux-system/apps",
               "reason": "HealthCheckFailed", "message": "HealthCheckFailed for apps"})
    );
    assert_eq!(
        failed["state"], "failed",
        "the top-level state is the outcome's"
    );
    server
        .ingest(&apps(
            "ReconciliationSucceeded",
            "info",
            SHA,
            "2026-11-23T10:01:00Z",
        ))
        .await;
    // A raw slash in the path works as well as an encoded one.
    for form in [format!("main/{SHA}"), format!("main%2F{SHA}")] {
        let ready = summary(form).await;
        assert_eq!(ready["flux"]["outcome"]["state"], "ready", "{ready}");
        assert_eq!(ready["state"], "ready");
        assert_eq!(ready["flux"]["events"].as_array().unwrap().len(), 2);
    }
}

/// The README's answers, each in a ```json block after a `<!-- answer: METHOD PATH STATUS -->`
/// line: what users are shown must be what the document allows.
fn readme_answers() -> Vec<(String, String, u16, Value)> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let mut found = Vec::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        let Some(spec) = line.trim().strip_prefix("<!-- answer:") else {
            continue;
        };
        let spec: Vec<&str> = spec.trim_end_matches("-->").split_whitespace().collect();
        let [method, path, status] = spec[..] else {
            panic!("malformed answer marker: {line}");
        };
        assert_eq!(lines.next().map(str::trim), Some("```json"), "{line}");
        let body: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        let body: Value = serde_json::from_str(&body.join("\n"))
            .unwrap_or_else(|e| panic!("{line}: the example is not JSON: {e}"));
        found.push((method.into(), path.into(), status.parse().unwrap(), body));
    }
    found
}

#[tokio::test]
async fn the_readmes_answers_are_what_the_document_allows() {
    let (store, _dir) = sqlite().await;
    let server = Server::start(&store, None, LIMIT).await;
    let document = server.document.as_ref().unwrap();
    let answers = readme_answers();
    assert!(answers.len() >= 2, "the README shows API answers");
    for (method, path, status, body) in answers {
        document
            .check_response(&method, &path, status, &body)
            .unwrap_or_else(|e| panic!("README's {method} {path}: {e}"));
    }
}

#[tokio::test]
async fn the_document_describes_exactly_the_api_routes() {
    let (store, _dir) = sqlite().await;
    let server = Server::start(&store, None, LIMIT).await;
    let document = server.document.as_ref().unwrap();
    let mut routes: Vec<(String, String)> = Route::ALL
        .iter()
        .map(|r| (r.method().to_string(), r.path().to_owned()))
        .collect();
    routes.sort();
    assert_eq!(document.api_operations(), routes);
    // Every documented operation is served (not 404/405), and answers as documented.
    for (method, path) in document.api_operations() {
        let concrete = path
            .replace("{revision}", SHA)
            .replace("{kind}", "ScheduleTrigger")
            .replace("{namespace}", "default")
            .replace("{name}", "known");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let body = (method == Method::POST).then(|| (b"{}".to_vec(), Vec::new()));
        let (status, answer) = server.call(method.clone(), &concrete, body).await;
        assert!(
            ![404, 405].contains(&status),
            "{method} {concrete}: {status} {answer}"
        );
    }
    // Paths under /api that are not routes are a JSON 404.
    let (status, answer) = server.send(Method::GET, "/api/v2/events", None).await;
    assert_eq!(status, 404);
    assert!(answer["error"].as_str().unwrap().contains("/api/v2/events"));
}

#[tokio::test]
async fn a_reconcile_request_is_passed_on_with_its_time() {
    let (store, _dir) = sqlite().await;
    let server = Server::start(&store, None, LIMIT).await;
    let reconcile = |path: &'static str| server.call(Method::POST, path, None);
    let (status, answer) = reconcile("/api/v1/reconcile/WebhookTrigger/default/known").await;
    assert_eq!(status, 202, "{answer}");
    let requested_at = answer["requestedAt"].as_str().unwrap();
    assert_eq!(
        *server.reconciler.0.lock().unwrap(),
        [(
            "WebhookTrigger default/known".to_owned(),
            requested_at.to_owned()
        )],
        "the answer's value is the one passed on"
    );
    let (status, answer) = reconcile("/api/v1/reconcile/ScheduleTrigger/default/paused").await;
    assert_eq!((status, &answer["reason"]), (409, &json!("Suspended")));
    assert!(answer["error"].as_str().unwrap().contains("suspended"));
    let (status, answer) = reconcile("/api/v1/reconcile/ScheduleTrigger/default/gone").await;
    assert_eq!(status, 404, "{answer}");
    let (status, answer) = reconcile("/api/v1/reconcile/strig/default/known").await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("ScheduleTrigger")
    );
    let (status, _) = server
        .send(
            Method::GET,
            "/api/v1/reconcile/ScheduleTrigger/default/known",
            None,
        )
        .await;
    assert_eq!(status, 405, "a request changes state: POST only");
    assert_eq!(server.reconciler.0.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn reconcile_requests_need_the_token_unless_the_server_is_on_loopback_only() {
    let (store, _dir) = sqlite().await;
    let token = herald_server::Secret::new("s3cret-token").unwrap();
    let guarded = Server::start_with(&store, None, LIMIT, ReconcileAccess::Token(token)).await;
    let path = "/api/v1/reconcile/ScheduleTrigger/default/known";
    let with = |value: &str| {
        let headers = vec![("authorization", value.to_owned())];
        Some((Vec::new(), headers))
    };
    let (status, answer) = guarded.call(Method::POST, path, None).await;
    assert_eq!((status, &answer), (401, &json!({"error": "unauthorized"})));
    let (status, _) = guarded.call(Method::POST, path, with("Bearer wrong")).await;
    assert_eq!(status, 401);
    let (status, _) = guarded.call(Method::POST, path, with("s3cret-token")).await;
    assert_eq!(status, 401, "only as a bearer token");
    // Refused before anything is looked up: an unknown trigger is a 401 too.
    let unknown = "/api/v1/reconcile/ScheduleTrigger/default/gone";
    let (status, _) = guarded.call(Method::POST, unknown, None).await;
    assert_eq!(status, 401);
    assert!(guarded.reconciler.0.lock().unwrap().is_empty());
    let (status, answer) = guarded
        .call(Method::POST, path, with("Bearer s3cret-token"))
        .await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(guarded.reconciler.0.lock().unwrap().len(), 1);

    let closed = Server::start_with(&store, None, LIMIT, ReconcileAccess::Closed).await;
    let (status, answer) = closed.call(Method::POST, path, None).await;
    assert_eq!(
        (status, &answer["reason"]),
        (403, &json!("ApiTokenRequired"))
    );
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .contains("--api-token-file")
    );
    assert!(closed.reconciler.0.lock().unwrap().is_empty());

    // Without a token: open on loopback, closed anywhere else.
    let on = |addr: &str| ReconcileAccess::for_listener(None, addr.parse().unwrap());
    assert_eq!(on("127.0.0.1:8080"), ReconcileAccess::Open);
    assert_eq!(on("[::1]:8080"), ReconcileAccess::Open);
    assert_eq!(on("0.0.0.0:8080"), ReconcileAccess::Closed);
    assert_eq!(on("10.0.0.7:8080"), ReconcileAccess::Closed);
}

#[tokio::test]
async fn the_checker_rejects_what_the_document_does_not_allow() {
    let (store, _dir) = sqlite().await;
    let server = Server::start(&store, None, LIMIT).await;
    server
        .ingest(&apps("Progressing", "info", SHA, "2026-11-23T10:00:00Z"))
        .await;
    let (_, page) = server.send(Method::GET, "/api/v1/events", None).await;
    let document: &Document = server.document.as_ref().unwrap();
    let check = |body: &Value| document.check_response("GET", "/api/v1/events", 200, body);
    check(&page).unwrap();
    let mut missing = page.clone();
    missing["events"][0].as_object_mut().unwrap().remove("id");
    let mut extra = page.clone();
    extra["events"][0]["surprise"] = json!(1);
    let mut wrong_type = page.clone();
    wrong_type["nextCursor"] = json!("7");
    let mut bad_kind = page.clone();
    bad_kind["events"][0]["kind"] = json!("flux");
    let mut bad_time = page.clone();
    bad_time["events"][0]["at"] = json!("noon");
    for broken in [missing, extra, wrong_type, bad_kind, bad_time] {
        assert!(check(&broken).is_err(), "{broken}");
    }
    assert!(
        document
            .check_response("GET", "/api/v1/events", 418, &page)
            .is_err()
    );
    assert!(
        document
            .check_response("DELETE", "/api/v1/events", 200, &page)
            .is_err()
    );
}

#[tokio::test]
async fn without_a_store_the_api_is_503() {
    let server = Server::without_api().await;
    for path in [
        "/api/v1/events",
        "/api/v1/revisions/abc",
        "/api/v1/openapi.json",
    ] {
        let (status, body) = server.send(Method::GET, path, None).await;
        assert_eq!(status, 503, "{path}");
        assert!(
            body["error"].as_str().unwrap().contains("no store"),
            "{body}"
        );
    }
    let (status, _) = server.send(Method::GET, "/healthz", None).await;
    assert_eq!(status, 200, "the rest of the server is unaffected");
}
