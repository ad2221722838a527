//! Posting to a receiver whose URL is a secret (Slack's carries its token in the path, a
//! commit status API's is harmless but treated alike): a [`Target`] never shows its URL in
//! `Debug`, and a [`WebhookError`] names the receiver only by its host (and port); reqwest's
//! errors are stripped of the URL before they are kept.
//!
//! The receiver's answer is checked: only a 2xx is success, and a redirect is not followed (a
//! POST turned into a GET by a 302 would "succeed" without being delivered).

use std::fmt;
use std::time::Duration;

use reqwest::Url;
use reqwest::header::{HeaderName, HeaderValue};

/// A whole send (connect, request, answer): a slow receiver must not hold up the others.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// How much of a refusal's answer is kept: enough for Slack's `invalid_token` or a proxy's
/// error line, not a whole HTML page.
pub const BODY_EXCERPT_CHARS: usize = 200;

/// At most this much of a successful answer is read (a page of a repository's hooks).
pub const ANSWER_LIMIT: usize = 4 << 20;

/// At most this much of an error answer is read (a UTF-8 character is up to four bytes).
const BODY_READ_LIMIT: usize = BODY_EXCERPT_CHARS * 4 + 256;

/// Why a notification was not delivered. No variant holds the URL: only its host.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The configured URL cannot be used (the URL itself is not repeated).
    #[error("invalid notification URL: {reason}")]
    InvalidUrl { reason: String },
    /// The receiver answered, but not with a 2xx.
    #[error("the notification receiver at {host} answered {status}: {body_excerpt}")]
    Status {
        host: String,
        status: u16,
        /// The first [`BODY_EXCERPT_CHARS`] characters of the answer, with the URL's path and
        /// query blanked out should the receiver echo them.
        body_excerpt: String,
    },
    /// No answer: refused, unresolvable, TLS failure, timed out.
    #[error("could not reach the notification receiver at {host}: {reason}")]
    Transport { host: String, reason: String },
    /// The HTTP client could not be built (TLS roots unavailable).
    #[error("could not build the notification HTTP client: {reason}")]
    Client { reason: String },
    /// The body could not be serialised.
    #[error("could not encode the notification: {reason}")]
    Encode { reason: String },
    /// A concurrent send panicked or was cancelled.
    #[error("the notification to {host} was abandoned: {reason}")]
    Abandoned { host: String, reason: String },
}

impl WebhookError {
    /// The host the error is about, when it is about one receiver.
    pub fn host(&self) -> Option<&str> {
        match self {
            Self::Status { host, .. }
            | Self::Transport { host, .. }
            | Self::Abandoned { host, .. } => Some(host),
            Self::InvalidUrl { .. } | Self::Client { .. } | Self::Encode { .. } => None,
        }
    }

    /// Whether trying again later may help: no answer, or an answer saying "not now" (a 5xx,
    /// 408, 429). A 4xx says the request itself is wrong.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Transport { .. } | Self::Abandoned { .. } => true,
            Self::Status { status, .. } => *status >= 500 || matches!(status, 408 | 425 | 429),
            Self::InvalidUrl { .. } | Self::Client { .. } | Self::Encode { .. } => false,
        }
    }
}

/// Where to post, with its URL kept out of sight.
#[derive(Clone)]
pub struct Target {
    url: Url,
    /// `host[:port]`, computed once: what logs and errors may name.
    host: String,
}

impl Target {
    /// Check the URL: parseable, `http` or `https`, with a host. The error never repeats the
    /// input, which may be a token pasted in the wrong key.
    pub fn new(url: &str) -> Result<Self, WebhookError> {
        let url = Url::parse(url.trim()).map_err(|error| WebhookError::InvalidUrl {
            // url's ParseError messages are fixed sentences, without the input.
            reason: error.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(WebhookError::InvalidUrl {
                reason: "the scheme must be http or https".to_owned(),
            });
        }
        let host = display_host(&url).ok_or_else(|| WebhookError::InvalidUrl {
            reason: "the URL has no host".to_owned(),
        })?;
        Ok(Self { url, host })
    }

    /// `host[:port]`: the only part of the URL that is safe to show.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The URL, for building an API request from a base (crate-private so it cannot leak).
    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    /// The parts of the URL that may hold a token (a path other than `/`, the query), to
    /// blank out of whatever a receiver answers.
    fn secret_parts(&self) -> Vec<&str> {
        let mut parts = Vec::new();
        let path = self.url.path();
        if path.len() > 1 {
            parts.push(path);
        }
        if let Some(query) = self.url.query().filter(|q| !q.is_empty()) {
            parts.push(query);
        }
        parts
    }

    /// `text` with every occurrence of the URL's secret parts replaced.
    fn redact(&self, mut text: String) -> String {
        for secret in self.secret_parts() {
            if text.contains(secret) {
                text = text.replace(secret, "[redacted]");
            }
        }
        text
    }
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("host", &self.host)
            .field("url", &"<redacted>")
            .finish()
    }
}

/// A POST's client: shared (cheap to clone), with a [`TIMEOUT`] and no redirects.
#[derive(Debug, Clone)]
pub struct Poster {
    http: reqwest::Client,
}

