//! Per-operation setup shared by listing and checkout: the parsed URL, the parsed
//! trust settings, and turning libgit2 failures into [`GitError`]s.

use std::cell::RefCell;

use crate::error::{GitError, classify};
use crate::known_hosts::KnownHosts;
use crate::remote::{Auth, Remote};
use crate::tls::CaBundle;
use crate::url::{RemoteUrl, Transport, redact_url};

/// Validated settings for one public operation against one remote.
#[derive(Debug)]
pub(crate) struct Session<'r> {
    pub remote: &'r Remote,
    pub url: RemoteUrl,
    /// The URL as shown in messages.
    pub display_url: String,
    pub known_hosts: Option<KnownHosts>,
    pub ca_bundle: Option<CaBundle>,
}

/// What the callbacks of one network call observed. libgit2 reports callback
/// failures only as a generic error code, so the precise reason is kept here.
#[derive(Debug, Default)]
pub(crate) struct CallState {
    /// How often a secret (password, token, key) was handed to libgit2.
    pub secret_offers: u32,
    /// The precise failure a callback decided on.
    pub failure: Option<GitError>,
    /// Why the custom CA bundle did not vouch for the server certificate.
    pub tls_note: Option<String>,
}

impl<'r> Session<'r> {
    /// Parse and cross-check the remote's URL, credentials and trust settings.
    pub fn new(remote: &'r Remote) -> Result<Self, GitError> {
        let url = RemoteUrl::parse(&remote.url)?;
        let display_url = redact_url(&remote.url);
        check_auth_matches_transport(&remote.auth, url.transport, &display_url)?;
        let ca_bundle = parse_ca_bundle(remote, url.transport, &display_url)?;
        let known_hosts = match &remote.auth {
            Auth::Ssh {
                known_hosts: Some(text),
                ..
            } => Some(parse_known_hosts(text, &display_url)),
            _ => None,
        };
        if remote.tls.insecure_skip_verify && url.transport == Transport::Https {
            tracing::warn!(url = %display_url, "TLS certificate verification is disabled for this remote");
        }
        Ok(Self {
            remote,
            url,
            display_url,
            known_hosts,
            ca_bundle,
        })
    }

    /// Whether libgit2 will use its local transport (which cannot do shallow fetches).
    pub fn is_local(&self) -> bool {
        self.url.transport == Transport::Local
    }

    /// Turn a failed libgit2 call into a [`GitError`], preferring what the callbacks saw.
    pub fn error(&self, err: &git2::Error, state: &RefCell<CallState>, step: &str) -> GitError {
        let mut state = state.borrow_mut();
        if let Some(failure) = state.failure.take() {
            return failure;
        }
        let mut error = classify(err, &self.display_url, step);
        if let (GitError::Tls { detail, .. }, Some(note)) = (&mut error, state.tls_note.take()) {
            detail.push_str("; ");
            detail.push_str(&note);
        }
        error
    }

    /// An error about the request itself.
    pub fn invalid(&self, reason: impl Into<String>) -> GitError {
        GitError::InvalidInput {
            url: self.display_url.clone(),
            reason: reason.into(),
        }
    }
}

fn check_auth_matches_transport(
    auth: &Auth,
    transport: Transport,
    display_url: &str,
) -> Result<(), GitError> {
    let mismatch = match (auth, transport) {
        (Auth::None, _) => false,
        (Auth::Ssh { .. }, Transport::Ssh) => false,
        (Auth::Basic { .. } | Auth::Token { .. }, Transport::Https) => false,
        (Auth::Basic { .. } | Auth::Token { .. }, Transport::Http) => {
            tracing::warn!(url = %display_url, "credentials will be sent over unencrypted HTTP");
            false
        }
        _ => true,
    };
    if mismatch {
        return Err(GitError::InvalidInput {
            url: display_url.to_owned(),
            reason: format!(
                "{} credentials cannot be used with a {transport:?} URL",
                auth.kind()
            ),
        });
    }
    Ok(())
}

fn parse_ca_bundle(
    remote: &Remote,
    transport: Transport,
    display_url: &str,
) -> Result<Option<CaBundle>, GitError> {
    let Some(pem) = remote.tls.ca_pem.as_deref() else {
        return Ok(None);
    };
    if transport != Transport::Https {
        tracing::debug!(url = %display_url, "ignoring CA bundle for a non-HTTPS remote");
        return Ok(None);
    }
    CaBundle::from_pem(pem)
        .map(Some)
        .map_err(|detail| GitError::Tls {
            url: display_url.to_owned(),
            step: "loading the CA bundle".to_owned(),
            detail,
        })
}

fn parse_known_hosts(text: &str, display_url: &str) -> KnownHosts {
    let known_hosts = KnownHosts::parse(text);
    for reason in &known_hosts.skipped {
        tracing::warn!(url = %display_url, "ignoring known_hosts {reason}");
    }
    if known_hosts.is_empty() {
        tracing::warn!(url = %display_url, "known_hosts contains no usable entries");
    }
    known_hosts
}
