//! Why an update attempt failed, with the reason (`herald_api::reasons`) both modes report it
//! with. No message holds a credential: herald-git, herald-registry and the Secret readers
//! keep them out of their errors.

use std::time::Duration;

use herald_api::reasons;
use herald_engine::{ListError, SourceError};
use herald_registry::RegistryError;

use crate::writer::WriteError;

/// A failed attempt.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// The spec breaks a rule (caught at load; kept for objects that skipped it).
    #[error("{0}")]
    Invalid(String),
    /// A GitRepo or Secret the update names could not be read.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The application's repository could not be listed (`gitCommit`).
    #[error("listing the application's repository: {0}")]
    List(#[from] ListError),
    /// The application's repository has no such branch (`gitCommit`).
    #[error("the application's repository has no branch {branch:?}")]
    BranchNotFound { branch: String },
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The registry lists no tag the policy accepts.
    #[error("none of the {listed} tags of {repository} satisfies the policy")]
    NoMatchingTag { repository: String, listed: usize },
    /// `requireImage` waited long enough.
    #[error("{reference} is not in the registry after {waited:?} (requireImage.timeout)")]
    ImageNotFound { reference: String, waited: Duration },
    /// The clone, the edit or the push failed.
    #[error(transparent)]
    Write(#[from] WriteError),
}

impl UpdateError {
    /// The condition and event reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Invalid(_) => reasons::INVALID_SPEC,
            Self::Source(error) => error.reason,
            Self::List(error) => error.reason(),
            Self::BranchNotFound { .. } => reasons::REF_NOT_FOUND,
            Self::Registry(RegistryError::Unauthorized { .. }) => reasons::REGISTRY_UNAUTHORIZED,
            Self::Registry(_) => reasons::REGISTRY_UNAVAILABLE,
            Self::NoMatchingTag { .. } => reasons::NO_MATCHING_TAG,
            Self::ImageNotFound { .. } => reasons::IMAGE_NOT_FOUND,
            Self::Write(_) => reasons::WRITE_FAILED,
        }
    }
}
