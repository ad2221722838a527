//! An annotated Deployment as the `ImageUpdate` it amounts to, so the engine attempts it as
//! it attempts every other: the application's HEAD as the tag, the image waited for in the
//! registry, the Deployment's file in the manifests repository updated and pushed.
//!
//! The spec names no real `GitRepo`: its two sources are fixed marker names that
//! [`super::env::CompatEnv`] resolves to the annotations' URLs. Its Secret references name no
//! namespace, so the spec passes the kind's own checks (an ImageUpdate reads Secrets only in
//! its namespace); `CompatEnv` reads them where the annotations say. It holds Secret names,
//! never values, so the debug view shows it as it is.

use std::time::Duration;

use herald_api::{
    GitCommitPolicy, ImagePolicy, ImageSource, ImageUpdate, ImageUpdateSpec, Notification,
    NotificationFormat, RequireImage, SecretRef, SourceKind, SourceRef, UpdateTarget,
};

use super::annotations::{CompatConfig, TagType};

/// The marker source standing for `gitops.operator.app_repository`.
pub const APP_SOURCE: &str = "gitops-operator-app";
/// The marker standing for `gitops.operator.manifest_repository`.
pub const MANIFESTS_SOURCE: &str = "gitops-operator-manifests";

/// The ImageUpdate `namespace/name` (the Deployment's) that `config` describes, looked at every
/// `interval`.
pub fn image_update(
    namespace: &str,
    name: &str,
    config: &CompatConfig,
    interval: Duration,
) -> ImageUpdate {
    let mut update = ImageUpdate::new(name, spec(config, interval));
    update.metadata.namespace = Some(namespace.to_owned());
    update
}

fn spec(config: &CompatConfig, interval: Duration) -> ImageUpdateSpec {
    let tag = match config.tag_type {
        TagType::Long => "{{sha}}",
        TagType::Short => "{{shortSha}}",
    };
    let notifications = config
        .notifications_secret_name
        .iter()
        .map(|name| Notification {
            format: NotificationFormat::Slack,
            secret_ref: SecretRef {
                name: name.clone(),
                namespace: None,
            },
            key: None,
        })
        .collect();
    ImageUpdateSpec {
        image: ImageSource {
            repository: image_repository(config),
            secret_ref: Some(SecretRef {
                name: config.registry_secret_name.clone(),
                namespace: None,
            }),
            insecure: false,
        },
        policy: ImagePolicy {
            git_commit: Some(GitCommitPolicy {
                source: marker(APP_SOURCE),
                branch: config.observe_branch.clone(),
                tag: Some(tag.to_owned()),
            }),
            ..ImagePolicy::default()
        },
        // gitops-operator checks that the image exists before it patches the manifest.
        require_image: Some(RequireImage::default()),
        interval: Some(format!("{}s", interval.as_secs().max(1))),
        target: UpdateTarget {
            git_repo: marker(MANIFESTS_SOURCE),
            branch: config.manifest_branch.clone(),
            push_branch: None,
            push_options: Vec::new(),
            paths: vec![config.deployment_path.trim_start_matches('/').to_owned()],
            values: Vec::new(),
        },
        commit: None,
        notifications,
        suspend: false,
    }
}

fn marker(name: &str) -> SourceRef {
    SourceRef {
        kind: SourceKind::GitRepo,
        name: name.to_owned(),
    }
}

/// `image_name`, behind `registry_url` when one is given and the name does not already
/// start with it (a scheme or trailing slash on the URL is dropped).
pub fn image_repository(config: &CompatConfig) -> String {
    let registry = config.registry_url.as_deref().map(|url| {
        let host = url.split_once("://").map_or(url, |(_, rest)| rest);
        host.trim_end_matches('/')
    });
    match registry {
        Some(host) if !host.is_empty() && !config.image_name.starts_with(&format!("{host}/")) => {
            format!("{host}/{}", config.image_name)
        }
        _ => config.image_name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gitops_compat::annotations::parse;
    use std::collections::BTreeMap;

    fn config(extra: &[(&str, &str)]) -> CompatConfig {
        let mut annotations: BTreeMap<String, String> = [
            ("enabled", "true"),
            ("app_repository", "git@example.com:team/web.git"),
            ("manifest_repository", "git@example.com:team/manifests.git"),
            ("deployment_path", "app/00-deployment.yaml"),
            ("image_name", "team/web"),
            ("namespace", "apps"),
            ("ssh_key_name", "ssh-key"),
            ("ssh_key_namespace", "gitops-operator"),
        ]
        .into_iter()
        .chain(extra.iter().copied())
        .map(|(k, v)| (format!("gitops.operator.{k}"), v.to_owned()))
        .collect();
        annotations.insert("unrelated".into(), "x".into());
        parse(&annotations).unwrap().unwrap()
    }

    #[test]
    fn the_seed_defaults_become_a_git_commit_update_of_the_deployment_file() {
        let update = image_update("apps", "web", &config(&[]), Duration::from_secs(300));
        assert_eq!(update.metadata.namespace.as_deref(), Some("apps"));
        assert_eq!(update.metadata.name.as_deref(), Some("web"));
        let spec = &update.spec;
        assert_eq!(spec.image.repository, "team/web");
        assert_eq!(spec.image.secret_ref.as_ref().unwrap().name, "regcred");
        let commit = spec.policy.git_commit.as_ref().unwrap();
        assert_eq!(commit.source.name, APP_SOURCE);
        assert_eq!(commit.branch, "master");
        assert_eq!(commit.tag.as_deref(), Some("{{sha}}"));
        assert!(spec.require_image.is_some());
        assert_eq!(spec.interval.as_deref(), Some("300s"));
        assert_eq!(spec.target.git_repo.name, MANIFESTS_SOURCE);
        assert_eq!(spec.target.branch, "master");
        assert_eq!(spec.target.paths, ["app/00-deployment.yaml"]);
        assert!(spec.notifications.is_empty());
        use herald_api::validate::Validate;
        let valid = update.spec.validate();
        assert!(valid.is_ok(), "{valid:?}");
    }

    #[test]
    fn short_tags_notifications_and_a_registry_url() {
        let config = config(&[
            ("tag_type", "short"),
            ("notifications_secret_name", "webhook-secret"),
            ("registry_url", "https://registry.example.com/"),
            ("observe_branch", "main"),
        ]);
        let spec = image_update("apps", "web", &config, Duration::from_secs(60)).spec;
        assert_eq!(spec.image.repository, "registry.example.com/team/web");
        let commit = spec.policy.git_commit.as_ref().unwrap();
        assert_eq!(commit.tag.as_deref(), Some("{{shortSha}}"));
        assert_eq!(commit.branch, "main");
        let [notification] = spec.notifications.as_slice() else {
            panic!("one notification: {:?}", spec.notifications);
        };
        assert_eq!(notification.format, NotificationFormat::Slack);
        assert_eq!(notification.secret_ref.name, "webhook-secret");
    }

    #[test]
    fn an_image_already_on_the_registry_is_not_prefixed_twice() {
        let config = config(&[
            ("registry_url", "registry.example.com"),
            ("image_name", "registry.example.com/team/web"),
        ]);
        assert_eq!(image_repository(&config), "registry.example.com/team/web");
    }
}
