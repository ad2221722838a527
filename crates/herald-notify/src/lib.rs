//! Notifications, one engine for both modes.
//!
//! Both modes record every run and step transition, image update and source failure as an
//! event in the store. The [`Dispatcher`] reads the events after its cursor, makes a
//! [`Notice`] of each that is news, and for every Notifier that selects it ([`wants`]) stores
//! an outbox row, folded with identical ones of its window, in the same transaction as the
//! cursor's move: a restart loses nothing and looks at no event twice. Due rows are sent
//! (Slack, Herald's generic JSON, signed or not, or a commit status at GitHub, GitLab or
//! Gitea), retried with backoff when the receiver may take them later, and given up as a
//! `notification.failed` event and a metric. A run never waits for any of it.
//!
//! [`webhook`] is the HTTP client, also used by image updates' own notifications: the URL is a
//! secret and never appears in `Debug`, errors or logs; only a 2xx answer is success.

mod dispatch;
mod env;
pub mod hosts;
mod message;
mod notice;
mod readiness;
pub mod registration;
mod select;
mod status;
pub mod webhook;

pub use dispatch::{Config, Dispatcher, SendError};
pub use env::NotifyEnv;
pub use hosts::{Hook, Hooks, HostError, Repository};
pub use message::{
    GENERIC_API_VERSION, GENERIC_KIND, Message, generic_body, signature, slack_body,
};
pub use notice::{Notice, Object};
pub use readiness::{NotReady, readiness};
pub use select::wants;
pub use status::StatusRequest;
