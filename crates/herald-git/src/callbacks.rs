//! libgit2 remote callbacks: credentials (offered at most once per network call)
//! and certificate / host key checks.

use std::cell::RefCell;

use git2::cert::Cert;
use git2::{CertificateCheckStatus, Cred, CredentialType, RemoteCallbacks};

use crate::error::GitError;
use crate::host_key::check_host_key;
use crate::remote::Auth;
use crate::session::{CallState, Session};
use crate::url::{RemoteUrl, Transport};

/// Callbacks for one network call (`step` names it in errors). `state` must be fresh
/// for every call so the once-only credential rule applies per connection.
pub(crate) fn remote_callbacks<'a>(
    session: &'a Session<'a>,
    state: &'a RefCell<CallState>,
    step: &'a str,
) -> RemoteCallbacks<'a> {
    let mut callbacks = RemoteCallbacks::new();
    callbacks.credentials(move |request_url, username_from_url, allowed| {
        let mut state = state.borrow_mut();
        credentials(
            session,
            &mut state,
            step,
            request_url,
            username_from_url,
            allowed,
        )
    });
    callbacks.certificate_check(move |cert, hostname| {
        let mut state = state.borrow_mut();
        certificate_check(session, &mut state, cert, hostname)
    });
    callbacks
}

/// Record `failure` for the caller and give libgit2 an error that stops the operation.
fn fail<T>(state: &mut CallState, failure: GitError) -> Result<T, git2::Error> {
    let message = failure.to_string();
    state.failure = Some(failure);
    Err(git2::Error::from_str(&message))
}

fn credentials(
    session: &Session<'_>,
    state: &mut CallState,
    step: &str,
    request_url: &str,
    username_from_url: Option<&str>,
    allowed: CredentialType,
) -> Result<Cred, git2::Error> {
    let auth_error = |detail: String| GitError::Auth {
        url: session.display_url.clone(),
        step: step.to_owned(),
        detail,
    };
    if let Err(detail) = check_same_server(session, request_url) {
        return fail(state, auth_error(detail));
    }
    match &session.remote.auth {
        Auth::None => fail(
            state,
            auth_error("the server requires credentials but none are configured".to_owned()),
        ),
        Auth::Basic { username, password } => {
            offer_password(state, allowed, username, password.expose(), "password")
                .or_else(|detail| fail(state, auth_error(detail)))
        }
        Auth::Token { username, token } => {
            offer_password(state, allowed, username, token.expose(), "token")
                .or_else(|detail| fail(state, auth_error(detail)))
        }
        Auth::Ssh {
            username,
            private_key,
            passphrase,
            ..
        } => {
            // A user name written into the URL wins, as with the git command line.
            let user = username_from_url.unwrap_or(username);
            if allowed.contains(CredentialType::USERNAME) {
                return Cred::username(user);
            }
            if !allowed.intersects(CredentialType::SSH_MEMORY | CredentialType::SSH_KEY) {
                let detail =
                    format!("the server does not accept SSH public keys for user {user:?}");
                return fail(state, auth_error(detail));
            }
            if !first_offer(state) {
                let detail = format!("the server rejected the SSH key for user {user:?}");
                return fail(state, auth_error(detail));
            }
            let passphrase = passphrase.as_ref().map(|p| p.expose());
            Cred::ssh_key_from_memory(user, None, private_key.expose(), passphrase).or_else(|_| {
                let detail = "the SSH private key could not be loaded".to_owned();
                fail(state, auth_error(detail))
            })
        }
    }
}

/// HTTP basic credentials, once.
fn offer_password(
    state: &mut CallState,
    allowed: CredentialType,
    username: &str,
    secret: &str,
    what: &str,
) -> Result<Cred, String> {
    if !allowed.contains(CredentialType::USER_PASS_PLAINTEXT) {
        return Err("the server does not accept username/password authentication".to_owned());
    }
    if !first_offer(state) {
        return Err(format!(
            "the server rejected the {what} for user {username:?}"
        ));
    }
    Cred::userpass_plaintext(username, secret).map_err(|e| e.message().to_owned())
}

/// libgit2 asks again after every rejection; the second ask means the secret is wrong.
fn first_offer(state: &mut CallState) -> bool {
    state.secret_offers += 1;
    state.secret_offers == 1
}

/// Refuse to send secrets to another host (after a redirect) or over a downgraded scheme.
pub(crate) fn check_same_server(session: &Session<'_>, request_url: &str) -> Result<(), String> {
    let requested = RemoteUrl::parse(request_url)
        .map_err(|_| "credentials were requested for an unparseable URL".to_owned())?;
    if requested.host != session.url.host {
        return Err(format!(
            "credentials were requested for another host ({}) after a redirect; not sending them",
            requested.host.as_deref().unwrap_or("local")
        ));
    }
    if session.url.transport == Transport::Https && requested.transport != Transport::Https {
        return Err("refusing to send credentials after a redirect away from HTTPS".to_owned());
    }
    Ok(())
}

fn certificate_check(
    session: &Session<'_>,
    state: &mut CallState,
    cert: &Cert<'_>,
    hostname: &str,
) -> Result<CertificateCheckStatus, git2::Error> {
    if let Some(hostkey) = cert.as_hostkey() {
        return match check_host_key(session, hostkey.hostkey()) {
            Ok(()) => Ok(CertificateCheckStatus::CertificateOk),
            Err(failure) => fail(state, failure),
        };
    }
    let Some(x509) = cert.as_x509() else {
        return Ok(CertificateCheckStatus::CertificatePassthrough);
    };
    if session.remote.tls.insecure_skip_verify {
        // Session::new already warned that verification is off for this remote.
        tracing::debug!(url = %session.display_url, %hostname, "accepting TLS certificate without verification");
        return Ok(CertificateCheckStatus::CertificateOk);
    }
    let Some(bundle) = &session.ca_bundle else {
        return Ok(CertificateCheckStatus::CertificatePassthrough);
    };
    match bundle.verify(x509.data(), hostname) {
        Ok(()) => Ok(CertificateCheckStatus::CertificateOk),
        Err(note) => {
            // The bundle adds trust; the system roots may still accept the certificate.
            tracing::debug!(url = %session.display_url, %note, "custom CA bundle did not verify the server");
            state.tls_note = Some(note);
            Ok(CertificateCheckStatus::CertificatePassthrough)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::Remote;

    fn session_for(remote: &Remote) -> Session<'_> {
        Session::new(remote).expect("valid remote")
    }

    #[test]
    fn credentials_stay_with_the_configured_server() {
        let remote = Remote::anonymous("https://git.example.com/org/repo.git");
        let session = session_for(&remote);
        assert!(
            check_same_server(&session, "https://git.example.com/org/repo.git/info/refs").is_ok()
        );
        assert!(check_same_server(&session, "https://GIT.example.com:8443/other").is_ok());
        let err = check_same_server(&session, "https://evil.example.net/repo")
            .expect_err("another host must be refused");
        assert!(err.contains("evil.example.net"), "{err}");
        assert!(check_same_server(&session, "http://git.example.com/org/repo.git").is_err());
    }

    #[test]
    fn secrets_are_offered_once() {
        let mut state = CallState::default();
        assert!(first_offer(&mut state));
        assert!(!first_offer(&mut state));
        assert!(!first_offer(&mut state));
    }
}
