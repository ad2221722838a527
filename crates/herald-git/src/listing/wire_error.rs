//! Failures inside one listing exchange, turned into [`GitError`]s (with the URL and
//! the step) only at the edge, so the protocol code stays free of session details.

use std::io;

use super::deadline::{Deadline, is_timeout};
use crate::error::{GitError, classify_server_message};

/// What went wrong while talking to the server.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WireError {
    /// The connection could not be made, broke, or the deadline passed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The server's answer does not follow the protocol.
    #[error("{0}")]
    Protocol(String),
    /// The server explained a failure in words (an `ERR` packet, an SSH command's stderr).
    #[error("{0}")]
    Server(String),
    /// Already decided precisely (credentials, host key, certificate, HTTP status).
    #[error(transparent)]
    Git(Box<GitError>),
}

impl From<GitError> for WireError {
    fn from(err: GitError) -> Self {
        WireError::Git(Box::new(err))
    }
}

impl WireError {
    /// A protocol violation described by `what`.
    pub fn protocol(what: impl Into<String>) -> Self {
        WireError::Protocol(what.into())
    }

    /// The [`GitError`] for this failure against `url` while doing `step`.
    pub fn into_git_error(self, url: &str, step: &str, deadline: &Deadline) -> GitError {
        let other = |detail: String| GitError::Other {
            url: url.to_owned(),
            step: step.to_owned(),
            detail,
        };
        match self {
            WireError::Io(err) => GitError::Unreachable {
                url: url.to_owned(),
                step: step.to_owned(),
                detail: describe_io(&err, deadline),
            },
            WireError::Protocol(detail) => other(format!("protocol error: {detail}")),
            WireError::Server(detail) => classify_server_message(detail, url, step),
            WireError::Git(err) => *err,
        }
    }
}

fn describe_io(err: &io::Error, deadline: &Deadline) -> String {
    if is_timeout(err) {
        return format!(
            "no complete answer within the listing timeout of {:?}",
            deadline.timeout()
        );
    }
    match err.kind() {
        io::ErrorKind::UnexpectedEof => "the server closed the connection early".to_owned(),
        _ => err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn kinds_survive_the_conversion() {
        let deadline = Deadline::after(Duration::from_secs(3));
        let url = "git://h/r";
        let timeout = WireError::Io(io::Error::from(io::ErrorKind::WouldBlock));
        let err = timeout.into_git_error(url, "listing refs", &deadline);
        assert_eq!(err.category(), "unreachable");
        assert!(err.to_string().contains("3s"), "{err}");
        let err = WireError::Server("no such repository: /r".into()).into_git_error(
            url,
            "listing refs",
            &deadline,
        );
        assert_eq!(err.category(), "not_found");
        let host_key = GitError::HostKey {
            host: "h".into(),
            detail: "d".into(),
            changed: false,
        };
        let err = WireError::from(host_key).into_git_error(url, "listing refs", &deadline);
        assert_eq!(err.category(), "host_key");
        let err = WireError::protocol("bad").into_git_error(url, "listing refs", &deadline);
        assert_eq!(err.category(), "other");
    }
}
