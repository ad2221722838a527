//! The notifier end to end on real parts: a real store (SQLite, in a temp dir), runs moved by
//! the store's own calls (so the events are the ones both modes record), and real HTTP
//! receivers on loopback ports that check exact bodies, signatures and headers.
//!
//! GitHub's, GitLab's and Gitea's APIs cannot run here: the receivers stand in for them,
//! answering as their documentation says, and the tests check the requests against that
//! documentation (path, authentication header, state words).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use herald_api::{
    ActionKind, EventSource, Notifier, NotifierSpec, NotifierType, NotifyOn, RunCause, RunPhase,
    SecretRef, Severity, SourceKind, TriggerKind,
};
use herald_engine::SourceError;
use herald_notify::{Config, Dispatcher, NotifyEnv, Object};
use herald_server::Metrics;
use herald_store::{EventKind, EventQuery, NewRun, RunOutcome, Store, TriggerKey};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::mpsc;

const DEADLINE: Duration = Duration::from_secs(30);
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const HMAC_KEY: &str = "s3cr3t-hmac-key";
const API_TOKEN: &str = "ghp_notARealTokenButSecret";

/// What a receiver saw of one request.
#[derive(Debug)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: serde_json::Value,
    raw: Bytes,
}

/// A receiver on a loopback port: answers with the queued statuses, then 200.
struct Receiver {
    url: String,
    seen: mpsc::UnboundedReceiver<Received>,
    answers: Arc<Mutex<VecDeque<u16>>>,
}

#[derive(Clone)]
struct ReceiverState {
    seen: mpsc::UnboundedSender<Received>,
    answers: Arc<Mutex<VecDeque<u16>>>,
}

async fn receiver() -> Receiver {
    let (tx, seen) = mpsc::unbounded_channel();
    let answers = Arc::new(Mutex::new(VecDeque::new()));
    let state = ReceiverState {
        seen: tx,
        answers: answers.clone(),
    };
    let app = Router::new()
        .fallback(
            |State(state): State<ReceiverState>, uri: Uri, headers: HeaderMap, raw: Bytes| async move {
                let body = serde_json::from_slice(&raw).unwrap_or(serde_json::Value::Null);
                let path = uri.path_and_query().map(ToString::to_string).unwrap_or_default();
                state.seen.send(Received { path, headers, body, raw }).ok();
                let status = state.answers.lock().unwrap().pop_front().unwrap_or(200);
                StatusCode::from_u16(status).unwrap()
            },
        )
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    Receiver { url, seen, answers }
}

/// Local mode's and cluster mode's definitions, in memory.
#[derive(Default)]
struct TestEnv {
    notifiers: Mutex<Vec<Arc<Notifier>>>,
    secrets: HashMap<(String, String), Vec<u8>>,
    labels: HashMap<String, BTreeMap<String, String>>,
    source_url: Option<String>,
}

impl TestEnv {
    /// `notifiers`, with the test Secrets.
    fn new(notifiers: Vec<Arc<Notifier>>) -> Self {
        Self {
            notifiers: Mutex::new(notifiers),
            secrets: secrets(),
            ..Self::default()
        }
    }
}

/// GitRepo `app` labelled `team: web`.
fn web_labels() -> HashMap<String, BTreeMap<String, String>> {
    HashMap::from([(
        "app".to_owned(),
        BTreeMap::from([("team".to_owned(), "web".to_owned())]),
    )])
}

impl NotifyEnv for TestEnv {
    fn notifiers(&self) -> Vec<Arc<Notifier>> {
        self.notifiers.lock().unwrap().clone()
    }

    fn labels(&self, _namespace: &str, object: &Object) -> Option<BTreeMap<String, String>> {
        self.labels.get(&object.name).cloned()
    }

    fn source_url(&self, _namespace: &str, _object: &Object) -> Option<String> {
        self.source_url.clone()
    }
}

impl herald_engine::SecretReader for TestEnv {
    async fn secret_value(&self, _ns: &str, name: &str, key: &str) -> Result<Vec<u8>, SourceError> {
        self.secrets
            .get(&(name.to_owned(), key.to_owned()))
            .cloned()
            .ok_or_else(|| {
                SourceError::new(
                    herald_api::reasons::SECRET_KEY_MISSING,
                    format!("Secret {name} has no key {key}"),
                )
            })
    }
}

