//! Verifying HTTPS server certificates against a custom CA bundle.
//!
//! libgit2 only hands the certificate callback the server's leaf certificate, so
//! intermediates must be part of the bundle. The bundle is trusted as given
//! (`PARTIAL_CHAIN`): an intermediate placed in it acts as a trust anchor.

use std::net::IpAddr;

use openssl::stack::Stack;
use openssl::x509::store::{X509Store, X509StoreBuilder};
use openssl::x509::verify::{X509VerifyFlags, X509VerifyParam};
use openssl::x509::{X509, X509PurposeId, X509Ref, X509StoreContext};

/// Extra trusted CA certificates parsed from a PEM bundle.
#[derive(Debug, Clone)]
pub(crate) struct CaBundle {
    certs: Vec<X509>,
}

impl CaBundle {
    /// Parse a PEM bundle; fails if it holds no certificate.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let certs = X509::stack_from_pem(pem.as_bytes())
            .map_err(|e| format!("the CA bundle is not valid PEM: {e}"))?;
        if certs.is_empty() {
            return Err("the CA bundle contains no certificate".to_owned());
        }
        Ok(Self { certs })
    }

    /// Verify the DER-encoded `leaf` for `host` (DNS name or IP address).
    pub fn verify(&self, leaf_der: &[u8], host: &str) -> Result<(), String> {
        let leaf = X509::from_der(leaf_der)
            .map_err(|e| format!("server certificate is not valid DER: {e}"))?;
        self.verify_certificate(&leaf, host)
    }

    /// [`CaBundle::verify`] for a certificate already decoded (decoding costs a lot
    /// with OpenSSL 3, and the TLS handshake has done it once).
    pub fn verify_certificate(&self, leaf: &X509Ref, host: &str) -> Result<(), String> {
        let store = self
            .store_for(host)
            .map_err(|e| format!("cannot set up certificate verification: {e}"))?;
        let untrusted_chain = Stack::new().map_err(|e| e.to_string())?;
        let mut context = X509StoreContext::new().map_err(|e| e.to_string())?;
        let result = context
            .init(&store, leaf, &untrusted_chain, |ctx| {
                let ok = ctx.verify_cert()?;
                Ok((ok, ctx.error()))
            })
            .map_err(|e| format!("certificate verification failed: {e}"))?;
        match result {
            (true, _) => Ok(()),
            (false, error) => Err(format!(
                "not trusted by the configured CA bundle: {}",
                error.error_string()
            )),
        }
    }

    fn store_for(&self, host: &str) -> Result<X509Store, openssl::error::ErrorStack> {
        let mut builder = X509StoreBuilder::new()?;
        for cert in &self.certs {
            builder.add_cert(cert.clone())?;
        }
        let mut param = X509VerifyParam::new()?;
        // Hosts arrive as they appear in the URL; IPv6 literals may keep brackets.
        let bare_host = host.trim_start_matches('[').trim_end_matches(']');
        match bare_host.parse::<IpAddr>() {
            Ok(ip) => param.set_ip(ip)?,
            Err(_) => param.set_host(bare_host)?,
        }
        param.set_flags(X509VerifyFlags::PARTIAL_CHAIN)?;
        param.set_purpose(X509PurposeId::SSL_SERVER)?;
        builder.set_param(&param)?;
        Ok(builder.build())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_bundles_without_certificates() {
        assert!(CaBundle::from_pem("").is_err());
        assert!(CaBundle::from_pem("not pem at all").is_err());
    }
}
