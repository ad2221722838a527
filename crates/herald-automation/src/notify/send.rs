//! Sending: one POST per endpoint, the answer's status checked.

use std::collections::HashMap;
use std::sync::Arc;
use tokio::task::JoinSet;

use herald_notify::webhook::Poster;

use super::endpoint::{Endpoint, Format};
use super::{NotifyError, slack_text};
use crate::Report;

/// Sends reports to endpoints. Cheap to clone (the HTTP client is shared).
#[derive(Debug, Clone)]
pub struct Notifier {
    poster: Poster,
}

impl Notifier {
    /// A client with herald-notify's timeout and no redirects.
    pub fn new() -> Result<Self, NotifyError> {
        Ok(Self {
            poster: Poster::new()?,
        })
    }

    /// Send through `poster`, the process's one webhook client.
    pub fn with_poster(poster: Poster) -> Self {
        Self { poster }
    }

    /// Use a client built elsewhere (a custom CA, a proxy, another timeout).
    pub fn with_http(http: reqwest::Client) -> Self {
        Self {
            poster: Poster::with_http(http),
        }
    }

    /// Send one report; Ok only when the receiver answered 2xx.
    pub async fn send(&self, endpoint: &Endpoint, report: &Report) -> Result<(), NotifyError> {
        let body = body(endpoint.format(), report)?;
        self.poster.post(endpoint.target(), &[], body).await
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
}
