//! Where credentials come from. A source is asked on every check, and once more after a 401,
//! so credentials that expire (ECR's last twelve hours) are picked up without a restart.

use std::fmt;
use std::future::Future;

use herald_image::Repository;

/// Credentials for one registry. `Debug` shows the username but never the password or token.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Credentials {
    /// A username and password, sent as Basic auth or to a token server.
    Basic { username: String, password: String },
    /// An OAuth2 refresh token (`identitytoken` in a Docker config), exchanged at the token
    /// server for an access token.
    IdentityToken(String),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Self::IdentityToken(_) => f.write_str("IdentityToken(<redacted>)"),
        }
    }
}

/// Why a source could not give credentials (a Secret missing, unreadable). The message is the
/// source's own and must not hold a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CredentialError(pub String);

/// Gives the credentials for a repository's registry, or `None` to go anonymously.
pub trait CredentialSource: Send + Sync {
    /// Called on every check, and once more after the registry answered 401 or 403.
    fn credentials(
        &self,
        repository: &Repository,
    ) -> impl Future<Output = Result<Option<Credentials>, CredentialError>> + Send;
}

/// No credentials: anonymous pulls only.
#[derive(Debug, Clone, Copy, Default)]
pub struct Anonymous;

impl CredentialSource for Anonymous {
    async fn credentials(&self, _: &Repository) -> Result<Option<Credentials>, CredentialError> {
        Ok(None)
    }
}

/// Any async closure is a source, so a caller can read a Secret afresh on every call.
impl<F, Fut> CredentialSource for F
where
    F: Fn(&Repository) -> Fut + Send + Sync,
    Fut: Future<Output = Result<Option<Credentials>, CredentialError>> + Send,
{
    fn credentials(
        &self,
        repository: &Repository,
    ) -> impl Future<Output = Result<Option<Credentials>, CredentialError>> + Send {
        self(repository)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secrets() {
        let basic = Credentials::Basic {
            username: "robot".into(),
            password: "hunter2".into(),
        };
        let shown = format!("{basic:?}");
        assert!(
            shown.contains("robot") && !shown.contains("hunter2"),
            "{shown}"
        );
        let token = format!("{:?}", Credentials::IdentityToken("s3cr3t".into()));
        assert!(!token.contains("s3cr3t"), "{token}");
    }
}
