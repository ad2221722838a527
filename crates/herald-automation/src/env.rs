//! What each mode gives the engine: its definitions, its Secrets and its store. Local mode
//! reads the folder's catalog; cluster mode its caches. Everything else is the engine's.

use std::future::Future;

use herald_api::SourceRef;
use herald_engine::SourceError;
use herald_git::Remote;
use herald_store::NewEvent;

/// The seam between the engine and a mode.
pub trait UpdateEnv: Send + Sync + 'static {
    /// The Git source an object in `namespace` names, with its credentials read now.
    fn remote(
        &self,
        namespace: &str,
        source: &SourceRef,
    ) -> impl Future<Output = Result<Remote, SourceError>> + Send;

    /// Key `key` of Secret `name` in `namespace`, read now (a Secret is read again on every
    /// check, so rotated credentials are picked up). A missing Secret or key is an error with
    /// its reason (`SecretMissing`, `SecretKeyMissing`).
    fn secret_value(
        &self,
        namespace: &str,
        name: &str,
        key: &str,
    ) -> impl Future<Output = Result<Vec<u8>, SourceError>> + Send;

    /// Store an event; a store that fails is logged by the mode, never fails an update.
    fn record(&self, event: NewEvent) -> impl Future<Output = ()> + Send;
}