impl Poster {
    /// A client with a [`TIMEOUT`] and no redirects: a receiver that redirects has not taken
    /// the notification, and following would turn the POST into a GET.
    pub fn new() -> Result<Self, WebhookError> {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("herald/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| WebhookError::Client {
                reason: error_chain(&error.without_url()),
            })?;
        Ok(Self { http })
    }

    /// Use a client built elsewhere (a custom CA, a proxy, another timeout).
    pub fn with_http(http: reqwest::Client) -> Self {
        Self { http }
    }

    /// POST `body` as JSON with `headers`; Ok only when the receiver answered 2xx.
    pub async fn post(
        &self,
        target: &Target,
        headers: &[(HeaderName, HeaderValue)],
        body: Vec<u8>,
    ) -> Result<(), WebhookError> {
        self.call(reqwest::Method::POST, target, headers, Some(body))
            .await
            .map(drop)
    }

    /// One request (a JSON `body`, if any); the answer's body (at most [`ANSWER_LIMIT`])
    /// when it is a 2xx, else the error with an excerpt.
    pub async fn call(
        &self,
        method: reqwest::Method,
        target: &Target,
        headers: &[(HeaderName, HeaderValue)],
        body: Option<Vec<u8>>,
    ) -> Result<Vec<u8>, WebhookError> {
        let mut request = self.http.request(method, target.url().clone());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let mut answer = request
            .send()
            .await
            .map_err(|error| transport(target, error))?;
        let status = answer.status();
        if !status.is_success() {
            return Err(WebhookError::Status {
                host: target.host().to_owned(),
                status: status.as_u16(),
                body_excerpt: excerpt(target, answer).await,
            });
        }
        tracing::debug!(host = target.host(), %status, "answered");
        let mut bytes = Vec::new();
        while let Some(chunk) = answer.chunk().await.map_err(|e| transport(target, e))? {
            bytes.extend_from_slice(&chunk);
            if bytes.len() > ANSWER_LIMIT {
                return Err(WebhookError::Transport {
                    host: target.host().to_owned(),
                    reason: format!("the answer is larger than {ANSWER_LIMIT} bytes"),
                });
            }
        }
        Ok(bytes)
    }
}

/// `host` or `host:port` (an explicit, non-default port), as people write it.
fn display_host(url: &Url) -> Option<String> {
    let host = url.host_str().filter(|h| !h.is_empty())?;
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

/// A send that got no answer, its reason free of the URL.
fn transport(target: &Target, error: reqwest::Error) -> WebhookError {
    let error = error.without_url();
    let reason = if error.is_timeout() {
        format!("no answer within {}s", TIMEOUT.as_secs())
    } else {
        error_chain(&error)
    };
    WebhookError::Transport {
        host: target.host().to_owned(),
        reason: target.redact(reason),
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
async fn excerpt(target: &Target, mut answer: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < BODY_READ_LIMIT {
        match answer.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    bytes.truncate(BODY_READ_LIMIT);
    let text = target.redact(String::from_utf8_lossy(&bytes).into_owned());
    text.trim().chars().take(BODY_EXCERPT_CHARS).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn debug_shows_the_host_and_never_the_token() {
        let target =
            Target::new("https://hooks.example.com:8443/services/T0/B0/SECRETTOKEN?key=QUERYTOKEN")
                .unwrap();
        let debug = format!("{target:?}");
        assert!(debug.contains("hooks.example.com:8443"), "{debug}");
        assert!(!debug.contains("SECRETTOKEN"), "{debug}");
        assert!(!debug.contains("QUERYTOKEN"), "{debug}");
        assert_eq!(target.host(), "hooks.example.com:8443");
        assert_eq!(
            target.secret_parts(),
            ["/services/T0/B0/SECRETTOKEN", "key=QUERYTOKEN"]
        );
    }

    #[test]
    fn a_default_port_is_not_shown() {
        let target = Target::new("https://example.com:443/x").unwrap();
        assert_eq!(target.host(), "example.com");
        assert!(target.secret_parts() == ["/x"]);
    }

    #[test]
    fn only_http_and_https_with_a_host() {
        for bad in [
            "ftp://example.com/hook",
            "file:///etc/passwd",
            "mailto:someone@example.com",
            "not a url",
            "",
            "https://",
        ] {
            let error = Target::new(bad).unwrap_err();
            assert!(
                matches!(error, WebhookError::InvalidUrl { .. }),
                "{bad}: {error:?}"
            );
            if !bad.is_empty() {
                assert!(!error.to_string().contains(bad), "{bad}: {error}");
            }
        }
        assert!(Target::new("http://127.0.0.1:9/h").is_ok());
    }

    #[test]
    fn secret_parts_are_redacted_and_a_root_path_is_not() {
        let target = Target::new("https://h.example/services/TOKEN?sig=QTOKEN").unwrap();
        assert_eq!(
            target.redact("no route /services/TOKEN?sig=QTOKEN".to_owned()),
            "no route [redacted]?[redacted]"
        );
        let root = Target::new("https://h.example").unwrap();
        assert_eq!(root.redact("a/b".to_owned()), "a/b");
    }

    #[test]
    fn only_no_answer_and_not_now_answers_are_retried() {
        let status = |status| WebhookError::Status {
            host: "h".into(),
            status,
            body_excerpt: String::new(),
        };
        assert!(status(503).is_transient());
        assert!(status(429).is_transient());
        assert!(!status(400).is_transient());
        assert!(!status(404).is_transient());
        assert!(
            WebhookError::Transport {
                host: "h".into(),
                reason: "refused".into()
            }
            .is_transient()
        );
    }
}
