//! Building the Job for a Run: a cloner init container checks out the exact revision into a
//! shared volume, then the Action's container works there. Pure: no client.

use std::collections::BTreeMap;

use std::time::Duration;

use herald_api::{Run, RunSpec, Step};
use herald_core::{CredentialPlan, RunContext, WORKDIR_ENV, run_env};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, EnvVar, PodSpec, PodTemplateSpec, SecretVolumeSource,
    SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;

use crate::labels;

/// Where the checkout lives in both containers.
pub const WORKSPACE: &str = "/workspace";
/// Where the cloner reads credentials (only the init container mounts them).
pub const CREDENTIALS_DIR: &str = "/var/run/herald/credentials";

/// Where a step's container writes its outputs: the kubelet keeps this file's first 4 KiB as
/// the container's termination message, which Herald reads (no Pod logs needed).
pub const OUTPUT_FILE: &str = "/dev/termination-log";

/// The W3C trace context of the span that created a Run (traces on): its Jobs' containers get
/// it as `TRACEPARENT`, and each pass of the Run controller continues that trace.
pub const TRACEPARENT_ANNOTATION: &str = "herald.dev/traceparent";

/// What building a step attempt's Job needs besides the Run.
#[derive(Debug, Clone)]
pub struct JobInputs<'a> {
    pub step: &'a Step,
    pub attempt: u32,
    /// One attempt's budget: the Job's `activeDeadlineSeconds`.
    pub timeout: Duration,
    /// `HERALD_NEEDS_*` from the steps it needs.
    pub needs_env: Vec<(String, String)>,
    pub service_account: Option<&'a str>,
    pub ttl_seconds_after_finished: Option<i32>,
    pub plan: &'a CredentialPlan,
    /// The per-run credentials Secret, when the source needs any.
    pub credentials_secret: Option<&'a str>,
    pub cloner_image: &'a str,
    /// Used when the Action names no service account: one with no permissions.
    pub default_service_account: &'a str,
}

/// The Job of one attempt of one step of `run`, owned by the Run so it goes when the Run goes.
pub fn build_job(run: &Run, inputs: &JobInputs<'_>) -> Job {
    let run_name = run.metadata.name.clone().unwrap_or_default();
    let mut labels = run_labels(&run_name, &run.spec);
    labels.insert(labels::STEP.to_owned(), inputs.step.name.clone());
    labels.insert(labels::ATTEMPT.to_owned(), inputs.attempt.to_string());
    let pod = PodSpec {
        restart_policy: Some("Never".into()),
        service_account_name: Some(
            inputs
                .service_account
                .unwrap_or(inputs.default_service_account)
                .to_owned(),
        ),
        init_containers: Some(vec![cloner(run, inputs)]),
        containers: vec![worker(run, inputs)],
        volumes: Some(volumes(inputs.credentials_secret)),
        ..PodSpec::default()
    };
    Job {
        metadata: ObjectMeta {
            name: Some(labels::job_name(
                &run_name,
                &inputs.step.name,
                inputs.attempt,
            )),
            namespace: run.metadata.namespace.clone(),
            labels: Some(labels.clone()),
            owner_references: owner_reference(run).map(|o| vec![o]),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: i64::try_from(inputs.timeout.as_secs()).ok(),
            ttl_seconds_after_finished: inputs.ttl_seconds_after_finished,
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..JobSpec::default()
        }),
        status: None,
    }
}

/// Labels linking a Run's Job (and its Pod) to the Run, trigger and source.
pub fn run_labels(run: &str, spec: &RunSpec) -> BTreeMap<String, String> {
    BTreeMap::from([
        (labels::RUN.to_owned(), run.to_owned()),
        (labels::TRIGGER.to_owned(), spec.trigger.name.clone()),
        (
            labels::TRIGGER_KIND.to_owned(),
            spec.trigger.kind.to_string(),
        ),
        (labels::SOURCE.to_owned(), spec.source.name.clone()),
    ])
}

/// A controller owner reference to `owner`, if it has been stored (has a uid).
pub fn owner_reference<K: Resource<DynamicType = ()>>(owner: &K) -> Option<OwnerReference> {
    owner.controller_owner_ref(&())
}

