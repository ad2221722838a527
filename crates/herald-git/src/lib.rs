//! herald-git: talking to Git remotes for Herald.
//!
//! Two blocking operations, both built on libgit2:
//! - [`list_refs`]: what `git ls-remote` shows, with annotated tags peeled;
//! - [`checkout`]: a shallow fetch of one revision into a fresh working tree.
//!
//! Security choices: SSH host keys are checked against caller-supplied `known_hosts`
//! text (never the process's `~/.ssh`), HTTPS may trust an extra CA bundle, secrets
//! are offered once per connection and never appear in URLs, logs or errors.
//!
//! Timeouts: libgit2 only exposes connect/IO timeouts as process-global options that
//! git2 marks `unsafe`, and this workspace forbids unsafe code, so none are set here;
//! callers should bound the blocking calls themselves (e.g. run them on a blocking
//! thread with a deadline on the awaiting side).

mod callbacks;
mod checkout;
mod error;
mod host_key;
mod known_hosts;
mod list;
mod plan;
mod remote;
mod secret;
mod session;
mod tls;
mod url;

pub use checkout::checkout;
pub use error::GitError;
pub use list::list_refs;
pub use plan::{CredentialFiles, remote_from_plan};
pub use remote::{Auth, Remote, RemoteRef, Tls, is_full_commit_id};
pub use secret::SecretString;
