//! `herald local` as a whole: schedules, manifest reloads and hooks over real HTTP, with a
//! real Git repository and a real SQLite file.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::SocketAddr;

use herald_api::RunPhase;
use herald_store::RunRecord;
use support::{
    DEADLINE, LocalHerald, Manifests, TestRepo, hmac_sha256_hex, schedule_setup, wait_for,
};

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
    let herald = LocalHerald::start(&manifests).await;
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
    let herald = LocalHerald::start(&manifests).await;
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
    let herald = LocalHerald::start(&manifests).await;
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
    // One source: the trigger's own path (the one Herald logs) fires it.
    let (status, body) = post(l, "/hooks/team/hook", Some("secret-token")).await;
    assert_eq!(
        (status, &body["runs"][0]["source"]),
        (202, &serde_json::json!("repo")),
        "{body}"
    );

    let get = |path: &'static str| async move {
        let response = reqwest::get(format!("http://{l}{path}")).await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    };
    assert_eq!(
        get("/readyz").await,
        (200, r#"{"status":"ok"}"#.to_owned()),
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
        metrics.contains(r#"herald_hook_requests_total{status="202"} 2"#),
        "{metrics}"
    );
    herald.stop().await;
}

fn github_manifests(repo_url: &str) -> String {
    provider_manifests(repo_url, "gh", "github", "it-is-a-secret", &["src/**"])
}

/// One repo, an action echoing the revision, and a WebhookTrigger `name` of `provider` on
/// main (with `files` globs, if any) whose Secret `<name>-secret` holds `token`.
fn provider_manifests(
    repo_url: &str,
    name: &str,
    provider: &str,
    token: &str,
    files: &[&str],
) -> String {
    let files = if files.is_empty() {
        String::new()
    } else {
        format!(", files: {files:?}")
    };
    format!(
        r#"apiVersion: herald.dev/v1alpha1
kind: GitRepo
metadata: {{name: repo}}
spec: {{repoUri: "{repo_url}"}}
---
apiVersion: herald.dev/v1alpha1
kind: Action
metadata: {{name: act}}
spec: {{actionJob: {{command: [sh, -c, "echo $HERALD_REVISION"]}}}}
---
apiVersion: herald.dev/v1alpha1
kind: WebhookTrigger
metadata: {{name: {name}}}
spec:
  sources: {{kind: GitRepo, names: [repo], watchOn: {{reference: {{branch: main}}{files}}}}}
  webhook:
    provider: {provider}
    authConfig: {{secretRef: {{name: {name}-secret}}}}
  action: {{kind: Action, name: act}}
---
apiVersion: v1
kind: Secret
metadata: {{name: {name}-secret}}
stringData: {{token: "{token}"}}
"#
    )
}

/// A GitHub delivery, signed as GitHub signs it.
async fn github(
    listen: SocketAddr,
    event: &str,
    delivery: &str,
    body: &[u8],
    secret: &[u8],
) -> (u16, serde_json::Value) {
    let signature = format!("sha256={}", hmac_sha256_hex(secret, body));
    let response = reqwest::Client::new()
        .post(format!("http://{listen}/hooks/default/gh/repo"))
        .header("content-type", "application/json")
        .header("x-github-event", event)
        .header("x-github-delivery", delivery)
        .header("x-hub-signature-256", signature)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        response.json().await.unwrap_or(serde_json::Value::Null),
    )
}

/// A GitHub delivery sent as `application/x-www-form-urlencoded` (`payload=<json>`), which
/// GitHub still offers; the signature covers the encoded body.
async fn github_form(
    listen: SocketAddr,
    delivery: &str,
    json: &[u8],
    secret: &[u8],
) -> (u16, serde_json::Value) {
    let json = std::str::from_utf8(json).unwrap();
    let body = reqwest::Client::new()
        .post("http://unused")
        .form(&[("payload", json)])
        .build()
        .unwrap()
        .body()
        .and_then(|b| b.as_bytes())
        .unwrap()
        .to_vec();
    let signature = format!("sha256={}", hmac_sha256_hex(secret, &body));
    let response = reqwest::Client::new()
        .post(format!("http://{listen}/hooks/default/gh/repo"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-github-event", "push")
        .header("x-github-delivery", delivery)
        .header("x-hub-signature-256", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

fn push_body(git_ref: &str, after: &str, files: &[&str]) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "ref": git_ref, "before": "1".repeat(40), "after": after, "created": false, "deleted": false, "forced": false,
        "repository": {"full_name": "acme/app", "clone_url": "https://github.com/acme/app.git"},
        "commits": [{"id": after, "message": "change", "added": files, "modified": [], "removed": []}],
        "head_commit": {"id": after}
    }))
    .unwrap()
}

