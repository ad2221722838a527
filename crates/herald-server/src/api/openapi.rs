//! The OpenAPI document, kept as YAML beside the code and served as JSON.

use std::sync::LazyLock;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::router::error;

/// The OpenAPI 3 document describing `/api/v1` (and the hook endpoints), as written.
pub const OPENAPI_YAML: &str = include_str!("openapi.yaml");

/// The document as JSON, converted once. A unit test proves it converts.
static DOCUMENT: LazyLock<Result<serde_json::Value, String>> =
    LazyLock::new(|| serde_yaml::from_str(OPENAPI_YAML).map_err(|e| format!("openapi.yaml: {e}")));

pub(crate) async fn serve() -> Response {
    match &*DOCUMENT {
        Ok(document) => (StatusCode::OK, Json(document)).into_response(),
        Err(why) => {
            tracing::error!(error = %why, "the OpenAPI document does not parse");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the OpenAPI document is broken",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_converts_to_json() {
        let document = DOCUMENT.as_ref().expect("parses");
        assert_eq!(document["openapi"], "3.0.3");
        assert!(document["paths"]["/api/v1/events"]["get"].is_object());
    }
}