fn cloner(run: &Run, inputs: &JobInputs<'_>) -> Container {
    let plan = inputs.plan;
    let mut env = vec![
        env("HERALD_CLONE_URL", &plan.url),
        env("HERALD_CLONE_REVISION", &run.spec.revision),
        env("HERALD_CLONE_DEST", WORKSPACE),
        env("HERALD_CLONE_CREDENTIALS_DIR", CREDENTIALS_DIR),
        env("HERALD_CLONE_USERNAME", &plan.username),
    ];
    if let Some(git_ref) = &run.spec.git_ref {
        env.push(env_var("HERALD_CLONE_REF", git_ref));
    }
    if let Some(auth) = plan.auth {
        env.push(env_var(
            "HERALD_CLONE_AUTH",
            &format!("{auth:?}").to_lowercase(),
        ));
    }
    if let Some(known_hosts) = &plan.known_hosts {
        env.push(env_var("HERALD_CLONE_KNOWN_HOSTS", known_hosts));
    }
    if plan.allow_unknown_host_keys {
        env.push(env_var("HERALD_CLONE_ALLOW_UNKNOWN_HOST_KEYS", "true"));
    }
    if plan.insecure_skip_tls_verify {
        env.push(env_var("HERALD_CLONE_INSECURE_SKIP_TLS_VERIFY", "true"));
    }
    env.extend(traceparent(run));
    let mut mounts = vec![workspace_mount()];
    if inputs.credentials_secret.is_some() {
        mounts.push(VolumeMount {
            name: "credentials".into(),
            mount_path: CREDENTIALS_DIR.into(),
            read_only: Some(true),
            ..VolumeMount::default()
        });
    }
    Container {
        name: "clone".into(),
        image: Some(inputs.cloner_image.to_owned()),
        args: Some(vec!["clone".into()]),
        env: Some(env),
        volume_mounts: Some(mounts),
        security_context: Some(restricted()),
        ..Container::default()
    }
}

fn worker(run: &Run, inputs: &JobInputs<'_>) -> Container {
    let step = inputs.step;
    let name = run.metadata.name.clone().unwrap_or_default();
    let namespace = run.metadata.namespace.clone().unwrap_or_default();
    let spec = &run.spec;
    let context = RunContext {
        run: &name,
        namespace: &namespace,
        trigger_kind: &spec.trigger.kind.to_string(),
        trigger: &spec.trigger.name,
        source_kind: &spec.source.kind.to_string(),
        source: &spec.source.name,
        git_ref: spec.git_ref.as_deref(),
        revision: &spec.revision,
        cause: &spec.cause.to_string(),
    };
    let mut env: Vec<EnvVar> = run_env(&context)
        .into_iter()
        .map(|(k, v)| env_var(k, &v))
        .collect();
    env.push(env_var(WORKDIR_ENV, WORKSPACE));
    env.push(env_var("HERALD_STEP", &step.name));
    env.push(env_var("HERALD_STEP_ATTEMPT", &inputs.attempt.to_string()));
    env.push(env_var(herald_core::steps::OUTPUT_ENV, OUTPUT_FILE));
    env.extend(inputs.needs_env.iter().map(|(k, v)| env_var(k, v)));
    env.extend(traceparent(run));
    env.extend(step.env.iter().cloned());
    let workdir = match step.workdir.as_deref() {
        Some(sub) if !sub.is_empty() => format!("{WORKSPACE}/{sub}"),
        _ => WORKSPACE.to_owned(),
    };
    Container {
        name: "action".into(),
        image: step.image.clone(),
        command: non_empty(&step.command),
        args: non_empty(&step.args),
        env: Some(env),
        working_dir: Some(workdir),
        resources: step.resources.clone(),
        volume_mounts: Some(vec![workspace_mount()]),
        // The outputs on success; on a failure with no outputs written, the log's tail, which
        // Herald shows when no kubelet log is reachable.
        termination_message_path: Some(OUTPUT_FILE.into()),
        termination_message_policy: Some("FallbackToLogsOnError".into()),
        ..Container::default()
    }
}

