//! Action and ClusterAction.

use std::path::{Component, Path};

use k8s_openapi::api::core::v1::EnvVar;

use super::{Errors, FieldError, Validate, index, join, names, steps};
use crate::{ActionDefinition, ActionJob, ActionSpec, ClusterActionSpec};

impl Validate for ActionSpec {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        self.definition.validate()
    }
}

impl Validate for ClusterActionSpec {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        self.definition.validate()
    }
}

impl Validate for ActionDefinition {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        match (&self.action_job, self.steps.is_empty()) {
            (Some(_), false) => errors.add(
                "steps",
                "set either actionJob (one step) or steps (a graph), not both",
            ),
            (None, true) => errors.add(
                "steps",
                "the action runs nothing: set actionJob (one step) or steps (a graph of steps)",
            ),
            _ => {}
        }
        if let Some(job) = &self.action_job {
            action_job(&mut errors, "actionJob", job);
            for (field, set) in [
                ("serviceAccount", self.service_account.is_some()),
                ("clonerImage", self.cloner_image.is_some()),
            ] {
                if set {
                    errors.add(
                        field,
                        format!("with actionJob, set actionJob.{field} instead"),
                    );
                }
            }
        }
        if let Some(sa) = &self.service_account {
            errors.check("serviceAccount", service_account(sa));
        }
        if let Some(image) = &self.cloner_image {
            errors.check("clonerImage", image_ref(image));
        }
        steps::definition(&mut errors, self);
        errors.finish()
    }
}

fn action_job(errors: &mut Errors, at: &str, job: &ActionJob) {
    let ActionJob {
        image,
        command,
        args: _,
        env,
        workdir,
        service_account: sa,
        resources: _,
        active_deadline_seconds,
        ttl_seconds_after_finished,
        cloner_image,
    } = job;
    exec(
        errors,
        at,
        Exec {
            image: image.as_deref(),
            command,
            env,
            workdir: workdir.as_deref(),
        },
    );
    if let Some(image) = cloner_image {
        errors.check(join(at, "clonerImage"), image_ref(image));
    }
    if let Some(sa) = sa {
        errors.check(join(at, "serviceAccount"), service_account(sa));
    }
    if let Some(secs) = active_deadline_seconds
        && *secs <= 0
    {
        errors.add(
            join(at, "activeDeadlineSeconds"),
            format!("must be at least 1 second, got {secs}; leave it out for no deadline"),
        );
    }
    if let Some(secs) = ttl_seconds_after_finished
        && *secs < 0
    {
        errors.add(
            join(at, "ttlSecondsAfterFinished"),
            format!("must not be negative, got {secs}"),
        );
    }
}

/// The fields an `actionJob` and a step share: what is executed, and where.
pub(super) struct Exec<'a> {
    pub image: Option<&'a str>,
    pub command: &'a [String],
    pub env: &'a [EnvVar],
    pub workdir: Option<&'a str>,
}

pub(super) fn exec(errors: &mut Errors, at: &str, exec: Exec<'_>) {
    let command_at = join(at, "command");
    if exec.command.is_empty() {
        errors.add(
            &command_at,
            "command is required: local mode executes command[0] as the program, and cluster \
             mode sets it as the container's entrypoint instead of relying on the image's, so \
             one Action behaves the same in both",
        );
    }
    for (i, part) in exec.command.iter().enumerate() {
        if part.is_empty() {
            errors.add(index(&command_at, i), "must not be empty");
        }
    }
    if let Some(image) = exec.image {
        errors.check(join(at, "image"), image_ref(image));
    }
    let env_at = join(at, "env");
    for (i, var) in exec.env.iter().enumerate() {
        let var_at = index(&env_at, i);
        errors.check(join(&var_at, "name"), names::env_var_name(&var.name));
        if var.value.as_deref().is_some_and(|v| !v.is_empty()) && var.value_from.is_some() {
            errors.add(
                join(&var_at, "valueFrom"),
                "set either value or valueFrom, not both",
            );
        }
    }
    if let Some(dir) = exec.workdir {
        errors.check(join(at, "workdir"), relative_workdir(dir));
    }
}

fn service_account(sa: &str) -> Result<(), String> {
    names::dns1123_subdomain(sa).map_err(|m| format!("service account name {m}"))
}

fn image_ref(image: &str) -> Result<(), String> {
    if image.trim().is_empty() {
        return Err("image must not be empty; leave it out to use the default".into());
    }
    if image.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("image {image:?} must not contain whitespace"));
    }
    Ok(())
}

