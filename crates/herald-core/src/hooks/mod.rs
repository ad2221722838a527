//! Git host webhooks: provider-aware verification, delivery ids and payload parsing.
//!
//! The HTTP layer calls, in order:
//! 1. [`verify`] with the raw body, before anything else looks at it (any error → 401, no detail);
//! 2. [`delivery_id`] for deduplication (absent → store without dedupe);
//! 3. [`parse`] for what changed (error → 400 with the error's text).
//!
//! Everything here is pure: headers come in through the small [`Headers`] trait, secrets as bytes.
//!
//! | provider | verified by | delivery id |
//! | --- | --- | --- |
//! | `github` | `X-Hub-Signature-256: sha256=<hex>` HMAC-SHA256 of the body | `X-GitHub-Delivery` |
//! | `gitea` (Forgejo, Gogs) | `X-Gitea-Signature` / `X-Forgejo-Signature` / `X-Gogs-Signature: <hex>` | `X-Gitea-Delivery` / `X-Forgejo-Delivery` / `X-Gogs-Delivery` |
//! | `gitlab` | `X-Gitlab-Token` equal to the secret | `Idempotency-Key`, else `X-Gitlab-Event-UUID` |
//! | `bitbucket-server` | `X-Hub-Signature: sha256=<hex>` | `X-Request-Id` |
//! | `bitbucket-cloud` | cannot sign: an unguessable token in the hook URL path, passed as `path_token` | `X-Request-UUID` (never `X-Hook-UUID`, which names the hook, not the delivery) |
//! | `generic` | a token in a configurable header, default `Authorization: Bearer <token>` | `Idempotency-Key`, else `X-Delivery-Id` |
//! | `generic-hmac` | HMAC-SHA256 hex of the body in a configurable header, default `X-Hub-Signature-256`, optional `sha256=` | as `generic` |

mod commits;
mod headers;
mod parse;
mod pruned;
mod verify;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use headers::Headers;
pub use parse::{HookEvent, ParseError, Push, RefKind, Repository, parse, parse_refs};
pub use verify::{HmacAlgorithm, HookSecret, VerifyError, delivery_id, verify};

/// The kind of sender a webhook trigger expects. Serialized as in the `WebhookTrigger` spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Provider {
    /// GitHub (github.com and Enterprise Server).
    Github,
    /// GitLab (gitlab.com and self-managed), project, group and system hooks.
    Gitlab,
    /// Gitea, Forgejo and Gogs.
    Gitea,
    /// Bitbucket Server / Data Center.
    BitbucketServer,
    /// Bitbucket Cloud (cannot sign; see [`verify`]).
    BitbucketCloud,
    /// Any sender with a shared token in a header; the body is not read.
    Generic,
    /// Any sender signing the body with HMAC-SHA256; the body is not read.
    GenericHmac,
}

impl Provider {
    /// Every provider, in declaration order.
    pub const ALL: [Provider; 7] = [
        Provider::Github,
        Provider::Gitlab,
        Provider::Gitea,
        Provider::BitbucketServer,
        Provider::BitbucketCloud,
        Provider::Generic,
        Provider::GenericHmac,
    ];

    /// The name used in manifests: `github`, `bitbucket-server`, `generic-hmac`, …
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Github => "github",
            Provider::Gitlab => "gitlab",
            Provider::Gitea => "gitea",
            Provider::BitbucketServer => "bitbucket-server",
            Provider::BitbucketCloud => "bitbucket-cloud",
            Provider::Generic => "generic",
            Provider::GenericHmac => "generic-hmac",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The path segment before a Bitbucket Cloud hook's token: `/hooks/{namespace}/{trigger}/t/{token}`.
pub const TOKEN_SEGMENT: &str = "t";

/// The shortest path token accepted: a Bitbucket Cloud hook has nothing else to prove it.
pub const MIN_PATH_TOKEN_LEN: usize = 32;

/// The URL path to configure at the sender for a webhook trigger. The token of a Bitbucket Cloud
/// hook is shown as `{token}`, never its value.
pub fn hook_path(provider: Provider, namespace: &str, trigger: &str) -> String {
    match provider {
        Provider::BitbucketCloud => {
            format!("/hooks/{namespace}/{trigger}/{TOKEN_SEGMENT}/{{token}}")
        }
        _ => format!("/hooks/{namespace}/{trigger}"),
    }
}

/// The name is not one of the manifest names of [`Provider`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown hook provider `{0}` (expected github, gitlab, gitea, bitbucket-server, bitbucket-cloud, generic or generic-hmac)"
)]
pub struct UnknownProvider(pub String);

impl FromStr for Provider {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownProvider(s.to_owned()))
    }
}

impl From<herald_api::WebhookProvider> for Provider {
    fn from(provider: herald_api::WebhookProvider) -> Self {
        use herald_api::WebhookProvider as P;
        match provider {
            P::Github => Self::Github,
            P::Gitlab => Self::Gitlab,
            P::Gitea => Self::Gitea,
            P::BitbucketServer => Self::BitbucketServer,
            P::BitbucketCloud => Self::BitbucketCloud,
            P::Generic => Self::Generic,
            P::GenericHmac => Self::GenericHmac,
        }
    }
}
