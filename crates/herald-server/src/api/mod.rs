//! The query API under `/api/v1`: events, one revision's summary, Flux's notifications, and
//! the OpenAPI document describing them. Served from the store in [`ApiConfig`]; without one,
//! every `/api/` path answers 503 with a JSON error.

mod events;
mod flux;
mod image_updates;
mod json;
mod openapi;
mod reconcile;
mod retention;
mod revisions;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::{MethodRouter, any, get, post};
use herald_store::Store;

pub use events::parse as parse_event_query;
pub use openapi::OPENAPI_YAML;
pub use retention::{Retention, prune_events_forever};
pub use revisions::flux_outcome;

use crate::image_updates::ImageUpdates;
use crate::reconcile::Reconcile;
use crate::router::error;

/// What the query API serves from.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Where events and runs are read and Flux events recorded.
    pub store: Store,
    /// The shared secret of Flux's `generic-hmac` provider. When set, `POST
    /// /api/v1/flux/events` requires `X-Signature: sha256=<hex HMAC-SHA256 of the body>`.
    pub flux_secret: Option<Secret>,
    /// What acts on `POST /api/v1/reconcile/...`, set by the mode; without one that route
    /// answers 503.
    pub reconciler: Option<Arc<dyn Reconcile>>,
    /// Who may ask for a reconcile over HTTP.
    pub reconcile_access: ReconcileAccess,
    /// What serves the image automation endpoints; without one they answer 503.
    pub image_updates: Option<Arc<dyn ImageUpdates>>,
}

/// Who may `POST /api/v1/reconcile/...`: a request makes a trigger check now (and run, for a
/// trigger without `onChangeOnly`), so it is not open to whoever reaches a hook port.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ReconcileAccess {
    /// Requests with `Authorization: Bearer <token>` (compared in constant time).
    Token(Secret),
    /// Any request: for a server that listens on a loopback address only.
    Open,
    /// No request (403 saying how to open it); the annotation still works in a cluster.
    #[default]
    Closed,
}

impl ReconcileAccess {
    /// With a token, that token; without, open on a loopback address and closed on any other
    /// (a cluster's `0.0.0.0`, say).
    pub fn for_listener(token: Option<Secret>, listen: std::net::SocketAddr) -> Self {
        match token {
            Some(token) => Self::Token(token),
            None if listen.ip().is_loopback() => Self::Open,
            None => Self::Closed,
        }
    }
}

/// A shared secret. `Debug` never shows it, so it can sit in logged configuration.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(std::sync::Arc<[u8]>);

impl Secret {
    /// Wraps `bytes`; `None` when empty (an empty secret would verify nothing).
    pub fn new(bytes: impl Into<Vec<u8>>) -> Option<Self> {
        let bytes: Vec<u8> = bytes.into();
        (!bytes.is_empty()).then(|| Self(bytes.into()))
    }

    /// The secret itself.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Every operation of the API: the router is built from this list and the OpenAPI test checks
/// the document against it, so a route cannot be served undocumented (or documented unserved).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /api/v1/events`
    Events,
    /// `GET /api/v1/revisions/{revision}`
    Revision,
    /// `POST /api/v1/flux/events`
    FluxEvents,
    /// `GET /api/v1/openapi.json`
    OpenApi,
    /// `POST /api/v1/reconcile/{kind}/{namespace}/{name}`
    Reconcile,
    /// `GET /api/v1/imageupdates`
    ImageUpdates,
    /// `POST /api/v1/imageupdates/{namespace}/{name}/reconcile`
    ImageUpdateReconcile,
    /// `GET /debug`: the seed's alias of [`Route::ImageUpdates`].
    SeedDebug,
    /// `POST /reconcile`: the seed's "every update now".
    SeedReconcile,
    /// `GET /reconcile`: the same, as the seed's users call it (`curl .../reconcile`).
    SeedReconcileGet,
}

