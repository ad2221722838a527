//! Cluster mode, after the polling window and with every polling trigger still checking: how
//! long a verified GitHub push takes to become a Job. One WebhookTrigger on the first GitRepo
//! (no `onChangeOnly`, so every delivery is a Run); deliveries are sent one at a time, each
//! timed from the request until Herald's answer and until the Job with the Run's name shows
//! in a watch of the namespace's Jobs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures::StreamExt;
use hmac::Mac;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams, WatchEvent, WatchParams};
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::cluster_objects::create_objects;
use crate::lateness::percentile;
use crate::manifests;

/// Deliveries sent, one after another.
const DELIVERIES: usize = 100;
/// Between two deliveries: a push rate a busy repository sees, not a flood.
const GAP: Duration = Duration::from_millis(100);
/// How long one delivery's Job may take to show before the probe gives up.
const JOB_DEADLINE: Duration = Duration::from_secs(30);
const TRIGGER: &str = "hook-probe";
const SECRET: &str = "hook-probe-secret";
const SECRET_VALUE: &str = "polling-bench-hook-secret";

/// Latencies of one probe, in milliseconds, in the order sent.
#[derive(Debug, Default, Clone)]
pub struct HookLatency {
    /// From the request to Herald's 202 (the Run is stored).
    pub answered: Vec<f64>,
    /// From the request to the Job in the watch.
    pub job: Vec<f64>,
}

impl HookLatency {
    /// p50, p99 and max of `values`, in milliseconds.
    pub fn summary(values: &[f64]) -> (f64, f64, f64) {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let max = sorted.last().copied().unwrap_or(f64::NAN);
        (percentile(&sorted, 0.5), percentile(&sorted, 0.99), max)
    }
}

/// Creates the trigger and its Secret, waits until Herald accepts its hooks, then measures.
pub async fn measure(
    client: &kube::Client,
    namespace: &str,
    herald: std::net::SocketAddr,
) -> anyhow::Result<HookLatency> {
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": SECRET}, "stringData": {"token": SECRET_VALUE},
    }))?;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    secrets.create(&PostParams::default(), &secret).await?;
    create_objects(client, namespace, &[trigger()]).await?;
    let url = format!("http://{herald}/hooks/{namespace}/{TRIGGER}");
    let http = reqwest::Client::new();
    let seen = JobsSeen::watch(client, namespace).await?;
    wait_accepting(&http, &url).await?;
    let mut latency = HookLatency::default();
    for i in 0..DELIVERIES {
        let sent = Instant::now();
        let run = deliver(&http, &url, &format!("probe-{i}")).await?;
        latency.answered.push(millis(sent.elapsed()));
        let at = seen.wait(&run, JOB_DEADLINE).await?;
        latency.job.push(millis(at.duration_since(sent)));
        tokio::time::sleep(GAP).await;
    }
    Ok(latency)
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn trigger() -> Value {
    json!({
        "apiVersion": "herald.dev/v1alpha1", "kind": "WebhookTrigger",
        "metadata": {"name": TRIGGER},
        "spec": {
            "sources": {"kind": "GitRepo", "names": [manifests::git_repo_name(0)],
                        "watchOn": {"reference": {"branch": "main"}}},
            "webhook": {"provider": "github", "authConfig": {"secretRef": {"name": SECRET}}},
            "action": {"kind": "Action", "name": manifests::ACTION},
        },
    })
}

/// Until a ping is answered 200 (the trigger is in Herald's cache and can verify); the
/// trigger was just created, so this is its start-up, not the probe.
async fn wait_accepting(http: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let body = br#"{"zen": "probe", "hook_id": 1}"#;
    loop {
        let answer = signed(http, url, "ping", "probe-ping", body).send().await;
        if answer.is_ok_and(|a| a.status() == reqwest::StatusCode::OK) {
            return Ok(());
        }
        if started.elapsed() > JOB_DEADLINE {
            bail!("the probe's WebhookTrigger never accepted a ping");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sends one push of `main`; the name of the Run Herald stored for it.
async fn deliver(http: &reqwest::Client, url: &str, id: &str) -> anyhow::Result<String> {
    let revision = format!("{:0>40}", hex::encode(id.as_bytes()));
    let body = serde_json::to_vec(&json!({
        "ref": "refs/heads/main", "before": "0".repeat(40), "after": revision,
        "created": false, "deleted": false, "forced": false,
        "repository": {"full_name": "bench/probe", "clone_url": "https://git.invalid/probe.git"},
        "commits": [], "head_commit": {"id": revision},
    }))?;
    let answer = signed(http, url, "push", id, &body).send().await?;
    let status = answer.status();
    let answer: Value = answer.json().await.context("the hook's answer")?;
    if status != reqwest::StatusCode::ACCEPTED {
        bail!("delivery {id} answered {status}: {answer}");
    }
    answer["runs"][0]["name"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("delivery {id} made no run: {answer}"))
}

fn signed(
    http: &reqwest::Client,
    url: &str,
    event: &str,
    id: &str,
    body: &[u8],
) -> reqwest::RequestBuilder {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET_VALUE.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(body);
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    http.post(url)
        .header("content-type", "application/json")
        .header("x-github-event", event)
        .header("x-github-delivery", id)
        .header("x-hub-signature-256", signature)
        .body(body.to_vec())
}

/// When each Job was first seen in a watch of the namespace.
struct JobsSeen {
    seen: Arc<Mutex<HashMap<String, Instant>>>,
    changed: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for JobsSeen {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl JobsSeen {
    async fn watch(client: &kube::Client, namespace: &str) -> anyhow::Result<Self> {
        let jobs: Api<Job> = Api::namespaced(client.clone(), namespace);
        let from = jobs.list_metadata(&Default::default()).await?;
        let version = from.metadata.resource_version.unwrap_or_default();
        let mut events = jobs.watch(&WatchParams::default(), &version).await?.boxed();
        let (seen, changed) = (
            Arc::<Mutex<HashMap<_, _>>>::default(),
            Arc::new(Notify::new()),
        );
        let (into, notify) = (seen.clone(), changed.clone());
        let task = tokio::spawn(async move {
            while let Some(event) = events.next().await {
                if let Ok(WatchEvent::Added(job)) = event {
                    let name = job.metadata.name.unwrap_or_default();
                    into.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .entry(name)
                        .or_insert_with(Instant::now);
                    notify.notify_waiters();
                }
            }
        });
        Ok(Self {
            seen,
            changed,
            task,
        })
    }

    /// When Job `name` was seen, waiting up to `deadline` for it.
    async fn wait(&self, name: &str, deadline: Duration) -> anyhow::Result<Instant> {
        let until = Instant::now() + deadline;
        loop {
            let notified = self.changed.notified();
            if let Some(at) = self
                .seen
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(name)
            {
                return Ok(*at);
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() || self.task.is_finished() {
                bail!("Job {name} never showed in the watch");
            }
            let _ = tokio::time::timeout(left, notified).await;
        }
    }
}
