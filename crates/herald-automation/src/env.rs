//! What each mode gives the engine: its definitions, its Secrets and its store. Local mode
//! reads the folder's catalog; cluster mode its caches. Everything else is the engine's.

use std::future::Future;

use herald_api::SourceRef;
use herald_engine::{SecretReader, SourceError};
use herald_git::Remote;
use herald_store::NewEvent;

/// The seam between the engine and a mode (its Secrets through [`SecretReader`]).
pub trait UpdateEnv: SecretReader + 'static {
    /// The Git source an object in `namespace` names, with its credentials read now.
    fn remote(
        &self,
        namespace: &str,
        source: &SourceRef,
    ) -> impl Future<Output = Result<Remote, SourceError>> + Send;

    /// Store an event; a store that fails is logged by the mode, never fails an update.
    fn record(&self, event: NewEvent) -> impl Future<Output = ()> + Send;
}
