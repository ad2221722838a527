//! The crate's error type and the mapping from libgit2 errors.

use git2::{ErrorClass, ErrorCode};

/// Everything that can go wrong talking to a remote or checking out a revision.
///
/// Messages name the URL and the step, never credentials.
#[derive(thiserror::Error, Debug)]
pub enum GitError {
    /// The URL cannot be used (unsupported scheme, embedded password, ...).
    #[error("invalid repository URL {url}: {reason}")]
    InvalidUrl {
        /// The URL, with any embedded password redacted.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The request itself is unusable (bad revision, credentials of the wrong kind, ...).
    #[error("invalid request for {url}: {reason}")]
    InvalidInput {
        /// The remote URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The server could not be reached or the connection broke.
    #[error("cannot reach {url} while {step}: {detail}")]
    Unreachable {
        /// The remote URL.
        url: String,
        /// What Herald was doing.
        step: String,
        /// The underlying error.
        detail: String,
    },
    /// The server rejected or required credentials.
    #[error("authentication to {url} failed while {step}: {detail}")]
    Auth {
        /// The remote URL.
        url: String,
        /// What Herald was doing.
        step: String,
        /// Why, without any secret.
        detail: String,
    },
    /// The SSH host key is unknown, changed or revoked.
    #[error("SSH host key check for {host} failed: {detail}")]
    HostKey {
        /// Host as written in `known_hosts` (`host` or `[host]:port`).
        host: String,
        /// Key type, fingerprint and how to fix it.
        detail: String,
        /// The host is known with another key (changed, or revoked): never accepted, unlike
        /// an unknown host, which `allow_unknown_host` lets in.
        changed: bool,
    },
    /// The HTTPS server certificate could not be verified, or the TLS settings are bad.
    #[error("TLS verification for {url} failed while {step}: {detail}")]
    Tls {
        /// The remote URL.
        url: String,
        /// What Herald was doing.
        step: String,
        /// Why.
        detail: String,
    },
    /// The repository does not exist at the URL.
    #[error("repository {url} not found while {step}: {detail}")]
    RepositoryNotFound {
        /// The remote URL.
        url: String,
        /// What Herald was doing.
        step: String,
        /// The underlying error.
        detail: String,
    },
    /// The requested commit is not in the remote repository (or not reachable).
    #[error("revision {revision} not found in {url}: {detail}")]
    RevisionNotFound {
        /// The remote URL.
        url: String,
        /// The commit id that was asked for.
        revision: String,
        /// What was fetched while looking for it.
        detail: String,
    },
    /// A local file system operation failed.
    #[error("I/O error while {context}: {source}")]
    Io {
        /// What Herald was doing, including the path.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Any other failure.
    #[error("git error for {url} while {step}: {detail}")]
    Other {
        /// The remote URL.
        url: String,
        /// What Herald was doing.
        step: String,
        /// The underlying error.
        detail: String,
    },
}

impl GitError {
    /// A short, bounded label for metrics and status conditions: one of
    /// "invalid", "unreachable", "auth", "host_key", "tls", "not_found", "io", "other".
    pub fn category(&self) -> &'static str {
        match self {
            GitError::InvalidUrl { .. } | GitError::InvalidInput { .. } => "invalid",
            GitError::Unreachable { .. } => "unreachable",
            GitError::Auth { .. } => "auth",
            GitError::HostKey { .. } => "host_key",
            GitError::Tls { .. } => "tls",
            GitError::RepositoryNotFound { .. } | GitError::RevisionNotFound { .. } => "not_found",
            GitError::Io { .. } => "io",
            GitError::Other { .. } => "other",
        }
    }

    /// Whether retrying another way against the same server is pointless, because
    /// the connection itself (not the request) failed.
    pub(crate) fn is_connection_failure(&self) -> bool {
        matches!(
            self,
            GitError::Unreachable { .. }
                | GitError::Auth { .. }
                | GitError::HostKey { .. }
                | GitError::Tls { .. }
                | GitError::RepositoryNotFound { .. }
        )
    }
}

/// Map a libgit2 error that no callback explained to a [`GitError`].
pub(crate) fn classify(err: &git2::Error, url: &str, step: &str) -> GitError {
    let url = url.to_owned();
    let step = step.to_owned();
    let detail = err.message().to_owned();
    let lower = detail.to_ascii_lowercase();
    if err.code() == ErrorCode::Auth || looks_like_auth_failure(&lower) {
        return GitError::Auth { url, step, detail };
    }
    if err.code() == ErrorCode::Certificate || err.class() == ErrorClass::Ssl {
        return GitError::Tls { url, step, detail };
    }
    if looks_like_missing_repository(err, &lower) {
        return GitError::RepositoryNotFound { url, step, detail };
    }
    if looks_like_connection_failure(err, &lower) {
        return GitError::Unreachable { url, step, detail };
    }
    GitError::Other { url, step, detail }
}

/// Classify what a server said (an `ERR` packet, an SSH command's stderr) when no
/// status code says more: the same wording rules as for libgit2's messages.
pub(crate) fn classify_server_message(detail: String, url: &str, step: &str) -> GitError {
    let url = url.to_owned();
    let step = step.to_owned();
    let lower = detail.to_ascii_lowercase();
    if looks_like_auth_failure(&lower) {
        return GitError::Auth { url, step, detail };
    }
    if names_a_missing_repository(&lower) {
        return GitError::RepositoryNotFound { url, step, detail };
    }
    GitError::Other { url, step, detail }
}

fn looks_like_auth_failure(lower: &str) -> bool {
    [
        "status code: 401",
        "status code: 403",
        "authentication required",
        "authentication failed",
        "unable to extract public key",
        "unable to open private key",
        "callback returned unsupported credentials",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
}

fn looks_like_missing_repository(err: &git2::Error, lower: &str) -> bool {
    (err.code() == ErrorCode::NotFound && err.class() == ErrorClass::Repository)
        || names_a_missing_repository(lower)
}

fn names_a_missing_repository(lower: &str) -> bool {
    lower.contains("could not find repository")
        || lower.contains("failed to resolve path")
        || lower.contains("status code: 404")
        || lower.contains("repository not found")
        || lower.contains("no such repository")
        || lower.contains("does not appear to be a git repository")
        || lower.contains("not exported")
}

fn looks_like_connection_failure(err: &git2::Error, lower: &str) -> bool {
    matches!(
        err.class(),
        ErrorClass::Net | ErrorClass::Os | ErrorClass::Ssh | ErrorClass::Http
    ) || [
        "failed to connect",
        "failed to resolve",
        "connection refused",
        "timed out",
        "early eof",
        "unexpected disconnect",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_are_bounded_labels() {
        let err = GitError::HostKey {
            host: "[h]:2222".into(),
            detail: "d".into(),
            changed: false,
        };
        assert_eq!(err.category(), "host_key");
        let err = classify(
            &git2::Error::new(ErrorCode::Auth, ErrorClass::Http, "nope"),
            "https://h/r",
            "listing refs",
        );
        assert_eq!(err.category(), "auth");
        assert!(err.to_string().contains("https://h/r"));
        let err = classify(
            &git2::Error::new(
                ErrorCode::GenericError,
                ErrorClass::Net,
                "failed to connect",
            ),
            "git://h/r",
            "listing refs",
        );
        assert_eq!(err.category(), "unreachable");
    }

    #[test]
    fn server_messages_keep_their_kind() {
        let classify = |text: &str| classify_server_message(text.into(), "git://h/r", "s");
        let missing = classify("access denied or repository not exported: /r");
        assert_eq!(missing.category(), "not_found");
        let missing = classify("fatal: '/r' does not appear to be a git repository");
        assert_eq!(missing.category(), "not_found");
        assert_eq!(classify("Authentication failed").category(), "auth");
        assert_eq!(classify("upload-pack: not our ref").category(), "other");
    }
}
