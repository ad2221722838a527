//! The seam between the HTTP layer and whatever runs triggers.

use std::future::Future;

use herald_core::hooks::{Provider, Push};
use serde::Serialize;

/// How a webhook trigger verifies callers: its provider's scheme with a shared secret.
#[derive(Clone)]
pub struct HookAuth {
    pub provider: Provider,
    /// Header of the token (`generic`) or signature (`generic-hmac`); other providers use
    /// their own.
    pub header: String,
    /// The shared secret (never logged).
    pub secret: Vec<u8>,
    /// Whether the trigger watches files, so that a payload's file lists must be read.
    pub reads_files: bool,
}

impl HookAuth {
    /// What a WebhookTrigger asks of callers (its `webhook` settings, with the secret they
    /// name) and of their payloads.
    pub fn from_trigger(spec: &herald_api::WebhookTriggerSpec, secret: Vec<u8>) -> Self {
        let webhook = &spec.webhook;
        Self {
            provider: webhook.provider.into(),
            header: webhook.auth_config.header.to_ascii_lowercase(),
            secret,
            reads_files: !spec.sources.watch_on.files.is_empty(),
        }
    }
}

impl std::fmt::Debug for HookAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookAuth")
            .field("provider", &self.provider)
            .field("header", &self.header)
            .field("reads_files", &self.reads_files)
            .finish_non_exhaustive()
    }
}

/// A verified delivery: what it pushed, if the provider says.
#[derive(Debug, Clone, Default)]
pub struct Delivery {
    /// The provider's delivery id, which makes a repeated delivery the same run.
    pub id: Option<String>,
    /// The ref updates the payload reports; `None` when the hook carries none (a generic
    /// hook): then the trigger's watched refs are looked up.
    pub pushes: Option<Vec<Push>>,
}

/// Why a trigger's hook settings could not be found.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("no webhook trigger {0}")]
    NotFound(String),
    /// The trigger exists but cannot verify callers (e.g. its secret is missing).
    #[error("{0}")]
    Misconfigured(String),
}

/// Why firing failed after the caller was verified.
#[derive(Debug, thiserror::Error)]
pub enum FireError {
    /// The request names something the trigger does not have (e.g. an unknown source).
    #[error("{0}")]
    BadRequest(String),
    /// A source could not be read (unreachable, bad credentials, missing ref).
    #[error("{0}")]
    Source(String),
    /// Storing the run failed; nothing was accepted.
    #[error("{0}")]
    Store(String),
}

/// One run a hook created or found already created.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FiredRun {
    /// The run's number in the local store (cluster Runs are known by name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    pub name: String,
    pub source: String,
    pub revision: String,
    /// False when the same change had already created this run.
    pub created: bool,
}

/// What the router needs from an engine; local and cluster mode implement it.
pub trait Hooks: Send + Sync + 'static {
    /// The auth settings of webhook trigger `namespace/trigger`.
    fn hook_auth(
        &self,
        namespace: &str,
        trigger: &str,
    ) -> impl Future<Output = Result<HookAuth, LookupError>> + Send;

    /// Fire a verified hook for one source, or for every source when `source` is `None`.
    /// Must return only once the runs are durably stored.
    fn fire_hook(
        &self,
        namespace: &str,
        trigger: &str,
        source: Option<&str>,
        delivery: &Delivery,
    ) -> impl Future<Output = Result<Vec<FiredRun>, FireError>> + Send;

    /// Where verified deliveries are recorded and looked up to acknowledge a repeated one
    /// without running it again; `None` keeps no record (runs are still named by delivery id,
    /// so a repeat creates nothing new).
    fn delivery_log(&self) -> Option<&herald_store::Store>;
}
