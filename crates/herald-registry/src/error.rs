//! What can go wrong talking to a registry. Every message names the registry and repository so
//! an object's status says where it failed; none holds a credential or a token.

/// A failed registry call.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// 401 or 403, still, after credentials were read again and the call retried.
    #[error("registry {registry}, repository {repository}: unauthorized (HTTP {status})")]
    Unauthorized {
        registry: String,
        repository: String,
        status: u16,
    },
    /// The registry does not know the repository.
    #[error("registry {registry}, repository {repository}: repository not found")]
    NotFound {
        registry: String,
        repository: String,
    },
    /// No answer: DNS, connection, TLS or a timeout.
    #[error("registry {registry}, repository {repository}: unreachable: {reason}")]
    Unreachable {
        registry: String,
        repository: String,
        reason: String,
    },
    /// An answer that breaks the distribution API (or Herald's limits on it).
    #[error("registry {registry}, repository {repository}: protocol error: {what}")]
    Protocol {
        registry: String,
        repository: String,
        what: String,
    },
    /// The credential source failed.
    #[error("registry {registry}, repository {repository}: credentials: {reason}")]
    Credentials {
        registry: String,
        repository: String,
        reason: String,
    },
}
