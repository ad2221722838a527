//! One hook delivery: find the trigger, verify the sender, read the payload, fire, and answer
//! only once the runs are stored.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald_api::reasons;
use herald_core::hooks::{self, HookEvent, HookSecret, Provider};
use serde_json::json;
use tracing::Instrument;

use crate::delivery_log::DeliveryLog;
use crate::hooks::{Delivery, FireError, Fired, HookAuth, Hooks, LookupError, NotReady};
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

/// Every step refuses with the answer to give, so `handle` reads as the order of the checks.
type Step<T> = Result<T, Response>;

async fn handle<H: Hooks>(
    state: &HookState<H>,
    target: &Target<'_>,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let Some(_in_flight) = state.limiters.admit() else {
        return overloaded();
    };
    // The root of a delivery's trace: its decisions, the runs it creates and their steps.
    let span = tracing::info_span!(
        "hook",
        namespace = target.namespace,
        trigger = target.trigger,
        source = target.source,
        status = tracing::field::Empty,
    );
    let mut provider = None;
    let mut response = accept(state, target, &HeaderView(headers), body, &mut provider)
        .instrument(span.clone())
        .await
        .unwrap_or_else(|refused| refused);
    span.record("status", response.status().as_u16());
    if let Some(provider) = provider {
        response
            .extensions_mut()
            .insert(HookProvider(provider.to_string()));
    }
    response
}

/// The provider of the trigger a hook answer is for, once known: the label of
/// `herald_hook_request_duration_seconds`, read by the router's timing middleware.
#[derive(Debug, Clone)]
pub(crate) struct HookProvider(pub(crate) String);

async fn accept<H: Hooks>(
    state: &HookState<H>,
    target: &Target<'_>,
    view: &HeaderView<'_>,
    body: &[u8],
    provider: &mut Option<Provider>,
) -> Step<Response> {
    let (namespace, trigger) = (target.namespace, target.trigger);
    state.limiters.check_global().map_err(too_many)?;
    let hooks = &*state.hooks;
    let auth = verified(hooks, target, view, body).await?;
    *provider = Some(auth.provider);
    // Only now: a caller that cannot prove itself learns nothing about the trigger's state.
    if auth.suspended {
        return Ok(suspended(namespace, trigger));
    }
    let limited = state
        .limiters
        .check_trigger(&format!("{namespace}/{trigger}"));
    limited.map_err(too_many)?;
    let event = read(&auth, view, body)?;
    let id = hooks::delivery_id(auth.provider, view);
    let log = DeliveryLog::new(
        hooks.delivery_log(),
        namespace,
        trigger,
        target.source,
        id.as_deref(),
    );
    // A delivery seen before runs nothing, however long ago: its runs may have been pruned
    // since, so their names cannot be relied on to catch it.
    let earlier = log.earlier().await;
    if let Some(event_id) = earlier.map_err(|e| not_stored(namespace, trigger, &e.to_string()))? {
        return Ok(duplicate(event_id));
    }
    let (response, fired) = respond(hooks, &auth, target, id, &event).await;
    if !response.status().is_success() {
        return Ok(response);
    }
    match log.record(auth.provider, &event, &fired.runs).await {
        Ok(Some(recorded)) if recorded.duplicate => Ok(duplicate(recorded.id)),
        Ok(_) => Ok(response),
        Err(e) => Err(not_stored(namespace, trigger, &e.to_string())),
    }
}

/// The trigger's settings, once the delivery is shown to come from the holder of its secret.
async fn verified<H: Hooks>(
    hooks: &H,
    target: &Target<'_>,
    view: &HeaderView<'_>,
    body: &[u8],
) -> Step<HookAuth> {
    let (namespace, trigger, token) = (target.namespace, target.trigger, target.token);
    let auth = match hooks.hook_auth(namespace, trigger).await {
        Ok(auth) => auth,
        Err(e @ LookupError::NotFound(_)) => {
            return Err(error(StatusCode::NOT_FOUND, &e.to_string()));
        }
        Err(LookupError::NotReady(why)) => return Err(not_ready(namespace, trigger, &why)),
        Err(LookupError::Unavailable(why)) => return Err(unavailable(namespace, trigger, &why)),
    };
    if token.is_some() && auth.provider != Provider::BitbucketCloud {
        // Token URLs are only for Bitbucket Cloud, which cannot sign.
        return Err(error(StatusCode::NOT_FOUND, "no such hook path"));
    }
    let secret = HookSecret::new(&auth.secret).with_header(&auth.header);
    if let Err(e) = hooks::verify(auth.provider, view, body, &secret, token) {
        // No detail for the caller: telling it which part was wrong helps only an attacker.
        // The log says what was read, for the operator.
        let header = proof_header(&auth);
        tracing::info!(namespace, trigger, provider = %auth.provider, header = %header, reason = %e, "hook refused: not verified");
        return Err(error(StatusCode::UNAUTHORIZED, "unauthorized"));
    }
    Ok(auth)
}

/// What the payload says, reading the commits' file lists only when the trigger watches files.
#[expect(
    clippy::result_large_err,
    reason = "the refusal is the answer itself, built once on the cold path"
)]
fn read(auth: &HookAuth, view: &HeaderView<'_>, body: &[u8]) -> Step<HookEvent> {
    let parse = if auth.reads_files {
        hooks::parse
    } else {
        hooks::parse_refs
    };
    parse(auth.provider, view, body).map_err(|e| {
        let message = format!("cannot read the payload: {e}");
        error(StatusCode::BAD_REQUEST, &message)
    })
}

