//! Where a notification goes, with its URL kept out of sight.

use std::fmt;

use reqwest::Url;

use super::NotifyError;

/// Which body to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `{"text": "..."}`, from [`slack_text`](super::slack_text).
    Slack,
    /// The [`Report`](crate::Report) itself, without its `diff` (a dry run's, large and not
    /// news to a chat).
    Json,
}

/// A webhook: its format and URL. The URL is a secret (Slack's carries a token in its path),
/// so `Debug` and every error show only its host.
#[derive(Clone)]
pub struct Endpoint {
    format: Format,
    url: Url,
    /// `host[:port]`, computed once: what logs and errors may name.
    host: String,
}

impl Endpoint {
    /// Check the URL: parseable, `http` or `https`, with a host. The error never repeats the
    /// input, which may be a token pasted in the wrong key.
    pub fn new(format: Format, url: String) -> Result<Self, NotifyError> {
        let url = Url::parse(&url).map_err(|error| NotifyError::InvalidUrl {
            // url's ParseError messages are fixed sentences, without the input.
            reason: error.to_string(),
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(NotifyError::InvalidUrl {
                reason: "the scheme must be http or https".to_owned(),
            });
        }
        let host = display_host(&url).ok_or_else(|| NotifyError::InvalidUrl {
            reason: "the URL has no host".to_owned(),
        })?;
        Ok(Self { format, url, host })
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// `host[:port]`: the only part of the URL that is safe to show.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The URL, for the sender only (crate-private so it cannot leak through the API).
    pub(super) fn url(&self) -> &Url {
        &self.url
    }

    /// The parts of the URL that may hold a token (a path other than `/`, the query), to
    /// blank out of whatever a receiver answers.
    pub(super) fn secret_parts(&self) -> Vec<&str> {
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
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("format", &self.format)
            .field("host", &self.host)
            .field("url", &"<redacted>")
            .finish()
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn debug_shows_the_host_and_never_the_token() {
        let endpoint = Endpoint::new(
            Format::Slack,
            "https://hooks.example.com:8443/services/T0/B0/SECRETTOKEN?key=QUERYTOKEN".to_owned(),
        )
        .unwrap();
        let debug = format!("{endpoint:?}");
        assert!(debug.contains("hooks.example.com:8443"), "{debug}");
        assert!(!debug.contains("SECRETTOKEN"), "{debug}");
        assert!(!debug.contains("QUERYTOKEN"), "{debug}");
        assert_eq!(endpoint.host(), "hooks.example.com:8443");
        assert_eq!(
            endpoint.secret_parts(),
            ["/services/T0/B0/SECRETTOKEN", "key=QUERYTOKEN"]
        );
    }

    #[test]
    fn a_default_port_is_not_shown() {
        let endpoint = Endpoint::new(Format::Json, "https://example.com:443/x".to_owned()).unwrap();
        assert_eq!(endpoint.host(), "example.com");
        assert!(endpoint.secret_parts() == ["/x"]);
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
            let error = Endpoint::new(Format::Slack, bad.to_owned()).unwrap_err();
            assert!(
                matches!(error, NotifyError::InvalidUrl { .. }),
                "{bad}: {error:?}"
            );
            if !bad.is_empty() {
                assert!(!error.to_string().contains(bad), "{bad}: {error}");
            }
        }
        assert!(Endpoint::new(Format::Slack, "http://127.0.0.1:9/h".to_owned()).is_ok());
    }
}
