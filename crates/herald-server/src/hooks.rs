//! The seam between the HTTP layer and whatever runs triggers.

use std::future::Future;

use herald_api::{WebhookTriggerSpec, reasons};
use herald_core::hooks::{self, Provider, Push};
use k8s_openapi::api::core::v1::Secret;
use serde::Serialize;

/// How a webhook trigger verifies callers: its provider's scheme with a shared secret.
#[derive(Clone)]
pub struct HookAuth {
    pub provider: Provider,
    /// Header of the token (`generic`) or signature (`generic-hmac`), lower case; other
    /// providers use their own.
    pub header: String,
    /// The shared secret (never logged); never empty.
    pub secret: Vec<u8>,
    /// Whether the trigger watches files, so that a payload's file lists must be read.
    pub reads_files: bool,
    /// The trigger's sources, so the handler can tell a sender which paths fire.
    pub sources: Vec<String>,
    /// Whether one delivery may fire every source (`webhook.multiSource`).
    pub multi_source: bool,
    /// `spec.suspend`: verified deliveries are refused (409) and fire nothing.
    pub suspended: bool,
}

impl HookAuth {
    /// What a WebhookTrigger in `namespace` asks of callers, with `secret` the Secret its
    /// `authConfig.secretRef` names (`None` when there is none). Both modes call this when a
    /// trigger is loaded and when a delivery comes, so a trigger that cannot verify anyone is
    /// reported at once and its deliveries are told why.
    pub fn resolve(
        spec: &WebhookTriggerSpec,
        namespace: &str,
        secret: Option<&Secret>,
    ) -> Result<Self, NotReady> {
        let webhook = &spec.webhook;
        let auth = &webhook.auth_config;
        let at = SecretAt {
            namespace: namespace.to_owned(),
            name: auth.secret_ref.name.clone(),
            key: auth.key.clone(),
        };
        let Some(secret) = secret else {
            return Err(NotReady::SecretMissing(at));
        };
        let Some(value) = herald_api::secret_key(secret, &auth.key) else {
            return Err(NotReady::SecretKeyMissing(at));
        };
        let provider: Provider = webhook.provider.into();
        if value.is_empty() {
            return Err(NotReady::SecretEmpty(at));
        }
        if provider == Provider::BitbucketCloud && value.len() < hooks::MIN_PATH_TOKEN_LEN {
            return Err(NotReady::TokenTooShort {
                at,
                len: value.len(),
            });
        }
        Ok(Self {
            provider,
            header: webhook.auth_header(),
            secret: value,
            reads_files: !spec.sources.watch_on.files.is_empty(),
            sources: spec.sources.names.clone(),
            multi_source: webhook.multi_source,
            suspended: spec.suspend,
        })
    }

    /// The paths a sender may be pointed at (see [`hooks::hook_paths`]).
    pub fn paths(&self, namespace: &str, trigger: &str) -> Vec<String> {
        let (sources, multi) = (&self.sources, self.multi_source);
        hooks::hook_paths(self.provider, namespace, trigger, sources, multi)
    }
}

impl std::fmt::Debug for HookAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HookAuth")
            .field("provider", &self.provider)
            .field("header", &self.header)
            .field("reads_files", &self.reads_files)
            .field("sources", &self.sources)
            .field("multi_source", &self.multi_source)
            .field("suspended", &self.suspended)
            .finish_non_exhaustive()
    }
}

/// Where a trigger's secret should be: `namespace/name`, key `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretAt {
    pub namespace: String,
    pub name: String,
    pub key: String,
}

impl std::fmt::Display for SecretAt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "key {:?} of secret {}/{}",
            self.key, self.namespace, self.name
        )
    }
}

/// Why a webhook trigger cannot verify its senders. The text names the Secret and key, never a
/// value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotReady {
    #[error("secret {}/{} not found", .0.namespace, .0.name)]
    SecretMissing(SecretAt),
    #[error("secret {}/{} has no key {:?}", .0.namespace, .0.name, .0.key)]
    SecretKeyMissing(SecretAt),
    #[error("{0} is empty, so no sender could be verified")]
    SecretEmpty(SecretAt),
    #[error(
        "a bitbucket-cloud token is the whole proof of its sender and must be at least {} \
         characters; {at} has {len}",
        hooks::MIN_PATH_TOKEN_LEN
    )]
    TokenTooShort { at: SecretAt, len: usize },
}

impl NotReady {
    /// The reason, as a condition and a hook's answer give it.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::SecretMissing(_) => reasons::SECRET_MISSING,
            Self::SecretKeyMissing(_) => reasons::SECRET_KEY_MISSING,
            Self::SecretEmpty(_) => reasons::SECRET_EMPTY,
            Self::TokenTooShort { .. } => reasons::TOKEN_TOO_SHORT,
        }
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

/// Why a trigger's hook settings could not be had.
#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("no webhook trigger {0}")]
    NotFound(String),
    /// The trigger exists but cannot verify callers (e.g. its secret is missing).
    #[error(transparent)]
    NotReady(#[from] NotReady),
    /// The definitions could not be read now (e.g. the API server did not answer); a retry
    /// may succeed.
    #[error("{0}")]
    Unavailable(String),
}

/// Why firing failed after the caller was verified.
#[derive(Debug, thiserror::Error)]
pub enum FireError {
    /// The request names something the trigger does not have (e.g. an unknown source).
    #[error("{0}")]
    BadRequest(String),
    /// The trigger has several sources and is not `multiSource`, so the path must name one.
    #[error("the trigger fires one source at a time; name the source in the path")]
    SourceRequired,
    /// A source could not be read (unreachable, bad credentials, missing ref).
    #[error("{0}")]
    Source(String),
    /// Storing the run failed, or the definitions could not be read; nothing was accepted.
    #[error("{0}")]
    Store(String),
    /// The trigger was suspended after the delivery was verified; nothing fired.
    #[error("the trigger is suspended")]
    Suspended,
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

/// A source a delivery fired nothing for, and why.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct SkippedSource {
    pub source: String,
    pub reason: String,
}

/// What firing a delivery did, source by source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fired {
    pub runs: Vec<FiredRun>,
    pub skipped: Vec<SkippedSource>,
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
    ) -> impl Future<Output = Result<Fired, FireError>> + Send;

    /// Where verified deliveries are recorded and looked up to acknowledge a repeated one
    /// without running it again; `None` keeps no record (runs are still named by delivery id,
    /// so a repeat creates nothing new).
    fn delivery_log(&self) -> Option<&herald_store::Store>;
}