/// The header a provider's proof is read from, for the log of a refused delivery.
fn proof_header(auth: &HookAuth) -> &str {
    match auth.provider {
        Provider::Github => "x-hub-signature-256",
        Provider::Gitea => "x-gitea-signature (or x-forgejo-signature, x-gogs-signature)",
        Provider::Gitlab => "x-gitlab-token",
        Provider::BitbucketServer => "x-hub-signature",
        Provider::BitbucketCloud => "the path token",
        Provider::Generic | Provider::GenericHmac => &auth.header,
    }
}

/// The answer to a new delivery, and what it fired.
async fn respond<H: Hooks>(
    hooks: &H,
    auth: &HookAuth,
    target: &Target<'_>,
    id: Option<String>,
    event: &HookEvent,
) -> (Response, Fired) {
    let pushes = match event {
        HookEvent::Ping => {
            let pong = (StatusCode::OK, Json(json!({ "message": "pong" })));
            return (pong.into_response(), Fired::default());
        }
        HookEvent::Ignored { event } => {
            let message = format!("event {event:?} is not handled; nothing runs");
            let body = Json(json!({ "ignored": event, "message": message }));
            return (
                (StatusCode::ACCEPTED, body).into_response(),
                Fired::default(),
            );
        }
        HookEvent::Unspecified => None,
        HookEvent::Push(pushes) => Some(pushes.clone()),
    };
    let Target {
        namespace,
        trigger,
        source,
        ..
    } = *target;
    let delivery = Delivery { id, pushes };
    match hooks.fire_hook(namespace, trigger, source, &delivery).await {
        Ok(fired) => (accepted(&fired), fired),
        Err(e) => (fire_failed(auth, target, e), Fired::default()),
    }
}

/// A delivery recorded before: acknowledged, and nothing runs again.
fn duplicate(event_id: i64) -> Response {
    let message = "this delivery was received before; nothing runs again";
    let body = json!({ "duplicate": true, "event": event_id, "message": message });
    (StatusCode::OK, Json(body)).into_response()
}

/// 409: the trigger is suspended (`spec.suspend`); nothing fires and nothing is recorded, so
/// the same delivery fires once the trigger is resumed and the sender redelivers it.
fn suspended(namespace: &str, trigger: &str) -> Response {
    tracing::info!(namespace, trigger, "hook refused: trigger suspended");
    let message = format!("WebhookTrigger {namespace}/{trigger} is suspended; nothing runs");
    let body = json!({ "error": message, "reason": reasons::SUSPENDED });
    (StatusCode::CONFLICT, Json(body)).into_response()
}

/// 503 with `Retry-After`: the trigger cannot verify callers until its configuration is
/// fixed; the answer says why, so a sender's retries are explainable.
fn not_ready(namespace: &str, trigger: &str, why: &NotReady) -> Response {
    tracing::warn!(namespace, trigger, reason = why.reason(), detail = %why, "hook refused: trigger not ready");
    let message = format!("trigger is not ready to accept hooks: {why}");
    let body = json!({ "error": message, "reason": why.reason() });
    retry_after(
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response(),
        30,
    )
}

/// 503 with `Retry-After`: the definitions could not be read now.
fn unavailable(namespace: &str, trigger: &str, why: &str) -> Response {
    tracing::warn!(namespace, trigger, error = %why, "hook refused: definitions unavailable");
    let message = "cannot read the trigger's definition now; retry later";
    retry_after(error(StatusCode::SERVICE_UNAVAILABLE, message), 5)
}

fn retry_after(mut response: Response, seconds: u64) -> Response {
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// 503 with `Retry-After`: too many deliveries are in progress to take another now.
fn overloaded() -> Response {
    let message = "too many deliveries in progress; retry later";
    retry_after(error(StatusCode::SERVICE_UNAVAILABLE, message), 1)
}

/// 429 with the whole seconds to wait before retrying (at least 1).
fn too_many(wait: std::time::Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let message = "too many deliveries; retry later";
    retry_after(
        error(StatusCode::TOO_MANY_REQUESTS, message),
        seconds.max(1),
    )
}

fn accepted(fired: &Fired) -> Response {
    let mut body = json!({ "runs": fired.runs });
    if !fired.skipped.is_empty() {
        body["skipped"] = json!(fired.skipped);
    }
    if fired.runs.is_empty() {
        let reasons: Vec<String> = fired
            .skipped
            .iter()
            .map(|s| format!("{}: {}", s.source, s.reason))
            .collect();
        body["message"] = json!(format!("nothing runs: {}", reasons.join("; ")));
    }
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

fn fire_failed(auth: &HookAuth, target: &Target<'_>, failure: FireError) -> Response {
    let (namespace, trigger) = (target.namespace, target.trigger);
    match failure {
        FireError::BadRequest(why) => error(StatusCode::BAD_REQUEST, &why),
        FireError::SourceRequired => {
            let paths = auth.paths(namespace, trigger);
            let message = format!(
                "WebhookTrigger {namespace}/{trigger} fires one source at a time; \
                 send the delivery to one of: {}",
                paths.join(", ")
            );
            let body = json!({ "error": message, "paths": paths });
            (StatusCode::BAD_REQUEST, Json(body)).into_response()
        }
        FireError::Source(why) => error(StatusCode::BAD_GATEWAY, &why),
        FireError::Store(why) => not_stored(namespace, trigger, &why),
        FireError::Suspended => suspended(namespace, trigger),
    }
}

/// 503 with `Retry-After`: nothing was acknowledged, so the sender's retry loses nothing.
fn not_stored(namespace: &str, trigger: &str, why: &str) -> Response {
    tracing::error!(namespace, trigger, error = %why, "hook not stored");
    let message = "could not store the delivery; retry later";
    retry_after(error(StatusCode::SERVICE_UNAVAILABLE, message), 5)
}
