//! What each mode gives the notifier: its Notifiers, labels and source URLs from its
//! definitions (local: the folder's catalog; cluster: the caches), and its Secrets.

use std::collections::BTreeMap;
use std::sync::Arc;

use herald_api::Notifier;
use herald_engine::SecretReader;

use crate::notice::Object;

/// The seam between the notifier and a mode (its Secrets through [`SecretReader`]).
pub trait NotifyEnv: SecretReader + 'static {
    /// Every Notifier as defined now.
    fn notifiers(&self) -> Vec<Arc<Notifier>>;

    /// The labels of `object` (namespaced in `namespace`, or cluster-scoped); `None` when it
    /// is not defined (any more).
    fn labels(&self, namespace: &str, object: &Object) -> Option<BTreeMap<String, String>>;

    /// The URL of the Git source `object` in `namespace`, for a commit status that names no
    /// repository.
    fn source_url(&self, namespace: &str, object: &Object) -> Option<String>;
}
