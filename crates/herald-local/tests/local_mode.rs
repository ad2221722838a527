//! `herald local` as a whole: schedules, manifest reloads and hooks over real HTTP, with a
//! real Git repository and a real SQLite file.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use herald_api::RunPhase;
use herald_local::LocalConfig;
use herald_store::{RunFilter, RunRecord, Store};
use support::{Manifests, TestRepo, free_port, schedule_setup, wait_for};

const DEADLINE: Duration = Duration::from_secs(30);

struct Running {
    listen: SocketAddr,
    db: std::path::PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    _state: tempfile::TempDir,
}

impl Running {
    async fn start(manifests: &Manifests) -> Self {
        let state = tempfile::tempdir().unwrap();
        let listen = SocketAddr::from(([127, 0, 0, 1], free_port()));
        let db = state.path().join("herald.db");
        let config = LocalConfig {
            dir: manifests.path(),
            db: db.clone(),
            work_root: state.path().join("work"),
            listen,
            max_parallel: 2,
            reload_every: Duration::from_millis(100),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            herald_local::run(config, async { stopped.await.unwrap_or(()) })
                .await
                .unwrap();
        });
        let running = Self {
            listen,
            db,
            stop: Some(stop),
            task,
            _state: state,
        };
        wait_for("the server to listen", DEADLINE, || async {
            tokio::net::TcpStream::connect(listen)
                .await
                .ok()
                .map(|_| ())
        })
        .await;
        running
    }

    async fn runs(&self) -> Vec<RunRecord> {
        let store = Store::open(&self.db).await.unwrap();
        store
            .list_runs(&RunFilter {
                limit: Some(100),
                ..RunFilter::default()
            })
            .await
            .unwrap()
    }

    async fn wait_for_runs(
        &self,
        what: &str,
        done: impl Fn(&[RunRecord]) -> bool,
    ) -> Vec<RunRecord> {
        wait_for(what, DEADLINE, || async {
            let runs = self.runs().await;
            done(&runs).then_some(runs)
        })
        .await
    }

    async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        self.task.await.unwrap();
    }
}

fn succeeded_for<'a>(runs: &'a [RunRecord], revision: &str) -> Option<&'a RunRecord> {
    runs.iter()
        .find(|r| r.revision == revision && r.phase == RunPhase::Succeeded)
}

#[tokio::test]
async fn a_commit_is_noticed_and_run_and_a_new_commit_runs_again() {
    let repo = TestRepo::new();
    let manifests = Manifests::new();
    manifests.write(
        "all.yaml",
        &schedule_setup(&repo.url(), "cat README.md", true, "1s"),
    );
    let herald = Running::start(&manifests).await;
    let first = repo.head();
    herald
        .wait_for_runs("a run of the first commit", |runs| {
            succeeded_for(runs, &first).is_some()
        })
        .await;
    let second = repo.commit_file("README.md", "changed\n", "second");
    let runs = herald
        .wait_for_runs("a run of the new commit", |runs| {
            succeeded_for(runs, &second).is_some()
        })
        .await;
    assert_eq!(
        runs.iter().filter(|r| r.revision == first).count(),
        1,
        "each revision runs once: {runs:?}"
    );
    herald.stop().await;
}

#[tokio::test]
async fn manifests_added_while_running_are_picked_up_and_bad_ones_do_not_stop_others() {
    let repo = TestRepo::new();
    let manifests = Manifests::new();
    manifests.write(
        "broken.yaml",
        "apiVersion: herald.dev/v1alpha1\nkind: ScheduleTrigger\nmetadata: {name: x}\nspec: {}\n",
    );
    let herald = Running::start(&manifests).await;
    assert!(herald.runs().await.is_empty());
    manifests.write("all.yaml", &schedule_setup(&repo.url(), "true", true, "1s"));
    let head = repo.head();
    herald
        .wait_for_runs("a run after the reload", |runs| {
            succeeded_for(runs, &head).is_some()
        })
        .await;
    herald.stop().await;
}

fn webhook_manifests(repo_url: &str) -> String {
    format!(
        r#"apiVersion: herald.dev/v1alpha1
kind: GitRepo
metadata: {{name: repo, namespace: team}}
spec: {{repoUri: "{repo_url}"}}
---
apiVersion: herald.dev/v1alpha1
kind: Action
metadata: {{name: act, namespace: team}}
spec:
  actionJob:
    command: [sh, -c, "echo hook $HERALD_CAUSE"]
---
apiVersion: herald.dev/v1alpha1
kind: WebhookTrigger
metadata: {{name: hook, namespace: team}}
spec:
  sources:
    kind: GitRepo
    names: [repo]
    watchOn:
      reference: {{branch: main}}
  webhook:
    authConfig:
      secretRef: {{name: hook-token}}
      header: X-Herald-Token
  action: {{kind: Action, name: act}}
---
apiVersion: v1
kind: Secret
metadata: {{name: hook-token, namespace: team}}
data: {{token: c2VjcmV0LXRva2Vu}}
"#
    )
}

async fn post(listen: SocketAddr, path: &str, token: Option<&str>) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new().post(format!("http://{listen}{path}"));
    if let Some(token) = token {
        request = request.header("x-herald-token", token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test]
async fn hooks_check_the_token_and_create_runs() {
    let repo = TestRepo::new();
    let manifests = Manifests::new();
    manifests.write("hook.yaml", &webhook_manifests(&repo.url()));
    let herald = Running::start(&manifests).await;
    let l = herald.listen;

    assert_eq!(post(l, "/hooks/team/hook/repo", None).await.0, 401);
    let (status, body) = post(l, "/hooks/team/hook/repo", Some("secret-tokeN")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthorized"))
    );
    assert_eq!(
        post(l, "/hooks/team/nope/repo", Some("secret-token"))
            .await
            .0,
        404
    );
    assert_eq!(
        post(l, "/hooks/team/hook/other", Some("secret-token"))
            .await
            .0,
        400
    );
    let (status, body) = post(l, "/hooks/team/hook", Some("secret-token")).await;
    assert_eq!(
        status, 400,
        "one source at a time unless multiSource: {body}"
    );
    assert!(
        herald.runs().await.is_empty(),
        "no rejected hook creates a run"
    );

    let (status, body) = post(l, "/hooks/team/hook/repo", Some("secret-token")).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["runs"][0]["revision"], repo.head());
    assert_eq!(body["runs"][0]["created"], true);
    let runs = herald
        .wait_for_runs("the hook's run", |runs| {
            succeeded_for(runs, &repo.head()).is_some()
        })
        .await;
    assert_eq!(runs[0].cause, herald_api::RunCause::Webhook);

    let get = |path: &'static str| async move {
        let response = reqwest::get(format!("http://{l}{path}")).await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    };
    assert_eq!(
        get("/readyz").await,
        (200, "ok".to_owned()),
        "the work loops are running"
    );
    assert_eq!(get("/healthz").await.0, 200);
    let (status, metrics) = get("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        metrics.contains(r#"herald_hook_requests_total{status="401"} 2"#),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"herald_hook_requests_total{status="202"} 1"#),
        "{metrics}"
    );
    herald.stop().await;
}
