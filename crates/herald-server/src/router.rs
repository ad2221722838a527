//! The axum router and server.

use std::{net::SocketAddr, sync::Arc};

use axum::{
    Json, Router,
    extract::{DefaultBodyLimit, State},
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::json;
use tokio::net::TcpListener;

use crate::api::{self, ApiConfig};
use crate::health::{Closing, Health};
use crate::hook_handler::HookProvider;
use crate::hooks::Hooks;
use crate::limits::{Limiters, RateLimits};
use crate::metrics::{HookLabels, HookTimingLabels, Metrics};
use crate::{hook_handler, json_errors};

/// Settings of the HTTP server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// Largest accepted request body in bytes.
    pub body_limit: usize,
    /// What `/healthz` and `/readyz` report.
    pub health: Health,
    /// Counters; `/metrics` serves them on the same address unless served apart.
    pub metrics: Metrics,
    /// Hook rate limits (unlimited by default).
    pub rate_limits: RateLimits,
    /// The query API's store and Flux secret; `None` answers every `/api/` path with 503.
    pub api: Option<ApiConfig>,
    /// The web dashboard's routes under `/ui/` (built by `herald-ui`); `None` serves none.
    pub pages: Option<Router>,
    /// Tripped by [`serve`] when `shutdown` resolves, for answers that would otherwise last.
    pub closing: Closing,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit: 1024 * 1024,
            health: Health::default(),
            metrics: Metrics::default(),
            rate_limits: RateLimits::default(),
            api: None,
            pages: None,
            closing: Closing::default(),
        }
    }
}

/// The router Herald serves: `POST /hooks/{namespace}/{trigger}[/{source}]`, `GET /healthz`
/// (alive: no work loop has died), `GET /readyz` (every work loop is running), `/metrics`, and
/// the query API under `/api/v1` (see [`ApiConfig`]).
pub fn router<H: Hooks>(hooks: Arc<H>, config: &ServerConfig) -> Router {
    let (alive, ready) = (config.health.clone(), config.health.clone());
    Router::new()
        .route(
            "/hooks/{namespace}/{trigger}",
            post(hook_handler::hook_all::<H>),
        )
        .route(
            "/hooks/{namespace}/{trigger}/{source}",
            post(hook_handler::hook_one::<H>),
        )
        .route(
            "/hooks/{namespace}/{trigger}/t/{token}",
            post(hook_handler::hook_all_token::<H>),
        )
        .route(
            "/hooks/{namespace}/{trigger}/{source}/t/{token}",
            post(hook_handler::hook_one_token::<H>),
        )
        .route(
            "/healthz",
            get(move || async move { probe(alive.is_alive()) }),
        )
        .route(
            "/readyz",
            get(move || async move { probe(ready.is_ready()) }),
        )
        .layer(DefaultBodyLimit::max(config.body_limit))
        .with_state(HookState {
            hooks,
            limiters: Limiters::new(config.rate_limits),
        })
        .merge(config.metrics.router())
        .merge(api::router(config.api.as_ref(), config.body_limit))
        .merge(config.pages.clone().unwrap_or_default())
        // One layer over everything, not two: at tens of thousands of requests a second each
        // middleware layer costs a measurable share of a request.
        .layer(axum::middleware::from_fn_with_state(
            config.metrics.clone(),
            finish,
        ))
}

/// What the hook handlers share.
pub(crate) struct HookState<H> {
    pub(crate) hooks: Arc<H>,
    pub(crate) limiters: Limiters,
}

// Not derived: `H` itself need not be `Clone`, the `Arc` is.
impl<H> Clone for HookState<H> {
    fn clone(&self) -> Self {
        Self {
            hooks: self.hooks.clone(),
            limiters: self.limiters.clone(),
        }
    }
}

/// Every answer on its way out: hook answers are counted by status, and errors the framework
/// made itself are rewritten as JSON.
async fn finish(
    State(metrics): State<Metrics>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let is_hook = request.uri().path().starts_with("/hooks/");
    let started = std::time::Instant::now();
    let response = json_errors::as_json(next.run(request).await).await;
    if is_hook {
        let status = response.status().as_u16();
        metrics
            .hook_requests
            .get_or_create(&HookLabels { status })
            .inc();
        let provider = response
            .extensions()
            .get::<HookProvider>()
            .map_or_else(|| "unknown".to_owned(), |p| p.0.clone());
        metrics
            .hook_duration
            .get_or_create(&HookTimingLabels { provider, status })
            .observe(started.elapsed().as_secs_f64());
    }
    response
}

fn probe(ok: bool) -> Response {
    if ok {
        // A constant body: probes are asked often and say the same thing.
        let json = [(axum::http::header::CONTENT_TYPE, "application/json")];
        (StatusCode::OK, json, r#"{"status":"ok"}"#).into_response()
    } else {
        error(StatusCode::SERVICE_UNAVAILABLE, "not ok")
    }
}

/// Bind and serve until `shutdown` resolves.
pub async fn serve<H: Hooks>(
    hooks: Arc<H>,
    config: &ServerConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(config.listen).await?;
    tracing::info!(addr = %listener.local_addr()?, "serving hooks");
    let closing = config.closing.clone();
    let shutdown = async move {
        shutdown.await;
        closing.close();
    };
    axum::serve(listener, router(hooks, config))
        .with_graceful_shutdown(shutdown)
        .await
}

pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}
