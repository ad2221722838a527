//! Listing only the watched refs: Git protocol v2 `ls-refs` with `ref-prefix`, over
//! smart HTTP(S), SSH and `git://`, with one deadline per listing.
//!
//! libgit2 speaks protocol v0 only, where the server sends every ref it has before the
//! client can say what it wants: 1.3 MB for a repository with 20,000 refs, on every
//! poll. In v2 the client asks first, so a poll of one branch moves a few hundred bytes.
//! A server that does not offer v2 answers in v0; that advertisement is filtered here
//! to the same result. `file://` remotes and plain paths keep libgit2's local
//! transport: nothing crosses a network there, and it reads the refs straight from disk.

mod deadline;
mod exchange;
mod git_daemon;
mod http_client;
mod idle;
mod net;
mod pkt_line;
mod protocol;
mod smart_http;
mod ssh;
mod tls_connect;
mod trust;
mod wire_error;

use std::time::Duration;

pub use self::idle::{DEFAULT_KEEP_IDLE, IdleConnections};

use self::deadline::Deadline;
use crate::error::GitError;
use crate::list::list_with_libgit2;
use crate::remote::{Remote, RemoteRef};
use crate::session::Session;
use crate::url::Transport;

/// How long a listing may take, connect to last byte, unless the caller says otherwise.
pub const DEFAULT_LIST_TIMEOUT: Duration = Duration::from_secs(30);

/// Longest accepted prefix (it must fit in one pkt-line with `ref-prefix `).
const MAX_PREFIX_LEN: usize = 4096;

/// What to list and how long to wait for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListOptions {
    /// Ref name prefixes, such as `refs/heads/` or an exact name like `refs/heads/main`
    /// (a name is a prefix of itself, so `refs/heads/main` also matches
    /// `refs/heads/main-old`: pick the exact name from the result). Empty means every ref.
    pub prefixes: Vec<String>,
    /// Deadline for the whole listing; past it the listing fails with
    /// [`GitError::Unreachable`]. Must not be zero.
    pub timeout: Duration,
}

impl ListOptions {
    /// The refs starting with one of `prefixes`, with the default timeout.
    pub fn prefixes<S: Into<String>>(prefixes: impl IntoIterator<Item = S>) -> Self {
        Self {
            prefixes: prefixes.into_iter().map(Into::into).collect(),
            timeout: DEFAULT_LIST_TIMEOUT,
        }
    }

    /// The same request with another deadline.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl Default for ListOptions {
    /// Every ref, with the default timeout.
    fn default() -> Self {
        Self::prefixes(Vec::<String>::new())
    }
}

/// Which protocol a listing used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WireProtocol {
    /// Git protocol v2: only the matching refs were sent.
    V2,
    /// The server does not offer v2 and sent its whole v0 advertisement.
    V0,
    /// A local repository, read through libgit2.
    Local,
}

/// The refs a listing found, and how it got them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefListing {
    /// `refs/...` names matching the prefixes, annotated tags peeled, `HEAD` excluded,
    /// sorted by name: the same shape as [`crate::list_refs`].
    pub refs: Vec<RemoteRef>,
    /// The protocol spoken.
    pub protocol: WireProtocol,
}

/// The remote's refs starting with one of `prefixes` (every ref when empty), asking a
/// protocol v2 server for just those, within [`DEFAULT_LIST_TIMEOUT`]. Annotated tags
/// are peeled, `HEAD` is excluded, the result is sorted by name. Blocking.
///
/// Errors keep their kind as with [`crate::list_refs`]: [`GitError::Auth`],
/// [`GitError::HostKey`], [`GitError::Tls`], [`GitError::RepositoryNotFound`], and
/// [`GitError::Unreachable`] also when the deadline passes.
pub fn list_refs_matching(
    remote: &Remote,
    prefixes: &[String],
) -> Result<Vec<RemoteRef>, GitError> {
    let options = ListOptions {
        prefixes: prefixes.to_vec(),
        timeout: DEFAULT_LIST_TIMEOUT,
    };
    list_refs_with(remote, &options).map(|listing| listing.refs)
}

/// [`list_refs_matching`] with a chosen deadline, saying which protocol was used. Blocking.
pub fn list_refs_with(remote: &Remote, options: &ListOptions) -> Result<RefListing, GitError> {
    list_refs_reusing(remote, options, &IdleConnections::none())
}

/// [`list_refs_with`] over a smart-HTTP(S) connection kept in `idle` for the same server and
/// trust settings when there is one, leaving its connection there afterwards: what polling
/// many repositories on one host wants. Blocking.
pub fn list_refs_reusing(
    remote: &Remote,
    options: &ListOptions,
    idle: &IdleConnections,
) -> Result<RefListing, GitError> {
    let session = Session::new(remote)?;
    check_options(&session, options)?;
    let deadline = Deadline::after(options.timeout);
    let prefixes = options.prefixes.as_slice();
    let listed = match session.url.transport {
        Transport::Local => {
            let refs = protocol::select(list_with_libgit2(&session)?, prefixes);
            Ok((refs, WireProtocol::Local))
        }
        Transport::Git => git_daemon::list(&session, prefixes, &deadline),
        Transport::Ssh => ssh::list(&session, prefixes, &deadline),
        Transport::Http | Transport::Https => smart_http::list(&session, prefixes, &deadline, idle),
    };
    let (refs, protocol) = listed
        .map_err(|err| err.into_git_error(&session.display_url, "listing refs", &deadline))?;
    tracing::debug!(url = %session.display_url, count = refs.len(), ?protocol, "listed matching remote refs");
    Ok(RefListing { refs, protocol })
}

/// Prefixes go into pkt-lines verbatim: a newline or NUL would end the line early and
/// smuggle in another argument, so such prefixes are refused.
fn check_options(session: &Session<'_>, options: &ListOptions) -> Result<(), GitError> {
    if options.timeout.is_zero() {
        return Err(session.invalid("the listing timeout must not be zero"));
    }
    for prefix in &options.prefixes {
        if prefix.is_empty() {
            return Err(
                session.invalid("an empty ref prefix; pass no prefixes at all to list every ref")
            );
        }
        if prefix.len() > MAX_PREFIX_LEN || prefix.chars().any(char::is_control) {
            return Err(session.invalid(format!(
                "ref prefix {:?} is too long or contains control characters",
                prefix.chars().take(64).collect::<String>()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_prefixes_and_timeouts_are_invalid_input() {
        let remote = Remote::anonymous("git://127.0.0.1:1/r.git");
        for prefixes in [vec![""], vec!["refs/heads/main\n0000"], vec!["a\0b"]] {
            let err = list_refs_with(&remote, &ListOptions::prefixes(prefixes)).unwrap_err();
            assert_eq!(err.category(), "invalid", "{err}");
        }
        let zero = ListOptions::default().with_timeout(Duration::ZERO);
        assert_eq!(
            list_refs_with(&remote, &zero).unwrap_err().category(),
            "invalid"
        );
    }
}
