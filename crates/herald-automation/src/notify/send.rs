//! Sending: one POST per endpoint, the answer's status checked.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use super::endpoint::{Endpoint, Format};
use super::{NotifyError, slack_text};
use crate::Report;

/// A whole send (connect, request, answer): a slow receiver must not hold up the update's
/// next attempt for long.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// How much of a refusal's answer is kept: enough for Slack's `invalid_token` or a proxy's
/// error line, not a whole HTML page.
pub const BODY_EXCERPT_CHARS: usize = 200;

/// At most this much of an error answer is read (a UTF-8 character is up to four bytes).
const BODY_READ_LIMIT: usize = BODY_EXCERPT_CHARS * 4 + 256;

/// Sends reports to endpoints. Cheap to clone (the HTTP client is shared).
#[derive(Debug, Clone)]
pub struct Notifier {
    http: reqwest::Client,
}

impl Notifier {
    /// A client with a [`TIMEOUT`] and no redirects: a receiver that redirects has not taken
    /// the notification, and following would turn the POST into a GET.
    pub fn new() -> Result<Self, NotifyError> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("herald/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| NotifyError::Client {
                reason: error_chain(&error.without_url()),
            })?;
        Ok(Self { http })
    }

    /// Use a client built elsewhere (a custom CA, a proxy, another timeout).
    pub fn with_http(http: reqwest::Client) -> Self {
        Self { http }
    }

    /// Send one report; Ok only when the receiver answered 2xx.
    pub async fn send(&self, endpoint: &Endpoint, report: &Report) -> Result<(), NotifyError> {
        let body = body(endpoint.format(), report)?;
        let answer = self
            .http
            .post(endpoint.url().clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|error| transport(endpoint, error))?;
        let status = answer.status();
        if status.is_success() {
            tracing::debug!(host = endpoint.host(), %status, "notification delivered");
            return Ok(());
        }
        Err(NotifyError::Status {
            host: endpoint.host().to_owned(),
            status: status.as_u16(),
            body_excerpt: excerpt(endpoint, answer).await,
        })
    }

    /// Send to every endpoint concurrently; one result per endpoint, in order. A failure
    /// never stops the others. Dropping the future cancels the sends still under way.
    pub async fn send_all(
        &self,
        endpoints: &[Endpoint],
        report: &Report,
    ) -> Vec<Result<(), NotifyError>> {
        let report = Arc::new(report.clone());
        let mut sends = JoinSet::new();
        let mut index_of = HashMap::new();
        for (index, endpoint) in endpoints.iter().enumerate() {
            let (notifier, endpoint, report) = (self.clone(), endpoint.clone(), report.clone());
            let handle =
                sends.spawn(async move { (index, notifier.send(&endpoint, &report).await) });
            index_of.insert(handle.id(), index);
        }
        let mut results: Vec<Option<Result<(), NotifyError>>> =
            endpoints.iter().map(|_| None).collect();
        while let Some(joined) = sends.join_next_with_id().await {
            match joined {
                Ok((_, (index, result))) => results[index] = Some(result),
                Err(error) => {
                    if let Some(&index) = index_of.get(&error.id()) {
                        results[index] = Some(Err(abandoned(&endpoints[index], &error)));
                    }
                }
            }
        }
        results
            .into_iter()
            .zip(endpoints)
            .map(|(result, endpoint)| {
                result.unwrap_or_else(|| {
                    Err(NotifyError::Abandoned {
                        host: endpoint.host().to_owned(),
                        reason: "no result".to_owned(),
                    })
                })
            })
            .collect()
    }
}

/// The bytes to POST for a format.
fn body(format: Format, report: &Report) -> Result<Vec<u8>, NotifyError> {
    let encoded = match format {
        Format::Slack => serde_json::to_vec(&serde_json::json!({ "text": slack_text(report) })),
        Format::Json => serde_json::to_vec(&Report {
            diff: None,
            ..report.clone()
        }),
    };
    encoded.map_err(|error| NotifyError::Encode {
        reason: error.to_string(),
    })
}

/// A send that got no answer, its reason free of the URL.
fn transport(endpoint: &Endpoint, error: reqwest::Error) -> NotifyError {
    let error = error.without_url();
    let reason = if error.is_timeout() {
        format!("no answer within {}s", TIMEOUT.as_secs())
    } else {
        error_chain(&error)
    };
    NotifyError::Transport {
        host: endpoint.host().to_owned(),
        reason: redact(endpoint, reason),
    }
}

/// A task of `send_all` that panicked or was cancelled.
fn abandoned(endpoint: &Endpoint, error: &tokio::task::JoinError) -> NotifyError {
    let reason = if error.is_panic() {
        "the send panicked"
    } else {
        "the send was cancelled"
    };
    NotifyError::Abandoned {
        host: endpoint.host().to_owned(),
        reason: reason.to_owned(),
    }
}

/// An error and its sources, `: `-joined (reqwest's own message alone says only "error
/// sending request"; the cause, such as "Connection refused", is in the chain).
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The start of an error answer, as text, with the URL's secret parts blanked out (a 404 page
/// may quote the path it did not find). A body that cannot be read leaves what was read.
async fn excerpt(endpoint: &Endpoint, mut answer: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < BODY_READ_LIMIT {
        match answer.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    bytes.truncate(BODY_READ_LIMIT);
    let text = redact(endpoint, String::from_utf8_lossy(&bytes).into_owned());
    text.trim().chars().take(BODY_EXCERPT_CHARS).collect()
}

/// `text` with every occurrence of the endpoint's path and query replaced.
fn redact(endpoint: &Endpoint, mut text: String) -> String {
    for secret in endpoint.secret_parts() {
        if text.contains(secret) {
            text = text.replace(secret, "[redacted]");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::Outcome;

    fn report() -> Report {
        Report {
            deployment: "web".to_owned(),
            namespace: "apps".to_owned(),
            action: Outcome::DryRun,
            from: None,
            to: Some("1.1.0".to_owned()),
            status: "Success".to_owned(),
            message: "1 value(s) would change".to_owned(),
            commit: None,
            diff: Some("--- a\n+++ b\n".to_owned()),
        }
    }

    #[test]
    fn the_json_body_leaves_the_diff_out() {
        let body: serde_json::Value =
            serde_json::from_slice(&body(Format::Json, &report()).unwrap()).unwrap();
        assert!(body.get("diff").is_none(), "{body}");
        assert_eq!(body["action"], "dryRun");
    }

    #[test]
    fn secret_parts_are_redacted() {
        let endpoint = Endpoint::new(
            Format::Slack,
            "https://h.example/services/TOKEN?sig=QTOKEN".to_owned(),
        )
        .unwrap();
        assert_eq!(
            redact(&endpoint, "no route /services/TOKEN?sig=QTOKEN".to_owned()),
            "no route [redacted]?[redacted]"
        );
    }

    #[test]
    fn a_root_path_is_not_redacted() {
        let endpoint = Endpoint::new(Format::Slack, "https://h.example".to_owned()).unwrap();
        assert_eq!(redact(&endpoint, "a/b".to_owned()), "a/b");
    }
}
