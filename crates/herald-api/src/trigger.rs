//! Triggers: when to act, on which refs of which sources.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{ActionRef, Conditions, SourceKind};

/// Runs an action on a schedule, optionally only when a watched ref has moved.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "herald.dev",
    version = "v1alpha1",
    kind = "ScheduleTrigger",
    doc = "Runs an action on a schedule, optionally only when a watched ref has moved.",
    namespaced,
    status = "TriggerStatus",
    shortname = "strig",
    category = "herald",
    printcolumn = r#"{"name":"Interval","type":"string","jsonPath":".spec.schedule.interval"}"#,
    printcolumn = r#"{"name":"Cron","type":"string","jsonPath":".spec.schedule.cron"}"#,
    printcolumn = r#"{"name":"Action","type":"string","jsonPath":".spec.action.name"}"#,
    printcolumn = r#"{"name":"Suspended","type":"boolean","jsonPath":".spec.suspend"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[kube(derive = "PartialEq")]
#[serde(rename_all = "camelCase")]
pub struct ScheduleTriggerSpec {
    /// The sources to watch and what to look at in them.
    pub sources: TriggerSources,
    /// When to check: an interval or a cron expression.
    pub schedule: Schedule,
    /// The Action (in this namespace) or ClusterAction to run.
    pub action: ActionRef,
    /// Stop checking, on schedule and on request (as Flux's `spec.suspend`); the status and the
    /// last seen revisions are kept, so resuming picks up where it stopped.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspend: bool,
}

/// Runs an action when a hook is delivered.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "herald.dev",
    version = "v1alpha1",
    kind = "WebhookTrigger",
    doc = "Runs an action when a hook is delivered.",
    namespaced,
    status = "TriggerStatus",
    shortname = "wtrig",
    category = "herald",
    printcolumn = r#"{"name":"Action","type":"string","jsonPath":".spec.action.name"}"#,
    printcolumn = r#"{"name":"Hook","type":"string","jsonPath":".status.hookPath"}"#,
    printcolumn = r#"{"name":"Suspended","type":"boolean","jsonPath":".spec.suspend"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[kube(derive = "PartialEq")]
#[serde(rename_all = "camelCase")]
pub struct WebhookTriggerSpec {
    /// The sources the hook may fire for and what to look at in them.
    pub sources: TriggerSources,
    /// How hooks are accepted.
    pub webhook: WebhookConfig,
    /// The Action (in this namespace) or ClusterAction to run.
    pub action: ActionRef,
    /// Refuse deliveries (a verified one is answered 409, reason `Suspended`) and reconcile
    /// requests, keeping the status and the last seen revisions.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspend: bool,
}

/// Which sources a trigger watches and what it looks at in each.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TriggerSources {
    pub kind: SourceKind,
    /// Names of sources of `kind` (in the trigger's namespace for `GitRepo`).
    #[schemars(
        length(min = 1),
        inner(length(min = 1, max = 253), regex(pattern = crate::validate::patterns::DNS1123_SUBDOMAIN))
    )]
    pub names: Vec<String>,
    pub watch_on: WatchOn,
}

/// What counts as a change.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WatchOn {
    /// Fire only when the watched ref points at a revision not seen before for this source.
    #[serde(default)]
    pub on_change_only: bool,
    pub reference: GitReference,
    /// Glob patterns; when set, a change must touch a matching file (hooks that report files).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(length(min = 1)))]
    pub files: Vec<String>,
}

/// Exactly one of `branch`, `tag` or `commit`.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("oneOf" = [
    { "required": ["branch"] },
    { "required": ["tag"] },
    { "required": ["commit"] }
]))]
pub struct GitReference {
    /// A branch name such as `main` (without `refs/heads/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub branch: Option<String>,
    /// A tag name such as `v1.2.0` (without `refs/tags/`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub tag: Option<String>,
    /// A full commit id: 40 lower-case hex digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = crate::validate::patterns::COMMIT))]
    pub commit: Option<String>,
}

/// Either `interval` or `cron` (with an optional IANA `timeZone`, UTC by default).
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("oneOf" = [{ "required": ["interval"] }, { "required": ["cron"] }]))]
pub struct Schedule {
    /// A duration such as `30s`, `5m` or `1h 30m`; at least `1s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub interval: Option<String>,
    /// A cron expression: 5 fields, or 6 with seconds first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub cron: Option<String>,
    /// IANA time zone of `cron`, e.g. `Europe/Berlin`; UTC when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub time_zone: Option<String>,
}

/// Hook settings.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookConfig {
    /// Who sends the hooks, which decides how they are verified and read: `github`
    /// (`X-Hub-Signature-256`), `gitlab` (`X-Gitlab-Token`), `gitea` (Gitea/Forgejo
    /// signature), `bitbucket-server` (`X-Hub-Signature`), `generic` (a token in
    /// `authConfig.header`, the default) or `generic-hmac` (an HMAC-SHA256 of the body in
    /// `authConfig.header`).
    #[serde(default)]
    pub provider: WebhookProvider,
    /// Allow `POST /hooks/{namespace}/{trigger}` to fire every source at once; otherwise a
    /// source must be named in the path.
    #[serde(default)]
    pub multi_source: bool,
    /// A shared token the caller must present. Hooks without auth are refused unless this is
    /// set, so a trigger is never open by accident.
    pub auth_config: WebhookAuth,
    /// Create the hook at the Git host (cluster mode): its URL, secret and events kept in step
    /// with this trigger, removed when the trigger is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub register: Option<HookRegistration>,
}

