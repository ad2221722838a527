//! Every answer is JSON: errors that axum makes itself (a body over the limit, a path that is
//! not UTF-8, no such route, a wrong method) come as plain text or empty, so they are rewritten
//! as `{"error": <their text>}` on the way out. The dashboard's own error pages (HTML, for a
//! person) are left as they are.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::json;

/// The most of a framework error's text that is kept.
const MAX_TEXT: usize = 16 * 1024;

/// `response`, or the same error as `{"error": <its text>}` when it is not JSON already.
pub(crate) async fn as_json(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_ours(&response) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_TEXT)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let body = json!({ "error": message(status, text) }).to_string();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body))
}

/// JSON already, or a page Herald rendered itself: the framework's errors are plain text.
fn is_ours(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("text/html"))
}

/// The framework's text, or the status's own words when it gave none.
fn message(status: StatusCode, text: String) -> String {
    if !text.is_empty() {
        return text;
    }
    status
        .canonical_reason()
        .unwrap_or("error")
        .to_ascii_lowercase()
}
