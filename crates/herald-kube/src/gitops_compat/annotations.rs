//! A Deployment's `gitops.operator.*` annotations, read the way gitops-operator reads them:
//! the same names, the same required set and the same defaults, so a Deployment annotated for
//! it works unchanged. Pure: no API calls.

use std::collections::BTreeMap;

/// The prefix of every annotation read here.
pub const PREFIX: &str = "gitops.operator.";

const ENABLED: &str = "gitops.operator.enabled";
const APP_REPOSITORY: &str = "gitops.operator.app_repository";
const MANIFEST_REPOSITORY: &str = "gitops.operator.manifest_repository";
const DEPLOYMENT_PATH: &str = "gitops.operator.deployment_path";
const IMAGE_NAME: &str = "gitops.operator.image_name";
const NAMESPACE: &str = "gitops.operator.namespace";
const SSH_KEY_NAME: &str = "gitops.operator.ssh_key_name";
const SSH_KEY_NAMESPACE: &str = "gitops.operator.ssh_key_namespace";
const NOTIFICATIONS_SECRET_NAME: &str = "gitops.operator.notifications_secret_name";
const NOTIFICATIONS_SECRET_NAMESPACE: &str = "gitops.operator.notifications_secret_namespace";
const REGISTRY_URL: &str = "gitops.operator.registry_url";
const REGISTRY_SECRET_NAME: &str = "gitops.operator.registry_secret_name";
const REGISTRY_SECRET_NAMESPACE: &str = "gitops.operator.registry_secret_namespace";
const OBSERVE_BRANCH: &str = "gitops.operator.observe_branch";
const TAG_TYPE: &str = "gitops.operator.tag_type";
/// Herald's extension: the manifests repository's branch (gitops-operator pushes to the
/// default branch of its clone, which it does not name; `master` is its own repositories').
const MANIFEST_BRANCH: &str = "gitops.operator.manifest_branch";

/// gitops-operator's defaults.
pub const DEFAULT_REGISTRY_SECRET_NAME: &str = "regcred";
pub const DEFAULT_REGISTRY_SECRET_NAMESPACE: &str = "gitops-operator";
pub const DEFAULT_OBSERVE_BRANCH: &str = "master";
pub const DEFAULT_MANIFEST_BRANCH: &str = "master";

/// The annotations without which gitops-operator skips a Deployment, in its README's order.
const REQUIRED: [&str; 7] = [
    APP_REPOSITORY,
    MANIFEST_REPOSITORY,
    DEPLOYMENT_PATH,
    IMAGE_NAME,
    NAMESPACE,
    SSH_KEY_NAME,
    SSH_KEY_NAMESPACE,
];

/// Which form of the application's commit the image is tagged with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TagType {
    /// The full 40-digit sha (the default).
    Long,
    /// Its first 7 digits.
    Short,
}

/// What an enabled, complete set of annotations says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompatConfig {
    /// `gitops.operator.namespace`: where gitops-operator says the Deployment runs. Read and
    /// required as there; the Deployment's own namespace is what Herald uses.
    pub namespace: String,
    pub app_repository: String,
    pub manifest_repository: String,
    pub deployment_path: String,
    pub image_name: String,
    pub ssh_key_name: String,
    pub ssh_key_namespace: String,
    /// The Slack-format webhook's Secret (key `webhook-url`); no notifications without it.
    pub notifications_secret_name: Option<String>,
    /// Default: the Deployment's namespace ("a secret per namespace where your app is").
    pub notifications_secret_namespace: Option<String>,
    /// Prefixed to `image_name` when given (and not already there).
    pub registry_url: Option<String>,
    pub registry_secret_name: String,
    pub registry_secret_namespace: String,
    pub observe_branch: String,
    pub tag_type: TagType,
    pub manifest_branch: String,
}

/// Why an enabled Deployment is not followed: the annotation missing or invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip {
    pub reason: String,
}

/// The Deployment's settings; `Ok(None)` when it is not enabled (no annotation, or `false`),
/// so it is none of gitops-operator's business and appears nowhere; `Err(Skip)` when it is
/// enabled but an annotation is missing or invalid, which its answer says.
pub fn parse(annotations: &BTreeMap<String, String>) -> Result<Option<CompatConfig>, Skip> {
    let get = |key: &str| {
        annotations
            .get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    };
    match get(ENABLED).map(str::to_ascii_lowercase).as_deref() {
        None | Some("false") => return Ok(None),
        Some("true") => {}
        Some(other) => return Err(invalid(ENABLED, other, "true or false")),
    }
    let missing: Vec<&str> = REQUIRED.into_iter().filter(|k| get(k).is_none()).collect();
    match missing.as_slice() {
        [] => {}
        [one] => return Err(skip(format!("missing annotation {one}"))),
        many => return Err(skip(format!("missing annotations {}", many.join(", ")))),
    }
    let tag_type = match get(TAG_TYPE) {
        None | Some("long") => TagType::Long,
        Some("short") => TagType::Short,
        Some(other) => return Err(invalid(TAG_TYPE, other, "long or short")),
    };
    let required = |key: &str| get(key).unwrap_or_default().to_owned();
    let optional = |key: &str| get(key).map(str::to_owned);
    let or = |key: &str, default: &str| get(key).unwrap_or(default).to_owned();
    Ok(Some(CompatConfig {
        namespace: required(NAMESPACE),
        app_repository: required(APP_REPOSITORY),
        manifest_repository: required(MANIFEST_REPOSITORY),
        deployment_path: required(DEPLOYMENT_PATH),
        image_name: required(IMAGE_NAME),
        ssh_key_name: required(SSH_KEY_NAME),
        ssh_key_namespace: required(SSH_KEY_NAMESPACE),
        notifications_secret_name: optional(NOTIFICATIONS_SECRET_NAME),
        notifications_secret_namespace: optional(NOTIFICATIONS_SECRET_NAMESPACE),
        registry_url: optional(REGISTRY_URL),
        registry_secret_name: or(REGISTRY_SECRET_NAME, DEFAULT_REGISTRY_SECRET_NAME),
        registry_secret_namespace: or(REGISTRY_SECRET_NAMESPACE, DEFAULT_REGISTRY_SECRET_NAMESPACE),
        observe_branch: or(OBSERVE_BRANCH, DEFAULT_OBSERVE_BRANCH),
        tag_type,
        manifest_branch: or(MANIFEST_BRANCH, DEFAULT_MANIFEST_BRANCH),
    }))
}

