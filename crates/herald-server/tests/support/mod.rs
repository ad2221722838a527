//! A real Herald HTTP server on a loopback port, a client that checks every answer against the
//! OpenAPI document the server serves, and Flux events to send it.

#![allow(dead_code, clippy::unwrap_used)]

pub mod openapi;

use std::net::SocketAddr;
use std::sync::Arc;

use herald_server::{
    ApiConfig, Delivery, FireError, Fired, HookAuth, Hooks, LookupError, Reconcile,
    ReconcileAccess, ReconcileError, ReconcileFuture, ServerConfig, TriggerId,
};
use herald_store::Store;
use hmac::Mac;
use reqwest::Method;
use serde_json::{Value, json};

pub use openapi::Document;

pub const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
pub const SHA2: &str = "89abcdef0123456789abcdef0123456789abcdef";

/// A request body and its extra headers.
pub type Body<'a> = (Vec<u8>, Vec<(&'a str, String)>);

/// No webhook triggers: the API tests need none.
pub struct NoHooks;

impl Hooks for NoHooks {
    async fn hook_auth(&self, namespace: &str, trigger: &str) -> Result<HookAuth, LookupError> {
        Err(LookupError::NotFound(format!("{namespace}/{trigger}")))
    }

    async fn fire_hook(
        &self,
        _namespace: &str,
        _trigger: &str,
        _source: Option<&str>,
        _delivery: &Delivery,
    ) -> Result<Fired, FireError> {
        Ok(Fired::default())
    }

    fn delivery_log(&self) -> Option<&Store> {
        None
    }
}

/// Triggers to reconcile: `default/known` of either kind is accepted, `default/paused` is
/// suspended, any other is unknown. Each accepted request is kept, with its value.
#[derive(Debug, Default)]
pub struct Reconciler(pub std::sync::Mutex<Vec<(String, String)>>);

impl Reconcile for Reconciler {
    fn reconcile<'a>(
        &'a self,
        trigger: TriggerId<'a>,
        requested_at: &'a str,
    ) -> ReconcileFuture<'a> {
        Box::pin(async move {
            match (trigger.namespace, trigger.name) {
                ("default", "known") => {
                    let request = (trigger.to_string(), requested_at.to_owned());
                    self.0.lock().unwrap().push(request);
                    Ok(())
                }
                ("default", "paused") => Err(ReconcileError::Suspended(trigger.to_string())),
                _ => Err(ReconcileError::NotFound(trigger.to_string())),
            }
        })
    }
}

/// A server running on `127.0.0.1:0` until dropped.
pub struct Server {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    /// The served OpenAPI document (absent for a server without the API).
    pub document: Option<Document>,
    /// What the server's reconcile requests reached.
    pub reconciler: Arc<Reconciler>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// Serves the API from `store`, requiring signed Flux events when `flux_secret` is set.
    /// Reconcile requests are open, as on a loopback-only server.
    pub async fn start(store: &Store, flux_secret: Option<&[u8]>, body_limit: usize) -> Self {
        Self::start_with(store, flux_secret, body_limit, ReconcileAccess::Open).await
    }

    /// [`Server::start`], with reconcile requests admitted by `reconcile_access`.
    pub async fn start_with(
        store: &Store,
        flux_secret: Option<&[u8]>,
        body_limit: usize,
        reconcile_access: ReconcileAccess,
    ) -> Self {
        let reconciler = Arc::new(Reconciler::default());
        let api = ApiConfig {
            store: store.clone(),
            flux_secret: flux_secret.and_then(herald_server::Secret::new),
            reconciler: Some(reconciler.clone()),
            reconcile_access,
            image_updates: None,
        };
        let mut server = Self::serve(ServerConfig {
            body_limit,
            api: Some(api),
            ..ServerConfig::default()
        })
        .await;
        server.reconciler = reconciler;
        let (status, document) = server.send(Method::GET, "/api/v1/openapi.json", None).await;
        assert_eq!(status, 200, "{document}");
        server.document = Some(Document::new(document));
        server
    }

    /// A server with no store.
    pub async fn without_api() -> Self {
        Self::serve(ServerConfig::default()).await
    }

    async fn serve(config: ServerConfig) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = herald_server::router(Arc::new(NoHooks), &config);
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Self {
            addr,
            client: reqwest::Client::new(),
            document: None,
            reconciler: Arc::default(),
            task,
        }
    }

    /// Sends a request; the status and the JSON body (`Null` when not JSON).
    pub async fn send(&self, method: Method, path: &str, body: Option<Body<'_>>) -> (u16, Value) {
        let mut request = self
            .client
            .request(method, format!("http://{}{path}", self.addr));
        if let Some((body, headers)) = body {
            request = request
                .header("content-type", "application/json")
                .body(body);
            for (name, value) in headers {
                request = request.header(name, value);
            }
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Sends a request and checks the answer against the document: its status must be
    /// documented for the operation and its body must match that status' schema.
    pub async fn call(&self, method: Method, path: &str, body: Option<Body<'_>>) -> (u16, Value) {
        let (status, json) = self.send(method.clone(), path, body).await;
        let document = self.document.as_ref().expect("an API server");
        if let Err(why) = document.check_response(method.as_str(), path, status, &json) {
            panic!("{method} {path} answered {status} {json}, against the document: {why}");
        }
        (status, json)
    }

    /// `GET path`, checked against the document.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, None).await
    }

    /// Posts `body` to the Flux endpoint with `headers`, checked against the document.
    pub async fn post_flux(&self, body: &[u8], headers: Vec<(&str, String)>) -> (u16, Value) {
        let body = Some((body.to_vec(), headers));
        self.call(Method::POST, "/api/v1/flux/events", body).await
    }

    /// Posts an unsigned Flux event and expects it stored; its id.
    pub async fn ingest(&self, event: &Value) -> i64 {
        let (status, answer) = self
            .post_flux(&serde_json::to_vec(event).unwrap(), Vec::new())
            .await;
        assert_eq!(status, 202, "{answer}");
        answer["id"].as_i64().unwrap()
    }

    /// Every event on every page of `GET /api/v1/events?query`, following the cursors.
    pub async fn all_events(&self, query: &str) -> Vec<Value> {
        let mut events = Vec::new();
        let mut cursor = None;
        loop {
            let page = match cursor {
                Some(c) => format!("/api/v1/events?{query}&cursor={c}"),
                None => format!("/api/v1/events?{query}"),
            };
            let (status, body) = self.get(&page).await;
            assert_eq!(status, 200, "{body}");
            events.extend(body["events"].as_array().unwrap().iter().cloned());
            match body["nextCursor"].as_i64() {
                Some(next) => cursor = Some(next),
                None => return events,
            }
        }
    }
}

/// A Flux event as notification-controller sends it.
pub fn flux_event(
    object: (&str, &str, &str),
    reason: &str,
    severity: &str,
    revision: &str,
    timestamp: &str,
) -> Value {
    let (kind, namespace, name) = object;
    json!({
        "involvedObject": {
            "kind": kind, "namespace": namespace, "name": name,
            "uid": "7d0cdc51-2f8e-4c6e-9a84-1f6f1c2d3e4f",
            "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "resourceVersion": "56921"
        },
        "severity": severity,
        "timestamp": timestamp,
        "message": format!("{reason} for {name}"),
        "reason": reason,
        "metadata": {"revision": revision, "commit_status": "update"},
        "reportingController": "kustomize-controller",
        "reportingInstance": "kustomize-controller-7f5c"
    })
}

/// `sha256=<hex HMAC-SHA256 of body>`, as the `generic-hmac` provider signs.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}
