//! ImageUpdate: every rule is checked when the object is loaded, so a bad range, regex,
//! template or path is reported then, not at the first check.

use herald_image::{Policy, Repository, YamlPath};

use super::names::{self, RefKind};
use super::{Errors, FieldError, SecretScope, Validate, index, join, secret_ref, steps};
use crate::{ImagePolicy, ImageUpdateSpec, Notification, UpdateTarget};

const NAMESPACED: SecretScope = SecretScope::OwnNamespace {
    kind: "ImageUpdate",
    hint: "copy the Secret into the ImageUpdate's namespace",
};

/// Placeholders a push branch template may use.
pub const PUSH_BRANCH_PLACEHOLDERS: [&str; 3] = ["{{name}}", "{{namespace}}", "{{tag}}"];

impl Validate for ImageUpdateSpec {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        if let Err(problem) = Repository::parse(&self.image.repository) {
            errors.add("image.repository", problem.to_string());
        }
        if let Some(secret) = &self.image.secret_ref {
            secret_ref(&mut errors, "image.secretRef", secret, NAMESPACED);
        }
        policy(&mut errors, &self.policy);
        if let Some(timeout) = self
            .require_image
            .as_ref()
            .and_then(|r| r.timeout.as_deref())
        {
            errors.check("requireImage.timeout", steps::duration(timeout).map(drop));
        }
        if let Some(interval) = &self.interval {
            errors.check("interval", steps::duration(interval).map(drop));
        }
        target(&mut errors, &self.target);
        if let Some(author) = self.commit.as_ref().and_then(|c| c.author.as_ref()) {
            if author.name.trim().is_empty() {
                errors.add("commit.author.name", "the author needs a name");
            }
            if !author.email.contains('@') {
                errors.add(
                    "commit.author.email",
                    format!("{:?} is not an e-mail address", author.email),
                );
            }
        }
        for (i, notification) in self.notifications.iter().enumerate() {
            notification_rules(&mut errors, &index("notifications", i), notification);
        }
        errors.finish()
    }
}

fn policy(errors: &mut Errors, policy: &ImagePolicy) {
    let Some(spec) = policy.to_spec() else {
        errors.add(
            "policy",
            "set exactly one of gitCommit, semver, alphabetical or numerical",
        );
        return;
    };
    if let Some(commit) = &policy.git_commit {
        errors.check(
            "policy.gitCommit.branch",
            names::short_ref_name(&commit.branch, RefKind::Branch),
        );
        if policy.filter_tags.is_some() || policy.exclude_tags.is_some() {
            errors.add(
                "policy",
                "filterTags and excludeTags choose among a registry's tags; a gitCommit policy \
                 makes its tag from a commit",
            );
        }
    }
    if let Err(problem) = Policy::compile(&spec) {
        errors.add("policy", problem.to_string());
    }
}

fn target(errors: &mut Errors, target: &UpdateTarget) {
    errors.check(
        "target.branch",
        names::short_ref_name(&target.branch, RefKind::Branch),
    );
    if let Some(template) = &target.push_branch {
        let example = render_push_branch(template, "name", "namespace", "1.0.0");
        // A full ref is pushed as written: Gitea's AGit `refs/for/<branch>`.
        let valid = if example.starts_with("refs/") {
            names::full_ref_name(&example)
        } else {
            names::short_ref_name(&example, RefKind::Branch)
        };
        errors.check(
            "target.pushBranch",
            valid.map_err(|m| format!("{m} (rendered from {template:?})")),
        );
    }
    for (i, path) in target.paths.iter().enumerate() {
        errors.check(index("target.paths", i), repository_path(path));
    }
    for (i, values) in target.values.iter().enumerate() {
        let at = index("target.values", i);
        errors.check(join(&at, "file"), repository_path(&values.file));
        if let Err(problem) = YamlPath::parse(&values.path) {
            errors.add(join(&at, "path"), problem.to_string());
        }
    }
}

fn notification_rules(errors: &mut Errors, at: &str, notification: &Notification) {
    secret_ref(
        errors,
        &join(at, "secretRef"),
        &notification.secret_ref,
        NAMESPACED,
    );
    if let Some(key) = &notification.key {
        errors.check(join(at, "key"), names::secret_key(key));
    }
}

/// A path inside the repository: relative, and never leaving it.
pub fn repository_path(path: &str) -> Result<(), String> {
    let leaves = path.split(['/', '\\']).any(|component| component == "..");
    if path.starts_with('/') || path.starts_with('\\') || leaves {
        return Err(format!(
            "{path:?} must be relative to the repository's root and stay inside it"
        ));
    }
    if path.contains('\0') {
        return Err("a path must not hold a NUL byte".into());
    }
    Ok(())
}

