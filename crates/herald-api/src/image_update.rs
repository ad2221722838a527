//! Image automation: keep a manifests repository's image references in step with new images.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{Conditions, SecretRef, SourceRef};

/// How often an ImageUpdate looks for a new tag unless `spec.interval` says otherwise.
pub const DEFAULT_IMAGE_UPDATE_INTERVAL: &str = "5m";
/// How long `requireImage` waits for a tag's manifest unless its `timeout` says otherwise.
pub const DEFAULT_REQUIRE_IMAGE_TIMEOUT: &str = "10m";
/// The Secret key a notification's URL is read from unless `key` says otherwise (the seed's).
pub const DEFAULT_NOTIFICATION_KEY: &str = "webhook-url";
/// The tag template of a `gitCommit` policy unless `tag` says otherwise: the full sha.
pub const DEFAULT_COMMIT_TAG: &str = "{{sha}}";

/// Keeps the image references of a manifests repository in step with an image's newest tag.
#[derive(CustomResource, Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "herald.dev",
    version = "v1alpha1",
    kind = "ImageUpdate",
    doc = "Keeps the image references of a manifests repository in step with an image's newest tag.",
    namespaced,
    status = "ImageUpdateStatus",
    shortname = "imgup",
    category = "herald",
    printcolumn = r#"{"name":"Image","type":"string","jsonPath":".spec.image.repository"}"#,
    printcolumn = r#"{"name":"Tag","type":"string","jsonPath":".status.latestTag"}"#,
    printcolumn = r#"{"name":"Commit","type":"string","jsonPath":".status.lastCommit","priority":1}"#,
    printcolumn = r#"{"name":"Suspended","type":"boolean","jsonPath":".spec.suspend"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[kube(derive = "PartialEq")]
#[serde(rename_all = "camelCase")]
pub struct ImageUpdateSpec {
    /// The image to follow and how to reach its registry.
    pub image: ImageSource,
    /// Which tag to deploy.
    pub policy: ImagePolicy,
    /// Wait until the chosen tag's manifest is in the registry before writing it, so a manifest
    /// never names an image that is not there yet (a `gitCommit` tag before CI pushed it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_image: Option<RequireImage>,
    /// How often to look for a new tag, e.g. `1m` (default `5m`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// Where the manifests are and what to update in them.
    pub target: UpdateTarget,
    /// Who commits, and the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<CommitSpec>,
    /// Where to announce each update and failure.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<Notification>,
    /// Stop checking; the status is kept.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub suspend: bool,
}

/// An image repository and its credentials.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageSource {
    /// The repository without a tag: `registry.example.com/team/web`, `nginx` (Docker Hub).
    #[schemars(length(min = 1, max = 255))]
    pub repository: String,
    /// A `kubernetes.io/dockerconfigjson` Secret in this namespace, read again on every check.
    /// A `credsStore` or `credHelpers` named in it is never executed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretRef>,
    /// Speak plain HTTP to this registry (loopback registries always may).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
}

/// Exactly one of `gitCommit`, `semver`, `alphabetical` or `numerical`.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("oneOf" = [
    { "required": ["gitCommit"] },
    { "required": ["semver"] },
    { "required": ["alphabetical"] },
    { "required": ["numerical"] }
]))]
pub struct ImagePolicy {
    /// The tag is made from the newest commit of a branch of the application's repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<GitCommitPolicy>,
    /// The highest version in a range among the registry's tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semver: Option<SemverPolicy>,
    /// The last tag in byte order (`asc`) or the first (`desc`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alphabetical: Option<OrderPolicy>,
    /// The highest number (`asc`) or the lowest (`desc`); tags that are not numbers are ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numerical: Option<OrderPolicy>,
    /// Only tags matching `pattern`; with `extract` (e.g. `$ts`), the named group is what is
    /// ordered. Not for `gitCommit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_tags: Option<TagFilter>,
    /// Glob patterns of tags never chosen. Default: cosign's `*.sig`, `*.att` and `*.sbom`;
    /// a list given here replaces them. Not for `gitCommit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_tags: Option<Vec<String>>,
}

/// The seed's policy: the image of a commit is tagged with its sha.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GitCommitPolicy {
    /// The application's repository: a `GitRepo` in this namespace or a `ClusterGitRepo`.
    pub source: SourceRef,
    /// The branch whose newest commit is deployed.
    #[schemars(length(min = 1))]
    pub branch: String,
    /// The tag, from `{{sha}}` (40 hex digits) or `{{shortSha}}` (7), e.g. `main-{{shortSha}}`.
    /// Default `{{sha}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// A semver range, as Flux writes them (`>=1.2.0 <2.0.0`, `^1.2`, `1.x`); a leading `v` on a
/// tag is accepted.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SemverPolicy {
    #[schemars(length(min = 1))]
    pub range: String,
    /// Consider pre-releases (`1.3.0-rc.1`) too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub prereleases: bool,
}

/// An ordering direction, with Flux's meaning.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderPolicy {
    #[serde(default)]
    pub order: SortOrder,
}

