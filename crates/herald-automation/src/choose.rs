//! Which tag to deploy: the policy over the registry's tags, or the tag the application's
//! newest commit was built as.

use std::sync::Arc;
use std::time::Duration;

use herald_api::GitCommitPolicy;
use herald_engine::{ListError, SourceError};
use herald_git::{ListOptions, Remote, list_refs_with};
use herald_image::{CommitTagTemplate, Policy, Repository};
use herald_registry::{
    CredentialError, CredentialSource, Credentials, DockerConfig, RegistryClient,
};

use crate::env::UpdateEnv;
use crate::error::UpdateError;
use crate::tags::{TagCache, TagKey};

/// The Secret key of a `kubernetes.io/dockerconfigjson` Secret.
pub const DOCKER_CONFIG_KEY: &str = ".dockerconfigjson";

/// Registry credentials from a Secret, read again on every call (and so after every 401):
/// short-lived tokens that something else rotates keep working.
#[derive(Debug)]
pub struct SecretCredentials<E> {
    pub env: Arc<E>,
    pub namespace: String,
    /// `None`: anonymous.
    pub secret: Option<String>,
}

impl<E: UpdateEnv> SecretCredentials<E> {
    /// Whether the Secret, when one is named, exists, has the key and parses.
    pub async fn check(&self) -> Result<(), SourceError> {
        let Some(secret) = &self.secret else {
            return Ok(());
        };
        let bytes = self
            .env
            .secret_value(&self.namespace, secret, DOCKER_CONFIG_KEY)
            .await?;
        DockerConfig::parse(&bytes).map(drop).map_err(|error| {
            SourceError::credentials_invalid(format!("secret {}/{secret}: {error}", self.namespace))
        })
    }
}

impl<E: UpdateEnv> CredentialSource for SecretCredentials<E> {
    async fn credentials(
        &self,
        repository: &Repository,
    ) -> Result<Option<Credentials>, CredentialError> {
        let Some(secret) = &self.secret else {
            return Ok(None);
        };
        let bytes = self
            .env
            .secret_value(&self.namespace, secret, DOCKER_CONFIG_KEY)
            .await
            .map_err(|error| CredentialError(error.to_string()))?;
        let config = DockerConfig::parse(&bytes).map_err(|error| {
            CredentialError(format!("secret {}/{secret}: {error}", self.namespace))
        })?;
        Ok(config.credentials_for(repository).cloned())
    }
}

/// What the registry's tags are asked with.
#[derive(Debug)]
pub struct Registry<'a, E> {
    pub client: &'a RegistryClient,
    pub cache: &'a TagCache,
    pub credentials: &'a SecretCredentials<E>,
    /// How old a shared listing may be: the asker's interval.
    pub max_age: Duration,
}

/// The newest tag `policy` accepts among the tags of `repository`.
pub async fn newest_listed_tag<E: UpdateEnv>(
    policy: &herald_image::TagPolicy,
    repository: &Repository,
    registry: Registry<'_, E>,
) -> Result<String, UpdateError> {
    let key = TagKey {
        repository: repository.to_string(),
        credentials: registry
            .credentials
            .secret
            .clone()
            .map(|secret| (registry.credentials.namespace.clone(), secret)),
    };
    let tags = registry
        .cache
        .get(key, registry.max_age, || {
            registry.client.list_tags(repository, registry.credentials)
        })
        .await?;
    policy
        .latest(tags.iter().map(String::as_str))
        .map(str::to_owned)
        .ok_or_else(|| UpdateError::NoMatchingTag {
            repository: repository.to_string(),
            listed: tags.len(),
        })
}

/// The tag the newest commit of `policy.branch` was built as. Listing is blocking (libgit2 and
/// the v2 listing), so it runs on a blocking thread with its own deadline.
pub async fn commit_tag(
    template: &CommitTagTemplate,
    policy: &GitCommitPolicy,
    remote: Remote,
    timeout: Duration,
) -> Result<String, UpdateError> {
    let wanted = format!("refs/heads/{}", policy.branch);
    let options = ListOptions {
        prefixes: vec![wanted.clone()],
        timeout,
    };
    let listing = tokio::task::spawn_blocking(move || list_refs_with(&remote, &options))
        .await
        .map_err(|error| UpdateError::Invalid(format!("the listing task failed: {error}")))?
        .map_err(ListError::from)?;
    let commit = listing
        .refs
        .into_iter()
        .find(|r| r.name == wanted)
        .map(|r| r.commit)
        .ok_or_else(|| UpdateError::BranchNotFound {
            branch: policy.branch.clone(),
        })?;
    template
        .render(&commit)
        .map_err(|error| UpdateError::Invalid(error.to_string()))
}

/// The compiled policy of a spec, or why there is none.
pub fn compile(policy: &herald_api::ImagePolicy) -> Result<Policy, UpdateError> {
    let spec = policy.to_spec().ok_or_else(|| {
        UpdateError::Invalid(
            "set exactly one of gitCommit, semver, alphabetical or numerical".into(),
        )
    })?;
    Policy::compile(&spec).map_err(|error| UpdateError::Invalid(error.to_string()))
}
