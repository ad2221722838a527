//! ImageUpdates on a real control plane: the operator's controller attempts on the leader,
//! pushes the commit, records the attempt in the store and writes the status only when it
//! says something new; an invalid spec is Stalled.
//!
//! The application and manifests repositories are local (`file://`): the SSH write-back and
//! the registry are covered against a real sshd and docker-registry by herald-automation's
//! and herald-local's tests. The `gitCommit` policy needs no registry without `requireImage`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Command;
use std::time::Duration;

use herald_api::ImageUpdate;
use herald_store::{EventKind, EventQuery, Store};
use herald_testkit::{TestRepo, metric_sample, wait_for};
use serde_json::json;
use support::{Operator, TIMEOUT, apply, namespace};

const DEPLOYMENT: &str = "\
# The web front end.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  template:
    spec:
      containers:
        - name: web
          image: \"registry.example.com/team/web:old\" # pinned by CI
";

/// A bare copy of `repo` (pushing to a checked-out branch is refused), in `dir`.
fn bare_copy(repo: &TestRepo, dir: &std::path::Path) -> String {
    let bare = dir.join("manifests.git");
    let status = Command::new("git")
        .args(["clone", "-q", "--bare"])
        .arg(repo.path())
        .arg(&bare)
        .status()
        .unwrap();
    assert!(status.success());
    format!("file://{}", bare.display())
}

