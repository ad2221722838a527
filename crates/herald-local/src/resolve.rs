//! Turning definitions into what the engine acts on: a reachable remote with its credentials,
//! and an action's environment, all read from the catalog's Secrets.

use herald_api::{AuthType, GitAuth, GitRepoSpec, SourceKind};
use herald_git::{Auth, Remote, SecretString, Tls};
use k8s_openapi::api::core::v1::EnvVar;

use crate::catalog::Catalog;
use crate::manifests::DEFAULT_NAMESPACE;

/// A source of a trigger, ready to be listed and checked out.
#[derive(Debug, Clone)]
pub struct ResolvedSource {
    pub kind: SourceKind,
    pub name: String,
    pub remote: Remote,
}

/// Resolve the source `name` of `kind` for a trigger in `namespace`.
///
/// A `GitRepo` must live in the trigger's namespace and reads secrets only there; a
/// `ClusterGitRepo` reads them from the namespace its secret reference names (default:
/// Herald's own, `default` in local mode).
pub fn source(
    catalog: &Catalog,
    namespace: &str,
    kind: SourceKind,
    name: &str,
) -> Result<ResolvedSource, String> {
    let (spec, secret_namespace): (GitRepoSpec, Option<&str>) = match kind {
        SourceKind::GitRepo => {
            let repo = catalog
                .git_repos
                .get(&(namespace.to_owned(), name.to_owned()))
                .ok_or_else(|| format!("GitRepo {namespace}/{name} not found"))?;
            (repo.spec.clone(), Some(namespace))
        }
        SourceKind::ClusterGitRepo => {
            let repo = catalog
                .cluster_git_repos
                .get(name)
                .ok_or_else(|| format!("ClusterGitRepo {name} not found"))?;
            (repo.spec.clone().into(), None)
        }
    };
    let secrets = SecretReader {
        catalog,
        forced_namespace: secret_namespace,
    };
    let remote = Remote {
        url: spec.repo_uri.clone(),
        auth: spec
            .auth
            .as_ref()
            .map(|a| auth(&secrets, a))
            .transpose()?
            .unwrap_or(Auth::None),
        tls: tls(&secrets, &spec)?,
    };
    Ok(ResolvedSource {
        kind,
        name: name.to_owned(),
        remote,
    })
}

/// Reads secrets for one source, enforcing which namespace it may read from.
struct SecretReader<'a> {
    catalog: &'a Catalog,
    /// Namespaced sources may only read their own namespace.
    forced_namespace: Option<&'a str>,
}

impl SecretReader<'_> {
    fn read(&self, reference: &herald_api::SecretRef, key: &str) -> Result<Vec<u8>, String> {
        let namespace = self
            .forced_namespace
            .or(reference.namespace.as_deref())
            .unwrap_or(DEFAULT_NAMESPACE);
        self.catalog.secret_value(namespace, &reference.name, key)
    }

    fn read_string(&self, reference: &herald_api::SecretRef, key: &str) -> Result<String, String> {
        String::from_utf8(self.read(reference, key)?)
            .map_err(|_| format!("secret {} key {key:?} is not UTF-8", reference.name))
    }
}

fn auth(secrets: &SecretReader<'_>, auth: &GitAuth) -> Result<Auth, String> {
    let secret = &auth.secret_ref;
    let keys = &auth.keys;
    Ok(match auth.auth_type {
        AuthType::Basic => Auth::Basic {
            username: secrets.read_string(secret, &keys.username)?,
            password: secrets.read_string(secret, &keys.password)?.into(),
        },
        AuthType::Token => Auth::Token {
            username: auth
                .username
                .clone()
                .unwrap_or_else(|| "x-access-token".into()),
            token: SecretString::from(secrets.read_string(secret, &keys.token)?),
        },
        AuthType::Ssh => Auth::Ssh {
            username: auth.username.clone().unwrap_or_else(|| "git".into()),
            private_key: secrets.read_string(secret, &keys.private_key)?.into(),
            passphrase: None,
            known_hosts: match &auth.known_hosts {
                Some(inline) => Some(inline.clone()),
                None => secrets.read_string(secret, &keys.known_hosts).ok(),
            },
            allow_unknown_host: auth.allow_unknown_host_keys,
        },
    })
}

fn tls(secrets: &SecretReader<'_>, spec: &GitRepoSpec) -> Result<Tls, String> {
    let Some(config) = &spec.tls_config else {
        return Ok(Tls::default());
    };
    let ca_pem = config
        .ca_cert
        .as_ref()
        .map(|ca| secrets.read_string(&ca.secret_ref, &ca.key))
        .transpose()?;
    Ok(Tls {
        ca_pem,
        insecure_skip_verify: config.no_verify_ssl,
    })
}

/// An action's `env`, with `valueFrom.secretKeyRef` read from Secrets in `namespace`.
/// Other `valueFrom` sources exist only in a cluster and are refused with a reason.
pub fn action_env(
    catalog: &Catalog,
    namespace: &str,
    env: &[EnvVar],
) -> Result<Vec<(String, String)>, String> {
    env.iter()
        .map(|var| {
            let value = match (&var.value, &var.value_from) {
                (Some(value), _) => value.clone(),
                (None, None) => String::new(),
                (None, Some(from)) => {
                    let key_ref = from.secret_key_ref.as_ref().ok_or_else(|| {
                        format!(
                            "env {}: local mode supports only value and valueFrom.secretKeyRef",
                            var.name
                        )
                    })?;
                    let bytes = catalog.secret_value(namespace, &key_ref.name, &key_ref.key)?;
                    String::from_utf8(bytes)
                        .map_err(|_| format!("env {}: secret value is not UTF-8", var.name))?
                }
            };
            Ok((var.name.clone(), value))
        })
        .collect()
}
