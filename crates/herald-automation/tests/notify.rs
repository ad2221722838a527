//! Notifications received by a real HTTP receiver (axum on a loopback port): the exact body of
//! each format, refusals and unreachable receivers reported without the URL's token, and
//! `send_all` delivering to the good endpoints when another fails.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use herald_automation::notify::{Endpoint, Format, Notifier, NotifyError, slack_text};
use herald_automation::{Outcome, Report};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// How long any condition may take: generous for a loaded machine, and still a failure
/// rather than a hang.
const DEADLINE: Duration = Duration::from_secs(30);

/// A token as Slack puts it in its hook path: it must never show in an error.
const TOKEN: &str = "T000SECRET/B000SECRET/XyZzYSeCrEtToKeN";

/// What the receiver saw of one request.
#[derive(Debug)]
struct Received {
    method: Method,
    path: String,
    content_type: Option<String>,
    body: Bytes,
}

/// A loopback HTTP receiver answering every request with `status` and `answer`, and handing
/// what it received to the test.
struct Receiver {
    port: u16,
    requests: mpsc::UnboundedReceiver<Received>,
    server: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct Answer {
    status: StatusCode,
    body: String,
    seen: mpsc::UnboundedSender<Received>,
}

async fn receive(
    State(answer): State<Answer>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    let _ = answer.seen.send(Received {
        method,
        path: uri.path().to_owned(),
        content_type,
        body,
    });
    (answer.status, answer.body)
}

impl Receiver {
    async fn start(status: StatusCode, body: &str) -> Self {
        let (seen, requests) = mpsc::unbounded_channel();
        let answer = Answer {
            status,
            body: body.to_owned(),
            seen,
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let router = Router::new().fallback(receive).with_state(answer);
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self {
            port,
            requests,
            server,
        }
    }

    /// An endpoint on this receiver whose path carries [`TOKEN`].
    fn endpoint(&self, format: Format) -> Endpoint {
        Endpoint::new(
            format,
            format!("http://127.0.0.1:{}/hooks/{TOKEN}", self.port),
        )
        .unwrap()
    }

    async fn next(&mut self) -> Received {
        tokio::time::timeout(DEADLINE, self.requests.recv())
            .await
            .expect("the receiver got a request within the deadline")
            .expect("the receiver is running")
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn updated() -> Report {
    Report {
        deployment: "web".to_owned(),
        namespace: "apps".to_owned(),
        action: Outcome::Updated,
        from: Some("1.0.0".to_owned()),
        to: Some("1.1.0".to_owned()),
        status: "Success".to_owned(),
        message:
            "set registry.example/web:1.1.0 in 1 place(s), with 0 other update(s) in the commit"
                .to_owned(),
        commit: Some("abc1234def567890abc1234def567890abc12345".to_owned()),
        diff: Some("--- a/app.yaml\n+++ b/app.yaml\n".to_owned()),
    }
}

fn failed() -> Report {
    Report {
        action: Outcome::Failed,
        status: "Failure".to_owned(),
        message: "other writers kept moving the branch through 5 attempts".to_owned(),
        commit: None,
        diff: None,
        ..updated()
    }
}

async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(DEADLINE, future)
        .await
        .expect("the send finished within the deadline")
}

/// Neither the error's Display nor its Debug holds the token or the path.
fn assert_no_token(error: &NotifyError) {
    for shown in [error.to_string(), format!("{error:?}")] {
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(!shown.contains("XyZzYSeCrEtToKeN"), "{shown}");
        assert!(!shown.contains("/hooks"), "{shown}");
    }
}

#[tokio::test]
async fn a_slack_notification_is_exactly_the_text_as_json() {
    let mut receiver = Receiver::start(StatusCode::OK, "ok").await;
    let endpoint = receiver.endpoint(Format::Slack);
    within(Notifier::new().unwrap().send(&endpoint, &updated()))
        .await
        .unwrap();

    let received = receiver.next().await;
    assert_eq!(received.method, Method::POST);
    assert_eq!(received.path, format!("/hooks/{TOKEN}"));
    assert_eq!(received.content_type.as_deref(), Some("application/json"));
    let expected_text = "web in apps: updated from 1.0.0 to 1.1.0 (commit abc1234)\n\
        set registry.example/web:1.1.0 in 1 place(s), with 0 other update(s) in the commit";
    assert_eq!(slack_text(&updated()), expected_text);
    let body: serde_json::Value = serde_json::from_slice(&received.body).unwrap();
    assert_eq!(body, serde_json::json!({ "text": expected_text }));
}

#[tokio::test]
async fn a_json_notification_is_the_report_without_its_diff() {
    let mut receiver = Receiver::start(StatusCode::NO_CONTENT, "").await;
    let endpoint = receiver.endpoint(Format::Json);
    within(Notifier::new().unwrap().send(&endpoint, &updated()))
        .await
        .unwrap();

    let received = receiver.next().await;
    assert_eq!(received.content_type.as_deref(), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(&received.body).unwrap();
    let expected = Report {
        diff: None,
        ..updated()
    };
    assert_eq!(body, serde_json::to_value(&expected).unwrap());
    assert!(body.get("diff").is_none(), "{body}");
    assert_eq!(body["action"], "updated");
    assert_eq!(body["commit"], "abc1234def567890abc1234def567890abc12345");
    let round_trip: Report = serde_json::from_slice(&received.body).unwrap();
    assert_eq!(round_trip, expected);
}

#[tokio::test]
async fn a_refusal_is_a_status_error_with_an_excerpt_and_without_the_token() {
    for (status, answer) in [
        (StatusCode::INTERNAL_SERVER_ERROR, "invalid_payload"),
        (StatusCode::NOT_FOUND, "no_service"),
    ] {
        let mut receiver = Receiver::start(status, answer).await;
        let endpoint = receiver.endpoint(Format::Slack);
        let error = within(Notifier::new().unwrap().send(&endpoint, &failed()))
            .await
            .unwrap_err();
        match &error {
            NotifyError::Status {
                host,
                status: code,
                body_excerpt,
            } => {
                assert_eq!(*code, status.as_u16());
                assert_eq!(body_excerpt, answer);
                assert_eq!(host, &format!("127.0.0.1:{}", receiver.port));
            }
            other => panic!("expected a status error, got {other:?}"),
        }
        assert!(
            error.to_string().contains(&status.as_u16().to_string()),
            "{error}"
        );
        assert_no_token(&error);
        // The receiver did get the request: the failure is its answer.
        receiver.next().await;
    }
}

#[tokio::test]
async fn an_answer_is_cut_to_its_first_200_characters_and_the_echoed_path_blanked() {
    let long = format!("no such hook /hooks/{TOKEN} {}", "x".repeat(5000));
    let receiver = Receiver::start(StatusCode::NOT_FOUND, &long).await;
    let endpoint = receiver.endpoint(Format::Json);
    let error = within(Notifier::new().unwrap().send(&endpoint, &failed()))
        .await
        .unwrap_err();
    let NotifyError::Status { body_excerpt, .. } = &error else {
        panic!("expected a status error, got {error:?}");
    };
    assert_eq!(body_excerpt.chars().count(), 200);
    assert!(
        body_excerpt.starts_with("no such hook [redacted] xxx"),
        "{body_excerpt}"
    );
    assert_no_token(&error);
}

#[tokio::test]
async fn an_unreachable_receiver_is_a_transport_error_without_the_token() {
    // A port that was just free: nothing listens there now.
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    };
    let endpoint = Endpoint::new(
        Format::Slack,
        format!("http://127.0.0.1:{port}/hooks/{TOKEN}"),
    )
    .unwrap();
    let error = within(Notifier::new().unwrap().send(&endpoint, &updated()))
        .await
        .unwrap_err();
    match &error {
        NotifyError::Transport { host, reason } => {
            assert_eq!(host, &format!("127.0.0.1:{port}"));
            assert!(reason.to_lowercase().contains("refused"), "{reason}");
        }
        other => panic!("expected a transport error, got {other:?}"),
    }
    assert_no_token(&error);
}

#[tokio::test]
async fn send_all_delivers_to_the_good_endpoint_when_another_fails() {
    let failing = Receiver::start(StatusCode::INTERNAL_SERVER_ERROR, "boom").await;
    let mut good = Receiver::start(StatusCode::OK, "ok").await;
    let endpoints = [failing.endpoint(Format::Json), good.endpoint(Format::Slack)];
    let results = within(Notifier::new().unwrap().send_all(&endpoints, &updated())).await;

    assert_eq!(results.len(), 2);
    assert!(
        matches!(results[0], Err(NotifyError::Status { status: 500, .. })),
        "{:?}",
        results[0]
    );
    assert!(results[1].is_ok(), "{:?}", results[1]);
    let received = good.next().await;
    let body: serde_json::Value = serde_json::from_slice(&received.body).unwrap();
    assert_eq!(body, serde_json::json!({ "text": slack_text(&updated()) }));
}

#[tokio::test]
async fn send_all_with_no_endpoints_sends_nothing() {
    let results = within(Notifier::new().unwrap().send_all(&[], &updated())).await;
    assert!(results.is_empty());
}

#[test]
fn invalid_urls_are_rejected_without_repeating_them() {
    for bad in [
        format!("ftp://hooks.example/{TOKEN}"),
        format!("not a url {TOKEN}"),
        format!("file:///{TOKEN}"),
    ] {
        let error = Endpoint::new(Format::Slack, bad.clone()).unwrap_err();
        assert!(
            matches!(error, NotifyError::InvalidUrl { .. }),
            "{bad}: {error:?}"
        );
        assert_no_token(&error);
        assert!(!error.to_string().contains("hooks.example"), "{error}");
    }
}

#[test]
fn an_endpoint_debug_never_shows_the_token() {
    let endpoint = Endpoint::new(
        Format::Slack,
        format!("https://hooks.example:8443/services/{TOKEN}?token=SECRETQ"),
    )
    .unwrap();
    let debug = format!("{endpoint:?}");
    assert!(debug.contains("hooks.example:8443"), "{debug}");
    assert!(!debug.contains("SECRET"), "{debug}");
    assert!(!debug.contains("/services"), "{debug}");
}
