//! ScheduleTrigger and WebhookTrigger.

use std::collections::BTreeSet;

use super::names::{self, RefKind};
use super::schedule::{parse_cron_expr, parse_interval, parse_time_zone};
use super::{Errors, FieldError, SecretScope, Validate, index, join, secret_ref};
use crate::{
    ActionRef, GitHostApi, GitReference, HookRegistration, Schedule, ScheduleTriggerSpec,
    TriggerSources, WatchOn, WebhookAuth, WebhookConfig, WebhookProvider, WebhookTriggerSpec,
};

impl Validate for ScheduleTriggerSpec {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        sources(&mut errors, "sources", &self.sources);
        schedule(&mut errors, "schedule", &self.schedule);
        action_ref(&mut errors, "action", &self.action);
        errors.finish()
    }
}

impl Validate for WebhookTriggerSpec {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        sources(&mut errors, "sources", &self.sources);
        webhook(&mut errors, "webhook", &self.webhook);
        action_ref(&mut errors, "action", &self.action);
        errors.finish()
    }
}

fn sources(errors: &mut Errors, at: &str, sources: &TriggerSources) {
    let names_at = join(at, "names");
    if sources.names.is_empty() {
        errors.add(&names_at, "name at least one source to watch");
    }
    let mut seen = BTreeSet::new();
    for (i, name) in sources.names.iter().enumerate() {
        let name_at = index(&names_at, i);
        match names::dns1123_subdomain(name) {
            Err(m) => errors.add(name_at, format!("source name {m}")),
            Ok(()) if !seen.insert(name) => {
                errors.add(name_at, format!("source {name:?} is listed twice"));
            }
            Ok(()) => {}
        }
    }
    watch_on(errors, &join(at, "watchOn"), &sources.watch_on);
}

fn watch_on(errors: &mut Errors, at: &str, watch: &WatchOn) {
    reference(errors, &join(at, "reference"), &watch.reference);
    let files_at = join(at, "files");
    for (i, pattern) in watch.files.iter().enumerate() {
        errors.check(index(&files_at, i), file_glob(pattern));
    }
}

fn file_glob(pattern: &str) -> Result<(), String> {
    if pattern.trim().is_empty() {
        return Err("file pattern must not be empty".into());
    }
    globset::Glob::new(pattern)
        .map(drop)
        .map_err(|e| format!("invalid file glob {pattern:?}: {}", e.kind()))
}