fn notifier(name: &str, t: NotifierType, address: Option<String>) -> Arc<Notifier> {
    let mut n = Notifier::new(
        name,
        NotifierSpec {
            notifier_type: t,
            address,
            secret_ref: Some(SecretRef {
                name: "notify".into(),
                namespace: None,
            }),
            events: Vec::new(),
            event_sources: Vec::new(),
            severity: Severity::Info,
            fold_window: Some("0s".into()),
            suspend: false,
        },
    );
    n.metadata.namespace = Some("team".into());
    Arc::new(n)
}

fn secrets() -> HashMap<(String, String), Vec<u8>> {
    HashMap::from([
        (
            ("notify".into(), "token".into()),
            HMAC_KEY.as_bytes().to_vec(),
        ),
        (
            ("status".into(), "token".into()),
            API_TOKEN.as_bytes().to_vec(),
        ),
    ])
}

struct Fixture {
    store: Store,
    env: Arc<TestEnv>,
    metrics: Metrics,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn new(env: TestEnv) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("herald.db")).await.unwrap();
        // The cursor starts at the newest event: create it before anything happens.
        store.notification_cursor().await.unwrap();
        Self {
            store,
            env: Arc::new(env),
            metrics: Metrics::default(),
            _dir: dir,
        }
    }

    fn dispatcher(&self, external_url: Option<&str>) -> Dispatcher<TestEnv> {
        let config = Config {
            external_url: external_url.map(Into::into),
            backoff: Duration::from_millis(1),
            backoff_max: Duration::from_millis(1),
            max_attempts: 3,
            ..Config::default()
        };
        Dispatcher::new(
            self.env.clone(),
            self.store.clone(),
            herald_notify::webhook::Poster::new().unwrap(),
            self.metrics.clone(),
            config,
        )
    }

    /// A run of trigger `nightly` that starts and ends in `phase`.
    async fn run(&self, name: &str, phase: RunPhase, message: &str) {
        let created = self
            .store
            .create_run(&NewRun {
                name: name.into(),
                namespace: "team".into(),
                trigger: TriggerKey {
                    kind: TriggerKind::ScheduleTrigger,
                    namespace: "team".into(),
                    name: "nightly".into(),
                },
                source_kind: SourceKind::GitRepo,
                source: "app".into(),
                git_ref: Some("refs/heads/main".into()),
                revision: SHA.into(),
                action_kind: ActionKind::Action,
                action: "build".into(),
                cause: RunCause::Change,
                record_last_seen: false,
            })
            .await
            .unwrap()
            .record()
            .clone();
        self.store
            .transition(created.id, RunPhase::Running, "Started", None)
            .await
            .unwrap();
        self.store
            .finish_run(
                created.id,
                &RunOutcome {
                    phase,
                    reason: format!("{phase}"),
                    message: Some(message.into()),
                    exit_code: Some(1),
                    output: None,
                },
            )
            .await
            .unwrap();
    }
}

