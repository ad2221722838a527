//! Plain data types describing a remote repository and how to reach it.

use crate::secret::SecretString;

/// A remote Git repository plus everything needed to talk to it.
#[derive(Debug, Clone)]
pub struct Remote {
    /// Repository URL: `file://`, a local path, `git://`, `ssh://user@host:port/path`,
    /// scp-like `user@host:path`, `http://` or `https://`. Must not embed a password.
    pub url: String,
    /// Credentials offered to the server.
    pub auth: Auth,
    /// TLS settings for `https://` remotes.
    pub tls: Tls,
}

impl Remote {
    /// A remote reached without credentials and with default TLS settings.
    pub fn anonymous(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            auth: Auth::None,
            tls: Tls::default(),
        }
    }
}

/// TLS settings for HTTPS remotes.
#[derive(Debug, Clone, Default)]
pub struct Tls {
    /// PEM bundle of extra trusted CA certificates, tried before the system roots.
    pub ca_pem: Option<String>,
    /// Accept any server certificate. Dangerous: only for testing; a warning is logged.
    pub insecure_skip_verify: bool,
}

/// Credentials for a remote.
#[derive(Debug, Clone, Default)]
pub enum Auth {
    /// No credentials; a server that asks for some gets an authentication error.
    #[default]
    None,
    /// HTTP basic authentication.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: SecretString,
    },
    /// HTTPS token: sent as HTTP basic auth password with `username`
    /// (callers default it to "x-access-token").
    Token {
        /// User name sent with the token.
        username: String,
        /// The access token.
        token: SecretString,
    },
    /// SSH public key authentication with a key held in memory.
    Ssh {
        /// SSH user; a user name inside the URL (`deploy@host:repo`) takes precedence.
        username: String,
        /// Private key in PEM or OpenSSH format.
        private_key: SecretString,
        /// Passphrase of an encrypted private key.
        passphrase: Option<SecretString>,
        /// Trusted host keys in OpenSSH `known_hosts` format.
        known_hosts: Option<String>,
        /// Accept (with a warning) hosts that do not appear in `known_hosts` at all.
        /// A host that appears with a different key is always rejected.
        allow_unknown_host: bool,
    },
}

impl Auth {
    /// Short name of the credential kind, for messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Auth::None => "none",
            Auth::Basic { .. } => "basic",
            Auth::Token { .. } => "token",
            Auth::Ssh { .. } => "ssh",
        }
    }
}

/// One reference advertised by a remote.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RemoteRef {
    /// Full reference name, e.g. `refs/heads/main` or `refs/tags/v1`.
    pub name: String,
    /// 40-hex object id; annotated tags are peeled to the object they point at.
    pub commit: String,
}

/// Whether `s` is a full 40-hex (SHA-1) object id, in either case.
pub fn is_full_commit_id(s: &str) -> bool {
    s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_commit_ids() {
        assert!(is_full_commit_id(
            "0123456789abcdef0123456789abcdef01234567"
        ));
        assert!(is_full_commit_id(
            "0123456789ABCDEF0123456789ABCDEF01234567"
        ));
        assert!(!is_full_commit_id("0123456789abcdef"));
        assert!(!is_full_commit_id(
            "g123456789abcdef0123456789abcdef01234567"
        ));
        assert!(!is_full_commit_id(""));
    }

    #[test]
    fn auth_debug_hides_secrets() {
        let auth = Auth::Basic {
            username: "alice".into(),
            password: SecretString::from("s3cret".to_owned()),
        };
        let text = format!("{auth:?}");
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("alice"));
    }
}