fn show(bare_url: &str, what: &str) -> String {
    let dir = bare_url.trim_start_matches("file://");
    let out = Command::new("git")
        .args(["--git-dir", dir, "show"])
        .args(what.split(' '))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ready(update: &ImageUpdate) -> Option<(String, String)> {
    let status = update.status.as_ref()?;
    let ready = status.conditions.iter().find(|c| c.type_ == "Ready")?;
    Some((ready.status.clone(), ready.reason.clone()))
}

#[tokio::test]
async fn an_image_update_pushes_its_commit_records_it_and_settles() {
    let ns = namespace("imgup").await;
    let state = tempfile::tempdir().unwrap();
    let store = Store::open(&state.path().join("herald.db")).await.unwrap();
    let clones = state.path().join("clones");
    let log = store.clone();
    let operator = Operator::start_with(&ns.client, &ns.name, "a", move |config| {
        config.store = Some(log);
        config.clone_cache = clones;
    })
    .await;

    let app = TestRepo::new();
    let head = app.commit("a feature");
    let manifests = TestRepo::new();
    manifests.commit_file("deployment.yaml", DEPLOYMENT, "the web app");
    let bare = bare_copy(&manifests, state.path());
    for (name, url) in [("app", app.url()), ("manifests", bare.clone())] {
        apply(
            &ns,
            json!({"apiVersion": "herald.dev/v1alpha1", "kind": "GitRepo",
            "metadata": {"name": name}, "spec": {"repoUri": url}}),
        )
        .await;
    }
    apply(
        &ns,
        json!({
            "apiVersion": "herald.dev/v1alpha1", "kind": "ImageUpdate",
            "metadata": {"name": "web"},
            "spec": {
                "image": {"repository": "registry.example.com/team/web"},
                "policy": {"gitCommit": {"source": {"kind": "GitRepo", "name": "app"},
                    "branch": "main", "tag": "main-{{shortSha}}"}},
                "interval": "1s",
                "target": {"gitRepo": {"kind": "GitRepo", "name": "manifests"}, "branch": "main"},
                "commit": {"author": {"name": "Bot", "email": "bot@example.com"}}
            }
        }),
    )
    .await;

    let tag = format!("main-{}", &head[..7]);
    let api: kube::Api<ImageUpdate> = ns.api();
    let updated = wait_for(
        "the ImageUpdate's commit in its status",
        TIMEOUT,
        || async {
            let update = api.get("web").await.ok()?;
            update
                .status
                .as_ref()?
                .last_commit
                .is_some()
                .then_some(update)
        },
    )
    .await
    .unwrap();
    let status = updated.status.clone().unwrap();
    assert_eq!(status.latest_tag.as_deref(), Some(tag.as_str()));
    assert_eq!(ready(&updated), Some(("True".into(), "Updated".into())));
    let commit = status.last_commit.unwrap();
    let file = show(&bare, "main:deployment.yaml");
    let expected = DEPLOYMENT.replace(":old\"", &format!(":{tag}\""));
    assert_eq!(file, expected, "only the tag's bytes changed");
    let pushed = show(&bare, "--no-patch --format=%H:%an main");
    assert_eq!(
        pushed.trim(),
        format!("{commit}:Bot"),
        "the commit is main's tip"
    );

    // Later attempts find the manifests up to date: recorded, and the status settles on
    // `UpToDate` and is then left alone.
    let settled = wait_for("Ready with UpToDate", TIMEOUT, || async {
        let update = api.get("web").await.ok()?;
        (ready(&update)? == ("True".into(), "UpToDate".into())).then_some(update)
    })
    .await
    .unwrap();
    let version = settled.metadata.resource_version.clone();
    let query = EventQuery {
        kind: Some(EventKind::ImageUpdate),
        ..EventQuery::default()
    };
    let before = store.query_events(&query).await.unwrap().events.len();
    wait_for("two more attempts", Duration::from_secs(30), || async {
        let now = store.query_events(&query).await.ok()?.events.len();
        (now >= before + 2).then_some(())
    })
    .await
    .unwrap();
    let again = api.get("web").await.unwrap();
    assert_eq!(
        again.metadata.resource_version, version,
        "an attempt that changes nothing writes no status"
    );
    let events = store.query_events(&query).await.unwrap().events;
    let pushed = events
        .iter()
        .find(|e| e.reason.as_deref() == Some("Updated"))
        .expect("the update's event");
    assert_eq!(pushed.revision.as_deref(), Some(commit.as_str()));
    assert_eq!(pushed.involved_name.as_deref(), Some("web"));

    // The same families as local mode, from the cluster's side.
    let url = format!("http://{}/metrics", operator.listen);
    let scrape = reqwest::get(url).await.unwrap().text().await.unwrap();
    let value = |name: &str| metric_sample(&scrape, name);
    assert_eq!(
        value(r#"herald_image_updates_total{result="Updated"}"#),
        Some(1.0)
    );
    assert!(value(r#"herald_image_updates_total{result="UpToDate"}"#).unwrap() >= 2.0);
    let reconciles = r#"herald_reconcile_duration_seconds_count{kind="ImageUpdate"}"#;
    assert!(value(reconciles).unwrap() >= 3.0, "{scrape}");
    assert_eq!(value("herald_leader"), Some(1.0), "{scrape}");
    operator.stop().await;
}

#[tokio::test]
async fn an_invalid_image_update_is_stalled_with_the_field() {
    let ns = namespace("imgup-bad").await;
    let operator = Operator::start(&ns.client, &ns.name, "a").await;
    apply(
        &ns,
        json!({
            "apiVersion": "herald.dev/v1alpha1", "kind": "ImageUpdate",
            "metadata": {"name": "bad"},
            "spec": {
                "image": {"repository": "registry.example.com/team/web"},
                "policy": {"semver": {"range": ">=banana"}},
                "target": {"gitRepo": {"kind": "GitRepo", "name": "manifests"},
                    "branch": "main", "paths": ["../outside"]}
            }
        }),
    )
    .await;
    let api: kube::Api<ImageUpdate> = ns.api();
    let stalled = wait_for("the Stalled condition", TIMEOUT, || async {
        let update = api.get("bad").await.ok()?;
        let status = update.status?;
        status
            .conditions
            .into_iter()
            .find(|c| c.type_ == "Stalled" && c.status == "True")
    })
    .await
    .unwrap();
    assert_eq!(stalled.reason, "InvalidSpec");
    assert!(stalled.message.contains("policy"), "{}", stalled.message);
    assert!(
        stalled.message.contains("target.paths[0]"),
        "{}",
        stalled.message
    );
    operator.stop().await;
}