/// A push branch template with its placeholders filled in.
pub fn render_push_branch(template: &str, name: &str, namespace: &str, tag: &str) -> String {
    template
        .replace("{{name}}", name)
        .replace("{{namespace}}", namespace)
        .replace("{{tag}}", tag)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::paths;
    use super::*;
    use crate::{
        CommitAuthor, CommitSpec, GitCommitPolicy, ImageSource, NotificationFormat, OrderPolicy,
        SecretRef, SemverPolicy, SourceKind, SourceRef, TagFilter, ValueKind, ValuesTarget,
    };

    fn source(name: &str) -> SourceRef {
        SourceRef {
            kind: SourceKind::GitRepo,
            name: name.into(),
        }
    }

    fn spec() -> ImageUpdateSpec {
        ImageUpdateSpec {
            image: ImageSource {
                repository: "registry.example.com/team/web".into(),
                secret_ref: Some(SecretRef {
                    name: "regcred".into(),
                    namespace: None,
                }),
                insecure: false,
            },
            policy: ImagePolicy {
                semver: Some(SemverPolicy {
                    range: ">=1.0.0".into(),
                    prereleases: false,
                }),
                ..ImagePolicy::default()
            },
            require_image: None,
            interval: Some("1m".into()),
            target: UpdateTarget {
                git_repo: source("manifests"),
                branch: "main".into(),
                push_branch: None,
                push_options: vec![],
                paths: vec!["apps/web".into()],
                values: vec![],
            },
            commit: None,
            notifications: vec![],
            suspend: false,
        }
    }

    #[test]
    fn a_plain_spec_is_valid() {
        assert_eq!(paths(spec().validate()), Vec::<String>::new());
    }

    #[test]
    fn exactly_one_policy() {
        let mut none = spec();
        none.policy = ImagePolicy::default();
        assert_eq!(paths(none.validate()), ["policy"]);
        let mut two = spec();
        two.policy.alphabetical = Some(OrderPolicy::default());
        assert_eq!(paths(two.validate()), ["policy"]);
    }

    #[test]
    fn policy_problems_are_found_at_load() {
        let mut bad_range = spec();
        bad_range.policy.semver = Some(SemverPolicy {
            range: ">=banana".into(),
            prereleases: false,
        });
        assert_eq!(paths(bad_range.validate()), ["policy"]);
        let mut bad_regex = spec();
        bad_regex.policy.filter_tags = Some(TagFilter {
            pattern: "main-(".into(),
            extract: None,
        });
        assert_eq!(paths(bad_regex.validate()), ["policy"]);
        let mut commit = spec();
        commit.policy = ImagePolicy {
            git_commit: Some(GitCommitPolicy {
                source: source("app"),
                branch: "refs/heads/main".into(),
                tag: Some("{{commit}}".into()),
            }),
            exclude_tags: Some(vec!["*.sig".into()]),
            ..ImagePolicy::default()
        };
        assert_eq!(
            paths(commit.validate()),
            ["policy.gitCommit.branch", "policy", "policy"]
        );
    }

    #[test]
    fn targets_stay_inside_the_repository() {
        let mut bad = spec();
        bad.target.paths = vec!["../other".into(), "/etc".into(), "ok/dir".into()];
        bad.target.values = vec![ValuesTarget {
            file: "a/../../b.yaml".into(),
            path: "image..tag".into(),
            value: ValueKind::Tag,
        }];
        bad.target.push_branch = Some("review/{{name}}..{{tag}}".into());
        bad.target.branch = "-main".into();
        assert_eq!(
            paths(bad.validate()),
            [
                "target.branch",
                "target.pushBranch",
                "target.paths[0]",
                "target.paths[1]",
                "target.values[0].file",
                "target.values[0].path",
            ]
        );
    }

    #[test]
    fn durations_authors_and_notifications() {
        let mut bad = spec();
        bad.interval = Some("soon".into());
        bad.require_image = Some(crate::RequireImage {
            timeout: Some("0s".into()),
        });
        bad.commit = Some(CommitSpec {
            author: Some(CommitAuthor {
                name: " ".into(),
                email: "nobody".into(),
            }),
            message_template: None,
        });
        bad.notifications = vec![Notification {
            format: NotificationFormat::Slack,
            secret_ref: SecretRef {
                name: "hook".into(),
                namespace: Some("elsewhere".into()),
            },
            key: Some("bad key".into()),
        }];
        assert_eq!(
            paths(bad.validate()),
            [
                "requireImage.timeout",
                "interval",
                "commit.author.name",
                "commit.author.email",
                "notifications[0].secretRef.namespace",
                "notifications[0].key",
            ]
        );
    }

    #[test]
    fn a_push_branch_may_be_a_full_ref() {
        let mut agit = spec();
        agit.target.push_branch = Some("refs/for/main".into());
        assert_eq!(paths(agit.validate()), Vec::<String>::new());
        agit.target.push_branch = Some("refs/for/ma..in".into());
        assert_eq!(paths(agit.validate()), ["target.pushBranch"]);
    }

    #[test]
    fn push_branches_render() {
        assert_eq!(
            render_push_branch(
                "herald/{{namespace}}-{{name}}-{{tag}}",
                "web",
                "apps",
                "1.2"
            ),
            "herald/apps-web-1.2"
        );
    }
}
