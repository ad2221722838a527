//! Herald's web dashboard at `/ui/`: server-rendered, read-only pages over the same store (and
//! the same query API code) the CLI uses, with a little script for live updates. Each mode
//! supplies its triggers, sources and runs through [`Board`]; events and revisions come from
//! the store. Templates and assets are compiled into the binary.

mod board;
mod live;
mod pages;
mod time;
pub mod views;
pub mod words;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;
use axum::routing::get;
use herald_store::Store;

pub use board::{Board, BoardError, RunView, SourceRow, TriggerRow};

/// What every page reads from.
#[derive(Clone)]
pub(crate) struct Ui {
    pub store: Store,
    pub board: Arc<dyn Board>,
    pub live: live::Live,
}

/// The routes under `/ui/`, to merge into Herald's router. Starts the live-update task, so it
/// is called within the runtime; live updates end when `closing` trips (the server's).
pub fn router(store: Store, board: Arc<dyn Board>, closing: herald_server::Closing) -> Router {
    let live = live::Live::start(store.clone(), closing);
    let ui = Ui { store, board, live };
    Router::new()
        .route("/ui", get(pages::to_overview))
        .route("/ui/", get(pages::overview))
        .route("/ui/runs", get(pages::runs))
        .route("/ui/runs/{name}", get(pages::run))
        .route("/ui/revisions", get(pages::jump_to_revision))
        .route("/ui/revisions/{*revision}", get(pages::revision))
        .route("/ui/events", get(pages::events))
        .route("/ui/live", get(pages::live))
        .route("/ui/assets/app.css", get(pages::stylesheet))
        .route("/ui/assets/live.js", get(pages::script))
        .route("/ui/assets/icon.svg", get(pages::icon))
        .route("/ui/{*rest}", get(pages::not_found))
        .with_state(ui)
        .layer(axum::middleware::map_response(secured))
}

/// Every answer forbids framing, sniffing, referrers and any script or style not served here.
async fn secured(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = |headers: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
         connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    );
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::REFERRER_POLICY, "no-referrer");
    response
}

impl std::fmt::Debug for Ui {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ui").finish_non_exhaustive()
    }
}