fn reference(errors: &mut Errors, at: &str, reference: &GitReference) {
    let GitReference {
        branch,
        tag,
        commit,
    } = reference;
    let given: Vec<&str> = [
        ("branch", branch.is_some()),
        ("tag", tag.is_some()),
        ("commit", commit.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    match given.as_slice() {
        [] => errors.add(at, "set exactly one of branch, tag or commit"),
        [_] => {}
        many => errors.add(
            at,
            format!(
                "set exactly one of branch, tag or commit, not {}",
                many.join(" and ")
            ),
        ),
    }
    if let Some(branch) = branch {
        errors.check(
            join(at, "branch"),
            names::short_ref_name(branch, RefKind::Branch),
        );
    }
    if let Some(tag) = tag {
        errors.check(join(at, "tag"), names::short_ref_name(tag, RefKind::Tag));
    }
    if let Some(commit) = commit {
        errors.check(join(at, "commit"), names::commit_hash(commit));
    }
}

fn schedule(errors: &mut Errors, at: &str, schedule: &Schedule) {
    let Schedule {
        interval,
        cron,
        time_zone,
    } = schedule;
    match (interval, cron) {
        (Some(_), Some(_)) => errors.add(at, "set either interval or cron, not both"),
        (None, None) => errors.add(
            at,
            "set interval (e.g. \"5m\") or cron (e.g. \"*/5 * * * *\")",
        ),
        _ => {}
    }
    if let Some(interval) = interval {
        errors.check(join(at, "interval"), parse_interval(interval).map(drop));
    }
    if let Some(cron) = cron {
        errors.check(join(at, "cron"), parse_cron_expr(cron).map(drop));
    }
    if let Some(tz) = time_zone {
        let tz_at = join(at, "timeZone");
        if cron.is_none() && interval.is_some() {
            errors.add(tz_at, "timeZone only applies to cron schedules");
        } else {
            errors.check(tz_at, parse_time_zone(tz).map(drop));
        }
    }
}

const WEBHOOK_SCOPE: SecretScope = SecretScope::OwnNamespace {
    kind: "WebhookTrigger",
    hint: "remove secretRef.namespace",
};

fn webhook(errors: &mut Errors, at: &str, webhook: &WebhookConfig) {
    let auth_at = join(at, "authConfig");
    let WebhookAuth {
        secret_ref: secret,
        key,
        header,
    } = &webhook.auth_config;
    secret_ref(errors, &join(&auth_at, "secretRef"), secret, WEBHOOK_SCOPE);
    errors.check(join(&auth_at, "key"), names::secret_key(key));
    if let Some(header) = header {
        errors.check(join(&auth_at, "header"), names::http_header_name(header));
    }
    if let Some(register) = &webhook.register {
        registration(errors, &join(at, "register"), webhook.provider, register);
    }
}

/// A hook is registered with the API of the host that sends it, at an address it can reach.
fn registration(
    errors: &mut Errors,
    at: &str,
    provider: WebhookProvider,
    register: &HookRegistration,
) {
    let matches = matches!(
        (provider, register.api),
        (WebhookProvider::Github, GitHostApi::Github)
            | (WebhookProvider::Gitlab, GitHostApi::Gitlab)
            | (WebhookProvider::Gitea, GitHostApi::Gitea)
    );
    if !matches {
        errors.add(
            join(at, "api"),
            format!(
                "a {} hook is verified as that host signs it; set webhook.provider: {} too",
                register.api.as_str(),
                register.api.as_str()
            ),
        );
    }
    secret_ref(
        errors,
        &join(at, "secretRef"),
        &register.secret_ref,
        WEBHOOK_SCOPE,
    );
    errors.check(
        join(at, "externalUrl"),
        super::uri::http_url(&register.external_url),
    );
    if let Some(repository) = &register.repository {
        errors.check(join(at, "repository"), super::uri::http_url(repository));
    }
}

fn action_ref(errors: &mut Errors, at: &str, action: &ActionRef) {
    errors.check(
        join(at, "name"),
        names::dns1123_subdomain(&action.name).map_err(|m| format!("action name {m}")),
    );
}

#[cfg(test)]
mod registration_tests {
    use super::*;
    use crate::SecretRef;

    fn register(api: GitHostApi, external_url: &str) -> HookRegistration {
        HookRegistration {
            api,
            secret_ref: SecretRef {
                name: "github-token".into(),
                namespace: None,
            },
            external_url: external_url.into(),
            repository: None,
        }
    }

    #[test]
    fn the_api_is_the_provider_s_and_the_url_reachable() {
        let mut errors = Errors::default();
        registration(
            &mut errors,
            "r",
            WebhookProvider::Github,
            &register(GitHostApi::Github, "https://herald.example.com"),
        );
        assert!(errors.finish().is_ok());
        let mut errors = Errors::default();
        registration(
            &mut errors,
            "r",
            WebhookProvider::Gitlab,
            &register(GitHostApi::Github, "herald.example.com"),
        );
        let paths: Vec<_> = errors
            .finish()
            .unwrap_err()
            .into_iter()
            .map(|e| e.path)
            .collect();
        assert_eq!(paths, ["r.api", "r.externalUrl"]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::test_support::{paths, single};
    use crate::{ActionKind, SecretRef, SourceKind};

    fn branch(name: &str) -> GitReference {
        GitReference {
            branch: Some(name.into()),
            ..GitReference::default()
        }
    }

    fn srcs(names: &[&str], reference: GitReference, files: &[&str]) -> TriggerSources {
        TriggerSources {
            kind: SourceKind::GitRepo,
            names: names.iter().map(|n| (*n).to_owned()).collect(),
            watch_on: WatchOn {
                on_change_only: true,
                reference,
                files: files.iter().map(|f| (*f).to_owned()).collect(),
            },
        }
    }

    fn every(interval: &str) -> Schedule {
        Schedule {
            interval: Some(interval.into()),
            ..Schedule::default()
        }
    }

    fn cron(expr: &str, tz: Option<&str>) -> Schedule {
        Schedule {
            cron: Some(expr.into()),
            time_zone: tz.map(Into::into),
            ..Schedule::default()
        }
    }

    fn action(name: &str) -> ActionRef {
        ActionRef {
            kind: ActionKind::Action,
            name: name.into(),
        }
    }

    fn scheduled(sources: TriggerSources, schedule: Schedule) -> ScheduleTriggerSpec {
        ScheduleTriggerSpec {
            sources,
            schedule,
            action: action("build"),
            suspend: false,
        }
    }

    fn schedule_paths(schedule: Schedule) -> Vec<String> {
        paths(scheduled(srcs(&["app"], branch("main"), &[]), schedule).validate())
    }

    fn reference_paths(reference: GitReference) -> Vec<String> {
        paths(scheduled(srcs(&["app"], reference, &[]), every("1m")).validate())
    }

    fn hook(key: &str, header: &str, namespace: Option<&str>) -> WebhookTriggerSpec {
        let header = Some(header.to_owned());
        WebhookTriggerSpec {
            sources: srcs(&["app"], branch("main"), &["src/**/*.rs"]),
            webhook: WebhookConfig {
                provider: Default::default(),
                multi_source: false,
                auth_config: WebhookAuth {
                    secret_ref: SecretRef {
                        name: "hook-token".into(),
                        namespace: namespace.map(Into::into),
                    },
                    key: key.into(),
                    header,
                },
                register: None,
            },
            action: action("build"),
            suspend: false,
        }
    }

    #[test]
    fn valid_schedule_triggers() {
        for schedule in [
            every("30s"),
            every("1h 30m"),
            cron("*/5 * * * *", None),
            cron("0 0 9 * * MON-FRI", Some("Europe/Berlin")),
            cron("@hourly", Some("UTC")),
        ] {
            assert_eq!(
                schedule_paths(schedule.clone()),
                Vec::<String>::new(),
                "{schedule:?}"
            );
        }
        let full_sha = "0123456789abcdef0123456789abcdef01234567";
        for reference in [
            branch("feature/x"),
            GitReference {
                tag: Some("v1.2.3".into()),
                ..GitReference::default()
            },
            GitReference {
                commit: Some(full_sha.into()),
                ..GitReference::default()
            },
        ] {
            assert_eq!(reference_paths(reference), Vec::<String>::new());
        }
        let spec = scheduled(
            srcs(
                &["app", "lib.v2"],
                branch("main"),
                &["**/*.yaml", "docs/{a,b}/*"],
            ),
            every("5m"),
        );
        assert_eq!(paths(spec.validate()), Vec::<String>::new());
    }

    #[test]
    fn schedule_needs_exactly_one_of_interval_and_cron() {
        let both = Schedule {
            interval: Some("5m".into()),
            cron: Some("* * * * *".into()),
            time_zone: None,
        };
        let e = single(scheduled(srcs(&["app"], branch("main"), &[]), both).validate());
        assert_eq!(e.path, "schedule");
        assert_eq!(e.message, "set either interval or cron, not both");
        assert_eq!(schedule_paths(Schedule::default()), ["schedule"]);
    }

    #[test]
    fn bad_schedule_fields() {
        assert_eq!(schedule_paths(every("soon")), ["schedule.interval"]);
        assert_eq!(schedule_paths(every("0s")), ["schedule.interval"]);
        assert_eq!(schedule_paths(cron("* * *", None)), ["schedule.cron"]);
        assert_eq!(schedule_paths(cron("99 * * * *", None)), ["schedule.cron"]);
        assert_eq!(
            schedule_paths(cron("* * * * *", Some("Mars/Base"))),
            ["schedule.timeZone"]
        );
        assert_eq!(
            schedule_paths(Schedule {
                time_zone: Some("Europe/Berlin".into()),
                ..every("5m")
            }),
            ["schedule.timeZone"]
        );
        assert_eq!(
            schedule_paths(cron("* *", Some("Nowhere"))),
            ["schedule.cron", "schedule.timeZone"]
        );
    }

    #[test]
    fn cron_message_names_the_expression() {
        let spec = scheduled(srcs(&["app"], branch("main"), &[]), cron("* * *", None));
        let e = single(spec.validate());
        assert!(
            e.to_string()
                .starts_with("schedule.cron: invalid cron expression \"* * *\": "),
            "{e}"
        );
    }

    #[test]
    fn reference_needs_exactly_one_of_branch_tag_commit() {
        let e =
            single(scheduled(srcs(&["app"], GitReference::default(), &[]), every("1m")).validate());
        assert_eq!(e.path, "sources.watchOn.reference");
        assert_eq!(e.message, "set exactly one of branch, tag or commit");

        let two = GitReference {
            branch: Some("main".into()),
            tag: Some("v1".into()),
            commit: None,
        };
        let e = single(scheduled(srcs(&["app"], two, &[]), every("1m")).validate());
        assert_eq!(e.path, "sources.watchOn.reference");
        assert!(e.message.ends_with("not branch and tag"), "{e}");
    }

    #[test]
    fn bad_reference_values() {
        for bad in [
            "a b",
            "a..b",
            "-x",
            "x~1",
            "x^",
            "x:y",
            "x?",
            "x*",
            "x[",
            "x\\y",
            "refs/heads/main",
        ] {
            assert_eq!(
                reference_paths(branch(bad)),
                ["sources.watchOn.reference.branch"],
                "{bad:?}"
            );
        }
        let tag = GitReference {
            tag: Some("v1..2".into()),
            ..GitReference::default()
        };
        assert_eq!(reference_paths(tag), ["sources.watchOn.reference.tag"]);
        for bad in ["abc123", "0123456789ABCDEF0123456789ABCDEF01234567", ""] {
            let commit = GitReference {
                commit: Some(bad.into()),
                ..GitReference::default()
            };
            assert_eq!(
                reference_paths(commit),
                ["sources.watchOn.reference.commit"],
                "{bad:?}"
            );
        }
    }

    #[test]
    fn source_names() {
        let check = |names: &[&str]| {
            paths(scheduled(srcs(names, branch("main"), &[]), every("1m")).validate())
        };
        assert_eq!(check(&[]), ["sources.names"]);
        assert_eq!(
            check(&["ok", "Not_OK", ""]),
            ["sources.names[1]", "sources.names[2]"]
        );
        assert_eq!(check(&["app", "lib", "app"]), ["sources.names[2]"]);
    }

    #[test]
    fn file_globs() {
        let check = |files: &[&str]| {
            paths(scheduled(srcs(&["app"], branch("main"), files), every("1m")).validate())
        };
        assert_eq!(
            check(&["src/**", "a[", ""]),
            ["sources.watchOn.files[1]", "sources.watchOn.files[2]"]
        );
        assert_eq!(check(&["{a,b"]), ["sources.watchOn.files[0]"]);
    }

    #[test]
    fn action_name() {
        for bad in ["", "Build", "build_1"] {
            let spec = ScheduleTriggerSpec {
                action: action(bad),
                ..scheduled(srcs(&["app"], branch("main"), &[]), every("1m"))
            };
            assert_eq!(paths(spec.validate()), ["action.name"], "{bad:?}");
        }
    }

    #[test]
    fn webhook_triggers() {
        assert_eq!(
            paths(hook("token", "x-trigger-auth", None).validate()),
            Vec::<String>::new()
        );
        assert_eq!(
            paths(hook("token", "X-Gitlab-Token", None).validate()),
            Vec::<String>::new()
        );
        assert_eq!(
            paths(hook("", "x-trigger-auth", None).validate()),
            ["webhook.authConfig.key"]
        );
        for header in ["", "x trigger", "x-auth:", "x/y"] {
            assert_eq!(
                paths(hook("token", header, None).validate()),
                ["webhook.authConfig.header"],
                "{header:?}"
            );
        }
        let e = single(hook("token", "x-trigger-auth", Some("other")).validate());
        assert_eq!(e.path, "webhook.authConfig.secretRef.namespace");
        assert!(
            e.message
                .contains("WebhookTrigger reads secrets only from its own namespace")
        );

        let mut spec = hook("token", "x-trigger-auth", None);
        spec.webhook.auth_config.secret_ref.name = "Hook".into();
        spec.sources.names.clear();
        spec.action.name.clear();
        assert_eq!(
            paths(spec.validate()),
            [
                "sources.names",
                "webhook.authConfig.secretRef.name",
                "action.name"
            ]
        );
    }
}
