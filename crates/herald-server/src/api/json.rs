//! The API's JSON shapes that are not the store's own, and its error answers.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use herald_store::{RunRecord, StoreError};
use jiff::Timestamp;
use serde::Serialize;

use crate::router::error;

/// A run as the API shows it (camelCase; without its output).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RunJson<'a> {
    id: i64,
    name: &'a str,
    namespace: &'a str,
    trigger_kind: String,
    trigger: &'a str,
    source_kind: String,
    source: &'a str,
    #[serde(rename = "ref")]
    git_ref: Option<&'a str>,
    revision: &'a str,
    action_kind: String,
    action: &'a str,
    cause: String,
    phase: String,
    created_at: Timestamp,
    started_at: Option<Timestamp>,
    finished_at: Option<Timestamp>,
    exit_code: Option<i32>,
    message: Option<&'a str>,
}

impl<'a> From<&'a RunRecord> for RunJson<'a> {
    fn from(run: &'a RunRecord) -> Self {
        Self {
            id: run.id,
            name: &run.name,
            namespace: &run.namespace,
            trigger_kind: run.trigger_kind.to_string(),
            trigger: &run.trigger,
            source_kind: run.source_kind.to_string(),
            source: &run.source,
            git_ref: run.git_ref.as_deref(),
            revision: &run.revision,
            action_kind: run.action_kind.to_string(),
            action: &run.action,
            cause: run.cause.to_string(),
            phase: run.phase.to_string(),
            created_at: run.created_at,
            started_at: run.started_at,
            finished_at: run.finished_at,
            exit_code: run.exit_code,
            message: run.message.as_deref(),
        }
    }
}

/// 503 with `Retry-After` when the store failed; the cause is logged, not shown.
pub(crate) fn store_failed(what: &str, e: &StoreError) -> Response {
    let cause = std::error::Error::source(e).map(ToString::to_string);
    tracing::error!(error = %e, cause, category = e.category(), "API store error while {what}");
    let mut response = error(
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("the store failed while {what}; retry later"),
    );
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    response
}
