//! Hooks at each Git host's API, against stand-ins that answer as GitHub's, GitLab's and
//! Gitea's documentation says (those hosts cannot run here): the paths, the authentication
//! header, the body each takes, finding Herald's hook by its URL among others, updating it in
//! place, removing it, and a refusal reported with the host's status and never the token.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use herald_api::GitHostApi;
use herald_notify::webhook::Poster;
use herald_notify::{Hook, Hooks, HostError, Repository};
use serde_json::{Value, json};

const TOKEN: &str = "glpat-notARealTokenButSecret";

/// One host's hooks in memory, and every request's (method, path, auth header).
#[derive(Clone, Default)]
struct StandIn {
    base: String,
    hooks: Arc<Mutex<BTreeMap<i64, Value>>>,
    seen: Arc<Mutex<Vec<(Method, String, String)>>>,
    refuse: Arc<Mutex<Option<u16>>>,
}

async fn handle(
    State(host): State<StandIn>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> (StatusCode, axum::Json<Value>) {
    // `{base}/hooks` or `{base}/hooks/{id}`, the base as each host documents it.
    let Some(rest) = uri.path().strip_prefix(host.base.as_str()) else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"message": uri.path()})),
        );
    };
    let id = match rest {
        "/hooks" => None,
        _ => match rest
            .strip_prefix("/hooks/")
            .and_then(|id| id.parse::<i64>().ok())
        {
            Some(id) => Some(id),
            None => return (StatusCode::NOT_FOUND, axum::Json(json!({"message": rest}))),
        },
    };
    let auth = ["authorization", "private-token"]
        .iter()
        .find_map(|h| headers.get(*h))
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    host.seen
        .lock()
        .unwrap()
        .push((method.clone(), uri.path().to_owned(), auth));
    if let Some(status) = *host.refuse.lock().unwrap() {
        return (
            StatusCode::from_u16(status).unwrap(),
            axum::Json(json!({"message": "no"})),
        );
    }
    let mut hooks = host.hooks.lock().unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match (method.as_str(), id) {
        ("GET", None) => (
            StatusCode::OK,
            axum::Json(Value::Array(hooks.values().cloned().collect())),
        ),
        ("POST", None) => {
            let id = hooks.keys().last().copied().unwrap_or(40) + 1;
            let mut hook = body;
            hook["id"] = id.into();
            hooks.insert(id, hook.clone());
            (StatusCode::CREATED, axum::Json(hook))
        }
        ("PATCH" | "PUT", Some(id)) => {
            let mut hook = body;
            hook["id"] = id.into();
            hooks.insert(id, hook.clone());
            (StatusCode::OK, axum::Json(hook))
        }
        ("DELETE", Some(id)) => {
            hooks.remove(&id);
            (StatusCode::NO_CONTENT, axum::Json(Value::Null))
        }
        _ => (StatusCode::METHOD_NOT_ALLOWED, axum::Json(Value::Null)),
    }
}

/// A stand-in serving `base` (the repository's API) and `base/{id}`.
async fn stand_in(base: &str) -> (StandIn, String) {
    let host = StandIn {
        base: base.to_owned(),
        ..StandIn::default()
    };
    // Another tool's hook is there already: it must be left alone.
    host.hooks.lock().unwrap().insert(
        7,
        json!({"id": 7, "url": "https://ci.example/hook", "config": {"url": "https://ci.example/hook"}}),
    );
    let app = Router::new().fallback(handle).with_state(host.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    (host, origin)
}

async fn run(api: GitHostApi, base: &str, path: &str, auth: &str) {
    let (host, origin) = stand_in(base).await;
    let repository = Repository::parse(&format!("{origin}/{path}"), "test").unwrap();
    let poster = Poster::new().unwrap();
    let hooks = Hooks {
        poster: &poster,
        api,
        repository,
        token: TOKEN,
    };
    let url = "https://herald.example.com/hooks/team/push";
    let first = hooks.ensure(Hook { url, secret: "one" }).await.unwrap();
    let second = hooks.ensure(Hook { url, secret: "two" }).await.unwrap();
    assert_eq!(
        first, second,
        "{api:?}: updated in place, not created twice"
    );
    let stored = host.hooks.lock().unwrap().get(&first).cloned().unwrap();
    match api {
        GitHostApi::Gitlab => {
            assert_eq!(stored["url"], url);
            assert_eq!(stored["token"], "two");
            assert_eq!(stored["push_events"], true);
        }
        _ => {
            assert_eq!(stored["config"]["url"], url);
            assert_eq!(stored["config"]["secret"], "two");
            assert_eq!(stored["events"], json!(["push"]));
        }
    }
    assert!(hooks.remove(url).await.unwrap());
    assert!(
        !hooks.remove(url).await.unwrap(),
        "{api:?}: nothing left to remove"
    );
    let left: Vec<i64> = host.hooks.lock().unwrap().keys().copied().collect();
    assert_eq!(left, [7], "{api:?}: the other tool's hook stays");
    let seen = host.seen.lock().unwrap().clone();
    assert!(seen.iter().all(|(_, _, a)| a == auth), "{api:?}: {seen:?}");
    let methods: Vec<&str> = seen.iter().map(|(m, _, _)| m.as_str()).collect();
    let update = if api == GitHostApi::Gitlab {
        "PUT"
    } else {
        "PATCH"
    };
    assert_eq!(
        methods,
        ["GET", "POST", "GET", update, "GET", "DELETE", "GET"],
        "{api:?}"
    );

    *host.refuse.lock().unwrap() = Some(403);
    let error = hooks
        .ensure(Hook {
            url,
            secret: "three",
        })
        .await
        .unwrap_err();
    assert!(matches!(error, HostError::Url(_)), "{error:?}");
    let text = error.to_string();
    assert!(text.contains("403") && !text.contains(TOKEN), "{text}");
}

#[tokio::test]
async fn github_hooks() {
    run(
        GitHostApi::Github,
        "/api/v3/repos/org/app",
        "org/app",
        &format!("Bearer {TOKEN}"),
    )
    .await;
}

#[tokio::test]
async fn gitlab_hooks() {
    run(
        GitHostApi::Gitlab,
        "/api/v4/projects/group%2Fapp",
        "group/app.git",
        TOKEN,
    )
    .await;
}

#[tokio::test]
async fn gitea_hooks() {
    run(
        GitHostApi::Gitea,
        "/api/v1/repos/org/app",
        "org/app",
        &format!("token {TOKEN}"),
    )
    .await;
}
