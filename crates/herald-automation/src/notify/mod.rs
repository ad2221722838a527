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
pub use herald_notify::webhook::{BODY_EXCERPT_CHARS, TIMEOUT};
pub use send::Notifier;
pub use slack::slack_text;

/// Why a notification was not delivered. No variant holds the URL: only its host.
pub use herald_notify::webhook::WebhookError as NotifyError;
