//! Where a notification goes, with its URL kept out of sight (herald-notify's [`Target`]).

use herald_notify::webhook::Target;

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
#[derive(Debug, Clone)]
pub struct Endpoint {
    format: Format,
    target: Target,
}

impl Endpoint {
    /// Check the URL: parseable, `http` or `https`, with a host. The error never repeats the
    /// input, which may be a token pasted in the wrong key.
    pub fn new(format: Format, url: String) -> Result<Self, NotifyError> {
        Ok(Self {
            format,
            target: Target::new(&url)?,
        })
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// `host[:port]`: the only part of the URL that is safe to show.
    pub fn host(&self) -> &str {
        self.target.host()
    }

    pub(super) fn target(&self) -> &Target {
        &self.target
    }
}
