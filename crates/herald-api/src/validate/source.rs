//! GitRepo and ClusterGitRepo.

use super::uri::{self, Transport};
use super::{Errors, FieldError, SecretScope, Validate, join, names, secret_key_ref, secret_ref};
use crate::{AuthKeys, AuthType, ClusterGitRepoSpec, GitAuth, GitRepoSpec, TlsConfig};

const NAMESPACED: SecretScope = SecretScope::OwnNamespace {
    kind: "GitRepo",
    hint: "remove secretRef.namespace, or use a ClusterGitRepo",
};

impl Validate for GitRepoSpec {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        repo(
            &mut errors,
            &self.repo_uri,
            self.tls_config.as_ref(),
            self.auth.as_ref(),
            NAMESPACED,
        );
        errors.finish()
    }
}

impl Validate for ClusterGitRepoSpec {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        repo(
            &mut errors,
            &self.repo_uri,
            self.tls_config.as_ref(),
            self.auth.as_ref(),
            SecretScope::AnyNamespace,
        );
        errors.finish()
    }
}

fn repo(
    errors: &mut Errors,
    repo_uri: &str,
    tls: Option<&TlsConfig>,
    auth: Option<&GitAuth>,
    scope: SecretScope,
) {
    let transport = uri::classify(repo_uri)
        .map_err(|message| errors.add("repoUri", message))
        .ok();
    if let Some(tls) = tls {
        if transport.is_some_and(|t| t != Transport::Https) {
            errors.add("tlsConfig", "tlsConfig only applies to https URIs");
        }
        if let Some(ca) = &tls.ca_cert {
            secret_key_ref(errors, "tlsConfig.caCert", ca, scope);
        }
    }
    if let Some(auth) = auth {
        git_auth(errors, auth, transport, scope);
    }
}

fn git_auth(errors: &mut Errors, auth: &GitAuth, transport: Option<Transport>, scope: SecretScope) {
    if let Some(transport) = transport {
        errors.check(
            "auth.type",
            auth_matches_transport(auth.auth_type, transport),
        );
    }
    secret_ref(errors, "auth.secretRef", &auth.secret_ref, scope);
    auth_keys(errors, &auth.keys);
    if auth.auth_type != AuthType::Ssh {
        if auth.known_hosts.is_some() {
            errors.add(
                "auth.knownHosts",
                "knownHosts only applies to auth type ssh",
            );
        }
        if auth.allow_unknown_host_keys {
            errors.add(
                "auth.allowUnknownHostKeys",
                "allowUnknownHostKeys only applies to auth type ssh",
            );
        }
    }
    if let Some(known_hosts) = &auth.known_hosts
        && known_hosts.trim().is_empty()
    {
        errors.add(
            "auth.knownHosts",
            "knownHosts is empty; leave it out to read known_hosts from the Secret",
        );
    }
    if let Some(user) = &auth.username
        && (user.is_empty() || user.contains(|c: char| c.is_whitespace() || c == ':' || c == '@'))
    {
        errors.add(
            "auth.username",
            "username must not be empty or contain whitespace, ':' or '@'",
        );
    }
}

/// SSH keys need an SSH URI; passwords and tokens need HTTP(S).
fn auth_matches_transport(auth: AuthType, transport: Transport) -> Result<(), String> {
    let auth_name = match auth {
        AuthType::Basic => "basic",
        AuthType::Token => "token",
        AuthType::Ssh => "ssh",
    };
    match (auth, transport) {
        (AuthType::Ssh, Transport::Ssh)
        | (AuthType::Basic | AuthType::Token, Transport::Https | Transport::Http) => Ok(()),
        (_, Transport::Git | Transport::File) => Err(format!(
            "{}:// URIs take no credentials; remove auth",
            transport.name()
        )),
        (AuthType::Ssh, _) => Err(format!(
            "auth type ssh needs an ssh:// or user@host:path repoUri, not {}://; use type \
             basic or token for {}",
            transport.name(),
            transport.name()
        )),
        (_, Transport::Ssh) => Err(format!(
            "auth type {auth_name} applies to https:// URIs; an ssh repoUri needs auth type ssh"
        )),
    }
}

