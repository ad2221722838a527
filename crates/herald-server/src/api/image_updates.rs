//! Image automation over HTTP. Attempts are admitted as reconcile requests are
//! ([`ReconcileAccess`](super::ReconcileAccess)): an attempt may push a commit.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use herald_api::reasons;
use serde::Deserialize;
use serde_json::json;

use super::ApiState;
use super::reconcile::refusal;
use crate::image_updates::ImageUpdates;
use crate::reconcile::ReconcileError;
use crate::router::error;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ReconcileQuery {
    #[serde(default)]
    dry_run: bool,
}

/// `GET /api/v1/imageupdates` and the seed's `GET /debug`.
pub(crate) async fn list(State(api): State<ApiState>) -> Response {
    match served(&api) {
        Some(updates) => Json(updates.list().await).into_response(),
        None => unavailable(),
    }
}

/// `POST /api/v1/imageupdates/{namespace}/{name}/reconcile[?dryRun=true]`.
pub(crate) async fn reconcile_one(
    State(api): State<ApiState>,
    Path((namespace, name)): Path<(String, String)>,
    query: Result<Query<ReconcileQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = refusal(&api.reconcile_access, &headers) {
        return refused;
    }
    let Ok(Query(query)) = query else {
        return error(
            StatusCode::BAD_REQUEST,
            "the only query parameter is dryRun=true|false",
        );
    };
    let Some(updates) = served(&api) else {
        return unavailable();
    };
    match updates.reconcile(&namespace, &name, query.dry_run).await {
        Ok(report) => Json(report).into_response(),
        Err(e @ ReconcileError::NotFound(_)) => error(StatusCode::NOT_FOUND, &e.to_string()),
        Err(e @ ReconcileError::Suspended(_)) => {
            let body = json!({ "error": e.to_string(), "reason": reasons::SUSPENDED });
            (StatusCode::CONFLICT, Json(body)).into_response()
        }
        Err(ReconcileError::Unavailable(why)) => error(StatusCode::SERVICE_UNAVAILABLE, &why),
    }
}

/// The seed's `/reconcile`: every ImageUpdate now, one report each.
pub(crate) async fn reconcile_all(State(api): State<ApiState>, headers: HeaderMap) -> Response {
    if let Some(refused) = refusal(&api.reconcile_access, &headers) {
        return refused;
    }
    match served(&api) {
        Some(updates) => Json(updates.reconcile_all().await).into_response(),
        None => unavailable(),
    }
}

/// The mode's image updates; `None` on a server without them (answer [`unavailable`]).
fn served(api: &ApiState) -> Option<&dyn ImageUpdates> {
    api.image_updates.as_deref()
}

fn unavailable() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "this server does not run image automation",
    )
}
