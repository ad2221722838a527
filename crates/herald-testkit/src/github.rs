//! A stand-in for GitHub's hooks API, for hook registration tests: GitHub cannot run here.

use serde_json::{Value, json};

/// GitHub's hooks API as documented (list, create, update, delete under
/// `/api/v3/repos/{owner}/{repo}/hooks`), kept in memory: GitHub cannot run here, so this
/// stand-in answers for it. `refuse` makes it answer 503 to everything (a host that is gone).
#[derive(Clone, Debug, Default)]
pub struct StandInGithub {
    pub hooks: std::sync::Arc<std::sync::Mutex<std::collections::BTreeMap<i64, Value>>>,
    pub tokens: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    pub refuse: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl StandInGithub {
    /// Serves on a loopback port; the origin (`http://127.0.0.1:PORT`).
    pub async fn start(&self) -> String {
        use axum::extract::{Path, State};
        use axum::http::{HeaderMap, StatusCode};
        use axum::routing::{get, patch};
        type Answer = (StatusCode, axum::Json<Value>);
        fn gate(host: &StandInGithub, headers: &HeaderMap) -> Option<Answer> {
            let auth = headers.get("authorization")?.to_str().ok()?.to_owned();
            host.tokens
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(auth);
            host.refuse
                .load(std::sync::atomic::Ordering::SeqCst)
                .then(|| {
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        axum::Json(json!({"message": "down"})),
                    )
                })
        }
        let app =
            axum::Router::new()
                .route(
                    "/api/v3/repos/org/app/hooks",
                    get(
                        |State(host): State<StandInGithub>, headers: HeaderMap| async move {
                            if let Some(refused) = gate(&host, &headers) {
                                return refused;
                            }
                            let hooks: Vec<Value> = host
                                .hooks
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .values()
                                .cloned()
                                .collect();
                            (StatusCode::OK, axum::Json(Value::Array(hooks)))
                        },
                    )
                    .post(
                        |State(host): State<StandInGithub>,
                         headers: HeaderMap,
                         axum::Json(mut hook): axum::Json<Value>| async move {
                            if let Some(refused) = gate(&host, &headers) {
                                return refused;
                            }
                            let mut hooks = host.hooks.lock().unwrap_or_else(|e| e.into_inner());
                            let id = hooks.keys().last().copied().unwrap_or(0) + 1;
                            hook["id"] = id.into();
                            hooks.insert(id, hook.clone());
                            (StatusCode::CREATED, axum::Json(hook))
                        },
                    ),
                )
                .route(
                    "/api/v3/repos/org/app/hooks/{id}",
                    patch(
                        |State(host): State<StandInGithub>,
                         Path(id): Path<i64>,
                         headers: HeaderMap,
                         axum::Json(mut hook): axum::Json<Value>| async move {
                            if let Some(refused) = gate(&host, &headers) {
                                return refused;
                            }
                            hook["id"] = id.into();
                            host.hooks
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .insert(id, hook.clone());
                            (StatusCode::OK, axum::Json(hook))
                        },
                    )
                    .delete(
                        |State(host): State<StandInGithub>,
                         Path(id): Path<i64>,
                         headers: HeaderMap| async move {
                            if let Some(refused) = gate(&host, &headers) {
                                return refused;
                            }
                            host.hooks
                                .lock()
                                .unwrap_or_else(|e| e.into_inner())
                                .remove(&id);
                            (StatusCode::NO_CONTENT, axum::Json(Value::Null))
                        },
                    ),
                )
                .with_state(self.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().expect("its address"));
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        url
    }

    /// The hooks it holds.
    pub fn hooks(&self) -> Vec<Value> {
        self.hooks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }
}
