//! `POST /api/v1/reconcile/{kind}/{namespace}/{name}`: a trigger checks its sources now. The
//! request's time is its value (`requestedAt`), which the trigger records as handled. Who may
//! ask is [`ReconcileAccess`]: a bearer token, or anyone on a loopback-only server.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald_api::{TriggerKind, reasons};
use jiff::Timestamp;
use serde_json::json;

use herald_core::hooks::tokens_match;

use super::{ApiState, ReconcileAccess};
use crate::reconcile::{ReconcileError, TriggerId};
use crate::router::error;

pub(crate) async fn request(
    State(api): State<ApiState>,
    Path((kind, namespace, name)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = refusal(&api.reconcile_access, &headers) {
        return refused;
    }
    let Some(kind) = trigger_kind(&kind) else {
        let why = format!("unknown kind {kind:?}; expected ScheduleTrigger or WebhookTrigger");
        return error(StatusCode::BAD_REQUEST, &why);
    };
    let Some(reconciler) = &api.reconciler else {
        let why = "this server cannot reconcile triggers";
        return error(StatusCode::SERVICE_UNAVAILABLE, why);
    };
    let trigger = TriggerId {
        kind,
        namespace: &namespace,
        name: &name,
    };
    let requested_at = Timestamp::now().to_string();
    match reconciler.reconcile(trigger, &requested_at).await {
        Ok(()) => {
            tracing::info!(%trigger, %requested_at, "reconcile requested");
            let body = json!({ "requestedAt": requested_at });
            (StatusCode::ACCEPTED, Json(body)).into_response()
        }
        Err(e @ ReconcileError::NotFound(_)) => error(StatusCode::NOT_FOUND, &e.to_string()),
        Err(e @ ReconcileError::Suspended(_)) => {
            let body = json!({ "error": e.to_string(), "reason": reasons::SUSPENDED });
            (StatusCode::CONFLICT, Json(body)).into_response()
        }
        Err(ReconcileError::Unavailable(why)) => {
            tracing::warn!(%trigger, error = %why, "reconcile request not passed on");
            let message = format!("cannot reconcile {trigger} now: {why}; retry later");
            let mut response = error(StatusCode::SERVICE_UNAVAILABLE, &message);
            let retry = HeaderValue::from_static("5");
            response.headers_mut().insert(header::RETRY_AFTER, retry);
            response
        }
    }
}

/// The answer to a request from someone who may not ask, `None` for one who may. Checked
/// before anything else, so a caller without the token learns nothing of the triggers.
pub(crate) fn refusal(access: &ReconcileAccess, headers: &HeaderMap) -> Option<Response> {
    match access {
        ReconcileAccess::Open => None,
        ReconcileAccess::Closed => {
            let why = "reconcile requests over HTTP need an API token: start Herald with \
                       --api-token-file (or set the reconcile.fluxcd.io/requestedAt annotation)";
            let body = json!({ "error": why, "reason": reasons::API_TOKEN_REQUIRED });
            Some((StatusCode::FORBIDDEN, Json(body)).into_response())
        }
        ReconcileAccess::Token(token) => {
            let presented = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "));
            match presented {
                Some(presented) if tokens_match(presented.trim().as_bytes(), token.expose()) => {
                    None
                }
                _ => Some(error(StatusCode::UNAUTHORIZED, "unauthorized")),
            }
        }
    }
}

/// The kind in the path, as the kinds are spelt (the CLI maps short names onto these).
fn trigger_kind(text: &str) -> Option<TriggerKind> {
    match text {
        "ScheduleTrigger" => Some(TriggerKind::ScheduleTrigger),
        "WebhookTrigger" => Some(TriggerKind::WebhookTrigger),
        _ => None,
    }
}
