//! What one update attempt came to. The JSON shape is the seed's (`deployment, namespace,
//! action, from, to, status, message`) plus the commit, so its API clients keep working.

use serde::{Deserialize, Serialize};

/// What an attempt did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum UpdateOutcome {
    /// A commit with the new tag was pushed.
    Updated,
    /// The manifests already name the chosen tag: nothing to commit.
    UpToDate,
    /// `requireImage`: the tag's manifest is not in the registry yet.
    WaitingForImage,
    /// The server refused the push (a protected branch, a pre-receive hook).
    Rejected,
    /// Anything else: the registry, the repository, a file that does not parse.
    Failed,
    /// `dryRun`: what would change, nothing pushed.
    DryRun,
}

impl UpdateOutcome {
    /// The seed's `status` word: `Success` for what went as asked, else `Failure`.
    pub fn status(self) -> &'static str {
        match self {
            Self::Updated | Self::UpToDate | Self::DryRun | Self::WaitingForImage => "Success",
            Self::Rejected | Self::Failed => "Failure",
        }
    }
}

/// One attempt's answer, as `/reconcile` returns it and notifications carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateReport {
    /// The object the update is for: an ImageUpdate's name, or an annotated Deployment's.
    pub deployment: String,
    pub namespace: String,
    /// [`UpdateOutcome`] as a word (`updated`, `upToDate`, ...).
    pub action: UpdateOutcome,
    /// The tag the manifests named before, when one was found.
    pub from: Option<String>,
    /// The tag chosen.
    pub to: Option<String>,
    /// `Success` or `Failure` ([`UpdateOutcome::status`]).
    pub status: String,
    /// A sentence for people.
    pub message: String,
    /// The pushed commit, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// `dryRun`: the unified diff that would be committed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}