fn relative_workdir(dir: &str) -> Result<(), String> {
    if dir.is_empty() {
        return Err("workdir must not be empty; leave it out for the checkout's root".into());
    }
    let path = Path::new(dir);
    if path.has_root() || dir.starts_with('\\') {
        return Err(format!(
            "workdir {dir:?} must be relative to the checkout, not absolute"
        ));
    }
    if path.components().any(|c| c == Component::ParentDir)
        || dir.split(['/', '\\']).any(|p| p == "..")
    {
        return Err(format!(
            "workdir {dir:?} must stay inside the checkout: '..' is not allowed"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::test_support::{paths, single};
    use k8s_openapi::api::core::v1::{EnvVar, EnvVarSource, SecretKeySelector};

    fn job() -> ActionJob {
        ActionJob {
            image: Some("alpine:3.20".into()),
            command: vec!["sh".into(), "-c".into()],
            args: vec!["make test".into()],
            ..ActionJob::default()
        }
    }

    fn check(job: ActionJob) -> Vec<String> {
        let namespaced = paths(
            ActionSpec {
                definition: job.clone().into(),
            }
            .validate(),
        );
        let cluster = paths(
            ClusterActionSpec {
                definition: job.into(),
            }
            .validate(),
        );
        assert_eq!(namespaced, cluster);
        namespaced
    }

    fn env(name: &str, value: Option<&str>, from_secret: bool) -> EnvVar {
        EnvVar {
            name: name.into(),
            value: value.map(Into::into),
            value_from: from_secret.then(|| EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: "s".into(),
                    key: "k".into(),
                    optional: None,
                }),
                ..EnvVarSource::default()
            }),
        }
    }

    #[test]
    fn valid_jobs() {
        assert_eq!(check(job()), Vec::<String>::new());
        let full = ActionJob {
            env: vec![env("GIT_SHA", Some("x"), false), env("TOKEN", None, true)],
            workdir: Some("services/api".into()),
            service_account: Some("herald-runner".into()),
            active_deadline_seconds: Some(600),
            ttl_seconds_after_finished: Some(0),
            cloner_image: Some("registry.local:5000/herald/cloner@sha256:abc".into()),
            ..job()
        };
        assert_eq!(check(full), Vec::<String>::new());
        // Local mode: no image at all.
        let local = ActionJob {
            image: None,
            command: vec!["./ci.sh".into()],
            ..ActionJob::default()
        };
        assert_eq!(check(local), Vec::<String>::new());
    }

    #[test]
    fn command_is_required() {
        let e = single(
            ActionSpec {
                definition: ActionJob {
                    command: vec![],
                    ..job()
                }
                .into(),
            }
            .validate(),
        );
        assert_eq!(e.path, "actionJob.command");
        assert!(e.message.contains("local mode") && e.message.contains("cluster mode"));
        let blank = ActionJob {
            command: vec!["sh".into(), String::new()],
            ..job()
        };
        assert_eq!(check(blank), ["actionJob.command[1]"]);
    }

    #[test]
    fn deadlines() {
        for secs in [0, -5] {
            let bad = ActionJob {
                active_deadline_seconds: Some(secs),
                ..job()
            };
            assert_eq!(check(bad), ["actionJob.activeDeadlineSeconds"]);
        }
        let bad = ActionJob {
            ttl_seconds_after_finished: Some(-1),
            ..job()
        };
        assert_eq!(check(bad), ["actionJob.ttlSecondsAfterFinished"]);
    }

    #[test]
    fn workdirs() {
        for ok in ["sub", "a/b/c", "./a", "a/./b", "weird..name"] {
            let j = ActionJob {
                workdir: Some(ok.into()),
                ..job()
            };
            assert_eq!(check(j), Vec::<String>::new(), "{ok:?}");
        }
        for bad in [
            "",
            "/abs",
            "..",
            "../x",
            "a/../../b",
            "a/..",
            "\\share",
            "a\\..\\b",
        ] {
            let j = ActionJob {
                workdir: Some(bad.into()),
                ..job()
            };
            assert_eq!(check(j), ["actionJob.workdir"], "{bad:?}");
        }
    }

    #[test]
    fn one_of_action_job_or_steps() {
        let nothing = single(ActionDefinition::default().validate());
        assert_eq!(nothing.path, "steps");
        assert!(nothing.message.contains("runs nothing"), "{nothing}");
        let both = ActionDefinition {
            steps: vec![crate::Step {
                name: "a".into(),
                command: vec!["true".into()],
                ..crate::Step::default()
            }],
            ..job().into()
        };
        assert_eq!(paths(both.validate()), ["steps"]);
        let shared = ActionDefinition {
            service_account: Some("runner".into()),
            cloner_image: Some("cloner:1".into()),
            ..job().into()
        };
        assert_eq!(paths(shared.validate()), ["serviceAccount", "clonerImage"]);
    }

    #[test]
    fn images_env_and_service_account() {
        let bad = ActionJob {
            image: Some(String::new()),
            cloner_image: Some("cloner latest".into()),
            env: vec![
                env("OK", Some("1"), false),
                env("1BAD", Some("1"), false),
                env("BOTH", Some("x"), true),
            ],
            service_account: Some("Runner".into()),
            ..job()
        };
        assert_eq!(
            check(bad),
            [
                "actionJob.image",
                "actionJob.env[1].name",
                "actionJob.env[2].valueFrom",
                "actionJob.clonerImage",
                "actionJob.serviceAccount",
            ]
        );
    }
}