/// `asc` chooses the highest, `desc` the lowest.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    #[default]
    Asc,
    Desc,
}

/// Flux's `filterTags`.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TagFilter {
    /// A regular expression the whole tag is searched with.
    #[schemars(length(min = 1))]
    pub pattern: String,
    /// A template naming capture groups (`$ts`, `${version}`): what is ordered instead of the tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extract: Option<String>,
}

/// Waiting for the image.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequireImage {
    /// How long to wait for the manifest, e.g. `30m` (default `10m`); after that the update
    /// fails with `ImageNotFound` and is tried again at the next interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<String>,
}

/// The manifests repository and what to change in it.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UpdateTarget {
    /// The repository: a `GitRepo` in this namespace or a `ClusterGitRepo` (its SSH or HTTPS
    /// credentials are used to push).
    pub git_repo: SourceRef,
    /// The branch to start from.
    #[schemars(length(min = 1))]
    pub branch: String,
    /// Push here instead of `branch`, for review: a template with `{{name}}`, `{{namespace}}`
    /// and `{{tag}}` (e.g. `herald/{{name}}-{{tag}}`), force-updated from `branch` for every
    /// change set. A full ref is pushed as written: `refs/for/main` opens a pull request on
    /// Gitea (AGit) from the push itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_branch: Option<String>,
    /// Server push options (`git push -o`): GitLab's `merge_request.create`, for instance.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(length(min = 1)))]
    pub push_options: Vec<String>,
    /// Files and directories (relative to the repository's root) to look in; default the whole
    /// repository.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(length(min = 1)))]
    pub paths: Vec<String>,
    /// Besides container `image:` fields, Kustomization `images:` entries and Flux
    /// `{"$imagepolicy": "<namespace>:<name>"}` markers (always updated): YAML paths of values
    /// files to set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<ValuesTarget>,
}

/// One scalar of one values file.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValuesTarget {
    /// The file, relative to the repository's root.
    #[schemars(length(min = 1))]
    pub file: String,
    /// A dotted path such as `image.tag` or `spec.values.images[0].tag`.
    #[schemars(length(min = 1))]
    pub path: String,
    /// What to write there: the `tag` (default) or the whole `image` reference.
    #[serde(default)]
    pub value: ValueKind,
}

/// What a values path receives.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ValueKind {
    #[default]
    Tag,
    Image,
}

/// The commit.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommitSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<CommitAuthor>,
    /// With `{{changes}}` (one line per changed value), `{{count}}` and `{{updates}}`.
    /// Updates to one branch that arrive together share one commit, with this message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_template: Option<String>,
}

/// A commit's author (and committer).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommitAuthor {
    #[schemars(length(min = 1))]
    pub name: String,
    #[schemars(length(min = 1))]
    pub email: String,
}

/// A webhook told about every update.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// `slack` (`{"text": ...}`, which Slack, Mattermost and Rocket.Chat accept) or `json`
    /// (the update's report).
    pub format: NotificationFormat,
    /// The Secret in this namespace holding the URL (the URL carries a token).
    pub secret_ref: SecretRef,
    /// The key holding the URL (default `webhook-url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = crate::validate::patterns::SECRET_KEY))]
    pub key: Option<String>,
}

/// A notification body.
#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NotificationFormat {
    Slack,
    Json,
}

/// What the last checks found.
#[derive(Deserialize, Serialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageUpdateStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Conditions,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The tag the policy chose last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_tag: Option<String>,
    /// The last commit pushed for this update.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_commit: Option<String>,
    /// When that commit was pushed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<Time>,
    /// The `reconcile.fluxcd.io/requestedAt` value last handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
}

impl ImagePolicy {
    /// The policy in herald-image's terms (checked by `validate`, compiled by the engine).
    /// `None` when no policy or more than one is set.
    pub fn to_spec(&self) -> Option<herald_image::PolicySpec> {
        use herald_image::{Choice, FilterSpec, Order, PolicySpec, TagPolicySpec};
        let order = |o: &OrderPolicy| match o.order {
            SortOrder::Asc => Order::Asc,
            SortOrder::Desc => Order::Desc,
        };
        let choice = match (
            &self.git_commit,
            &self.semver,
            &self.alphabetical,
            &self.numerical,
        ) {
            (Some(commit), None, None, None) => {
                return Some(PolicySpec::GitCommit {
                    template: commit.tag.clone().unwrap_or(DEFAULT_COMMIT_TAG.into()),
                });
            }
            (None, Some(s), None, None) => Choice::Semver {
                range: s.range.clone(),
                prereleases: s.prereleases,
            },
            (None, None, Some(a), None) => Choice::Alphabetical { order: order(a) },
            (None, None, None, Some(n)) => Choice::Numerical { order: order(n) },
            _ => return None,
        };
        Some(PolicySpec::Tags(TagPolicySpec {
            choice,
            filter: self.filter_tags.as_ref().map(|f| FilterSpec {
                pattern: f.pattern.clone(),
                extract: f.extract.clone(),
            }),
            exclude: self.exclude_tags.clone(),
        }))
    }
}
