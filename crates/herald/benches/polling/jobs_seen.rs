//! A watch of a namespace's Jobs that notes when each was first seen and when it was first
//! seen `Complete`, for the probes that time Herald's Jobs from outside.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::bail;
use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, WatchEvent, WatchParams};
use tokio::sync::Notify;

/// When a Job was seen.
#[derive(Debug, Default, Clone, Copy)]
struct Times {
    added: Option<Instant>,
    completed: Option<Instant>,
}

/// When each Job was first seen in a watch of the namespace, and first seen complete.
pub struct JobsSeen {
    seen: Arc<Mutex<HashMap<String, Times>>>,
    changed: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for JobsSeen {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl JobsSeen {
    /// Watches from now: Jobs that exist already are not seen.
    pub async fn watch(client: &kube::Client, namespace: &str) -> anyhow::Result<Self> {
        let jobs: Api<Job> = Api::namespaced(client.clone(), namespace);
        let from = jobs.list_metadata(&Default::default()).await?;
        let version = from.metadata.resource_version.unwrap_or_default();
        let mut events = jobs.watch(&WatchParams::default(), &version).await?.boxed();
        let (seen, changed) = (
            Arc::<Mutex<HashMap<String, Times>>>::default(),
            Arc::new(Notify::new()),
        );
        let (into, notify) = (seen.clone(), changed.clone());
        let task = tokio::spawn(async move {
            while let Some(event) = events.next().await {
                let (Ok(WatchEvent::Added(job)) | Ok(WatchEvent::Modified(job))) = event else {
                    continue;
                };
                let now = Instant::now();
                let complete = is_complete(&job);
                let name = job.metadata.name.unwrap_or_default();
                let mut seen = into.lock().unwrap_or_else(|e| e.into_inner());
                let times = seen.entry(name).or_default();
                times.added.get_or_insert(now);
                if complete {
                    times.completed.get_or_insert(now);
                }
                notify.notify_waiters();
            }
        });
        Ok(Self {
            seen,
            changed,
            task,
        })
    }

    /// When Job `name` was first seen, waiting up to `deadline` for it.
    pub async fn added(&self, name: &str, deadline: Duration) -> anyhow::Result<Instant> {
        self.wait(name, deadline, "show", |t| t.added).await
    }

    /// When Job `name` was first seen complete, waiting up to `deadline` for it.
    pub async fn completed(&self, name: &str, deadline: Duration) -> anyhow::Result<Instant> {
        self.wait(name, deadline, "complete", |t| t.completed).await
    }

    async fn wait(
        &self,
        name: &str,
        deadline: Duration,
        what: &str,
        pick: impl Fn(&Times) -> Option<Instant>,
    ) -> anyhow::Result<Instant> {
        let until = Instant::now() + deadline;
        loop {
            let notified = self.changed.notified();
            let at = (self.seen.lock().unwrap_or_else(|e| e.into_inner()))
                .get(name)
                .and_then(&pick);
            if let Some(at) = at {
                return Ok(at);
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() || self.task.is_finished() {
                bail!("Job {name} did not {what} in the watch within {deadline:?}");
            }
            let _ = tokio::time::timeout(left, notified).await;
        }
    }
}

fn is_complete(job: &Job) -> bool {
    let conditions = job.status.as_ref().and_then(|s| s.conditions.as_ref());
    conditions.is_some_and(|cs| {
        cs.iter()
            .any(|c| c.type_ == "Complete" && c.status == "True")
    })
}
