//! One hook delivery: find the trigger, verify the sender, read the payload, fire, and answer
//! only once the runs are stored.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald_core::hooks::{self, HookEvent, HookSecret, Provider, VerifyError};
use serde_json::json;

use crate::delivery_log::DeliveryLog;
use crate::hooks::{Delivery, FireError, FiredRun, HookAuth, Hooks, LookupError};
use crate::router::{HookState, error};

pub(crate) async fn hook_all<H: Hooks>(
    State(state): State<HookState<H>>,
    Path((namespace, trigger)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = Target::new(&namespace, &trigger, None, None);
    handle(&state, &target, &headers, &body).await
}

pub(crate) async fn hook_one<H: Hooks>(
    State(state): State<HookState<H>>,
    Path((namespace, trigger, source)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = Target::new(&namespace, &trigger, Some(&source), None);
    handle(&state, &target, &headers, &body).await
}

/// A hook URL with a path token (Bitbucket Cloud, which cannot sign).
pub(crate) async fn hook_all_token<H: Hooks>(
    State(state): State<HookState<H>>,
    Path((namespace, trigger, token)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = Target::new(&namespace, &trigger, None, Some(&token));
    handle(&state, &target, &headers, &body).await
}

/// A hook URL for one source with a path token.
pub(crate) async fn hook_one_token<H: Hooks>(
    State(state): State<HookState<H>>,
    Path((namespace, trigger, source, token)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = Target::new(&namespace, &trigger, Some(&source), Some(&token));
    handle(&state, &target, &headers, &body).await
}

/// What a hook URL names.
struct Target<'a> {
    namespace: &'a str,
    trigger: &'a str,
    source: Option<&'a str>,
    /// The token in the path; never logged.
    token: Option<&'a str>,
}

impl<'a> Target<'a> {
    fn new(
        namespace: &'a str,
        trigger: &'a str,
        source: Option<&'a str>,
        token: Option<&'a str>,
    ) -> Self {
        Self {
            namespace,
            trigger,
            source,
            token,
        }
    }
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
    target: &Target<'_>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let Target {
        namespace,
        trigger,
        source,
        token,
    } = *target;
    let Some(_in_flight) = state.limiters.admit() else {
        return overloaded();
    };
    if let Err(wait) = state.limiters.check_global() {
        return too_many(wait);
    }
    let hooks = &*state.hooks;
    let auth = match hooks.hook_auth(namespace, trigger).await {
        Ok(auth) => auth,
        Err(e @ LookupError::NotFound(_)) => return error(StatusCode::NOT_FOUND, &e.to_string()),
        Err(LookupError::Misconfigured(why)) => {
            tracing::warn!(namespace, trigger, reason = %why, "hook refused: trigger misconfigured");
            return not_ready();
        }
    };
    if let Some(refused) = path_token_refusal(&auth, namespace, trigger, token) {
        return refused;
    }
    let view = HeaderView(headers);
    let secret = HookSecret::new(&auth.secret).with_header(&auth.header);
    match hooks::verify(auth.provider, &view, body, &secret, token) {
        Ok(()) => {}
        Err(VerifyError::NoSecret) => {
            tracing::warn!(
                namespace,
                trigger,
                "hook refused: the trigger's secret is empty"
            );
            return not_ready();
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
    let parse = if auth.reads_files {
        hooks::parse
    } else {
        hooks::parse_refs
    };
    let event = match parse(auth.provider, &view, body) {
        Ok(event) => event,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("cannot read the payload: {e}"),
            );
        }
    };
    let id = hooks::delivery_id(auth.provider, &view);
    let log = DeliveryLog::new(
        hooks.delivery_log(),
        namespace,
        trigger,
        source,
        id.as_deref(),
    );
    // A payload names its revision, so firing it again finds the runs it made (their names
    // come from the delivery id); a hook without one reads the remote, which may have moved,
    // so only such a repeat must be caught before firing.
    if matches!(event, HookEvent::Unspecified) {
        match log.earlier().await {
            Ok(Some(event_id)) => return duplicate(event_id),
            Ok(None) => {}
            Err(e) => return not_stored(namespace, trigger, &e.to_string()),
        }
    }
    let (response, runs) = respond(hooks, namespace, trigger, source, id, &event).await;
    if !response.status().is_success() {
        return response;
    }
    match log.record(auth.provider, &event, &runs).await {
        Ok(Some(recorded)) if recorded.duplicate => duplicate(recorded.id),
        Ok(_) => response,
        Err(e) => not_stored(namespace, trigger, &e.to_string()),
    }
}

/// The answer to a new delivery, and the runs it fired.
async fn respond<H: Hooks>(
    hooks: &H,
    namespace: &str,
    trigger: &str,
    source: Option<&str>,
    id: Option<String>,
    event: &HookEvent,
) -> (Response, Vec<FiredRun>) {
    let pushes = match event {
        HookEvent::Ping => {
            let pong = (StatusCode::OK, Json(json!({ "message": "pong" })));
            return (pong.into_response(), Vec::new());
        }
        HookEvent::Ignored { event } => {
            let message = format!("event {event:?} is not handled; nothing runs");
            let body = Json(json!({ "ignored": event, "message": message }));
            return ((StatusCode::ACCEPTED, body).into_response(), Vec::new());
        }
        HookEvent::Unspecified => None,
        HookEvent::Push(pushes) => Some(pushes.clone()),
    };
    let delivery = Delivery { id, pushes };
    match hooks.fire_hook(namespace, trigger, source, &delivery).await {
        Ok(runs) => (fired(&delivery, &runs), runs),
        Err(e) => (fire_failed(namespace, trigger, e), Vec::new()),
    }
}

/// A delivery recorded before: acknowledged, and nothing runs again.
fn duplicate(event_id: i64) -> Response {
    let message = "this delivery was received before; nothing runs again";
    let body = json!({ "duplicate": true, "event": event_id, "message": message });
    (StatusCode::OK, Json(body)).into_response()
}

/// Token URLs are only for Bitbucket Cloud, whose token must be long enough to be the whole
/// proof of the sender.
fn path_token_refusal(
    auth: &HookAuth,
    namespace: &str,
    trigger: &str,
    token: Option<&str>,
) -> Option<Response> {
    let token_provider = auth.provider == Provider::BitbucketCloud;
    if token.is_some() && !token_provider {
        return Some(error(StatusCode::NOT_FOUND, "no such hook path"));
    }
    if token_provider && auth.secret.len() < hooks::MIN_PATH_TOKEN_LEN {
        tracing::warn!(
            namespace,
            trigger,
            min = hooks::MIN_PATH_TOKEN_LEN,
            "hook refused: a bitbucket-cloud token must be at least this long"
        );
        return Some(not_ready());
    }
    None
}

/// 503: the trigger cannot verify callers yet (the reason is logged, not told to the caller).
fn not_ready() -> Response {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "trigger is not ready to accept hooks",
    )
}

/// 503 with `Retry-After`: too many deliveries are in progress to take another now.
fn overloaded() -> Response {
    let mut response = error(
        StatusCode::SERVICE_UNAVAILABLE,
        "too many deliveries in progress; retry later",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
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

fn fired(delivery: &Delivery, runs: &[FiredRun]) -> Response {
    if runs.is_empty() && delivery.pushes.is_some() {
        let message = "the push touches no watched ref or file; nothing runs";
        let body = json!({ "runs": runs, "message": message });
        return (StatusCode::ACCEPTED, Json(body)).into_response();
    }
    (StatusCode::ACCEPTED, Json(json!({ "runs": runs }))).into_response()
}

fn fire_failed(namespace: &str, trigger: &str, failure: FireError) -> Response {
    match failure {
        FireError::BadRequest(why) => error(StatusCode::BAD_REQUEST, &why),
        FireError::Source(why) => error(StatusCode::BAD_GATEWAY, &why),
        FireError::Store(why) => not_stored(namespace, trigger, &why),
    }
}

/// 503 with `Retry-After`: nothing was acknowledged, so the sender's retry loses nothing.
fn not_stored(namespace: &str, trigger: &str, why: &str) -> Response {
    tracing::error!(namespace, trigger, error = %why, "hook not stored");
    let mut response = error(
        StatusCode::SERVICE_UNAVAILABLE,
        "could not store the delivery; retry later",
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}
