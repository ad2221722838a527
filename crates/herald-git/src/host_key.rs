//! Deciding whether to trust the SSH host key a server presented.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as BASE64_NO_PAD;

use crate::error::GitError;
use crate::known_hosts::{Verdict, key_type_of_blob};
use crate::remote::Auth;
use crate::session::Session;

/// Accept or reject the raw host key blob the server presented (as libssh2 hands it
/// over, to libgit2 or to the protocol v2 lister) for the session's host. Unknown hosts
/// pass only when `allow_unknown_host` is set (with a warning); a changed or revoked key
/// never does.
pub(crate) fn check_host_key(session: &Session<'_>, key: Option<&[u8]>) -> Result<(), GitError> {
    let host = session.url.known_hosts_name();
    let refuse = |detail: String, changed: bool| GitError::HostKey {
        host: host.clone(),
        detail,
        changed,
    };
    let reject = |detail: String| refuse(detail, false);
    let changed = |detail: String| refuse(detail, true);
    let Some(key) = key else {
        return Err(reject(
            "the SSH library did not provide the raw host key".to_owned(),
        ));
    };
    let key_type = key_type_of_blob(key).unwrap_or_else(|| "unknown".to_owned());
    let fingerprint = sha256_fingerprint(key);
    let presented = format!("{key_type} key {fingerprint}");
    let allow_unknown = matches!(
        session.remote.auth,
        Auth::Ssh {
            allow_unknown_host: true,
            ..
        }
    );
    let verdict = session
        .known_hosts
        .as_ref()
        .map_or(Verdict::Unknown, |known| known.check(&host, &key_type, key));
    match verdict {
        Verdict::Trusted => {
            tracing::debug!(%host, %key_type, %fingerprint, "SSH host key matches known_hosts");
            Ok(())
        }
        Verdict::Unknown if allow_unknown => {
            tracing::warn!(
                %host, %key_type, %fingerprint,
                "accepting SSH host key of a host not in known_hosts because allow_unknown_host is set"
            );
            Ok(())
        }
        Verdict::Unknown if session.known_hosts.is_none() => Err(reject(format!(
            "the server presented {presented} but no known_hosts is configured; add the \
             host's keys (as printed by `ssh-keyscan{}`) to known_hosts, or set \
             allow_unknown_host to accept unknown hosts (insecure)",
            keyscan_args(session)
        ))),
        Verdict::Unknown => Err(reject(format!(
            "the host is not listed in known_hosts (the server presented {presented}); add the \
             host's keys (as printed by `ssh-keyscan{}`) to known_hosts",
            keyscan_args(session)
        ))),
        Verdict::Revoked => Err(changed(format!(
            "the server presented {presented}, which known_hosts marks as @revoked"
        ))),
        Verdict::Mismatch {
            same_type: true, ..
        } => Err(changed(format!(
            "the server presented {presented}, which differs from the {key_type} key in \
             known_hosts: the host key changed or someone is intercepting the connection; \
             update known_hosts only after confirming the new key"
        ))),
        Verdict::Mismatch { known_types, .. } => Err(reject(format!(
            "the server presented {presented} but known_hosts only lists {} keys for this \
             host; add the server's {key_type} key (as printed by `ssh-keyscan -t {key_type}{}`)",
            known_types.join(", "),
            keyscan_args(session)
        ))),
    }
}

/// OpenSSH-style `SHA256:...` fingerprint of a raw public key blob.
fn sha256_fingerprint(key: &[u8]) -> String {
    format!("SHA256:{}", BASE64_NO_PAD.encode(openssl::sha::sha256(key)))
}

/// ` -p PORT HOST` (port only when not 22) for fix-it hints.
fn keyscan_args(session: &Session<'_>) -> String {
    let host = session.url.host.as_deref().unwrap_or_default();
    match session.url.port {
        Some(port) if port != 22 => format!(" -p {port} {host}"),
        _ => format!(" {host}"),
    }
}
