//! Sources: where code lives and how to reach it.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{Conditions, SecretKeyRef, SecretRef};

/// A Git repository in one namespace. Its secrets are read from that namespace only.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "herald.dev",
    version = "v1alpha1",
    kind = "GitRepo",
    doc = "A Git repository in one namespace. Its secrets are read from that namespace only.",
    namespaced,
    status = "GitRepoStatus",
    shortname = "grepo",
    category = "herald",
    printcolumn = r#"{"name":"URI","type":"string","jsonPath":".spec.repoUri"}"#,
    printcolumn = r#"{"name":"Suspended","type":"boolean","jsonPath":".spec.suspend"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[kube(derive = "PartialEq")]
#[serde(rename_all = "camelCase")]
pub struct GitRepoSpec {
    /// Clone URL: `https://`, `http://`, `ssh://`, `git@host:path`, `git://` or `file://`.
    #[schemars(length(min = 1))]
    pub repo_uri: String,
    /// TLS settings for `https://` URIs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    /// Credentials; none for public repositories.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<GitAuth>,
    /// Stop firing for this source: triggers skip it (with a reason) without listing its
    /// refs, and their last seen revisions of it are kept.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspend: bool,
}

/// The same as [`GitRepo`] but cluster-wide: its secret references may name a namespace.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "herald.dev",
    version = "v1alpha1",
    kind = "ClusterGitRepo",
    doc = "A Git repository for the whole cluster: its secret references may name a namespace.",
    status = "GitRepoStatus",
    shortname = "cgrepo",
    category = "herald",
    printcolumn = r#"{"name":"URI","type":"string","jsonPath":".spec.repoUri"}"#,
    printcolumn = r#"{"name":"Suspended","type":"boolean","jsonPath":".spec.suspend"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[kube(derive = "PartialEq")]
#[serde(rename_all = "camelCase")]
pub struct ClusterGitRepoSpec {
    /// Clone URL: `https://`, `http://`, `ssh://`, `git@host:path`, `git://` or `file://`.
    #[schemars(length(min = 1))]
    pub repo_uri: String,
    /// TLS settings for `https://` URIs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_config: Option<TlsConfig>,
    /// Credentials; secret references may name a namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<GitAuth>,
    /// Stop firing for this source: triggers skip it (with a reason) without listing its
    /// refs, and their last seen revisions of it are kept.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspend: bool,
}

/// TLS options for HTTPS sources.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TlsConfig {
    /// Skip server certificate verification. Dangerous; for tests only.
    #[serde(default)]
    pub no_verify_ssl: bool,
    /// A PEM CA bundle to trust in addition to the system roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<SecretKeyRef>,
}

/// How to authenticate to the repository.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuthType {
    Basic,
    Token,
    Ssh,
}

/// Credentials from a Secret.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitAuth {
    #[serde(rename = "type")]
    pub auth_type: AuthType,
    pub secret_ref: SecretRef,
    /// Names of the keys inside the Secret.
    #[serde(default)]
    pub keys: AuthKeys,
    /// SSH only: OpenSSH `known_hosts` lines for the server. May also come from the Secret key
    /// `keys.knownHosts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_hosts: Option<String>,
    /// SSH only: connect even when the host key is not in `known_hosts`. Off by default.
    #[serde(default)]
    pub allow_unknown_host_keys: bool,
    /// User name for `ssh` (default `git`) and `token` (default `x-access-token`) auth.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// Key names inside the auth Secret; the defaults follow Kubernetes' own secret types.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthKeys {
    #[serde(default = "default_username_key")]
    #[schemars(length(min = 1, max = 253), regex(pattern = crate::validate::patterns::SECRET_KEY))]
    pub username: String,
    #[serde(default = "default_password_key")]
    #[schemars(length(min = 1, max = 253), regex(pattern = crate::validate::patterns::SECRET_KEY))]
    pub password: String,
    #[serde(default = "default_token_key")]
    #[schemars(length(min = 1, max = 253), regex(pattern = crate::validate::patterns::SECRET_KEY))]
    pub token: String,
    #[serde(default = "default_private_key_key")]
    #[schemars(length(min = 1, max = 253), regex(pattern = crate::validate::patterns::SECRET_KEY))]
    pub private_key: String,
    #[serde(default = "default_known_hosts_key")]
    #[schemars(length(min = 1, max = 253), regex(pattern = crate::validate::patterns::SECRET_KEY))]
    pub known_hosts: String,
}

impl Default for AuthKeys {
    fn default() -> Self {
        Self {
            username: default_username_key(),
            password: default_password_key(),
            token: default_token_key(),
            private_key: default_private_key_key(),
            known_hosts: default_known_hosts_key(),
        }
    }
}

fn default_username_key() -> String {
    "username".into()
}
fn default_password_key() -> String {
    "password".into()
}
fn default_token_key() -> String {
    "token".into()
}
fn default_private_key_key() -> String {
    "ssh-privatekey".into()
}
fn default_known_hosts_key() -> String {
    "known_hosts".into()
}

/// Observed state of a source.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitRepoStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Conditions,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The commit each ref watched by a trigger points at, by full ref name.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub revisions: std::collections::BTreeMap<String, String>,
}

impl From<ClusterGitRepoSpec> for GitRepoSpec {
    fn from(spec: ClusterGitRepoSpec) -> Self {
        let ClusterGitRepoSpec {
            repo_uri,
            tls_config,
            auth,
            suspend,
        } = spec;
        Self {
            repo_uri,
            tls_config,
            auth,
            suspend,
        }
    }
}
