//! Notifications: an update attempt's [`Report`](crate::Report) sent to webhooks, in Slack's
//! format (`{"text": ...}`, which Slack, Mattermost, Rocket.Chat and Discord's `/slack` hooks
//! accept) or as the report's own JSON for anything else.
//!
//! A webhook URL is a secret: Slack's carries its token in the path. So an [`Endpoint`] never
//! shows its URL in `Debug`, and a [`NotifyError`] names the endpoint only by its host (and
//! port); reqwest's errors are stripped of the URL before they are kept.
//!
//! The receiver's answer is checked: only a 2xx is success, and a redirect is not followed
//! (a POST turned into a GET by a 302 would "succeed" without being delivered).

mod endpoint;
mod send;
mod slack;

pub use endpoint::{Endpoint, Format};
pub use send::{BODY_EXCERPT_CHARS, Notifier, TIMEOUT};
pub use slack::slack_text;

/// Why a notification was not delivered. No variant holds the URL: only its host.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
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
    /// The report could not be serialised (not expected: every field is a string).
    #[error("could not encode the notification: {reason}")]
    Encode { reason: String },
    /// A concurrent send in [`Notifier::send_all`] panicked or was cancelled.
    #[error("the notification to {host} was abandoned: {reason}")]
    Abandoned { host: String, reason: String },
}

impl NotifyError {
    /// The host the error is about, when it is about one endpoint.
    pub fn host(&self) -> Option<&str> {
        match self {
            Self::Status { host, .. }
            | Self::Transport { host, .. }
            | Self::Abandoned { host, .. } => Some(host),
            Self::InvalidUrl { .. } | Self::Client { .. } | Self::Encode { .. } => None,
        }
    }
}
