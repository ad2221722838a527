//! Which Secret keys a source needs, and under which file names they travel.
//!
//! Local mode reads them from Secret manifests, the operator from the API, and a Job's cloner
//! from a mounted per-run Secret; all three agree on the file names below.

use herald_api::{AuthType, GitRepoSpec, SecretRef};

pub const FILE_USERNAME: &str = "username";
pub const FILE_PASSWORD: &str = "password";
pub const FILE_TOKEN: &str = "token";
pub const FILE_SSH_PRIVATE_KEY: &str = "ssh-privatekey";
pub const FILE_KNOWN_HOSTS: &str = "known_hosts";
pub const FILE_CA: &str = "ca.crt";

/// One Secret key to read, and the file name it is known by afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialItem {
    pub namespace: String,
    pub secret: String,
    pub key: String,
    pub file: &'static str,
    /// A missing optional item (`known_hosts` in the Secret) is not an error.
    pub required: bool,
}

/// Everything needed to reach a source, apart from the secret values themselves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialPlan {
    pub url: String,
    pub auth: Option<AuthType>,
    /// User name for `ssh` and `token` auth, defaulted.
    pub username: String,
    /// `known_hosts` given inline in the spec (public data, not a secret).
    pub known_hosts: Option<String>,
    pub allow_unknown_host_keys: bool,
    pub insecure_skip_tls_verify: bool,
    pub items: Vec<CredentialItem>,
}

/// Plan the credentials of a source. `namespace_of` decides which namespace a secret reference
/// reads from: the source's own for a `GitRepo`, the named or default one for a
/// `ClusterGitRepo`.
pub fn credential_plan(
    spec: &GitRepoSpec,
    namespace_of: impl Fn(&SecretRef) -> String,
) -> CredentialPlan {
    let mut items = Vec::new();
    let mut item = |reference: &SecretRef, key: &str, file: &'static str, required: bool| {
        items.push(CredentialItem {
            namespace: namespace_of(reference),
            secret: reference.name.clone(),
            key: key.to_owned(),
            file,
            required,
        });
    };
    let auth = spec.auth.as_ref();
    if let Some(auth) = auth {
        let keys = &auth.keys;
        let secret = &auth.secret_ref;
        match auth.auth_type {
            AuthType::Basic => {
                item(secret, &keys.username, FILE_USERNAME, true);
                item(secret, &keys.password, FILE_PASSWORD, true);
            }
            AuthType::Token => item(secret, &keys.token, FILE_TOKEN, true),
            AuthType::Ssh => {
                item(secret, &keys.private_key, FILE_SSH_PRIVATE_KEY, true);
                if auth.known_hosts.is_none() {
                    item(secret, &keys.known_hosts, FILE_KNOWN_HOSTS, false);
                }
            }
        }
    }
    let tls = spec.tls_config.as_ref();
    if let Some(ca) = tls.and_then(|t| t.ca_cert.as_ref()) {
        item(&ca.secret_ref, &ca.key, FILE_CA, true);
    }
    let default_user = match auth.map(|a| a.auth_type) {
        Some(AuthType::Token) => "x-access-token",
        _ => "git",
    };
    CredentialPlan {
        url: spec.repo_uri.clone(),
        auth: auth.map(|a| a.auth_type),
        username: auth
            .and_then(|a| a.username.clone())
            .unwrap_or_else(|| default_user.to_owned()),
        known_hosts: auth.and_then(|a| a.known_hosts.clone()),
        allow_unknown_host_keys: auth.is_some_and(|a| a.allow_unknown_host_keys),
        insecure_skip_tls_verify: tls.is_some_and(|t| t.no_verify_ssl),
        items,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_api::{AuthKeys, GitAuth, SecretKeyRef, TlsConfig};

    fn spec(auth_type: AuthType, known_hosts: Option<&str>) -> GitRepoSpec {
        GitRepoSpec {
            repo_uri: "ssh://git@example.com/r.git".into(),
            tls_config: Some(TlsConfig {
                no_verify_ssl: false,
                ca_cert: Some(SecretKeyRef {
                    secret_ref: SecretRef {
                        name: "ca".into(),
                        namespace: Some("other".into()),
                    },
                    key: "bundle.pem".into(),
                }),
            }),
            auth: Some(GitAuth {
                auth_type,
                secret_ref: SecretRef {
                    name: "creds".into(),
                    namespace: None,
                },
                keys: AuthKeys::default(),
                known_hosts: known_hosts.map(Into::into),
                allow_unknown_host_keys: false,
                username: None,
            }),
            suspend: false,
        }
    }

    fn files(plan: &CredentialPlan) -> Vec<(&str, &str, &str, bool)> {
        plan.items
            .iter()
            .map(|i| (i.namespace.as_str(), i.key.as_str(), i.file, i.required))
            .collect()
    }

    #[test]
    fn ssh_reads_the_key_and_optional_known_hosts_from_the_secret() {
        let plan = credential_plan(&spec(AuthType::Ssh, None), |r| {
            r.namespace.clone().unwrap_or("own".into())
        });
        assert_eq!(
            files(&plan),
            [
                ("own", "ssh-privatekey", FILE_SSH_PRIVATE_KEY, true),
                ("own", "known_hosts", FILE_KNOWN_HOSTS, false),
                ("other", "bundle.pem", FILE_CA, true),
            ]
        );
        assert_eq!(plan.username, "git");
        let inline = credential_plan(&spec(AuthType::Ssh, Some("host key")), |_| "own".into());
        assert_eq!(inline.known_hosts.as_deref(), Some("host key"));
        assert!(inline.items.iter().all(|i| i.file != FILE_KNOWN_HOSTS));
    }

    #[test]
    fn basic_and_token_read_their_keys() {
        let basic = credential_plan(&spec(AuthType::Basic, None), |_| "ns".into());
        assert_eq!(
            basic.items.iter().map(|i| i.file).collect::<Vec<_>>(),
            [FILE_USERNAME, FILE_PASSWORD, FILE_CA]
        );
        let token = credential_plan(&spec(AuthType::Token, None), |_| "ns".into());
        assert_eq!(token.items[0].file, FILE_TOKEN);
        assert_eq!(token.username, "x-access-token");
    }

    #[test]
    fn a_public_repo_needs_nothing() {
        let plan = credential_plan(
            &GitRepoSpec {
                repo_uri: "https://x/r".into(),
                tls_config: None,
                auth: None,
                suspend: false,
            },
            |_| unreachable!(),
        );
        assert!(plan.items.is_empty() && plan.auth.is_none());
    }
}
