//! Where a mode reads one key of a Secret: the seam image updates and notifications share
//! (local mode's folder, cluster mode's Secret cache).

use std::future::Future;

use crate::SourceError;

/// Reads Secrets for the engines; each mode implements it once.
pub trait SecretReader: Send + Sync {
    /// Key `key` of Secret `name` in `namespace`, read now (a Secret is read again on every
    /// use, so rotated credentials are picked up). A missing Secret or key is an error with
    /// its reason (`SecretMissing`, `SecretKeyMissing`).
    fn secret_value(
        &self,
        namespace: &str,
        name: &str,
        key: &str,
    ) -> impl Future<Output = Result<Vec<u8>, SourceError>> + Send;
}
