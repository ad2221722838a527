//! Turning definitions into what the engine acts on: a reachable remote with its credentials,
//! and an action's environment, all read from the catalog's Secrets.

use herald_api::{GitRepoSpec, SourceKind};
use herald_core::credential_plan;
use herald_engine::SourceError;
use herald_git::{CredentialFiles, Remote, remote_from_plan};
use k8s_openapi::api::core::v1::EnvVar;

use crate::catalog::Catalog;
use crate::manifests::DEFAULT_NAMESPACE;

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
) -> Result<Remote, SourceError> {
    let (spec, secret_namespace): (GitRepoSpec, Option<&str>) = match kind {
        SourceKind::GitRepo => {
            let repo = catalog
                .git_repos
                .get(&(namespace.to_owned(), name.to_owned()))
                .ok_or_else(|| SourceError::not_found(kind, namespace, name))?;
            (repo.spec.clone(), Some(namespace))
        }
        SourceKind::ClusterGitRepo => {
            let repo = (catalog.cluster_git_repos.get(name))
                .ok_or_else(|| SourceError::not_found(kind, namespace, name))?;
            (repo.spec.clone().into(), None)
        }
    };
    let plan = credential_plan(&spec, |reference| {
        let named = reference.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE);
        secret_namespace.unwrap_or(named).to_owned()
    });
    let mut files = CredentialFiles::new();
    for item in &plan.items {
        match catalog.secret_value(&item.namespace, &item.secret, &item.key) {
            Ok(value) => {
                files.insert(item.file, value);
            }
            Err(e) if item.required => return Err(e),
            Err(_) => {}
        }
    }
    remote_from_plan(&plan, &files).map_err(SourceError::credentials_invalid)
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
                    let bytes = catalog
                        .secret_value(namespace, &key_ref.name, &key_ref.key)
                        .map_err(|e| e.to_string())?;
                    String::from_utf8(bytes)
                        .map_err(|_| format!("env {}: secret value is not UTF-8", var.name))?
                }
            };
            Ok((var.name.clone(), value))
        })
        .collect()
}

/// A step's `env` resolved as [`action_env`] does, with the values that came from Secrets
/// (so the step's outputs can be checked against them).
pub fn step_env(
    catalog: &Catalog,
    namespace: &str,
    env: &[EnvVar],
) -> Result<crate::graph_run::ResolvedEnv, String> {
    let vars = action_env(catalog, namespace, env)?;
    let secrets = env
        .iter()
        .zip(&vars)
        .filter(|(var, _)| var.value_from.is_some())
        .map(|(_, (_, value))| value.clone())
        .collect();
    Ok(crate::graph_run::ResolvedEnv { vars, secrets })
}
