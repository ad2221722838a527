//! The objects both modes are given: N GitRepos, N ScheduleTriggers (one per GitRepo, on
//! `main`, `onChangeOnly`) and the one Action they all run.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

const API_VERSION: &str = "herald.dev/v1alpha1";
pub const ACTION: &str = "noop";

/// The objects for `triggers` triggers; GitRepo `i` points at `urls[i % urls.len()]`.
pub fn objects(triggers: usize, urls: &[String], interval: Duration) -> Vec<Value> {
    let interval = humantime::format_duration(interval).to_string();
    let mut objects = vec![action()];
    for i in 0..triggers {
        objects.push(git_repo(i, &urls[i % urls.len()]));
        objects.push(schedule_trigger(i, &interval));
    }
    objects
}

/// Writes `objects` as one multi-document YAML file in `dir`.
pub fn write(dir: &Path, objects: &[Value]) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let docs = objects
        .iter()
        .map(serde_yaml::to_string)
        .collect::<Result<Vec<_>, _>>()?;
    std::fs::write(dir.join("polling.yaml"), docs.join("---\n"))?;
    Ok(())
}

pub fn git_repo_name(i: usize) -> String {
    format!("repo-{i:04}")
}

fn action() -> Value {
    json!({
        "apiVersion": API_VERSION, "kind": "Action", "metadata": {"name": ACTION},
        // The image is used in cluster mode only, where no kubelet runs it.
        "spec": {"actionJob": {"image": "busybox:1.36", "command": ["true"]}},
    })
}

fn git_repo(i: usize, url: &str) -> Value {
    json!({
        "apiVersion": API_VERSION, "kind": "GitRepo",
        "metadata": {"name": git_repo_name(i)},
        "spec": {"repoUri": url},
    })
}

fn schedule_trigger(i: usize, interval: &str) -> Value {
    json!({
        "apiVersion": API_VERSION, "kind": "ScheduleTrigger",
        "metadata": {"name": format!("poll-{i:04}")},
        "spec": {
            "sources": {
                "kind": "GitRepo", "names": [git_repo_name(i)],
                "watchOn": {"reference": {"branch": "main"}, "onChangeOnly": true},
            },
            "schedule": {"interval": interval},
            "action": {"kind": "Action", "name": ACTION},
        },
    })
}
