//! Verifying a server's chain against the system roots without parsing the whole
//! system bundle on every connection.
//!
//! OpenSSL's default paths (what libgit2 loads once per process) are the bundle file
//! (`SSL_CERT_FILE`, about 140 certificates, ~25 ms of CPU to parse) and the hashed
//! directories (`SSL_CERT_DIR`), from which OpenSSL reads only the issuers a chain
//! needs. Listings have no process-wide state, so they try the directories first and
//! load the full defaults only when those did not vouch for the chain.

use openssl::error::ErrorStack;
use openssl::ssl::SslFiletype;
use openssl::stack::StackRef;
use openssl::x509::store::{X509Lookup, X509Store, X509StoreBuilder};
use openssl::x509::verify::X509VerifyParam;
use openssl::x509::{X509, X509PurposeId, X509Ref, X509StoreContext};

/// Verify `leaf` (with the `chain` the server sent as untrusted intermediates) for
/// `host` against the system roots.
pub(crate) fn verify_with_system_roots(
    leaf: &X509Ref,
    chain: &StackRef<X509>,
    host: &str,
) -> Result<(), String> {
    let dirs = cert_dirs();
    if !dirs.is_empty() {
        let store = build_store(host, |builder| {
            let lookup = builder.add_lookup(X509Lookup::hash_dir())?;
            for dir in &dirs {
                lookup.add_dir(dir, SslFiletype::PEM)?;
            }
            Ok(())
        })
        .map_err(|e| format!("cannot set up certificate verification: {e}"))?;
        if verify(&store, leaf, chain).is_ok() {
            return Ok(());
        }
    }
    let store = build_store(host, |builder| builder.set_default_paths())
        .map_err(|e| format!("cannot load the system CA certificates: {e}"))?;
    verify(&store, leaf, chain)
}

/// `SSL_CERT_DIR` (colon-separated) or OpenSSL's compiled-in `<OPENSSLDIR>/certs`.
fn cert_dirs() -> Vec<String> {
    if let Some(dirs) = std::env::var_os("SSL_CERT_DIR") {
        return std::env::split_paths(&dirs)
            .filter_map(|dir| dir.to_str().map(str::to_owned))
            .collect();
    }
    // `openssl::version::dir()` reads `OPENSSLDIR: "/usr/lib/ssl"`.
    let openssl_dir = openssl::version::dir()
        .strip_prefix("OPENSSLDIR: ")
        .map(|quoted| quoted.trim_matches('"'));
    openssl_dir
        .map(|dir| vec![format!("{dir}/certs")])
        .unwrap_or_default()
}

fn build_store(
    host: &str,
    add_roots: impl FnOnce(&mut X509StoreBuilder) -> Result<(), ErrorStack>,
) -> Result<X509Store, ErrorStack> {
    let mut builder = X509StoreBuilder::new()?;
    add_roots(&mut builder)?;
    let mut param = X509VerifyParam::new()?;
    // Hosts arrive as they appear in the URL; IPv6 literals may keep brackets.
    let bare_host = host.trim_start_matches('[').trim_end_matches(']');
    match bare_host.parse::<std::net::IpAddr>() {
        Ok(ip) => param.set_ip(ip)?,
        Err(_) => param.set_host(bare_host)?,
    }
    param.set_purpose(X509PurposeId::SSL_SERVER)?;
    builder.set_param(&param)?;
    Ok(builder.build())
}

fn verify(store: &X509Store, leaf: &X509Ref, chain: &StackRef<X509>) -> Result<(), String> {
    let mut context = X509StoreContext::new().map_err(|e| e.to_string())?;
    let (ok, error) = context
        .init(store, leaf, chain, |ctx| {
            let ok = ctx.verify_cert()?;
            Ok((ok, ctx.error()))
        })
        .map_err(|e| format!("certificate verification failed: {e}"))?;
    match ok {
        true => Ok(()),
        false => Err(error.error_string().to_owned()),
    }
}
