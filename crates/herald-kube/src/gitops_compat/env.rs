//! What the engine reads for an annotated Deployment: its two repositories from the
//! annotations' URLs (the marker names of [`super::convert`]), its Secrets in the namespaces
//! the annotations name; everything else, and the store, as for any ImageUpdate.

use std::sync::Arc;

use herald_api::{AuthType, GitAuth, GitRepoSpec, SecretRef, SourceRef};
use herald_automation::{DOCKER_CONFIG_KEY, UpdateEnv};
use herald_core::credential_plan;
use herald_engine::SourceError;
use herald_git::{Remote, is_ssh_url, remote_from_plan};
use herald_store::NewEvent;

use super::annotations::CompatConfig;
use super::convert::{APP_SOURCE, MANIFESTS_SOURCE};
use crate::image_update_controller::ClusterEnv;
use crate::sources;

/// The key gitops-operator reads the webhook's URL from.
const WEBHOOK_KEY: &str = herald_api::DEFAULT_NOTIFICATION_KEY;

/// [`ClusterEnv`], with one Deployment's annotations in front of it.
#[derive(Debug, Clone)]
pub struct CompatEnv {
    pub cluster: ClusterEnv,
    /// The Deployment's namespace: the default of the notification Secret's.
    pub namespace: String,
    pub config: Arc<CompatConfig>,
}

impl CompatEnv {
    /// The namespace the annotations put Secret `name` (read for `key`) in, if they name it.
    fn secret_namespace(&self, name: &str, key: &str) -> Option<&str> {
        let config = &self.config;
        if key == DOCKER_CONFIG_KEY && name == config.registry_secret_name {
            return Some(&config.registry_secret_namespace);
        }
        if key == WEBHOOK_KEY && config.notifications_secret_name.as_deref() == Some(name) {
            let namespace = config.notifications_secret_namespace.as_deref();
            return Some(namespace.unwrap_or(&self.namespace));
        }
        None
    }
}

impl UpdateEnv for CompatEnv {
    async fn remote(&self, namespace: &str, source: &SourceRef) -> Result<Remote, SourceError> {
        let url = match source.name.as_str() {
            APP_SOURCE => &self.config.app_repository,
            MANIFESTS_SOURCE => &self.config.manifest_repository,
            _ => return self.cluster.remote(namespace, source).await,
        };
        repository(&self.cluster, url, &self.config).await
    }

    async fn record(&self, event: NewEvent) {
        self.cluster.record(event).await;
    }
}

impl herald_engine::SecretReader for CompatEnv {
    async fn secret_value(
        &self,
        namespace: &str,
        name: &str,
        key: &str,
    ) -> Result<Vec<u8>, SourceError> {
        let registry = key == DOCKER_CONFIG_KEY;
        let namespace = self.secret_namespace(name, key).unwrap_or(namespace);
        match self.cluster.secret_value(namespace, name, key).await {
            // gitops-operator's registry Secret is optional: without it the registry is
            // asked anonymously (a public image).
            Err(error) if registry && error.reason == herald_api::reasons::SECRET_MISSING => {
                Ok(br#"{"auths":{}}"#.to_vec())
            }
            other => other,
        }
    }
}

/// The remote at `url`: over SSH with the key Secret's `ssh-privatekey`, and the host keys
/// of its `known_hosts` (verified, never skipped: without that key an unknown host is refused
/// with `HostKeyUnknown`), as a `GitRepo` with SSH auth would be. Other URLs (`file://`,
/// public `https://`) get no credentials.
async fn repository(
    cluster: &ClusterEnv,
    url: &str,
    config: &CompatConfig,
) -> Result<Remote, SourceError> {
    let auth = is_ssh_url(url).then(|| GitAuth {
        auth_type: AuthType::Ssh,
        secret_ref: SecretRef {
            name: config.ssh_key_name.clone(),
            namespace: Some(config.ssh_key_namespace.clone()),
        },
        keys: Default::default(),
        known_hosts: None,
        allow_unknown_host_keys: false,
        username: None,
    });
    let spec = GitRepoSpec {
        repo_uri: url.to_owned(),
        tls_config: None,
        auth,
        suspend: false,
    };
    let plan = credential_plan(&spec, |_| config.ssh_key_namespace.clone());
    let files = sources::read_credentials(&cluster.ctx, &plan).await?;
    remote_from_plan(&plan, &files).map_err(SourceError::credentials_invalid)
}
