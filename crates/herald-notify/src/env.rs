//! What each mode gives the notifier: its Notifiers, labels and source URLs from its
//! definitions (local: the folder's catalog; cluster: the caches), and its Secrets.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use herald_api::Notifier;
use herald_engine::SourceError;

use crate::notice::Object;

/// The seam between the notifier and a mode.
pub trait NotifyEnv: Send + Sync + 'static {
    /// Every Notifier as defined now.
    fn notifiers(&self) -> Vec<Arc<Notifier>>;

    /// The labels of `object` (namespaced in `namespace`, or cluster-scoped); `None` when it
    /// is not defined (any more).
    fn labels(&self, namespace: &str, object: &Object) -> Option<BTreeMap<String, String>>;

    /// The URL of the Git source `object` in `namespace`, for a commit status that names no
    /// repository.
    fn source_url(&self, namespace: &str, object: &Object) -> Option<String>;

    /// Key `key` of Secret `name` in `namespace`, read now (rotations are picked up). A
    /// missing Secret or key is an error with its reason.
    fn secret_value(
        &self,
        namespace: &str,
        name: &str,
        key: &str,
    ) -> impl Future<Output = Result<Vec<u8>, SourceError>> + Send;
}
