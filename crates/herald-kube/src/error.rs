//! Errors of the operator, each with the step it happened in and a short category used as the
//! metric label and Event reason.

use herald_api::reasons;
use herald_engine::SourceError;

/// What went wrong while reconciling.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A call to the API server failed; `step` says which.
    #[error("{step}: {source}")]
    Kube {
        step: &'static str,
        #[source]
        source: kube::Error,
    },
    /// The object's spec is invalid; waiting for a change.
    #[error("{0}")]
    Invalid(String),
    /// Something the object names does not exist (yet), with the condition reason saying what.
    #[error("{message}")]
    Missing {
        reason: &'static str,
        message: String,
    },
    /// A source could not be reached or read.
    #[error("{0}")]
    Source(String),
}

impl Error {
    /// Every [`Error::category`]: the whole set `herald_reconcile_errors_total` is labelled with.
    pub const CATEGORIES: [&'static str; 4] =
        ["KubeApi", "InvalidSpec", "Missing", "SourceUnavailable"];

    /// A bounded label for metrics and Event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Kube { .. } => "KubeApi",
            Self::Invalid(_) => "InvalidSpec",
            Self::Missing { .. } => "Missing",
            Self::Source(_) => "SourceUnavailable",
        }
    }

    pub fn missing(reason: &'static str, message: impl Into<String>) -> Self {
        Self::Missing {
            reason,
            message: message.into(),
        }
    }

    /// The condition reason a source failing with this error is reported with.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Invalid(_) => reasons::INVALID_SPEC,
            Self::Missing { reason, .. } => reason,
            Self::Kube { .. } | Self::Source(_) => reasons::SOURCE_UNAVAILABLE,
        }
    }
}

/// Counts a failed reconcile of a `kind` in `herald_reconcile_errors_total`.
pub fn count_reconcile_error(metrics: &herald_server::Metrics, kind: &str, error: &Error) {
    let labels = herald_server::ErrorLabels {
        kind: kind.to_owned(),
        category: error.category().to_owned(),
    };
    metrics.reconcile_errors.get_or_create(&labels).inc();
}

/// Serves `herald_reconcile_errors_total` of a controller of `kind` at zero in every category
/// from its start, as controller-runtime does: a series first seen at 1 hides that error from
/// `increase()`, and an alert on it never fires for the first failure.
pub fn count_reconcile_errors_from_zero(metrics: &herald_server::Metrics, kind: &str) {
    for category in Error::CATEGORIES {
        let labels = herald_server::ErrorLabels {
            kind: kind.to_owned(),
            category: category.to_owned(),
        };
        let _zero = metrics.reconcile_errors.get_or_create(&labels);
    }
}

/// A source failure found by this mode (a missing source or Secret), with its reason kept.
impl From<SourceError> for Error {
    fn from(error: SourceError) -> Self {
        Self::missing(error.reason, error.message)
    }
}

impl From<Error> for SourceError {
    fn from(error: Error) -> Self {
        Self::new(error.reason(), error.to_string())
    }
}

/// Attach the step to a failed API call.
pub trait KubeContext<T> {
    fn step(self, step: &'static str) -> Result<T, Error>;
}

impl<T> KubeContext<T> for Result<T, kube::Error> {
    fn step(self, step: &'static str) -> Result<T, Error> {
        self.map_err(|source| Error::Kube { step, source })
    }
}

/// Whether an API error means "not found".
pub fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}

/// Whether an API error means "already exists".
pub fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409)
}
