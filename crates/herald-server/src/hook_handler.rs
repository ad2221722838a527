//! One hook delivery: find the trigger, verify the sender, read the payload, fire, and answer
//! only once the runs are stored.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald_core::hooks::{self, HookEvent, HookSecret, VerifyError};
use serde_json::json;

use crate::hooks::{Delivery, FireError, Hooks, LookupError};
use crate::router::{HookState, error};

pub(crate) async fn hook_all<H: Hooks>(
    State(state): State<HookState<H>>,
    Path((namespace, trigger)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&state, &namespace, &trigger, None, &headers, &body).await
}

pub(crate) async fn hook_one<H: Hooks>(
    State(state): State<HookState<H>>,
    Path((namespace, trigger, source)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    handle(&state, &namespace, &trigger, Some(&source), &headers, &body).await
}

/// `HeaderMap` as the pure hook code reads headers.
struct HeaderView<'a>(&'a HeaderMap);

impl hooks::Headers for HeaderView<'_> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.0.get(name).map(HeaderValue::as_bytes)
    }
}

async fn handle<H: Hooks>(
    state: &HookState<H>,
    namespace: &str,
    trigger: &str,
    source: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if let Err(wait) = state.limiters.check_global() {
        return too_many(wait);
    }
    let hooks = &*state.hooks;
    let auth = match hooks.hook_auth(namespace, trigger).await {
        Ok(auth) => auth,
        Err(e @ LookupError::NotFound(_)) => return error(StatusCode::NOT_FOUND, &e.to_string()),
        Err(LookupError::Misconfigured(why)) => {
            tracing::warn!(namespace, trigger, reason = %why, "hook refused: trigger misconfigured");
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "trigger is not ready to accept hooks",
            );
        }
    };
    let view = HeaderView(headers);
    let secret = HookSecret::new(&auth.secret).with_header(&auth.header);
    match hooks::verify(auth.provider, &view, body, &secret, None) {
        Ok(()) => {}
        Err(VerifyError::NoSecret) => {
            tracing::warn!(
                namespace,
                trigger,
                "hook refused: the trigger's secret is empty"
            );
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "trigger is not ready to accept hooks",
            );
        }
        // No detail: telling a caller which part was wrong helps only an attacker.
        Err(_) => return error(StatusCode::UNAUTHORIZED, "unauthorized"),
    }
    if let Err(wait) = state
        .limiters
        .check_trigger(&format!("{namespace}/{trigger}"))
    {
        return too_many(wait);
    }
    let pushes = match hooks::parse(auth.provider, &view, body) {
        Ok(HookEvent::Ping) => {
            return (StatusCode::OK, Json(json!({ "message": "pong" }))).into_response();
        }
        Ok(HookEvent::Ignored { event }) => {
            let message = format!("event {event:?} is not handled; nothing runs");
            return (
                StatusCode::ACCEPTED,
                Json(json!({ "ignored": event, "message": message })),
            )
                .into_response();
        }
        Ok(HookEvent::Unspecified) => None,
        Ok(HookEvent::Push(pushes)) => Some(pushes),
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("cannot read the payload: {e}"),
            );
        }
    };
    let delivery = Delivery {
        id: hooks::delivery_id(auth.provider, &view),
        pushes,
    };
    fire(hooks, namespace, trigger, source, &delivery).await
}

/// 429 with the whole seconds to wait before retrying (at least 1).
fn too_many(wait: std::time::Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        "too many deliveries; retry later",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    response
}

async fn fire<H: Hooks>(
    hooks: &H,
    namespace: &str,
    trigger: &str,
    source: Option<&str>,
    delivery: &Delivery,
) -> Response {
    match hooks.fire_hook(namespace, trigger, source, delivery).await {
        Ok(runs) if runs.is_empty() && delivery.pushes.is_some() => {
            let message = "the push touches no watched ref or file; nothing runs";
            (
                StatusCode::ACCEPTED,
                Json(json!({ "runs": runs, "message": message })),
            )
                .into_response()
        }
        Ok(runs) => (StatusCode::ACCEPTED, Json(json!({ "runs": runs }))).into_response(),
        Err(FireError::BadRequest(why)) => error(StatusCode::BAD_REQUEST, &why),
        Err(FireError::Source(why)) => error(StatusCode::BAD_GATEWAY, &why),
        Err(FireError::Store(why)) => {
            tracing::error!(namespace, trigger, error = %why, "hook not stored");
            let mut response = error(
                StatusCode::SERVICE_UNAVAILABLE,
                "could not store the run; retry later",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            response
        }
    }
}
