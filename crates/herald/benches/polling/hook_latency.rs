//! Cluster mode, after the polling window and with every polling trigger still checking: how
//! long a verified GitHub push takes to become a Job. One WebhookTrigger on the first GitRepo
//! (no `onChangeOnly`, so every delivery is a Run); deliveries are sent one at a time, each
//! timed from the request until Herald's answer and until the Job with the Run's name shows
//! in a watch of the namespace's Jobs.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hmac::Mac;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};

use crate::cluster_objects::create_objects;
use crate::jobs_seen::JobsSeen;
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
        let at = seen.added(&run, JOB_DEADLINE).await?;
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
