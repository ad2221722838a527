//! herald-git: talking to Git remotes for Herald.
//!
//! Blocking operations:
//! - [`list_refs_matching`] / [`list_refs_with`]: the refs under the watched prefixes,
//!   asked for with Git protocol v2 (`ls-refs`) over HTTP(S), SSH and `git://`, with a
//!   deadline ([`ListOptions::timeout`]); v0 servers are still understood;
//! - [`list_refs`]: every ref, as `git ls-remote` shows them (libgit2, protocol v0);
//! - [`checkout`]: a shallow fetch of one revision into a fresh working tree (libgit2);
//! - [`commit_all`] / [`push`]: write-back, with the server's verdict on the pushed ref
//!   as a [`PushOutcome`] (a refused ref is never reported as pushed);
//! - [`push_with_retry`]: apply edits, commit, push, and on a stale push fetch, reset
//!   and re-apply them on the new tip, with jittered backoff and bounded tries
//!   ([`push_with_retry_options`] sends push options too);
//! - [`sync_clone`] / [`discard_changes`]: a writer's cached clone, brought to a
//!   branch's tip before every write and cleaned after a dry run.
//!
//! Annotated tags are peeled in every listing.
//!
//! Security choices: SSH host keys are checked against caller-supplied `known_hosts`
//! text (never the process's `~/.ssh`), HTTPS may trust an extra CA bundle, secrets
//! are offered once per connection and never appear in URLs, logs or errors.
//!
//! Timeouts: the protocol v2 listing has its own deadline (every connect, read and write
//! gets what is left of it). libgit2 only exposes connect/IO timeouts as process-global
//! options that git2 marks `unsafe`, and this workspace denies unsafe code, so
//! [`list_refs`], [`checkout`], [`push`] and [`push_with_retry`] have none; callers
//! should bound those themselves (e.g. run them on a blocking thread with a deadline on
//! the awaiting side).

mod callbacks;
mod checkout;
mod error;
mod host_key;
mod known_hosts;
mod list;
mod listing;
mod plan;
mod push;
mod remote;
mod secret;
mod session;
mod tls;
mod url;
mod worktree;
mod writeback;

pub use checkout::checkout;
pub use error::GitError;
pub use list::list_refs;
pub use listing::{
    DEFAULT_KEEP_IDLE, DEFAULT_LIST_TIMEOUT, IdleConnections, ListOptions, RefListing,
    WireProtocol, list_refs_matching, list_refs_reusing, list_refs_with,
};
pub use plan::{CredentialFiles, remote_from_plan};
pub use push::{Author, PushOptions, PushOutcome, commit_all, push};
pub use remote::{Auth, Remote, RemoteRef, Tls, is_full_commit_id};
pub use secret::SecretString;
pub use url::is_ssh_url;
pub use worktree::add_worktree;
pub use writeback::{
    RetryPolicy, WriteBackOutcome, discard_changes, push_with_retry, push_with_retry_options,
    sync_clone,
};