impl Route {
    /// Every route.
    pub const ALL: [Self; 10] = [
        Self::Events,
        Self::Revision,
        Self::FluxEvents,
        Self::OpenApi,
        Self::Reconcile,
        Self::ImageUpdates,
        Self::ImageUpdateReconcile,
        Self::SeedDebug,
        Self::SeedReconcile,
        Self::SeedReconcileGet,
    ];

    /// The HTTP method.
    pub fn method(self) -> Method {
        match self {
            Self::FluxEvents
            | Self::Reconcile
            | Self::ImageUpdateReconcile
            | Self::SeedReconcile => Method::POST,
            Self::Events
            | Self::Revision
            | Self::OpenApi
            | Self::ImageUpdates
            | Self::SeedDebug
            | Self::SeedReconcileGet => Method::GET,
        }
    }

    /// The path as the OpenAPI document writes it.
    pub fn path(self) -> &'static str {
        match self {
            Self::Events => "/api/v1/events",
            Self::Revision => "/api/v1/revisions/{revision}",
            Self::FluxEvents => "/api/v1/flux/events",
            Self::OpenApi => "/api/v1/openapi.json",
            Self::Reconcile => "/api/v1/reconcile/{kind}/{namespace}/{name}",
            Self::ImageUpdates => "/api/v1/imageupdates",
            Self::ImageUpdateReconcile => "/api/v1/imageupdates/{namespace}/{name}/reconcile",
            Self::SeedDebug => "/debug",
            Self::SeedReconcile | Self::SeedReconcileGet => "/reconcile",
        }
    }

    /// The path as axum matches it: a revision may hold slashes (`main/<sha>`), so it is a
    /// catch-all segment.
    fn axum_path(self) -> &'static str {
        match self {
            Self::Revision => "/api/v1/revisions/{*revision}",
            other => other.path(),
        }
    }

    fn handler(self) -> MethodRouter<ApiState> {
        match self {
            Self::Events => get(events::list),
            Self::Revision => get(revisions::show),
            Self::FluxEvents => post(flux::ingest),
            Self::OpenApi => get(openapi::serve),
            Self::Reconcile => post(reconcile::request),
            Self::ImageUpdates | Self::SeedDebug => get(image_updates::list),
            Self::ImageUpdateReconcile => post(image_updates::reconcile_one),
            Self::SeedReconcile => post(image_updates::reconcile_all),
            Self::SeedReconcileGet => get(image_updates::reconcile_all),
        }
    }
}

/// What the API handlers share.
#[derive(Clone)]
pub(crate) struct ApiState {
    pub(crate) store: Store,
    pub(crate) flux_secret: Option<Secret>,
    pub(crate) reconciler: Option<Arc<dyn Reconcile>>,
    pub(crate) reconcile_access: ReconcileAccess,
    pub(crate) image_updates: Option<Arc<dyn ImageUpdates>>,
    pub(crate) body_limit: usize,
}

/// The `/api` routes: the API when `config` is set, else a 503 for every `/api/` path.
pub(crate) fn router(config: Option<&ApiConfig>, body_limit: usize) -> Router {
    let Some(config) = config else {
        return Router::new()
            .route("/api", any(unavailable))
            .route("/api/{*rest}", any(unavailable));
    };
    let state = ApiState {
        store: config.store.clone(),
        flux_secret: config.flux_secret.clone(),
        reconciler: config.reconciler.clone(),
        reconcile_access: config.reconcile_access.clone(),
        image_updates: config.image_updates.clone(),
        body_limit,
    };
    Route::ALL
        .into_iter()
        .fold(Router::new(), |r, route| {
            r.route(route.axum_path(), route.handler())
        })
        .route("/api", any(not_found))
        .route("/api/{*rest}", any(not_found))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

async fn unavailable() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "the query API is not available: this server has no store",
    )
}

async fn not_found(uri: Uri) -> Response {
    error(
        StatusCode::NOT_FOUND,
        &format!("no API route {}; see /api/v1/openapi.json", uri.path()),
    )
}
