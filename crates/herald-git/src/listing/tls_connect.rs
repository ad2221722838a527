//! TLS for smart HTTP with the same trust rules as the libgit2 path
//! (`callbacks::certificate_check`): a certificate is accepted when
//! `insecure_skip_verify` is set, or the remote's CA bundle verifies the leaf for the
//! host, or the system roots verify the chain for the host. The verdict is taken
//! after the handshake, before any request (and so any credential) is sent.

use openssl::ssl::{
    HandshakeError, Ssl, SslContext, SslMethod, SslOptions, SslStream, SslVerifyMode,
};
use openssl::stack::Stack;

use super::net::TimedTcp;
use super::trust::verify_with_system_roots;
use super::wire_error::WireError;
use crate::error::GitError;
use crate::session::Session;

/// A TLS client context without a trust store of its own (see `trust`), shared by
/// the connections of one listing.
pub(crate) struct TlsConnector {
    context: SslContext,
}

impl TlsConnector {
    pub fn new(session: &Session<'_>) -> Result<Self, WireError> {
        let setup =
            |e: openssl::error::ErrorStack| tls_error(session, format!("cannot set up TLS: {e}"));
        let mut builder = SslContext::builder(SslMethod::tls_client()).map_err(setup)?;
        builder.set_options(SslOptions::NO_COMPRESSION);
        builder.set_verify(SslVerifyMode::NONE);
        Ok(Self {
            context: builder.build(),
        })
    }

    /// Handshake with `host` over `tcp` and check its certificate.
    pub fn connect(
        &self,
        session: &Session<'_>,
        host: &str,
        tcp: TimedTcp,
    ) -> Result<SslStream<TimedTcp>, WireError> {
        let setup =
            |e: openssl::error::ErrorStack| tls_error(session, format!("cannot set up TLS: {e}"));
        let mut ssl = Ssl::new(&self.context).map_err(setup)?;
        if host.parse::<std::net::IpAddr>().is_err() {
            ssl.set_hostname(host).map_err(setup)?;
        }
        let stream = ssl.connect(tcp).map_err(|err| match err {
            HandshakeError::WouldBlock(_) => WireError::Io(std::io::ErrorKind::TimedOut.into()),
            HandshakeError::Failure(mid) => match mid.into_error().into_io_error() {
                Ok(io) => WireError::Io(io),
                Err(ssl) => tls_error(session, format!("TLS handshake failed: {ssl}")),
            },
            HandshakeError::SetupFailure(stack) => setup(stack),
        })?;
        check_certificate(session, &stream, host).map_err(|detail| tls_error(session, detail))?;
        Ok(stream)
    }
}

fn tls_error(session: &Session<'_>, detail: String) -> WireError {
    WireError::from(GitError::Tls {
        url: session.display_url.clone(),
        step: "listing refs".to_owned(),
        detail,
    })
}

fn check_certificate(
    session: &Session<'_>,
    stream: &SslStream<TimedTcp>,
    host: &str,
) -> Result<(), String> {
    if session.remote.tls.insecure_skip_verify {
        // Session::new already warned that verification is off for this remote.
        tracing::debug!(url = %session.display_url, %host, "accepting TLS certificate without verification");
        return Ok(());
    }
    let Some(leaf) = stream.ssl().peer_certificate() else {
        return Err("the server presented no certificate".to_owned());
    };
    // The bundle is small and tried first; it adds trust, the system roots still count.
    let mut bundle_note = None;
    if let Some(bundle) = &session.ca_bundle {
        match bundle.verify_certificate(&leaf, host) {
            Ok(()) => return Ok(()),
            Err(note) => bundle_note = Some(note),
        }
    }
    let empty;
    let chain = match stream.ssl().peer_cert_chain() {
        Some(chain) => chain,
        None => {
            empty = Stack::new().map_err(|e| e.to_string())?;
            &empty
        }
    };
    let Err(reason) = verify_with_system_roots(&leaf, chain, host) else {
        return Ok(());
    };
    let mut detail = format!("the server certificate is not trusted: {reason}");
    if let Some(note) = bundle_note {
        detail.push_str("; ");
        detail.push_str(&note);
    }
    Err(detail)
}