/// Where and how to create a trigger's hook at the Git host.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HookRegistration {
    /// The host's API: `github`, `gitlab` or `gitea` (Forgejo too). It must be the trigger's
    /// `provider`.
    pub api: GitHostApi,
    /// A Secret in this namespace whose `token` may manage the repository's hooks.
    pub secret_ref: crate::SecretRef,
    /// Where the host reaches Herald (`https://herald.example.com`): the hook's URL is this
    /// and the trigger's path.
    #[schemars(length(min = 1))]
    pub external_url: String,
    /// The repository's web address (`https://github.com/org/app`); default: each source's
    /// own URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repository: Option<String>,
}

/// A Git host whose API Herald speaks (hooks and commit statuses).
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GitHostApi {
    Github,
    Gitlab,
    Gitea,
}

impl GitHostApi {
    /// As written in a manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Github => "github",
            Self::Gitlab => "gitlab",
            Self::Gitea => "gitea",
        }
    }
}

/// A hook Herald created at a Git host.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegisteredHook {
    /// The repository's web address.
    pub repository: String,
    /// The hook's id at the host.
    pub id: i64,
    /// The URL the host posts to.
    pub url: String,
}

/// Who sends a trigger's hooks.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum WebhookProvider {
    Github,
    Gitlab,
    Gitea,
    BitbucketServer,
    /// Bitbucket Cloud cannot sign its hooks: the Secret's token goes in the hook URL's path
    /// (`/hooks/{namespace}/{trigger}/t/{token}`), so it must be long and random.
    BitbucketCloud,
    #[default]
    Generic,
    GenericHmac,
}

/// A token compared in constant time against a request header.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookAuth {
    pub secret_ref: crate::common::SecretRef,
    /// The key in the Secret that holds the token.
    #[serde(default = "default_token_key")]
    #[schemars(length(min = 1, max = 253), regex(pattern = crate::validate::patterns::SECRET_KEY))]
    pub key: String,
    /// The request header that carries the token (`generic`, default `x-trigger-auth`) or the
    /// signature (`generic-hmac`, default `x-hub-signature-256`). Other providers use their
    /// own headers and ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1), regex(pattern = crate::validate::patterns::HTTP_HEADER))]
    pub header: Option<String>,
}

fn default_token_key() -> String {
    "token".into()
}
/// The header of a `generic` hook's token when `authConfig.header` is not set.
pub const DEFAULT_TOKEN_HEADER: &str = "x-trigger-auth";
/// The header of a `generic-hmac` hook's signature when `authConfig.header` is not set: the
/// one GitHub and most senders that sign with HMAC-SHA256 use.
pub const DEFAULT_SIGNATURE_HEADER: &str = "x-hub-signature-256";

impl WebhookConfig {
    /// The header a `generic` or `generic-hmac` hook carries its token or signature in
    /// (lower-case): `authConfig.header`, or the provider's default.
    pub fn auth_header(&self) -> String {
        let default = match self.provider {
            WebhookProvider::GenericHmac => DEFAULT_SIGNATURE_HEADER,
            _ => DEFAULT_TOKEN_HEADER,
        };
        self.auth_config
            .header
            .as_deref()
            .unwrap_or(default)
            .to_ascii_lowercase()
    }
}

/// Observed state of a trigger.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TriggerStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Conditions,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The last revision a run was created for, per source name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub checked_sources: BTreeMap<String, CheckedSource>,
    /// Schedule triggers: the last check that changed something (a new revision, a condition).
    /// Checks that find nothing new are kept in memory and write nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_checked: Option<Time>,
    /// Webhook triggers: the path to configure at the Git host, with `{token}` in place of a
    /// Bitbucket Cloud token and `{source}` where a source must be named (see `hookPaths`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook_path: Option<String>,
    /// Webhook triggers that must name a source: one path per source.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hook_paths: Vec<String>,
    /// The value of the `reconcile.fluxcd.io/requestedAt` annotation last acted on (as Flux
    /// records it), so a request is handled once and a client can tell it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// Webhook triggers with `webhook.register`: the hooks created at the Git host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub registered_hooks: Vec<RegisteredHook>,
}

/// What a trigger last saw in one source.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckedSource {
    pub revision: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_ref: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<Time>,
}

impl GitReference {
    /// The full ref name to look for in `git ls-remote`, or `None` for a commit.
    pub fn full_ref(&self) -> Option<String> {
        match (&self.branch, &self.tag) {
            (Some(b), _) => Some(format!("refs/heads/{b}")),
            (None, Some(t)) => Some(format!("refs/tags/{t}")),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn webhook(provider: WebhookProvider, header: Option<&str>) -> WebhookConfig {
        WebhookConfig {
            provider,
            multi_source: false,
            register: None,
            auth_config: WebhookAuth {
                secret_ref: crate::SecretRef {
                    name: "s".into(),
                    namespace: None,
                },
                key: "token".into(),
                header: header.map(Into::into),
            },
        }
    }

    #[test]
    fn the_auth_header_defaults_by_provider() {
        let token = webhook(WebhookProvider::Generic, None);
        assert_eq!(token.auth_header(), DEFAULT_TOKEN_HEADER);
        let signed = webhook(WebhookProvider::GenericHmac, None);
        assert_eq!(signed.auth_header(), "x-hub-signature-256");
        let set = webhook(WebhookProvider::GenericHmac, Some("X-Signature"));
        assert_eq!(set.auth_header(), "x-signature");
    }
}
