//! Git host webhooks: provider-aware verification, delivery ids and payload parsing.
//!
//! The HTTP layer calls, in order:
//! 1. [`verify`] with the raw body, before anything else looks at it (any error → 401, no detail);
//! 2. [`delivery_id`] for deduplication (absent → store without dedupe; long ids hashed);
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
pub use verify::{
    HmacAlgorithm, HookSecret, MAX_PLAIN_DELIVERY_ID, VerifyError, delivery_id, tokens_match,
    verify,
};

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

/// The URL path of a hook delivery to `trigger` (and to `source`, when one is named). The token
/// of a Bitbucket Cloud hook is shown as `{token}`, never its value.
pub fn hook_path(
    provider: Provider,
    namespace: &str,
    trigger: &str,
    source: Option<&str>,
) -> String {
    let mut path = format!("/hooks/{namespace}/{trigger}");
    if let Some(source) = source {
        path.push('/');
        path.push_str(source);
    }
    if provider == Provider::BitbucketCloud {
        path.push_str(&format!("/{TOKEN_SEGMENT}/{{token}}"));
    }
    path
}

/// Every path a sender may be pointed at to fire `trigger`: its own path when a delivery there
/// fires (one source, or `multiSource`), else one path per source. Each accepts a valid
/// delivery; this is what Herald tells users to configure.
pub fn hook_paths(
    provider: Provider,
    namespace: &str,
    trigger: &str,
    sources: &[String],
    multi_source: bool,
) -> Vec<String> {
    if multi_source || sources.len() == 1 {
        return vec![hook_path(provider, namespace, trigger, None)];
    }
    sources
        .iter()
        .map(|source| hook_path(provider, namespace, trigger, Some(source)))
        .collect()
}

/// The one path to show for `trigger` (a status field, a table column): its own path, or the
/// path with `{source}` where a source must be named.
pub fn hook_path_pattern(
    provider: Provider,
    namespace: &str,
    trigger: &str,
    sources: &[String],
    multi_source: bool,
) -> String {
    let source = (!multi_source && sources.len() != 1).then_some("{source}");
    hook_path(provider, namespace, trigger, source)
}

#[cfg(test)]
mod path_tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_trigger_with_one_source_or_multi_source_is_called_at_its_own_path() {
        let one = names(&["app"]);
        let paths = hook_paths(Provider::Github, "ns", "t", &one, false);
        assert_eq!(paths, ["/hooks/ns/t"]);
        let two = names(&["a", "b"]);
        assert_eq!(
            hook_paths(Provider::Github, "ns", "t", &two, true),
            ["/hooks/ns/t"]
        );
        assert_eq!(
            hook_path_pattern(Provider::Github, "ns", "t", &two, true),
            "/hooks/ns/t"
        );
    }

    #[test]
    fn sources_that_must_be_named_get_a_path_each() {
        let two = names(&["a", "b"]);
        assert_eq!(
            hook_paths(Provider::Gitea, "ns", "t", &two, false),
            ["/hooks/ns/t/a", "/hooks/ns/t/b"]
        );
        assert_eq!(
            hook_path_pattern(Provider::Gitea, "ns", "t", &two, false),
            "/hooks/ns/t/{source}"
        );
        assert_eq!(
            hook_paths(Provider::BitbucketCloud, "ns", "t", &two, false),
            ["/hooks/ns/t/a/t/{token}", "/hooks/ns/t/b/t/{token}"]
        );
        assert_eq!(
            hook_paths(Provider::BitbucketCloud, "ns", "t", &two[..1], false),
            ["/hooks/ns/t/t/{token}"]
        );
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
