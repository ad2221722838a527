//! Reading a trigger's sources from the caches: the repository spec and its credentials.

use herald_api::{GitRepoSpec, SourceKind};
use herald_core::{CredentialPlan, credential_plan};
use herald_engine::SourceError;
use herald_git::{CredentialFiles, Remote, remote_from_plan};
use kube::Api;

use crate::caches;
use crate::context::Context;
use crate::error::{Error, KubeContext, is_not_found};

/// A source ready to be listed or cloned.
#[derive(Debug, Clone)]
pub struct Source {
    pub plan: CredentialPlan,
    pub files: CredentialFiles,
}

impl Source {
    pub fn remote(&self) -> Result<Remote, Error> {
        remote_from_plan(&self.plan, &self.files)
            .map_err(|e| SourceError::credentials_invalid(e).into())
    }
}

/// Load source `name` of `kind` for an object in `namespace`, with its credentials.
///
/// A `GitRepo` is read from `namespace` and reads Secrets only there. A `ClusterGitRepo`'s
/// secret references may name a namespace (default: Herald's own).
pub async fn load(
    ctx: &Context,
    namespace: &str,
    kind: SourceKind,
    name: &str,
) -> Result<Source, Error> {
    let (spec, own_namespace): (GitRepoSpec, Option<&str>) = match kind {
        SourceKind::GitRepo => {
            let repo = caches::namespaced(&ctx.caches.git_repos, namespace, name)
                .ok_or_else(|| SourceError::not_found(kind, namespace, name))?;
            (repo.spec.clone(), Some(namespace))
        }
        SourceKind::ClusterGitRepo => {
            let repo = caches::cluster(&ctx.caches.cluster_git_repos, name)
                .ok_or_else(|| SourceError::not_found(kind, namespace, name))?;
            (repo.spec.clone().into(), None)
        }
    };
    let plan = credential_plan(&spec, |reference| match own_namespace {
        Some(own) => own.to_owned(),
        None => reference
            .namespace
            .clone()
            .unwrap_or_else(|| ctx.config.namespace.clone()),
    });
    let files = read_credentials(ctx, &plan).await?;
    Ok(Source { plan, files })
}

/// Whether source `name` of `kind`, as an object in `namespace` names it, is suspended, from
/// the caches; one that does not exist is not ([`load`] reports it).
pub fn suspended(ctx: &Context, namespace: &str, kind: SourceKind, name: &str) -> bool {
    match kind {
        SourceKind::GitRepo => caches::namespaced(&ctx.caches.git_repos, namespace, name)
            .is_some_and(|r| r.spec.suspend),
        SourceKind::ClusterGitRepo => {
            caches::cluster(&ctx.caches.cluster_git_repos, name).is_some_and(|r| r.spec.suspend)
        }
    }
}

/// The values `plan` names, read from the Secret cache (also the gitops-operator annotations'
/// repositories, whose plan is made from their annotations).
pub(crate) async fn read_credentials(
    ctx: &Context,
    plan: &CredentialPlan,
) -> Result<CredentialFiles, Error> {
    let mut files = CredentialFiles::new();
    for item in &plan.items {
        let secret = ctx
            .caches
            .secrets
            .get(&item.namespace, &item.secret)
            .await?;
        let value = secret
            .as_ref()
            .and_then(|s| herald_api::secret_key(s, &item.key));
        match (value, item.required) {
            (Some(value), _) => {
                files.insert(item.file, value);
            }
            (None, false) => {}
            (None, true) if secret.is_none() => {
                return Err(SourceError::secret_missing(&item.namespace, &item.secret).into());
            }
            (None, true) => {
                let (namespace, secret, key) = (&item.namespace, &item.secret, &item.key);
                return Err(SourceError::secret_key_missing(namespace, secret, key).into());
            }
        }
    }
    Ok(files)
}

/// `Api::get`, with "not found" as `None`.
pub async fn get<K>(api: &Api<K>, name: &str, step: &'static str) -> Result<Option<K>, Error>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.get(name).await {
        Ok(object) => Ok(Some(object)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(e).step(step),
    }
}
