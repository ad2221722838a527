//! Small types shared by several kinds.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Standard Kubernetes conditions (`Ready`, `Reconciling`, `Stalled`).
pub type Conditions = Vec<Condition>;

/// A reference to a Secret. `namespace` is honoured only on cluster-scoped kinds; namespaced
/// kinds always read secrets from their own namespace.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretRef {
    /// The Secret's name.
    #[schemars(length(min = 1, max = 253), regex(pattern = crate::validate::patterns::DNS1123_SUBDOMAIN))]
    pub name: String,
    /// The Secret's namespace (cluster-scoped kinds only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), regex(pattern = crate::validate::patterns::DNS1123_LABEL))]
    pub namespace: Option<String>,
}

/// One key of a Secret.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    pub secret_ref: SecretRef,
    /// The key in the Secret's `data`.
    #[schemars(length(min = 1, max = 253), regex(pattern = crate::validate::patterns::SECRET_KEY))]
    pub key: String,
}

/// Which kind of source a trigger watches.
#[derive(
    Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema,
)]
pub enum SourceKind {
    GitRepo,
    ClusterGitRepo,
}

/// Which kind of action a trigger runs.
#[derive(
    Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema,
)]
pub enum ActionKind {
    Action,
    ClusterAction,
}

/// Which kind of trigger caused a run.
#[derive(
    Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, JsonSchema,
)]
pub enum TriggerKind {
    ScheduleTrigger,
    WebhookTrigger,
}

/// A reference to a named object of a kind `K`.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef<K> {
    pub kind: K,
    #[schemars(length(min = 1, max = 253), regex(pattern = crate::validate::patterns::DNS1123_SUBDOMAIN))]
    pub name: String,
}

pub type SourceRef = ObjectRef<SourceKind>;
pub type ActionRef = ObjectRef<ActionKind>;
pub type TriggerRef = ObjectRef<TriggerKind>;

macro_rules! display_as_debug {
    ($($t:ty),*) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(self, f)
            }
        }
    )*};
}
display_as_debug!(SourceKind, ActionKind, TriggerKind);