fn skip(reason: String) -> Skip {
    Skip { reason }
}

fn invalid(key: &str, value: &str, expected: &str) -> Skip {
    skip(format!("annotation {key} is {value:?}, not {expected}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed README's example, with its required annotations only.
    fn seed() -> BTreeMap<String, String> {
        [
            (ENABLED, "true"),
            (
                APP_REPOSITORY,
                "git@github.com:kainlite/gitops-operator.git",
            ),
            (DEPLOYMENT_PATH, "app/00-deployment.yaml"),
            (IMAGE_NAME, "kainlite/gitops-operator"),
            (
                MANIFEST_REPOSITORY,
                "git@github.com:kainlite/gitops-operator-manifests.git",
            ),
            (NAMESPACE, "default"),
            (SSH_KEY_NAME, "ssh-key"),
            (SSH_KEY_NAMESPACE, "gitops-operator"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    fn with(key: &str, value: &str) -> BTreeMap<String, String> {
        let mut annotations = seed();
        annotations.insert(key.to_owned(), value.to_owned());
        annotations
    }

    #[test]
    fn the_seed_example_gets_its_defaults() {
        let config = parse(&seed()).unwrap().unwrap();
        assert_eq!(config.observe_branch, "master");
        assert_eq!(config.tag_type, TagType::Long);
        assert_eq!(config.registry_secret_name, "regcred");
        assert_eq!(config.registry_secret_namespace, "gitops-operator");
        assert_eq!(config.manifest_branch, "master");
        assert_eq!(config.notifications_secret_name, None);
        assert_eq!(config.notifications_secret_namespace, None);
        assert_eq!(config.registry_url, None);
        assert_eq!(config.image_name, "kainlite/gitops-operator");
        assert_eq!(config.deployment_path, "app/00-deployment.yaml");
        assert_eq!(config.ssh_key_namespace, "gitops-operator");
    }

    #[test]
    fn optional_annotations_override_the_defaults() {
        let mut annotations = seed();
        for (k, v) in [
            (OBSERVE_BRANCH, "main"),
            (TAG_TYPE, "short"),
            (REGISTRY_URL, "registry.example.com"),
            (REGISTRY_SECRET_NAME, "pull"),
            (REGISTRY_SECRET_NAMESPACE, "ci"),
            (NOTIFICATIONS_SECRET_NAME, "webhook-secret"),
            (NOTIFICATIONS_SECRET_NAMESPACE, "apps"),
            (MANIFEST_BRANCH, "deploy"),
        ] {
            annotations.insert(k.to_owned(), v.to_owned());
        }
        let config = parse(&annotations).unwrap().unwrap();
        assert_eq!(config.observe_branch, "main");
        assert_eq!(config.tag_type, TagType::Short);
        assert_eq!(config.registry_url.as_deref(), Some("registry.example.com"));
        assert_eq!(config.registry_secret_name, "pull");
        assert_eq!(config.registry_secret_namespace, "ci");
        assert_eq!(
            config.notifications_secret_name.as_deref(),
            Some("webhook-secret")
        );
        assert_eq!(
            config.notifications_secret_namespace.as_deref(),
            Some("apps")
        );
        assert_eq!(config.manifest_branch, "deploy");
    }

    #[test]
    fn every_required_annotation_missing_is_named() {
        for key in REQUIRED {
            let mut annotations = seed();
            annotations.remove(key);
            let skip = parse(&annotations).unwrap_err();
            assert_eq!(skip.reason, format!("missing annotation {key}"));
            // An empty value is as good as none.
            let skip = parse(&with(key, "  ")).unwrap_err();
            assert_eq!(skip.reason, format!("missing annotation {key}"));
        }
    }

    #[test]
    fn several_missing_annotations_are_all_named() {
        let mut annotations = seed();
        annotations.remove(IMAGE_NAME);
        annotations.remove(SSH_KEY_NAME);
        let skip = parse(&annotations).unwrap_err();
        assert_eq!(
            skip.reason,
            "missing annotations gitops.operator.image_name, gitops.operator.ssh_key_name"
        );
    }

    #[test]
    fn a_bad_tag_type_is_a_skip() {
        let skip = parse(&with(TAG_TYPE, "medium")).unwrap_err();
        assert_eq!(
            skip.reason,
            "annotation gitops.operator.tag_type is \"medium\", not long or short"
        );
    }

    #[test]
    fn not_enabled_is_none_of_its_business() {
        assert_eq!(parse(&with(ENABLED, "false")), Ok(None));
        let mut annotations = seed();
        annotations.remove(ENABLED);
        assert_eq!(parse(&annotations), Ok(None));
        assert_eq!(parse(&BTreeMap::new()), Ok(None));
        // Disabled wins over incomplete: nothing to report.
        let mut incomplete = with(ENABLED, "false");
        incomplete.remove(IMAGE_NAME);
        assert_eq!(parse(&incomplete), Ok(None));
        assert!(parse(&with(ENABLED, "True")).unwrap().is_some());
        assert!(parse(&with(ENABLED, "yes")).is_err());
    }
}
