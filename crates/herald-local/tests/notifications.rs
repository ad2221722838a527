//! Notifications in local mode, end to end: a folder with a failing action and a
//! `generic-hmac` Notifier, `herald local` running it on a schedule, and a real HTTP receiver
//! that gets the run's transitions signed, with a link that answers with the run's events.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::{DEADLINE, LocalHerald, Manifests, TestRepo, hmac_sha256_hex, schedule_setup};

const KEY: &str = "notify-hmac-key";

fn notifier(address: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Secret
metadata: {{name: notify}}
stringData: {{token: "{KEY}"}}
---
apiVersion: herald.dev/v1alpha1
kind: Notifier
metadata: {{name: audit}}
spec:
  type: generic-hmac
  address: "{address}"
  secretRef: {{name: notify}}
  events: [run.started, run.failed]
---
apiVersion: herald.dev/v1alpha1
kind: Notifier
metadata: {{name: broken}}
spec:
  type: slack
  secretRef: {{name: nowhere}}
"#
    )
}

#[tokio::test]
async fn a_failed_run_is_announced_signed_with_a_working_link() {
    let repo = TestRepo::new();
    let manifests = Manifests::new();
    manifests.write(
        "all.yaml",
        &schedule_setup(&repo.url(), "exit 3", true, "1s"),
    );
    let (address, mut received) = herald_testkit::receiver().await;
    manifests.write("notify.yaml", &notifier(&address));

    // The Notifier whose Secret is missing is reported when the folder is loaded.
    let loaded = herald_local::load_dir(&manifests.path()).unwrap();
    let errors: Vec<_> = loaded.errors.iter().map(ToString::to_string).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("Notifier default/broken") && errors[0].contains("SecretMissing"),
        "{errors:?}"
    );

    let herald = LocalHerald::start(&manifests).await;
    let mut bodies = Vec::new();
    while bodies.len() < 2 {
        let (headers, body) = tokio::time::timeout(DEADLINE, received.recv())
            .await
            .expect("two notifications")
            .unwrap();
        let signature = headers["x-signature"].to_str().unwrap().to_owned();
        assert_eq!(
            signature,
            format!("sha256={}", hmac_sha256_hex(KEY.as_bytes(), &body))
        );
        bodies.push(serde_json::from_slice::<serde_json::Value>(&body).unwrap());
    }
    let events: Vec<_> = bodies
        .iter()
        .map(|b| b["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["run.started", "run.failed"]);
    let failed = &bodies[1];
    assert_eq!(failed["apiVersion"], "herald.dev/v1");
    assert_eq!(failed["trigger"]["name"], "every");
    assert_eq!(failed["action"]["name"], "act");
    assert_eq!(failed["notifier"], "default/audit");
    let run = failed["object"]["name"].as_str().unwrap();
    let link = failed["link"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("http://{}/api/v1/events?", herald.listen)),
        "{link}"
    );
    let page: serde_json::Value = reqwest::get(link).await.unwrap().json().await.unwrap();
    let about: Vec<_> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["involvedName"].as_str().unwrap())
        .collect();
    assert!(
        !about.is_empty() && about.iter().all(|name| *name == run),
        "{page}"
    );

    herald.stop().await;
}

/// A WebhookTrigger asking for its hook at GitHub (a stand-in: GitHub cannot run here).
fn registering(host: &str, external: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Secret
metadata: {{name: github-token}}
stringData: {{token: ghp_local}}
---
apiVersion: v1
kind: Secret
metadata: {{name: hook-secret}}
stringData: {{token: local-signing-secret}}
---
apiVersion: herald.dev/v1alpha1
kind: WebhookTrigger
metadata: {{name: push}}
spec:
  sources: {{kind: GitRepo, names: [repo], watchOn: {{onChangeOnly: true, reference: {{branch: main}}}}}}
  webhook:
    provider: github
    authConfig: {{secretRef: {{name: hook-secret}}, key: token}}
    register:
      api: github
      secretRef: {{name: github-token}}
      externalUrl: "{external}"
      repository: "{host}/org/app"
  action: {{kind: Action, name: act}}
"#
    )
}

#[tokio::test]
async fn a_local_webhook_trigger_registers_its_hook_and_removes_it_when_gone() {
    let repo = TestRepo::new();
    let manifests = Manifests::new();
    manifests.write("all.yaml", &schedule_setup(&repo.url(), "true", true, "1h"));
    let github = herald_testkit::StandInGithub::default();
    let host = github.start().await;
    manifests.write(
        "push.yaml",
        &registering(&host, "https://herald.example.com"),
    );
    let herald = LocalHerald::start(&manifests).await;
    let at = |url: &'static str| {
        let github = github.clone();
        move || {
            let github = github.clone();
            async move {
                let hooks = github.hooks();
                (hooks.len() == 1 && hooks[0]["config"]["url"] == url).then_some(hooks)
            }
        }
    };
    let hooks = herald_testkit::wait_for(
        "the hook registered",
        DEADLINE,
        at("https://herald.example.com/hooks/default/push"),
    )
    .await
    .unwrap();
    assert_eq!(hooks[0]["config"]["secret"], "local-signing-secret");
    assert_eq!(hooks[0]["events"], serde_json::json!(["push"]));
    assert!(
        github
            .tokens
            .lock()
            .unwrap()
            .iter()
            .all(|t| t == "Bearer ghp_local")
    );

    // A changed address moves the hook; a trigger gone from the folder takes it away.
    manifests.write(
        "push.yaml",
        &registering(&host, "https://hooks.example.com"),
    );
    herald_testkit::wait_for(
        "the hook moved",
        DEADLINE,
        at("https://hooks.example.com/hooks/default/push"),
    )
    .await
    .unwrap();
    std::fs::remove_file(manifests.path().join("push.yaml")).unwrap();
    herald_testkit::wait_for("the hook removed", DEADLINE, || async {
        github.hooks().is_empty().then_some(())
    })
    .await
    .unwrap();
    herald.stop().await;
}
