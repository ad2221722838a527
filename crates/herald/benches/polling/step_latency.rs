//! Cluster mode, after the hook probe and with every polling trigger still checking: how long
//! after one step's Job completes the next step's Job exists. One Run of a chain of steps
//! (each declaring an output, so Herald reads the Pod's termination message and passes it on);
//! the bench plays the kubelet, marking each Job's Pod succeeded, the Job controller marks the
//! Job `Complete`, and a watch of the Jobs times from that to the next step's Job.
//!
//! The baseline, in the same run and the same watch: how long a Job the bench creates itself
//! takes to show, one write and one watch delivery, the API latency any controller pays.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams};
use serde_json::{Value, json};

use crate::cluster_objects::create_objects;
use crate::jobs_seen::JobsSeen;
use crate::manifests;

/// Steps in the chain; each but the first is timed.
const STEPS: usize = 21;
/// Jobs the bench creates for the baseline.
const BASELINE_JOBS: usize = 20;
const ACTION: &str = "step-chain";
const RUN: &str = "step-probe";
/// How long one Job or Pod may take to show, or a Run to end, before the probe gives up.
const DEADLINE: Duration = Duration::from_secs(30);

/// Latencies of one probe, in milliseconds.
#[derive(Debug, Default, Clone)]
pub struct StepLatency {
    /// From step N's Job seen complete to step N+1's Job seen.
    pub next_job: Vec<f64>,
    /// From the bench's create of a Job to that Job seen.
    pub api_baseline: Vec<f64>,
}

/// Creates the chain's Action and one Run of it, then times every hand-over.
pub async fn measure(client: &kube::Client, namespace: &str) -> anyhow::Result<StepLatency> {
    let seen = JobsSeen::watch(client, namespace).await?;
    let mut latency = StepLatency::default();
    for i in 0..BASELINE_JOBS {
        latency
            .api_baseline
            .push(baseline_job(client, namespace, &seen, i).await?);
    }
    create_objects(client, namespace, &[action(), run()]).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    for step in 0..STEPS {
        let job = format!("{RUN}-{}-1", step_name(step));
        let added = seen.added(&job, DEADLINE).await?;
        if step > 0 {
            let previous = format!("{RUN}-{}-1", step_name(step - 1));
            let completed = seen.completed(&previous, DEADLINE).await?;
            latency
                .next_job
                .push(millis(added.saturating_duration_since(completed)));
        }
        let pod = job_pod(&pods, &job).await?;
        let output = format!("n={step}");
        herald_testkit::complete_pod(client, namespace, &pod, 0, Some(&output)).await?;
    }
    wait_succeeded(client, namespace).await?;
    Ok(latency)
}

/// Creates a Job that starts no Pod and times it into the watch.
async fn baseline_job(
    client: &kube::Client,
    namespace: &str,
    seen: &JobsSeen,
    i: usize,
) -> anyhow::Result<f64> {
    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": format!("api-baseline-{i}")},
        "spec": {
            "parallelism": 0,
            "template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "idle", "image": "busybox:1.36"}],
            }},
        },
    }))?;
    let jobs: Api<Job> = Api::namespaced(client.clone(), namespace);
    let sent = Instant::now();
    jobs.create(&PostParams::default(), &job).await?;
    let at = seen.added(&format!("api-baseline-{i}"), DEADLINE).await?;
    Ok(millis(at.duration_since(sent)))
}

fn step_name(i: usize) -> String {
    format!("s{i:02}")
}

/// A chain: each step needs the one before and declares `n`, which its successor is given.
fn action() -> Value {
    let steps: Vec<Value> = (0..STEPS)
        .map(|i| {
            let needs: Vec<String> = (i > 0).then(|| step_name(i - 1)).into_iter().collect();
            json!({
                "name": step_name(i), "image": "busybox:1.36", "command": ["true"],
                "needs": needs, "outputs": ["n"],
            })
        })
        .collect();
    json!({
        "apiVersion": "herald.dev/v1alpha1", "kind": "Action",
        "metadata": {"name": ACTION}, "spec": {"steps": steps},
    })
}

/// A Run made by hand (as `herald trigger` would), of the first GitRepo's revision.
fn run() -> Value {
    json!({
        "apiVersion": "herald.dev/v1alpha1", "kind": "Run",
        "metadata": {"name": RUN},
        "spec": {
            "cause": "Manual",
            "trigger": {"kind": "ScheduleTrigger", "name": "step-probe"},
            "source": {"kind": "GitRepo", "name": manifests::git_repo_name(0)},
            "revision": "0".repeat(40),
            "action": {"kind": "Action", "name": ACTION},
        },
    })
}

/// The Pod the Job controller made for `job`.
async fn job_pod(pods: &Api<Pod>, job: &str) -> anyhow::Result<String> {
    let params = ListParams::default().labels(&format!("job-name={job}"));
    herald_testkit::wait_for(&format!("the Pod of Job {job}"), DEADLINE, || async {
        let list = pods.list_metadata(&params).await.ok()?;
        list.items.first()?.metadata.name.clone()
    })
    .await
}

/// Until the Run has succeeded: every step ran once, in order, outputs read.
async fn wait_succeeded(client: &kube::Client, namespace: &str) -> anyhow::Result<()> {
    let gvk = kube::core::GroupVersionKind::gvk("herald.dev", "v1alpha1", "Run");
    let api: Api<kube::api::DynamicObject> = Api::namespaced_with(
        client.clone(),
        namespace,
        &kube::api::ApiResource::from_gvk(&gvk),
    );
    let phase = herald_testkit::wait_for("the step probe's Run to end", DEADLINE, || async {
        let run = api.get(RUN).await.ok()?;
        let phase = run.data["status"]["phase"].as_str()?.to_owned();
        (!matches!(phase.as_str(), "Pending" | "Running")).then_some(phase)
    })
    .await
    .context("the step probe")?;
    if phase != "Succeeded" {
        bail!("the step probe's Run ended {phase}");
    }
    Ok(())
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