/// Runs passes until `receiver` has seen `count` requests, then returns them.
async fn collect(
    dispatcher: &mut Dispatcher<TestEnv>,
    receiver: &mut Receiver,
    count: usize,
) -> Vec<Received> {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut got = Vec::new();
    while got.len() < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {count} requests: {got:#?}",
            got.len()
        );
        dispatcher.pass().await.unwrap();
        while let Ok(r) = receiver.seen.try_recv() {
            got.push(r);
        }
        if got.len() < count {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    got
}

/// Asserts that however many more passes run, `rx` gets nothing: each transition is sent once.
async fn quiet(dispatcher: &mut Dispatcher<TestEnv>, rx: &mut Receiver, why: &str) {
    for _ in 0..3 {
        dispatcher.pass().await.unwrap();
    }
    assert!(rx.seen.try_recv().is_err(), "{why}");
}

fn hmac_hex(key: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn generic_hmac_sends_the_documented_json_signed_as_flux_does() {
    let mut rx = receiver().await;
    let mut n = (*notifier(
        "audit",
        NotifierType::GenericHmac,
        Some(format!("{}/hook", rx.url)),
    ))
    .clone();
    n.spec.events = vec![NotifyOn::RunStarted, NotifyOn::RunFailed];
    let env = TestEnv::new(vec![Arc::new(n)]);
    let fixture = Fixture::new(env).await;
    fixture
        .run("nightly-1", RunPhase::Failed, "exit code 1")
        .await;
    let mut dispatcher = fixture.dispatcher(Some("https://herald.example/"));
    let got = collect(&mut dispatcher, &mut rx, 2).await;
    let events: Vec<_> = got
        .iter()
        .map(|r| r.body["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["run.started", "run.failed"]);
    let failed = &got[1];
    assert_eq!(failed.path, "/hook");
    let signature = failed.headers["x-signature"].to_str().unwrap();
    assert_eq!(
        signature,
        format!("sha256={}", hmac_hex(HMAC_KEY, &failed.raw))
    );
    let mut body = failed.body.clone();
    assert!(body["at"].as_str().unwrap().ends_with('Z'), "{body}");
    body["at"] = serde_json::Value::Null;
    assert_eq!(
        body,
        serde_json::json!({
            "apiVersion": "herald.dev/v1",
            "kind": "Notification",
            "event": "run.failed",
            "severity": "error",
            "at": null,
            "namespace": "team",
            "object": {"kind": "Run", "name": "nightly-1"},
            "trigger": {"kind": "ScheduleTrigger", "name": "nightly"},
            "action": {"kind": "Action", "name": "build"},
            "source": {"kind": "GitRepo", "name": "app"},
            "revision": SHA,
            "reason": "Failed",
            "message": "exit code 1",
            "occurrences": 1,
            "link": "https://herald.example/api/v1/events?involvedKind=Run&involvedNamespace=team&involvedName=nightly-1",
            "notifier": "team/audit",
        })
    );
    // Nothing more, however many passes: each transition is sent once.
    quiet(&mut dispatcher, &mut rx, "nothing more").await;
    assert_eq!(notifications_count(&fixture.metrics, "sent"), 2);
}

#[tokio::test]
async fn slack_gets_blocks_and_repeated_failures_are_folded() {
    let mut rx = receiver().await;
    let mut n = (*notifier("chat", NotifierType::Slack, None)).clone();
    n.spec.severity = Severity::Error;
    n.spec.fold_window = Some("1s".into());
    let mut secrets = secrets();
    secrets.insert(
        ("notify".into(), "address".into()),
        format!("{}/services/T0/B0/X", rx.url).into_bytes(),
    );
    let env = TestEnv {
        notifiers: Mutex::new(vec![Arc::new(n)]),
        secrets,
        ..TestEnv::default()
    };
    let fixture = Fixture::new(env).await;
    for i in 0..5 {
        fixture
            .run(&format!("nightly-{i}"), RunPhase::Failed, "exit code 1")
            .await;
    }
    fixture.run("nightly-ok", RunPhase::Succeeded, "").await;
    let mut dispatcher = fixture.dispatcher(None);
    // The first failure at once, the four others in one message when the window ends; the
    // success is not an error and `severity: error` leaves it out.
    let got = collect(&mut dispatcher, &mut rx, 2).await;
    assert_eq!(got[0].path, "/services/T0/B0/X");
    assert_eq!(
        got[0].body["text"],
        "Run nightly-0 of ScheduleTrigger nightly in team failed"
    );
    assert_eq!(
        got[0].body["blocks"][0]["text"]["text"],
        ":red_circle: *Run nightly-0 of ScheduleTrigger nightly in team failed*"
    );
    assert_eq!(
        got[1].body["text"],
        "Run nightly-4 of ScheduleTrigger nightly in team failed (5 times in 1s)"
    );
    assert_eq!(
        got[1].body["blocks"][2]["elements"][0]["text"],
        "trigger `nightly` · action `build` · source `app` · revision `0123456789ab` · reason `Failed`"
    );
    quiet(&mut dispatcher, &mut rx, "nothing more").await;
}

#[tokio::test]
async fn commit_statuses_follow_each_host_s_api() {
    let mut rx = receiver().await;
    let status_secret = |t, name: &str, address: Option<String>| {
        let mut n = (*notifier(name, t, address)).clone();
        n.spec.secret_ref = Some(SecretRef {
            name: "status".into(),
            namespace: None,
        });
        Arc::new(n)
    };
    let env = TestEnv {
        notifiers: Mutex::new(vec![
            status_secret(
                NotifierType::Github,
                "gh",
                Some(format!("{}/org/app", rx.url)),
            ),
            status_secret(
                NotifierType::Gitlab,
                "gl",
                Some(format!("{}/group/sub/app.git", rx.url)),
            ),
            // No address: the run's source URL names the repository.
            status_secret(NotifierType::Gitea, "gt", None),
        ]),
        secrets: secrets(),
        source_url: Some(format!("{}/org/app.git", rx.url)),
        ..TestEnv::default()
    };
    let fixture = Fixture::new(env).await;
    fixture.run("deploy-1", RunPhase::Succeeded, "").await;
    let mut dispatcher = fixture.dispatcher(Some("https://herald.example"));
    let got = collect(&mut dispatcher, &mut rx, 6).await;
    let mut by_path: BTreeMap<String, Vec<&Received>> = BTreeMap::new();
    for r in &got {
        by_path.entry(r.path.clone()).or_default().push(r);
    }
    let github = &by_path[&format!("/api/v3/repos/org/app/statuses/{SHA}")];
    assert_eq!(
        github[0].headers["authorization"],
        format!("Bearer {API_TOKEN}").as_str()
    );
    assert_eq!(github[0].headers["accept"], "application/vnd.github+json");
    let states: Vec<_> = github
        .iter()
        .map(|r| r.body["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["pending", "success"]);
    assert_eq!(github[1].body["context"], "deploy-1");
    assert!(
        github[1].body["target_url"]
            .as_str()
            .unwrap()
            .ends_with("involvedName=deploy-1")
    );
    let gitlab = &by_path[&format!("/api/v4/projects/group%2Fsub%2Fapp/statuses/{SHA}")];
    assert_eq!(gitlab[0].headers["private-token"], API_TOKEN);
    let states: Vec<_> = gitlab
        .iter()
        .map(|r| r.body["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["running", "success"]);
    assert_eq!(gitlab[0].body["name"], "deploy-1");
    let gitea = &by_path[&format!("/api/v1/repos/org/app/statuses/{SHA}")];
    assert_eq!(
        gitea[0].headers["authorization"],
        format!("token {API_TOKEN}").as_str()
    );
    let states: Vec<_> = gitea
        .iter()
        .map(|r| r.body["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["pending", "success"]);
}

#[tokio::test]
async fn refusals_are_retried_and_finally_become_an_event_and_a_metric() {
    let mut rx = receiver().await;
    let mut n = (*notifier(
        "audit",
        NotifierType::Generic,
        Some(format!("{}/hook", rx.url)),
    ))
    .clone();
    n.spec.events = vec![NotifyOn::RunFailed];
    let env = TestEnv::new(vec![Arc::new(n)]);
    let fixture = Fixture::new(env).await;
    let mut dispatcher = fixture.dispatcher(None);

    // 503 then 200: retried, delivered once.
    rx.answers.lock().unwrap().extend([503, 200]);
    fixture
        .run("nightly-1", RunPhase::Failed, "exit code 1")
        .await;
    let got = collect(&mut dispatcher, &mut rx, 2).await;
    assert!(got.iter().all(|r| r.body["object"]["name"] == "nightly-1"));
    assert_eq!(notifications_count(&fixture.metrics, "sent"), 1);

    // 503 three times (max_attempts): given up, as an event and a metric.
    rx.answers.lock().unwrap().extend([503, 503, 503]);
    fixture
        .run("nightly-2", RunPhase::Failed, "exit code 1")
        .await;
    let got = collect(&mut dispatcher, &mut rx, 3).await;
    assert!(got.iter().all(|r| r.body["object"]["name"] == "nightly-2"));
    let failed = fixture
        .store
        .query_events(&EventQuery {
            kind: Some(EventKind::NotificationFailed),
            ..EventQuery::default()
        })
        .await
        .unwrap()
        .events;
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0].involved_name.as_deref(), Some("audit"));
    let message = failed[0].message.as_deref().unwrap();
    assert!(
        message.contains("gave up after 3 attempt(s)") && message.contains("503"),
        "{message}"
    );
    assert!(
        !message.contains("/hook"),
        "the URL's path is never repeated: {message}"
    );
    assert_eq!(notifications_count(&fixture.metrics, "failed"), 1);

    // A 400 is not retried; the failure event itself is never announced.
    rx.answers.lock().unwrap().extend([400]);
    fixture
        .run("nightly-3", RunPhase::Failed, "exit code 1")
        .await;
    collect(&mut dispatcher, &mut rx, 1).await;
    quiet(
        &mut dispatcher,
        &mut rx,
        "nothing retried or announced after a 400",
    )
    .await;
    assert_eq!(notifications_count(&fixture.metrics, "failed"), 2);
    assert_eq!(notifications_count(&fixture.metrics, "sent"), 1);
}

#[tokio::test]
async fn a_restart_sends_what_was_queued_and_nothing_twice() {
    let mut rx = receiver().await;
    let n = notifier(
        "audit",
        NotifierType::Generic,
        Some(format!("{}/hook", rx.url)),
    );
    let env = TestEnv {
        labels: web_labels(),
        ..TestEnv::new(vec![n])
    };
    let fixture = Fixture::new(env).await;
    fixture.run("nightly-1", RunPhase::Succeeded, "").await;
    // The first process stores the rows, then dies before sending (its receiver refuses).
    rx.answers.lock().unwrap().extend([503, 503]);
    let mut first = fixture.dispatcher(None);
    collect(&mut first, &mut rx, 2).await;
    drop(first);
    // A new process over the same store sends them, once.
    let mut second = fixture.dispatcher(None);
    let got = collect(&mut second, &mut rx, 2).await;
    let events: Vec<_> = got
        .iter()
        .map(|r| r.body["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["run.started", "run.succeeded"]);
    let mut third = fixture.dispatcher(None);
    quiet(&mut third, &mut rx, "nothing sent twice").await;
}

#[tokio::test]
async fn event_sources_select_by_labels() {
    let mut rx = receiver().await;
    let mut n = (*notifier(
        "web",
        NotifierType::Generic,
        Some(format!("{}/hook", rx.url)),
    ))
    .clone();
    n.spec.events = vec![NotifyOn::RunSucceeded];
    n.spec.event_sources = vec![EventSource {
        kind: "GitRepo".into(),
        name: None,
        match_labels: BTreeMap::from([("team".into(), "web".into())]),
    }];
    let mut other = n.clone();
    other.metadata.name = Some("ops".into());
    other.spec.event_sources[0].match_labels = BTreeMap::from([("team".into(), "ops".into())]);
    let env = TestEnv {
        labels: web_labels(),
        ..TestEnv::new(vec![Arc::new(n), Arc::new(other)])
    };
    let fixture = Fixture::new(env).await;
    fixture.run("nightly-1", RunPhase::Succeeded, "").await;
    let mut dispatcher = fixture.dispatcher(None);
    let got = collect(&mut dispatcher, &mut rx, 1).await;
    assert_eq!(got[0].body["notifier"], "team/web");
    quiet(
        &mut dispatcher,
        &mut rx,
        "the ops notifier selects nothing here",
    )
    .await;
}

/// `herald_notifications_total{result}` as scraped.
fn notifications_count(metrics: &Metrics, result: &str) -> u64 {
    let name = format!("herald_notifications_total{{result=\"{result}\"}}");
    herald_testkit::metric_sample(&metrics.render(), &name).unwrap_or(0.0) as u64
}

#[tokio::test]
async fn a_source_that_starts_failing_is_announced_once() {
    let mut rx = receiver().await;
    let n = notifier(
        "chat",
        NotifierType::Slack,
        Some(format!("{}/services/X", rx.url)),
    );
    let env = TestEnv::new(vec![n]);
    let fixture = Fixture::new(env).await;
    // The engine's own tracker makes the event, as both modes' checks do.
    let health = herald_engine::SourceHealth::default();
    let changed = SourceError::new(
        herald_api::reasons::HOST_KEY_CHANGED,
        "the host key of git.example changed",
    );
    for _ in 0..3 {
        if let Some(event) = health.observe("team", SourceKind::GitRepo, "app", Err(&changed)) {
            fixture.store.record_event(&event).await.unwrap();
        }
    }
    let mut dispatcher = fixture.dispatcher(None);
    let got = collect(&mut dispatcher, &mut rx, 1).await;
    assert_eq!(got[0].body["text"], "GitRepo app in team cannot be read");
    assert_eq!(
        got[0].body["blocks"][2]["elements"][0]["text"],
        "source `app` · reason `HostKeyChanged`"
    );
    quiet(&mut dispatcher, &mut rx, "once").await;
}