fn volumes(credentials_secret: Option<&str>) -> Vec<Volume> {
    let mut volumes = vec![Volume {
        name: "workspace".into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    }];
    if let Some(secret) = credentials_secret {
        volumes.push(Volume {
            name: "credentials".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret.to_owned()),
                default_mode: Some(0o400),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
    }
    volumes
}

fn workspace_mount() -> VolumeMount {
    VolumeMount {
        name: "workspace".into(),
        mount_path: WORKSPACE.into(),
        ..VolumeMount::default()
    }
}

fn restricted() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        run_as_non_root: Some(true),
        read_only_root_filesystem: Some(true),
        ..SecurityContext::default()
    }
}

fn env_var(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        value_from: None,
    }
}

/// `TRACEPARENT` from the Run's [`TRACEPARENT_ANNOTATION`], when it has one.
fn traceparent(run: &Run) -> Option<EnvVar> {
    let value = crate::caches::annotation(run, TRACEPARENT_ANNOTATION)?;
    Some(env_var(herald_telemetry::TRACEPARENT_ENV, value))
}

fn env(name: &str, value: &str) -> EnvVar {
    env_var(name, value)
}

fn non_empty(items: &[String]) -> Option<Vec<String>> {
    (!items.is_empty()).then(|| items.to_vec())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use herald_api::{
        ActionKind, ActionRef, RunCause, SourceKind, SourceRef, TriggerKind, TriggerRef,
    };

    use super::*;

    fn run(annotations: Option<BTreeMap<String, String>>) -> Run {
        let mut run = Run::new(
            "hook-run",
            RunSpec {
                cause: RunCause::Webhook,
                trigger: TriggerRef {
                    kind: TriggerKind::WebhookTrigger,
                    name: "hook".into(),
                },
                source: SourceRef {
                    kind: SourceKind::GitRepo,
                    name: "app".into(),
                },
                git_ref: Some("refs/heads/main".into()),
                revision: "a".repeat(40),
                action: ActionRef {
                    kind: ActionKind::Action,
                    name: "act".into(),
                },
                rerun_of: None,
            },
        );
        run.metadata.namespace = Some("default".into());
        run.metadata.annotations = annotations;
        run
    }

    /// `TRACEPARENT` of each container of the Job built for `run`.
    fn traceparents(run: &Run) -> Vec<Option<String>> {
        let step = Step {
            name: "main".into(),
            command: vec!["true".into()],
            ..Step::default()
        };
        let plan = CredentialPlan {
            url: "https://example.com/app.git".into(),
            auth: None,
            username: String::new(),
            known_hosts: None,
            allow_unknown_host_keys: false,
            insecure_skip_tls_verify: false,
            items: Vec::new(),
        };
        let inputs = JobInputs {
            step: &step,
            attempt: 1,
            timeout: Duration::from_secs(60),
            needs_env: Vec::new(),
            service_account: None,
            ttl_seconds_after_finished: None,
            plan: &plan,
            credentials_secret: None,
            cloner_image: "herald:test",
            default_service_account: "herald-action",
        };
        let job = build_job(run, &inputs);
        let pod = job.spec.unwrap().template.spec.unwrap();
        let containers = pod
            .init_containers
            .unwrap()
            .into_iter()
            .chain(pod.containers);
        containers
            .map(|c| {
                let env = c.env.unwrap_or_default();
                let found = env.into_iter().find(|e| e.name == "TRACEPARENT");
                found.and_then(|e| e.value)
            })
            .collect()
    }

    #[test]
    fn the_jobs_containers_get_the_runs_traceparent() {
        let value = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let annotated = run(Some(BTreeMap::from([(
            TRACEPARENT_ANNOTATION.to_owned(),
            value.to_owned(),
        )])));
        assert_eq!(
            traceparents(&annotated),
            vec![Some(value.to_owned()), Some(value.to_owned())]
        );
        // Traces off: the Run has no annotation and the containers no TRACEPARENT.
        assert_eq!(traceparents(&run(None)), vec![None, None]);
    }
}
