//! `POST /api/v1/flux/events`: Flux's notification-controller as a `generic` provider, or as
//! `generic-hmac` when a secret is set. An event is answered 202 only once it is stored;
//! anything refused is stored nowhere.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use herald_core::flux::FluxEvent;
use herald_core::hooks::{self, HookSecret, Provider, VerifyError};
use herald_store::{EventKind, NewEvent};
use serde_json::json;

use super::ApiState;
use super::json::store_failed;
use crate::router::error;

/// The header notification-controller's `generic-hmac` provider signs with.
const SIGNATURE_HEADER: &str = "x-signature";

pub(crate) async fn ingest(
    State(api): State<ApiState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            let why = format!("the body is over {} bytes", api.body_limit);
            return error(StatusCode::PAYLOAD_TOO_LARGE, &why);
        }
        Err(e) => return error(e.status(), &e.body_text()),
    };
    let unsigned = (api.flux_secret.as_ref()).is_some_and(|s| !signed(s.expose(), &headers, &body));
    if unsigned {
        // No detail: telling a caller which part was wrong helps only an attacker.
        return error(StatusCode::UNAUTHORIZED, "unauthorized");
    }
    let event = match FluxEvent::parse(&body) {
        Ok(event) => event,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.to_string()),
    };
    let record = match new_event(&event, &body) {
        Ok(record) => record,
        Err(why) => return error(StatusCode::BAD_REQUEST, &why),
    };
    match api.store.record_event(&record).await {
        Ok(recorded) => {
            tracing::debug!(
                id = recorded.id,
                object = %object(&event),
                reason = %event.reason,
                revision = event.revision().unwrap_or(""),
                "Flux event stored"
            );
            (StatusCode::ACCEPTED, Json(json!({ "id": recorded.id }))).into_response()
        }
        Err(e) => store_failed("storing a Flux event", &e),
    }
}

/// Whether `body` carries a valid `X-Signature: sha256=<hex>` for `secret` (constant time).
fn signed(secret: &[u8], headers: &HeaderMap, body: &[u8]) -> bool {
    let key = HookSecret::new(secret)
        .with_header(SIGNATURE_HEADER)
        .with_prefix("sha256=");
    match hooks::verify(
        Provider::GenericHmac,
        &HeaderView(headers),
        body,
        &key,
        None,
    ) {
        Ok(()) => true,
        Err(VerifyError::NoSecret) => {
            tracing::warn!("Flux event refused: the configured Flux secret is empty");
            false
        }
        Err(_) => false,
    }
}

/// The store's record of `event`, with the body as sent for its payload.
fn new_event(event: &FluxEvent, body: &[u8]) -> Result<NewEvent, String> {
    let payload: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("not a Flux event: {e}"))?;
    let object = &event.involved_object;
    let namespace = (!object.namespace.is_empty()).then(|| object.namespace.clone());
    Ok(NewEvent {
        at: event.time(),
        namespace: namespace.clone(),
        revision: event.revision().map(str::to_owned),
        involved_kind: Some(object.kind.clone()),
        involved_namespace: namespace,
        involved_name: Some(object.name.clone()),
        reason: Some(event.reason.clone()),
        severity: Some(event.severity.clone()),
        message: Some(event.message.clone()),
        payload: Some(payload),
        ..NewEvent::new(EventKind::FluxEvent)
    })
}

fn object(event: &FluxEvent) -> String {
    let o = &event.involved_object;
    format!("{}/{}/{}", o.kind, o.namespace, o.name)
}

/// `HeaderMap` as the pure hook code reads headers.
struct HeaderView<'a>(&'a HeaderMap);

impl hooks::Headers for HeaderView<'_> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.0.get(name).map(HeaderValue::as_bytes)
    }
}