#[tokio::test]
async fn github_pushes_are_verified_read_and_deduplicated() {
    let repo = TestRepo::new();
    let manifests = Manifests::new();
    manifests.write("gh.yaml", &github_manifests(&repo.url()));
    let herald = LocalHerald::start(&manifests).await;
    let l = herald.listen;
    let secret = b"it-is-a-secret";
    let head = repo.head();
    let body = push_body("refs/heads/main", &head, &["src/lib.rs"]);

    assert_eq!(
        github(l, "push", "d-0", &body, b"wrong secret").await.0,
        401,
        "a bad signature"
    );
    let (status, pong) = github(l, "ping", "d-1", br#"{"zen": "hi", "hook_id": 1}"#, secret).await;
    assert_eq!((status, pong["message"].as_str()), (200, Some("pong")));
    let (status, ignored) = github(l, "issues", "d-2", br#"{"action": "opened"}"#, secret).await;
    assert_eq!((status, ignored["ignored"].as_str()), (202, Some("issues")));
    let (status, bad) = github(l, "push", "d-3", b"{not json", secret).await;
    assert_eq!(status, 400, "{bad}");
    let (status, other) = github(
        l,
        "push",
        "d-4",
        &push_body("refs/heads/dev", &head, &["src/a.rs"]),
        secret,
    )
    .await;
    assert_eq!(
        (status, other["runs"].as_array().map(Vec::len)),
        (202, Some(0)),
        "another branch runs nothing"
    );
    let (status, docs) = github(
        l,
        "push",
        "d-5",
        &push_body("refs/heads/main", &head, &["README.md"]),
        secret,
    )
    .await;
    assert_eq!(
        (status, docs["runs"].as_array().map(Vec::len)),
        (202, Some(0)),
        "files outside src/** run nothing"
    );
    assert!(herald.runs().await.is_empty());

    let (status, first) = github(l, "push", "d-6", &body, secret).await;
    assert_eq!(status, 202, "{first}");
    assert_eq!(first["runs"][0]["revision"], head.as_str());
    assert_eq!(first["runs"][0]["created"], true);
    let (status, again) = github(l, "push", "d-6", &body, secret).await;
    assert_eq!(
        (status, again["duplicate"].as_bool()),
        (200, Some(true)),
        "a redelivery is acknowledged: {again}"
    );
    herald
        .wait_for_runs("the pushed revision's run", |runs| {
            succeeded_for(runs, &head).is_some()
        })
        .await;
    assert_eq!(herald.runs().await.len(), 1, "a redelivery runs nothing");
    let recorded = herald.deliveries().await;
    let delivered = recorded
        .iter()
        .find(|e| e.delivery_id.as_deref() == Some("default/gh/d-6"))
        .expect("the delivery is recorded");
    assert_eq!(
        (delivered.reason.as_deref(), delivered.revision.as_deref()),
        (Some("push"), Some(head.as_str()))
    );
    assert_eq!(
        delivered.payload.as_ref().unwrap()["runs"][0],
        first["runs"][0]["name"]
    );
    assert!(
        !recorded
            .iter()
            .any(|e| e.delivery_id.as_deref() == Some("default/gh/d-0")),
        "a delivery with a bad signature is not recorded"
    );

    let form = github_form(
        l,
        "d-8",
        &push_body("refs/heads/main", &head, &["src/x.rs"]),
        secret,
    )
    .await;
    assert_eq!(
        form.0, 202,
        "GitHub's form-encoded content type: {}",
        form.1
    );
    assert_eq!(form.1["runs"][0]["revision"], head.as_str());

    let huge = vec![b' '; 2 * 1024 * 1024];
    assert_eq!(
        github(l, "push", "d-7", &huge, secret).await.0,
        413,
        "bodies over 1 MiB are refused"
    );
    herald.stop().await;
}

#[tokio::test]
async fn a_trigger_over_its_rate_limit_is_told_when_to_retry() {
    let repo = TestRepo::new();
    let manifests = Manifests::new();
    manifests.write("hook.yaml", &webhook_manifests(&repo.url()));
    let limits = herald_server::RateLimits {
        global_per_second: None,
        per_trigger_per_second: std::num::NonZeroU32::new(1),
        ..herald_server::RateLimits::default()
    };
    let herald = LocalHerald::start_with(&manifests, limits).await;
    let l = herald.listen;
    // Unsigned requests do not use up the trigger's budget.
    for _ in 0..5 {
        assert_eq!(post(l, "/hooks/team/hook/repo", Some("wrong")).await.0, 401);
    }
    assert_eq!(
        post(l, "/hooks/team/hook/repo", Some("secret-token"))
            .await
            .0,
        202
    );
    assert_eq!(
        post(l, "/hooks/team/hook/repo", Some("secret-token"))
            .await
            .0,
        202,
        "a burst of two"
    );
    let response = reqwest::Client::new()
        .post(format!("http://{l}/hooks/team/hook/repo"))
        .header("x-herald-token", "secret-token")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    herald.stop().await;
}

fn bitbucket_cloud_manifests(repo_url: &str, token: &str) -> String {
    provider_manifests(repo_url, "bb", "bitbucket-cloud", token, &[])
}

/// Bitbucket Cloud's `repo:push`, as its docs show it (the fixture the parser tests use), for
/// `revision` on main.
fn bitbucket_cloud_push(revision: &str) -> String {
    include_str!("../../herald-core/tests/fixtures/hooks/bitbucket-cloud/push.json")
        .replace("a37a7f5e7b0e6c8cb4e3b9a2a7f8e8d1c6b5a4f3", revision)
}

async fn bitbucket_cloud(listen: SocketAddr, path: &str, body: &str) -> (u16, serde_json::Value) {
    let response = reqwest::Client::new()
        .post(format!("http://{listen}{path}"))
        .header("content-type", "application/json")
        .header("user-agent", "Bitbucket-Webhooks/2.0")
        .header("x-event-key", "repo:push")
        .header("x-hook-uuid", "{8b2a4f5c-0c1d-4e4f-9a7b-3c2d1e0f9a8b}")
        .header("x-request-uuid", "5c7a9b1e-3f2d-4c8a-9e6b-0a1b2c3d4e5f")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

#[tokio::test]
async fn bitbucket_cloud_hooks_are_proven_by_a_long_path_token() {
    let repo = TestRepo::new();
    let manifests = Manifests::new();
    let token = "p0Yb6Jc9m2Qw4Zt7Lx1Rn8Vd3Hs5Kf0A";
    manifests.write("bb.yaml", &bitbucket_cloud_manifests(&repo.url(), token));
    let herald = LocalHerald::start(&manifests).await;
    let l = herald.listen;
    let body = bitbucket_cloud_push(&repo.head());

    assert_eq!(
        bitbucket_cloud(l, "/hooks/default/bb/repo", &body).await.0,
        401,
        "no token"
    );
    let wrong = format!("/hooks/default/bb/repo/t/{}", token.replace('A', "B"));
    assert_eq!(
        bitbucket_cloud(l, &wrong, &body).await.0,
        401,
        "a wrong token"
    );
    let (status, fired) =
        bitbucket_cloud(l, &format!("/hooks/default/bb/repo/t/{token}"), &body).await;
    assert_eq!(status, 202, "{fired}");
    assert_eq!(fired["runs"][0]["revision"], repo.head().as_str());
    let (status, again) =
        bitbucket_cloud(l, &format!("/hooks/default/bb/repo/t/{token}"), &body).await;
    assert_eq!(
        (status, again["duplicate"].as_bool()),
        (200, Some(true)),
        "{again}"
    );

    manifests.write("bb.yaml", &bitbucket_cloud_manifests(&repo.url(), "short"));
    wait_for("the short token to be loaded", DEADLINE, || async {
        let path = "/hooks/default/bb/repo/t/short";
        (bitbucket_cloud(l, path, &body).await.0 == 503).then_some(())
    })
    .await;
    herald.stop().await;
}

#[tokio::test]
async fn only_bitbucket_cloud_hooks_take_a_path_token() {
    let repo = TestRepo::new();
    let manifests = Manifests::new();
    manifests.write("gh.yaml", &github_manifests(&repo.url()));
    let herald = LocalHerald::start(&manifests).await;
    let path = "/hooks/default/gh/t/it-is-a-secret";
    let (status, _) = bitbucket_cloud(herald.listen, path, "{}").await;
    assert_eq!(status, 404);
    herald.stop().await;
}