fn auth_keys(errors: &mut Errors, keys: &AuthKeys) {
    let AuthKeys {
        username,
        password,
        token,
        private_key,
        known_hosts,
    } = keys;
    for (field, key) in [
        ("username", username),
        ("password", password),
        ("token", token),
        ("privateKey", private_key),
        ("knownHosts", known_hosts),
    ] {
        errors.check(join("auth.keys", field), names::secret_key(key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::test_support::{paths, single};
    use crate::{SecretKeyRef, SecretRef};

    fn spec(uri: &str) -> GitRepoSpec {
        GitRepoSpec {
            repo_uri: uri.into(),
            tls_config: None,
            auth: None,
            suspend: false,
        }
    }

    fn auth(auth_type: AuthType) -> GitAuth {
        GitAuth {
            auth_type,
            secret_ref: SecretRef {
                name: "git-creds".into(),
                namespace: None,
            },
            keys: AuthKeys::default(),
            known_hosts: None,
            allow_unknown_host_keys: false,
            username: None,
        }
    }

    fn with_auth(uri: &str, auth: GitAuth) -> GitRepoSpec {
        GitRepoSpec {
            auth: Some(auth),
            ..spec(uri)
        }
    }

    fn ca() -> TlsConfig {
        TlsConfig {
            no_verify_ssl: false,
            ca_cert: Some(SecretKeyRef {
                secret_ref: SecretRef {
                    name: "ca".into(),
                    namespace: None,
                },
                key: "ca.crt".into(),
            }),
        }
    }

    #[test]
    fn valid_repos() {
        for ok in [
            spec("https://github.com/org/repo.git"),
            spec("file:///srv/repo"),
            GitRepoSpec {
                tls_config: Some(ca()),
                ..with_auth("https://git.example.com/org/repo", auth(AuthType::Token))
            },
            with_auth("http://localhost:8080/repo", auth(AuthType::Basic)),
            with_auth(
                "git@github.com:org/repo.git",
                GitAuth {
                    known_hosts: Some("github.com ssh-ed25519 AAAA".into()),
                    username: Some("git".into()),
                    ..auth(AuthType::Ssh)
                },
            ),
            with_auth(
                "ssh://git@host:2222/repo",
                GitAuth {
                    allow_unknown_host_keys: true,
                    ..auth(AuthType::Ssh)
                },
            ),
        ] {
            assert_eq!(paths(ok.validate()), Vec::<String>::new(), "{ok:?}");
        }
    }

    #[test]
    fn bad_uris() {
        for uri in [
            "",
            " ",
            "ftp://host/repo",
            "host/repo",
            "https://u:p@host/repo",
        ] {
            assert_eq!(paths(spec(uri).validate()), ["repoUri"], "{uri:?}");
        }
        let e = single(spec("https://u:p@host/repo").validate());
        assert!(e.message.contains("auth.secretRef"), "{e}");
    }

    #[test]
    fn tls_only_for_https() {
        let tls = |uri: &str| GitRepoSpec {
            tls_config: Some(TlsConfig::default()),
            ..spec(uri)
        };
        let e = single(tls("http://host/repo").validate());
        assert_eq!(e.path, "tlsConfig");
        assert_eq!(e.message, "tlsConfig only applies to https URIs");
        assert_eq!(paths(tls("git@host:repo").validate()), ["tlsConfig"]);
        // An unusable URI is reported once, not again through tlsConfig.
        assert_eq!(paths(tls("ftp://host/repo").validate()), ["repoUri"]);

        let mut bad_ca = ca();
        if let Some(ca) = bad_ca.ca_cert.as_mut() {
            ca.key = String::new();
            ca.secret_ref.namespace = Some("other".into());
        }
        let spec = GitRepoSpec {
            tls_config: Some(bad_ca),
            ..spec("https://host/repo")
        };
        assert_eq!(
            paths(spec.validate()),
            [
                "tlsConfig.caCert.secretRef.namespace",
                "tlsConfig.caCert.key"
            ]
        );
    }

    #[test]
    fn auth_type_must_fit_the_transport() {
        let e = single(with_auth("https://host/repo", auth(AuthType::Ssh)).validate());
        assert_eq!(e.path, "auth.type");
        assert!(e.message.contains("ssh://"), "{e}");
        for t in [AuthType::Basic, AuthType::Token] {
            for uri in ["ssh://git@host/repo", "git@host:repo"] {
                let e = single(with_auth(uri, auth(t)).validate());
                assert_eq!(e.path, "auth.type");
                assert!(e.message.contains("needs auth type ssh"), "{e}");
            }
        }
        for uri in ["git://host/repo", "file:///srv/repo", "/srv/repo"] {
            let e = single(with_auth(uri, auth(AuthType::Token)).validate());
            assert!(e.message.contains("take no credentials"), "{e}");
        }
    }

    #[test]
    fn ssh_only_fields() {
        let spec = with_auth(
            "https://host/repo",
            GitAuth {
                known_hosts: Some("host ssh-ed25519 AAAA".into()),
                allow_unknown_host_keys: true,
                ..auth(AuthType::Token)
            },
        );
        assert_eq!(
            paths(spec.validate()),
            ["auth.knownHosts", "auth.allowUnknownHostKeys"]
        );
        let empty = with_auth(
            "git@host:repo",
            GitAuth {
                known_hosts: Some(" ".into()),
                ..auth(AuthType::Ssh)
            },
        );
        assert_eq!(paths(empty.validate()), ["auth.knownHosts"]);
    }

    #[test]
    fn secrets_keys_and_username() {
        let mut a = auth(AuthType::Basic);
        a.secret_ref.name = "Git_Creds".into();
        a.keys.password = String::new();
        a.keys.private_key = "id/rsa".into();
        a.username = Some("a b".into());
        assert_eq!(
            paths(with_auth("https://host/repo", a).validate()),
            [
                "auth.secretRef.name",
                "auth.keys.password",
                "auth.keys.privateKey",
                "auth.username"
            ]
        );
    }

    #[test]
    fn namespaced_repos_read_their_own_secrets() {
        let mut a = auth(AuthType::Token);
        a.secret_ref.namespace = Some("infra".into());
        let e = single(with_auth("https://host/repo", a.clone()).validate());
        assert_eq!(e.path, "auth.secretRef.namespace");
        assert!(
            e.message
                .starts_with("namespaced GitRepo reads secrets only from its own namespace")
        );
        assert!(e.message.contains("ClusterGitRepo"));

        let cluster = ClusterGitRepoSpec {
            repo_uri: "https://host/repo".into(),
            tls_config: None,
            auth: Some(a.clone()),
            suspend: false,
        };
        assert_eq!(paths(cluster.validate()), Vec::<String>::new());
        a.secret_ref.namespace = Some("Infra".into());
        let cluster = ClusterGitRepoSpec {
            auth: Some(a),
            ..cluster
        };
        assert_eq!(paths(cluster.validate()), ["auth.secretRef.namespace"]);
    }

    #[test]
    fn all_errors_are_collected() {
        let mut a = auth(AuthType::Ssh);
        a.secret_ref.name = String::new();
        let spec = GitRepoSpec {
            repo_uri: "http://host/repo".into(),
            tls_config: Some(TlsConfig::default()),
            auth: Some(a),
            suspend: false,
        };
        assert_eq!(
            paths(spec.validate()),
            ["tlsConfig", "auth.type", "auth.secretRef.name"]
        );
    }
}
