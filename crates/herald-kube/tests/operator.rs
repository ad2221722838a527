//! The operator on a real control plane (etcd + kube-apiserver + kube-controller-manager).
//! No kubelet runs: the test plays its part by completing Pods; the real Job controller then
//! completes or fails the Job.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use herald_api::{Action, GitRepo, Run, RunPhase, ScheduleTrigger, WebhookTrigger};
use herald_testkit::{TestNamespace, complete_pod, wait_for};
use k8s_openapi::api::batch::v1::Job;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};
use serde_json::{Value, json};
use support::{
    Operator, TIMEOUT, TestRepo, apply, job_pod, namespace, runs, schedule_setup,
    schedule_setup_with, temp_store, wait_for_condition, wait_for_run,
};

async fn wait_for_phase(ns: &TestNamespace, name: &str, phase: RunPhase) -> Run {
    wait_for(&format!("Run {name} to be {phase}"), TIMEOUT, || async {
        let run = ns.api::<Run>().get(name).await.ok()?;
        (run.status.as_ref()?.phase == Some(phase)).then_some(run)
    })
    .await
    .unwrap()
}

/// Run the Run's Job to the end with `exit_code`, as a kubelet would report it.
async fn finish(ns: &TestNamespace, run: &Run, exit_code: i32, message: &str) {
    let name = run.metadata.name.clone().unwrap();
    let pod = job_pod(ns, &name).await;
    complete_pod(
        &ns.client,
        &ns.name,
        pod.metadata.name.as_deref().unwrap(),
        exit_code,
        Some(message),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_schedule_runs_a_job_to_success_with_history() {
    let ns = namespace("success").await;
    let repo = TestRepo::new();
    let operator = Operator::start(&ns.client, &ns.name, "a").await;
    schedule_setup(&ns, &repo.url()).await;
    let head = repo.git(&["rev-parse", "HEAD"]);
    let run = wait_for_run(&ns, &head).await;
    let name = run.metadata.name.clone().unwrap();

    // The Run exists before its controller has made the Job.
    let job: Job = wait_for(&format!("Job {name}"), TIMEOUT, || async {
        ns.api::<Job>().get(&name).await.ok()
    })
    .await
    .unwrap();
    let spec = job.spec.as_ref().unwrap();
    assert_eq!(spec.backoff_limit, Some(0));
    assert_eq!(spec.active_deadline_seconds, Some(60));
    let labels = job.metadata.labels.as_ref().unwrap();
    assert_eq!(labels["herald.dev/run"], name);
    assert_eq!(labels["herald.dev/trigger"], "every");
    assert_eq!(labels["herald.dev/source"], "repo");
    assert_eq!(
        job.metadata.owner_references.as_ref().unwrap()[0].kind,
        "Run"
    );
    let pod = spec.template.spec.as_ref().unwrap();
    let clone = &pod.init_containers.as_ref().unwrap()[0];
    assert_eq!(clone.args.as_deref(), Some(&["clone".to_owned()][..]));
    let env = |c: &k8s_openapi::api::core::v1::Container, k: &str| {
        c.env
            .as_ref()
            .unwrap()
            .iter()
            .find(|e| e.name == k)
            .and_then(|e| e.value.clone())
    };
    assert_eq!(
        env(clone, "HERALD_CLONE_REVISION").as_deref(),
        Some(head.as_str())
    );
    let action = &pod.containers[0];
    assert_eq!(
        env(action, "HERALD_REVISION").as_deref(),
        Some(head.as_str())
    );
    assert_eq!(
        env(action, "HERALD_REF").as_deref(),
        Some("refs/heads/main")
    );
    assert_eq!(env(action, "HERALD_WORKDIR").as_deref(), Some("/workspace"));
    assert_eq!(pod.service_account_name.as_deref(), Some("herald-action"));

    finish(&ns, &run, 0, "all good").await;
    let done = wait_for_phase(&ns, &name, RunPhase::Succeeded).await;
    let status = done.status.unwrap();
    let phases: Vec<_> = status.history.iter().map(|t| t.phase).collect();
    assert_eq!(phases.first(), Some(&RunPhase::Pending));
    assert_eq!(phases.last(), Some(&RunPhase::Succeeded));
    assert!(status.completion_time.is_some());
    assert_eq!(status.steps[0].exit_code, Some(0));
    assert_eq!(
        status.steps[0].output_excerpt.as_deref(),
        Some("all good"),
        "the termination message, as no kubelet serves logs"
    );
    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.status, "True");

    let events: Api<k8s_openapi::api::events::v1::Event> = ns.api();
    let reasons = wait_for("the Run's Events", TIMEOUT, || async {
        let list = events.list(&ListParams::default()).await.ok()?;
        let reasons: Vec<String> = list
            .items
            .into_iter()
            .filter(|e| e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(name.as_str()))
            .filter_map(|e| e.reason)
            .collect();
        reasons.iter().any(|r| r == "Succeeded").then_some(reasons)
    })
    .await
    .unwrap();
    assert!(
        reasons.iter().any(|r| r == "Pending"),
        "an Event per transition: {reasons:?}"
    );

    let repo_status = wait_for("the GitRepo's watched revisions", TIMEOUT, || async {
        let r: GitRepo = ns.api().get("repo").await.ok()?;
        r.status.filter(|s| !s.revisions.is_empty())
    })
    .await
    .unwrap();
    assert_eq!(
        repo_status.revisions["refs/heads/main"], head,
        "the source reports what the trigger watches"
    );

    let trigger: ScheduleTrigger = ns.api().get("every").await.unwrap();
    let checked = &trigger.status.unwrap().checked_sources["repo"];
    assert_eq!(checked.revision, head, "the trigger records what it ran");

    // The Run's way from creation to its Job and to its end, in the same families as local mode.
    let url = format!("http://{}/metrics", operator.listen);
    let scrape = reqwest::get(url).await.unwrap().text().await.unwrap();
    let count = |name: &str| herald_testkit::metric_sample(&scrape, name);
    assert!(
        count("herald_run_start_latency_seconds_count").unwrap() >= 1.0,
        "{scrape}"
    );
    let ended = r#"herald_run_duration_seconds_count{phase="Succeeded"}"#;
    assert!(count(ended).unwrap() >= 1.0, "{scrape}");
    let created = r#"herald_source_checks_total{result="created"}"#;
    assert!(count(created).unwrap() >= 1.0, "{scrape}");
    operator.stop().await;
}

/// An ImageUpdate whose registry and notification endpoint refuse connections (port 9,
/// discard, on loopback): it fails at once, and so does its notification.
fn refused_image_update() -> Value {
    json!({
        "apiVersion": "herald.dev/v1alpha1", "kind": "ImageUpdate",
        "metadata": {"name": "web"},
        "spec": {
            "image": {"repository": "127.0.0.1:9/team/web"},
            "policy": {"semver": {"range": ">=1.0.0"}},
            "interval": "1h",
            "target": {"gitRepo": {"kind": "GitRepo", "name": "repo"}, "branch": "main"},
            "notifications": [{"format": "json", "secretRef": {"name": "hook"}}]
        }
    })
}

#[tokio::test]
async fn the_scrape_serves_every_documented_family_in_a_cluster() {
    let ns = namespace("metrics").await;
    let repo = TestRepo::new();
    let operator = Operator::start(&ns.client, &ns.name, "a").await;
    schedule_setup(&ns, &repo.url()).await;
    let run = wait_for_run(&ns, &repo.git(&["rev-parse", "HEAD"])).await;
    finish(&ns, &run, 0, "ok").await;
    wait_for_phase(
        &ns,
        run.metadata.name.as_deref().unwrap(),
        RunPhase::Succeeded,
    )
    .await;
    apply(
        &ns,
        json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hook"},
            "stringData": {"webhook-url": "http://127.0.0.1:9/hook"}
        }),
    )
    .await;
    apply(&ns, refused_image_update()).await;
    // A hook for a trigger that does not exist: answered, timed, counted.
    let hook = format!("http://{}/hooks/{}/nope", operator.listen, ns.name);
    let answer = reqwest::Client::new()
        .post(hook)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);

    let url = format!("http://{}/metrics", operator.listen);
    let wanted = [
        r#"herald_notifications_total{result="failed"}"#,
        r#"herald_image_updates_total{result="RegistryUnavailable"}"#,
        r#"herald_change_to_run_seconds_count{trigger_kind="ScheduleTrigger"}"#,
        r#"herald_run_duration_seconds_count{phase="Succeeded"}"#,
    ];
    let missing = |scrape: &str| -> Vec<&str> {
        let absent = |name: &&str| herald_testkit::metric_sample(scrape, name).is_none();
        wanted.iter().copied().filter(absent).collect()
    };
    let sampled = wait_for("a sample in every family", TIMEOUT, || async {
        let scrape = reqwest::get(&url).await.ok()?.text().await.ok()?;
        missing(&scrape).is_empty().then_some(scrape)
    })
    .await;
    let scrape = match sampled {
        Ok(scrape) => scrape,
        Err(e) => {
            let scrape = reqwest::get(&url).await.unwrap().text().await.unwrap();
            panic!("{e}: no {:?} in\n{scrape}", missing(&scrape));
        }
    };
    let sample = |name: &str| herald_testkit::metric_sample(&scrape, name);
    assert_eq!(sample("herald_runs_queued"), Some(0.0));
    // Reconcile errors are served from zero, so the first one shows in `increase()`.
    let errors = r#"herald_reconcile_errors_total{kind="Notifier",category="KubeApi"}"#;
    assert_eq!(sample(errors), Some(0.0), "{scrape}");
    // Every family the README documents, cluster-only ones included, as Prometheus parses it.
    herald_testkit::check_scrape_against_readme(&scrape, herald_testkit::ScrapeOf::Cluster);
    operator.stop().await;
}

#[tokio::test]
async fn a_failing_job_fails_the_run_with_its_exit_code() {
    let ns = namespace("failure").await;
    let repo = TestRepo::new();
    let operator = Operator::start(&ns.client, &ns.name, "a").await;
    schedule_setup(&ns, &repo.url()).await;
    let run = wait_for_run(&ns, &repo.git(&["rev-parse", "HEAD"])).await;
    finish(&ns, &run, 3, "exploded").await;
    let failed = wait_for_phase(&ns, run.metadata.name.as_deref().unwrap(), RunPhase::Failed).await;
    let status = failed.status.unwrap();
    assert_eq!(status.steps[0].exit_code, Some(3));
    assert_eq!(
        status.history.last().unwrap().reason.as_deref(),
        Some("BackoffLimitExceeded")
    );
    operator.stop().await;
}

#[tokio::test]
async fn an_unchanged_revision_runs_once_and_a_new_commit_runs_again() {
    let ns = namespace("change").await;
    let repo = TestRepo::new();
    let operator = Operator::start(&ns.client, &ns.name, "a").await;
    schedule_setup(&ns, &repo.url()).await;
    let first = wait_for_run(&ns, &repo.git(&["rev-parse", "HEAD"])).await;
    // Wait for three more checks of the same revision, counted in /metrics.
    let api: Api<ScheduleTrigger> = ns.api();
    wait_for("the status of the first check", TIMEOUT, || async {
        let trigger = api.get("every").await.ok()?;
        trigger
            .status?
            .checked_sources
            .contains_key("repo")
            .then_some(())
    })
    .await
    .unwrap();
    let version = api.get("every").await.unwrap().metadata.resource_version;
    let start = operator.schedule_checks().await;
    wait_for("three more checks", TIMEOUT, || async {
        (operator.schedule_checks().await >= start + 3).then_some(())
    })
    .await
    .unwrap();
    assert_eq!(
        runs(&ns).await.len(),
        1,
        "an unchanged revision creates no new Run"
    );
    assert_eq!(
        api.get("every").await.unwrap().metadata.resource_version,
        version,
        "a check that found nothing new writes nothing"
    );
    let next = repo.commit("second");
    let second = wait_for_run(&ns, &next).await;
    assert_ne!(first.metadata.name, second.metadata.name);
    assert_eq!(runs(&ns).await.len(), 2);
    operator.stop().await;
}

#[tokio::test]
async fn a_webhook_creates_a_run() {
    let ns = namespace("webhook").await;
    let repo = TestRepo::new();
    let (store, _state) = temp_store().await;
    let log = store.clone();
    let operator = Operator::start_with(&ns.client, &ns.name, "a", move |config| {
        config.store = Some(log);
    })
    .await;
    schedule_setup(&ns, &repo.url()).await;
    apply(&ns, json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hook"}, "stringData": {"token": "s3cret"}})).await;
    apply(&ns, json!({
        "apiVersion": "herald.dev/v1alpha1", "kind": "WebhookTrigger", "metadata": {"name": "push"},
        "spec": {
            "sources": {"kind": "GitRepo", "names": ["repo"], "watchOn": {"reference": {"branch": "main"}}},
            "webhook": {"authConfig": {"secretRef": {"name": "hook"}}},
            "action": {"kind": "Action", "name": "act"}
        }
    })).await;
    let url = format!("http://{}/hooks/{}/push/repo", operator.listen, ns.name);
    let client = reqwest::Client::new();
    let denied = client
        .post(&url)
        .header("x-trigger-auth", "wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 401);
    let deliver = || {
        client
            .post(&url)
            .header("x-trigger-auth", "s3cret")
            .header("idempotency-key", "delivery-1")
            .send()
    };
    let accepted = deliver().await.unwrap();
    assert_eq!(accepted.status(), 202);
    let body: serde_json::Value = accepted.json().await.unwrap();
    let name = body["runs"][0]["name"].as_str().unwrap().to_owned();
    let run: Run = ns.api().get(&name).await.unwrap();
    assert_eq!(run.spec.cause, herald_api::RunCause::Webhook);
    let again = deliver().await.unwrap();
    assert_eq!(again.status(), 200, "a redelivery is acknowledged");
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(again["duplicate"], true, "{again}");
    let key = format!("{}/push/delivery-1", ns.name);
    assert!(
        store.delivery_event(&key).await.unwrap().is_some(),
        "the delivery is recorded in the store"
    );
    // Pruned by the history limit (deleted here), a Run's delivery still runs nothing again.
    let runs_api: kube::Api<Run> = ns.api();
    runs_api
        .delete(&name, &kube::api::DeleteParams::default())
        .await
        .unwrap();
    wait_for("the Run to be gone", TIMEOUT, || async {
        runs_api
            .get_opt(&name)
            .await
            .unwrap()
            .is_none()
            .then_some(())
    })
    .await
    .unwrap();
    let late = deliver().await.unwrap();
    assert_eq!(late.status(), 200, "a late redelivery is a duplicate");
    assert!(
        runs_api.get_opt(&name).await.unwrap().is_none(),
        "and makes no Run"
    );
    // Without onChangeOnly a new delivery of the same revision is a new Run.
    let other = client
        .post(&url)
        .header("x-trigger-auth", "s3cret")
        .header("idempotency-key", "delivery-2")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 202);
    let other: serde_json::Value = other.json().await.unwrap();
    assert_eq!(other["runs"][0]["created"], true, "{other}");
    assert_ne!(other["runs"][0]["name"], name.as_str());
    let detected = herald_store::EventQuery {
        kind: Some(herald_store::EventKind::RevisionDetected),
        trigger: Some("push".into()),
        ..herald_store::EventQuery::default()
    };
    let detected = store.query_events(&detected).await.unwrap().events;
    assert_eq!(detected.len(), 1, "{detected:?}");
    assert_eq!(detected[0].revision.as_deref(), Some(repo.head().as_str()));
    let trigger: herald_api::WebhookTrigger =
        wait_for("the hook path in status", TIMEOUT, || async {
            let t: herald_api::WebhookTrigger = ns.api().get("push").await.ok()?;
            t.status.as_ref()?.hook_path.is_some().then_some(t)
        })
        .await
        .unwrap();
    let status = trigger.status.unwrap();
    assert_eq!(status.hook_path, Some(format!("/hooks/{}/push", ns.name)));
    assert!(
        status.hook_paths.is_empty(),
        "one source: the trigger's own path"
    );
    operator.stop().await;
}

/// What a new user meets: the paths status advertises fire, misconfiguration shows in `Ready`
/// and in the 503, and with `onChangeOnly` a change is one Run however many deliveries see it.
#[tokio::test]
async fn webhook_triggers_tell_users_what_to_configure() {
    let ns = namespace("hook-paths").await;
    let repo = TestRepo::new();
    let operator = Operator::start(&ns.client, &ns.name, "a").await;
    schedule_setup(&ns, &repo.url()).await;
    apply(&ns, json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hook"}, "stringData": {"token": "s3cret"}})).await;
    let trigger = |name: &str, secret: &str, sources: Value, on_change_only: bool| {
        json!({
            "apiVersion": "herald.dev/v1alpha1", "kind": "WebhookTrigger", "metadata": {"name": name},
            "spec": {
                "sources": {"kind": "GitRepo", "names": sources,
                            "watchOn": {"onChangeOnly": on_change_only, "reference": {"branch": "main"}}},
                "webhook": {"authConfig": {"secretRef": {"name": secret}}},
                "action": {"kind": "Action", "name": "act"}
            }
        })
    };
    apply(&ns, trigger("two", "hook", json!(["repo", "lib"]), false)).await;
    apply(&ns, trigger("unready", "absent", json!(["repo"]), false)).await;
    apply(&ns, trigger("changes", "hook", json!(["repo"]), true)).await;
    let client = reqwest::Client::new();
    let post = |path: String, id: &'static str| {
        let client = client.clone();
        let url = format!("http://{}{path}", operator.listen);
        async move {
            let response = client
                .post(url)
                .header("x-trigger-auth", "s3cret")
                .header("idempotency-key", id)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };

    let api: kube::Api<herald_api::WebhookTrigger> = ns.api();
    let ready = wait_for_condition(&api, "two", "Ready").await;
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("True", "AcceptingHooks")
    );
    let status = api.get("two").await.unwrap().status.unwrap();
    let (own, per_source) = (
        format!("/hooks/{}/two", ns.name),
        [
            format!("/hooks/{}/two/repo", ns.name),
            format!("/hooks/{}/two/lib", ns.name),
        ],
    );
    assert_eq!(status.hook_path, Some(format!("{own}/{{source}}")));
    assert_eq!(status.hook_paths, per_source);
    let (code, body) = post(own, "paths-1").await;
    assert_eq!((code, &body["paths"]), (400, &json!(per_source)), "{body}");
    let (code, body) = post(per_source[0].clone(), "paths-2").await;
    assert_eq!(code, 202, "{body}");

    let unready = wait_for_condition(&api, "unready", "Ready").await;
    assert_eq!(
        (unready.status.as_str(), unready.reason.as_str()),
        ("False", "SecretMissing")
    );
    assert!(unready.message.contains("absent"), "{}", unready.message);
    let (code, body) = post(format!("/hooks/{}/unready", ns.name), "unready-1").await;
    assert_eq!(
        (code, &body["reason"]),
        (503, &json!("SecretMissing")),
        "{body}"
    );

    let path = format!("/hooks/{}/changes", ns.name);
    let (code, first) = post(path.clone(), "change-1").await;
    assert_eq!(
        (code, &first["runs"][0]["created"]),
        (202, &json!(true)),
        "{first}"
    );
    let (code, second) = post(path, "change-2").await;
    assert_eq!((code, &second["runs"]), (202, &json!([])), "{second}");
    assert!(
        second["skipped"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("already seen"),
        "{second}"
    );
    let changes: Vec<Run> = runs(&ns)
        .await
        .into_iter()
        .filter(|r| r.spec.trigger.name == "changes")
        .collect();
    assert_eq!(changes.len(), 1, "one change, one Run");
    operator.stop().await;
}

#[tokio::test]
async fn an_invalid_action_is_stalled_with_a_readable_reason() {
    let ns = namespace("invalid").await;
    let operator = Operator::start(&ns.client, &ns.name, "a").await;
    apply(
        &ns,
        json!({
            "apiVersion": "herald.dev/v1alpha1", "kind": "Action", "metadata": {"name": "bad"},
            "spec": {"actionJob": {"image": "alpine", "command": ["true"], "workdir": "../escape"}}
        }),
    )
    .await;
    let action: Action = wait_for("the Action's Stalled condition", TIMEOUT, || async {
        let a: Action = ns.api().get("bad").await.ok()?;
        a.status
            .as_ref()?
            .conditions
            .iter()
            .any(|c| c.type_ == "Stalled" && c.status == "True")
            .then_some(a)
    })
    .await
    .unwrap();
    let stalled = action
        .status
        .unwrap()
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Stalled")
        .unwrap();
    assert_eq!(stalled.reason, "InvalidSpec");
    assert!(stalled.message.contains("workdir"), "{}", stalled.message);
    // A graph of steps with a concurrency limit: the API server keeps every field (the CRD's
    // schema holds it on 1.20) and the Action is Ready.
    apply(
        &ns,
        json!({
            "apiVersion": "herald.dev/v1alpha1", "kind": "Action", "metadata": {"name": "graph"},
            "spec": {
                "concurrency": {"max": 1, "policy": "Queue"},
                "steps": [
                    {"name": "a", "command": ["true"], "outputs": ["tag"]},
                    {"name": "b", "command": ["true"], "needs": ["a"], "if": "failure"}
                ],
                "finally": [{"name": "z", "command": ["true"]}]
            }
        }),
    )
    .await;
    let graph: Action = wait_for("the graph's Ready condition", TIMEOUT, || async {
        let a: Action = ns.api().get("graph").await.ok()?;
        a.status
            .as_ref()?
            .conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
            .then_some(a)
    })
    .await
    .unwrap();
    let definition = &graph.spec.definition;
    assert_eq!(definition.steps.len(), 2, "the API server kept the steps");
    assert_eq!(definition.steps[1].needs, ["a"]);
    assert_eq!(definition.concurrency.as_ref().unwrap().max, 1);
    operator.stop().await;
}

/// A trigger's `Ready=False` names the kind of failure its source had (as its GitRepo's does),
/// and the operator answers `/readyz` once its caches have listed.
#[tokio::test]
async fn a_trigger_says_why_its_source_failed_and_the_operator_becomes_ready() {
    let ns = namespace("why").await;
    let operator = Operator::start(&ns.client, &ns.name, "a").await;
    let readyz = format!("http://{}/readyz", operator.listen);
    wait_for("/readyz to answer 200", TIMEOUT, || async {
        let answer = reqwest::get(&readyz).await.ok()?;
        (answer.status() == reqwest::StatusCode::OK).then_some(())
    })
    .await
    .unwrap();
    let auth = json!({"type": "basic", "secretRef": {"name": "absent"}});
    apply(
        &ns,
        json!({
            "apiVersion": "herald.dev/v1alpha1", "kind": "GitRepo", "metadata": {"name": "locked"},
            "spec": {"repoUri": "https://127.0.0.1:9/r.git", "auth": auth}
        }),
    )
    .await;
    apply(
        &ns,
        json!({
            "apiVersion": "herald.dev/v1alpha1", "kind": "Action", "metadata": {"name": "act"},
            "spec": {"actionJob": {"image": "alpine:3", "command": ["true"]}}
        }),
    )
    .await;
    let trigger = |name: &str, sources: &[&str]| {
        json!({
            "apiVersion": "herald.dev/v1alpha1", "kind": "ScheduleTrigger", "metadata": {"name": name},
            "spec": {
                "sources": {"kind": "GitRepo", "names": sources, "watchOn": {"reference": {"branch": "main"}}},
                "schedule": {"interval": "1h"},
                "action": {"kind": "Action", "name": "act"}
            }
        })
    };
    apply(&ns, trigger("locked", &["locked"])).await;
    apply(&ns, trigger("nowhere", &["nowhere"])).await;
    apply(&ns, trigger("both", &["locked", "nowhere"])).await;
    let api = ns.api::<ScheduleTrigger>();
    for (name, reason) in [
        ("locked", "SecretMissing"),
        ("nowhere", "SourceNotFound"),
        ("both", "SourceUnavailable"),
    ] {
        let ready = wait_for_condition(&api, name, "Ready").await;
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_str()),
            ("False", reason),
            "{name}: {}",
            ready.message
        );
    }
    operator.stop().await;
}

#[tokio::test]
async fn a_git_repo_reads_secrets_only_from_its_own_namespace() {
    let ns = namespace("secrets").await;
    let other = namespace("secrets-other").await;
    let operator = Operator::start(&ns.client, &ns.name, "a").await;
    apply(&other, json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}, "stringData": {"username": "u", "password": "p"}})).await;
    let auth = json!({"type": "basic", "secretRef": {"name": "creds"}});
    apply(
        &ns,
        json!({
            "apiVersion": "herald.dev/v1alpha1", "kind": "GitRepo", "metadata": {"name": "private"},
            "spec": {"repoUri": "https://127.0.0.1:9/r.git", "auth": auth}
        }),
    )
    .await;
    let ready = wait_for_condition(&ns.api::<GitRepo>(), "private", "Ready").await;
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "SecretMissing")
    );
    assert!(
        ready
            .message
            .contains(&format!("secret {}/creds not found", ns.name)),
        "{}",
        ready.message
    );

    // A ClusterGitRepo may name the Secret's namespace: the secret is read, and only the
    // (closed) port stops it.
    apply(&ns, json!({
        "apiVersion": "herald.dev/v1alpha1", "kind": "ClusterGitRepo", "metadata": {"name": format!("{}-shared", ns.name)},
        "spec": {"repoUri": "https://127.0.0.1:9/r.git", "auth": {"type": "basic", "secretRef": {"name": "creds", "namespace": other.name}}}
    })).await;
    let shared: Api<herald_api::ClusterGitRepo> = Api::all(ns.client.clone());
    let ready = wait_for_condition(&shared, &format!("{}-shared", ns.name), "Ready").await;
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "Unreachable"),
        "{}",
        ready.message
    );
    operator.stop().await;
}

#[tokio::test]
async fn finished_runs_beyond_the_history_limit_are_deleted() {
    let ns = namespace("history").await;
    let repo = TestRepo::new();
    let operator = Operator::start(&ns.client, &ns.name, "a").await; // keeps 2 succeeded
    schedule_setup(&ns, &repo.url()).await;
    let mut names = Vec::new();
    for i in 0..3 {
        if i > 0 {
            repo.commit(&format!("commit {i}"));
        }
        let run = wait_for_run(&ns, &repo.git(&["rev-parse", "HEAD"])).await;
        finish(&ns, &run, 0, "ok").await;
        names.push(run.metadata.name.clone().unwrap());
        wait_for_phase(&ns, &names[i], RunPhase::Succeeded).await;
    }
    wait_for("the oldest Run to be pruned", TIMEOUT, || async {
        let left: Vec<String> = runs(&ns)
            .await
            .into_iter()
            .filter_map(|r| r.metadata.name)
            .collect();
        (!left.contains(&names[0])).then_some(())
    })
    .await
    .unwrap();
    let left: Vec<String> = runs(&ns)
        .await
        .into_iter()
        .filter_map(|r| r.metadata.name)
        .collect();
    assert!(
        left.contains(&names[1]) && left.contains(&names[2]),
        "the newest two stay: {left:?}"
    );
    operator.stop().await;
}

/// Merge-patches `patch` onto ScheduleTrigger or WebhookTrigger `name`, as a user would.
async fn patch<K>(ns: &TestNamespace, name: &str, patch: Value)
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = ns.api();
    api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
}

/// A ScheduleTrigger on GitRepo `repo` with Action `act`, onChangeOnly.
fn schedule_trigger(name: &str, interval: &str) -> Value {
    json!({
        "apiVersion": "herald.dev/v1alpha1", "kind": "ScheduleTrigger", "metadata": {"name": name},
        "spec": {
            "sources": {"kind": "GitRepo", "names": ["repo"], "watchOn": {"onChangeOnly": true, "reference": {"branch": "main"}}},
            "schedule": {"interval": interval},
            "action": {"kind": "Action", "name": "act"}
        }
    })
}

/// A WebhookTrigger on GitRepo `repo` taking the token of Secret `hook`.
fn webhook_trigger(name: &str, suspend: bool) -> Value {
    json!({
        "apiVersion": "herald.dev/v1alpha1", "kind": "WebhookTrigger", "metadata": {"name": name},
        "spec": {
            "sources": {"kind": "GitRepo", "names": ["repo"], "watchOn": {"reference": {"branch": "main"}}},
            "webhook": {"authConfig": {"secretRef": {"name": "hook"}}},
            "action": {"kind": "Action", "name": "act"},
            "suspend": suspend
        }
    })
}

/// The Runs of trigger `trigger` for `revision`.
async fn runs_of(ns: &TestNamespace, trigger: &str, revision: &str) -> Vec<Run> {
    let all = runs(ns).await.into_iter();
    all.filter(|r| r.spec.trigger.name == trigger && r.spec.revision == revision)
        .collect()
}

#[tokio::test]
async fn a_suspended_trigger_keeps_its_state_runs_nothing_and_refuses_deliveries() {
    let ns = namespace("suspend").await;
    let repo = TestRepo::new();
    let operator = Operator::start(&ns.client, &ns.name, "a").await;
    schedule_setup(&ns, &repo.url()).await; // `every`, 1 s
    apply(&ns, schedule_trigger("twin", "1s")).await;
    let first = repo.head();
    wait_for_run(&ns, &first).await;
    let api: Api<ScheduleTrigger> = ns.api();
    wait_for("every's first check in its status", TIMEOUT, || async {
        let status = api.get("every").await.ok()?.status?;
        status.checked_sources.contains_key("repo").then_some(())
    })
    .await
    .unwrap();
    patch::<ScheduleTrigger>(&ns, "every", json!({"spec": {"suspend": true}})).await;
    // The twin's checks pace the test: three of them after the patch, and the suspension has
    // long reached the operator's cache.
    let start = operator.schedule_checks().await;
    let checks = |n: u64| {
        let operator = &operator;
        async move {
            wait_for("more schedule checks", TIMEOUT, || async {
                (operator.schedule_checks().await >= n).then_some(())
            })
            .await
            .unwrap();
        }
    };
    checks(start + 3).await;
    let suspended = api.get("every").await.unwrap();
    let next = repo.commit("second");
    wait_for("the twin's Run for the new commit", TIMEOUT, || async {
        runs_of(&ns, "twin", &next).await.pop()
    })
    .await
    .unwrap();
    checks(operator.schedule_checks().await + 2).await;
    assert!(
        runs_of(&ns, "every", &next).await.is_empty(),
        "a suspended trigger creates no Run"
    );
    let still = api.get("every").await.unwrap();
    assert_eq!(
        still.metadata.resource_version, suspended.metadata.resource_version,
        "and leaves its status as it was"
    );
    assert_eq!(
        still.status.unwrap().checked_sources["repo"].revision,
        first
    );
    // Resumed, it picks up where it stopped: the commit made meanwhile runs.
    patch::<ScheduleTrigger>(&ns, "every", json!({"spec": {"suspend": false}})).await;
    wait_for("every's Run for the new commit", TIMEOUT, || async {
        runs_of(&ns, "every", &next).await.pop()
    })
    .await
    .unwrap();

    // A suspended WebhookTrigger: a verified delivery is a 409, an unverified one still a 401.
    apply(&ns, json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hook"}, "stringData": {"token": "s3cret"}})).await;
    apply(&ns, webhook_trigger("push", true)).await;
    let url = format!("http://{}/hooks/{}/push", operator.listen, ns.name);
    let client = reqwest::Client::new();
    let deliver = |token: &'static str| {
        let request = client.post(&url).header("x-trigger-auth", token);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    // 404 until the hook server's cache holds the new trigger.
    let refused = wait_for("a 409 from the suspended trigger", TIMEOUT, || async {
        let (status, body) = deliver("s3cret").await;
        (status != 404).then_some((status, body))
    })
    .await
    .unwrap();
    assert_eq!(
        (refused.0, &refused.1["reason"]),
        (409, &json!("Suspended")),
        "{}",
        refused.1
    );
    assert_eq!(deliver("wrong").await.0, 401);
    assert!(
        runs(&ns)
            .await
            .iter()
            .all(|r| r.spec.trigger.name != "push")
    );
    operator.stop().await;
}

#[tokio::test]
async fn a_reconcile_request_checks_now_and_is_recorded_handled() {
    let ns = namespace("reconcile").await;
    let repo = TestRepo::new();
    let (store, _state) = temp_store().await;
    let operator = Operator::start_with(&ns.client, &ns.name, "a", move |config| {
        config.store = Some(store);
    })
    .await;
    schedule_setup(&ns, &repo.url()).await;
    apply(&ns, schedule_trigger("hourly", "1h")).await;
    wait_for("hourly's first Run", TIMEOUT, || async {
        runs_of(&ns, "hourly", &repo.head()).await.pop()
    })
    .await
    .unwrap();
    let api: Api<ScheduleTrigger> = ns.api();
    let handled = |name: &'static str, value: String| {
        let api = &api;
        async move {
            wait_for("status.lastHandledReconcileAt", TIMEOUT, || async {
                let status = api.get(name).await.ok()?.status?;
                (status.last_handled_reconcile_at.as_deref() == Some(value.as_str())).then_some(())
            })
            .await
            .unwrap();
        }
    };

    // The annotation, as `flux reconcile` sets it: checked now, though due in an hour.
    let next = repo.commit("second");
    let requested_at = "2026-11-23T10:00:00.123456789Z";
    let annotate =
        json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": requested_at}}});
    patch::<ScheduleTrigger>(&ns, "hourly", annotate).await;
    wait_for("hourly's Run for the new commit", TIMEOUT, || async {
        runs_of(&ns, "hourly", &next).await.pop()
    })
    .await
    .unwrap();
    handled("hourly", requested_at.to_owned()).await;

    // `herald reconcile`'s request: the annotation set to its time, and the same again.
    let third = repo.commit("third");
    let url = format!(
        "http://{}/api/v1/reconcile/ScheduleTrigger/{}/hourly",
        operator.listen, ns.name
    );
    let client = reqwest::Client::new();
    let answer = client.post(&url).send().await.unwrap();
    assert_eq!(answer.status(), 202);
    let answer: Value = answer.json().await.unwrap();
    let requested_at = answer["requestedAt"].as_str().unwrap().to_owned();
    let annotations = api
        .get("hourly")
        .await
        .unwrap()
        .metadata
        .annotations
        .unwrap();
    assert_eq!(
        annotations["reconcile.fluxcd.io/requestedAt"], requested_at,
        "the request is the annotation"
    );
    wait_for("hourly's Run for the third commit", TIMEOUT, || async {
        runs_of(&ns, "hourly", &third).await.pop()
    })
    .await
    .unwrap();
    handled("hourly", requested_at).await;
    assert_eq!(
        runs(&ns)
            .await
            .iter()
            .filter(|r| r.spec.trigger.name == "hourly")
            .count(),
        3,
        "each request is handled once"
    );

    // A WebhookTrigger records the request with its readiness check.
    apply(&ns, json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "hook"}, "stringData": {"token": "s3cret"}})).await;
    apply(&ns, webhook_trigger("push", false)).await;
    let hooks: Api<herald_api::WebhookTrigger> = ns.api();
    wait_for_condition(&hooks, "push", "Ready").await;
    let annotate = json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": "now"}}});
    patch::<herald_api::WebhookTrigger>(&ns, "push", annotate).await;
    wait_for("the webhook trigger's handled request", TIMEOUT, || async {
        let status = hooks.get("push").await.ok()?.status?;
        (status.last_handled_reconcile_at.as_deref() == Some("now")).then_some(())
    })
    .await
    .unwrap();

    // Unknown and suspended triggers are refused.
    let missing = url.replace("/hourly", "/nothing");
    assert_eq!(client.post(&missing).send().await.unwrap().status(), 404);
    patch::<ScheduleTrigger>(&ns, "hourly", json!({"spec": {"suspend": true}})).await;
    let refused = wait_for("a 409 for the suspended trigger", TIMEOUT, || async {
        let response = client.post(&url).send().await.unwrap();
        (response.status() != 202).then_some(response)
    })
    .await
    .unwrap();
    assert_eq!(refused.status(), 409);
    operator.stop().await;
}

/// Secrets are watched one by one, by the names asked for, and many readers waiting for the
/// first listing at once are all answered (kube's own store readiness wakes only one of them).
#[tokio::test]
async fn secrets_are_watched_by_name_and_answer_every_waiter() {
    let ns = namespace("secret-cache").await;
    let secret = |name: &str, value: &str| json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "stringData": {"token": value}});
    apply(&ns, secret("wanted", "one")).await;
    apply(&ns, secret("unrelated", "x")).await;
    let cache = herald_kube::SecretCache::new(ns.client.clone());
    let readers = (0..8).map(|_| {
        let (cache, namespace) = (cache.clone(), ns.name.clone());
        tokio::spawn(async move { cache.get(&namespace, "wanted").await })
    });
    for read in futures::future::join_all(readers).await {
        let found = read.unwrap().unwrap();
        assert!(found.is_some(), "every concurrent reader sees the Secret");
    }
    assert!(cache.get(&ns.name, "absent").await.unwrap().is_none());
    let watched = [format!("{}/absent", ns.name), format!("{}/wanted", ns.name)];
    assert_eq!(cache.watched(), watched, "nothing else of the namespace");

    // A changed value reaches the cache through its watch.
    apply(&ns, secret("wanted", "two")).await;
    wait_for("the changed Secret in the cache", TIMEOUT, || async {
        let found = cache.get(&ns.name, "wanted").await.ok()??;
        let value = herald_api::secret_key(&found, "token")?;
        (value == b"two").then_some(())
    })
    .await
    .unwrap();
}

/// Completes the Pod of Job `job` with `exit_code` and `message` as its termination message.
async fn finish_job(ns: &TestNamespace, job: &str, exit_code: i32, message: &str) {
    let pod = job_pod(ns, job).await;
    let pod = pod.metadata.name.as_deref().unwrap();
    complete_pod(&ns.client, &ns.name, pod, exit_code, Some(message))
        .await
        .unwrap();
}

async fn wait_for_job(ns: &TestNamespace, name: &str) -> Job {
    wait_for(&format!("Job {name}"), TIMEOUT, || async {
        ns.api::<Job>().get(name).await.ok()
    })
    .await
    .unwrap()
}

fn env_of(job: &Job, name: &str) -> Option<String> {
    let pod = job.spec.as_ref()?.template.spec.as_ref()?;
    (pod.containers[0].env.as_ref()?.iter())
        .find(|e| e.name == name)
        .and_then(|e| e.value.clone())
}

/// A graph of steps in a cluster: one Job per step attempt, outputs read from the termination
/// message and passed on, a failed attempt retried, and the operator replaced in the middle by
/// another (a leader change) that adopts the Jobs and creates none twice.
#[tokio::test]
async fn a_graph_of_steps_runs_a_job_per_attempt_and_survives_a_new_leader() {
    let ns = namespace("graph").await;
    let repo = TestRepo::new();
    let first = Operator::start(&ns.client, &ns.name, "a").await;
    let action = json!({
        "timeout": "10m",
        "steps": [
            {"name": "build", "image": "alpine:3", "command": ["sh", "-c", "echo tag=v7 > $HERALD_OUTPUT"], "outputs": ["tag"]},
            {"name": "test", "image": "alpine:3", "command": ["true"], "needs": ["build"],
             "retries": {"limit": 1, "backoff": "1s"}, "timeout": "2m"},
            {"name": "deploy", "image": "alpine:3", "command": ["true"], "needs": ["test"]}
        ],
        "finally": [{"name": "report", "image": "alpine:3", "command": ["true"], "needs": ["deploy"]}]
    });
    schedule_setup_with(&ns, &repo.url(), action).await;
    let head = repo.git(&["rev-parse", "HEAD"]);
    let run = wait_for_run(&ns, &head).await;
    let name = run.metadata.name.clone().unwrap();

    let build = wait_for_job(&ns, &format!("{name}-build-1")).await;
    assert_eq!(
        env_of(&build, "HERALD_OUTPUT").as_deref(),
        Some("/dev/termination-log")
    );
    assert_eq!(env_of(&build, "HERALD_STEP").as_deref(), Some("build"));
    let labels = build.metadata.labels.as_ref().unwrap();
    assert_eq!(
        (
            labels["herald.dev/step"].as_str(),
            labels["herald.dev/attempt"].as_str()
        ),
        ("build", "1")
    );
    finish_job(&ns, &format!("{name}-build-1"), 0, "tag=v7\n").await;

    // test gets build's output; its first attempt fails and a second follows the backoff.
    let test = wait_for_job(&ns, &format!("{name}-test-1")).await;
    assert_eq!(
        env_of(&test, "HERALD_NEEDS_BUILD_TAG").as_deref(),
        Some("v7")
    );
    assert_eq!(
        env_of(&test, "HERALD_NEEDS_BUILD_RESULT").as_deref(),
        Some("success")
    );
    assert_eq!(
        test.spec.as_ref().unwrap().active_deadline_seconds,
        Some(120)
    );
    finish_job(&ns, &format!("{name}-test-1"), 1, "flaky").await;
    wait_for_job(&ns, &format!("{name}-test-2")).await;

    // A new leader takes over while the second attempt runs.
    first.stop().await;
    let second = Operator::start(&ns.client, &ns.name, "b").await;
    finish_job(&ns, &format!("{name}-test-2"), 0, "ok").await;
    finish_job(&ns, &format!("{name}-deploy-1"), 0, "deployed").await;
    finish_job(&ns, &format!("{name}-report-1"), 0, "reported").await;
    let done = wait_for_phase(&ns, &name, RunPhase::Succeeded).await;
    let status = done.status.unwrap();
    let steps: Vec<(&str, RunPhase, Option<i32>)> = (status.steps.iter())
        .map(|s| (s.name.as_str(), s.phase, s.attempt))
        .collect();
    assert_eq!(
        steps,
        [
            ("build", RunPhase::Succeeded, Some(1)),
            ("test", RunPhase::Succeeded, Some(2)),
            ("deploy", RunPhase::Succeeded, Some(1)),
            ("report", RunPhase::Succeeded, Some(1)),
        ]
    );
    assert_eq!(status.steps[0].outputs["tag"], "v7");
    let moves: Vec<(String, Option<i32>, RunPhase)> = (status.history.iter())
        .filter_map(|t| Some((t.step.clone()?, t.attempt, t.phase)))
        .collect();
    assert!(
        moves.contains(&("test".into(), Some(1), RunPhase::Failed)),
        "{moves:?}"
    );
    assert!(
        moves.contains(&("test".into(), Some(2), RunPhase::Running)),
        "{moves:?}"
    );
    assert_eq!(moves.len(), 10, "two moves per attempt: {moves:?}");
    assert_eq!(
        status.history.first().unwrap().step,
        None,
        "the Run starts first"
    );
    assert_eq!(status.history.last().unwrap().step, None, "and ends last");
    let jobs = ns.api::<Job>().list(&ListParams::default()).await.unwrap();
    let mut names: Vec<String> = jobs
        .items
        .iter()
        .map(|j| j.metadata.name.clone().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["build-1", "deploy-1", "report-1", "test-1", "test-2"].map(|s| format!("{name}-{s}")),
        "one Job per attempt, none twice"
    );
    second.stop().await;
}

/// A failed step in a cluster skips what needs it and the Run fails naming the step; the
/// annotation `herald.dev/rerun-from` makes a new Run that keeps what succeeded before it.
#[tokio::test]
async fn a_failed_step_fails_the_run_and_a_rerun_from_it_keeps_what_succeeded() {
    let ns = namespace("graphfail").await;
    let repo = TestRepo::new();
    let operator = Operator::start(&ns.client, &ns.name, "a").await;
    let action = json!({
        "steps": [
            {"name": "prep", "image": "alpine:3", "command": ["true"], "outputs": ["v"]},
            {"name": "lint", "image": "alpine:3", "command": ["false"], "needs": ["prep"]},
            {"name": "ship", "image": "alpine:3", "command": ["true"], "needs": ["lint"]}
        ]
    });
    schedule_setup_with(&ns, &repo.url(), action).await;
    let head = repo.git(&["rev-parse", "HEAD"]);
    let run = wait_for_run(&ns, &head).await;
    let name = run.metadata.name.clone().unwrap();
    finish_job(&ns, &format!("{name}-prep-1"), 0, "v=42\n").await;
    finish_job(&ns, &format!("{name}-lint-1"), 3, "lint failed").await;
    let done = wait_for_phase(&ns, &name, RunPhase::Failed).await;
    let status = done.status.unwrap();
    assert_eq!(status.steps[1].exit_code, Some(3));
    assert_eq!(status.steps[2].phase, RunPhase::Skipped);
    assert_eq!(status.steps[2].reason.as_deref(), Some("NeedFailed"));
    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert!(
        ready.message.starts_with("step lint failed"),
        "{}",
        ready.message
    );
    assert!(
        ns.api::<Job>()
            .get(&format!("{name}-ship-1"))
            .await
            .is_err(),
        "ship never ran"
    );

    let patch = json!({"metadata": {"annotations": {"herald.dev/rerun-from": "lint"}}});
    ns.api::<Run>()
        .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap();
    let rerun = wait_for("the re-run", TIMEOUT, || async {
        runs(&ns)
            .await
            .into_iter()
            .find(|r| r.spec.rerun_of.is_some())
    })
    .await
    .unwrap();
    let rerun_name = rerun.metadata.name.clone().unwrap();
    assert_eq!(rerun.spec.rerun_of.as_ref().unwrap().run, name);
    let lint = wait_for_job(&ns, &format!("{rerun_name}-lint-1")).await;
    assert_eq!(
        env_of(&lint, "HERALD_NEEDS_PREP_V").as_deref(),
        Some("42"),
        "prep's output kept"
    );
    finish_job(&ns, &format!("{rerun_name}-lint-1"), 0, "").await;
    finish_job(&ns, &format!("{rerun_name}-ship-1"), 0, "").await;
    let again = wait_for_phase(&ns, &rerun_name, RunPhase::Succeeded).await;
    let status = again.status.unwrap();
    assert_eq!(status.steps[0].reason.as_deref(), Some("Reused"));
    assert_eq!(status.steps[0].outputs["v"], "42");
    assert!(
        ns.api::<Job>()
            .get(&format!("{rerun_name}-prep-1"))
            .await
            .is_err(),
        "prep did not run again"
    );
    assert_eq!(runs(&ns).await.len(), 2, "one re-run for one request");
    operator.stop().await;
}

/// `concurrency` in a cluster: a second Run of the action waits (queued, no Job) until the
/// first has finished; with `Replace` a newer Run cancels the one executing (its Job deleted,
/// the Run `Cancelled`, `Replaced`) and then starts. Both waiting Runs start because their
/// peer's end wakes them: a queued Run's own recheck (5 minutes) is longer than `TIMEOUT`.
#[tokio::test]
async fn concurrency_queues_runs_and_replace_cancels_the_oldest() {
    let ns = namespace("concurrency").await;
    let repo = TestRepo::new();
    let operator = Operator::start(&ns.client, &ns.name, "a").await;
    let action = |policy: &str| {
        json!({
            "concurrency": {"max": 1, "policy": policy},
            "steps": [{"name": "work", "image": "alpine:3", "command": ["true"]}]
        })
    };
    schedule_setup_with(&ns, &repo.url(), action("Queue")).await;
    let first = wait_for_run(&ns, &repo.head()).await;
    let first_name = first.metadata.name.clone().unwrap();
    wait_for_job(&ns, &format!("{first_name}-work-1")).await;
    repo.commit_file("b.txt", "b", "second");
    let second = wait_for_run(&ns, &repo.head()).await;
    let second_name = second.metadata.name.clone().unwrap();
    let queued = wait_for("the second Run queued", TIMEOUT, || async {
        let r: Run = ns.api().get(&second_name).await.ok()?;
        let status = r.status?;
        (status.conditions.first()?.reason == "Queued").then_some(status)
    })
    .await
    .unwrap();
    assert_eq!(queued.phase, Some(RunPhase::Pending));
    assert!(
        ns.api::<Job>()
            .get(&format!("{second_name}-work-1"))
            .await
            .is_err()
    );
    // `herald_runs_queued`, counted from the cache every 10 s.
    let url = format!("http://{}/metrics", operator.listen);
    wait_for("the queued Run counted", TIMEOUT, || async {
        let scrape = reqwest::get(&url).await.ok()?.text().await.ok()?;
        let queued = herald_testkit::metric_sample(&scrape, "herald_runs_queued")?;
        (queued == 1.0).then_some(())
    })
    .await
    .unwrap();
    finish_job(&ns, &format!("{first_name}-work-1"), 0, "").await;
    wait_for_phase(&ns, &first_name, RunPhase::Succeeded).await;
    wait_for_job(&ns, &format!("{second_name}-work-1")).await;

    // Replace: the next Run cancels the second, which is executing.
    apply(
        &ns,
        json!({
            "apiVersion": "herald.dev/v1alpha1", "kind": "Action",
            "metadata": {"name": "act"}, "spec": action("Replace")
        }),
    )
    .await;
    wait_for("the Action's new policy in effect", TIMEOUT, || async {
        let a: Action = ns.api().get("act").await.ok()?;
        (a.status?.observed_generation? >= 2).then_some(())
    })
    .await
    .unwrap();
    repo.commit_file("c.txt", "c", "third");
    let third = wait_for_run(&ns, &repo.head()).await;
    let third_name = third.metadata.name.clone().unwrap();
    let cancelled = wait_for_phase(&ns, &second_name, RunPhase::Cancelled).await;
    let status = cancelled.status.unwrap();
    assert_eq!(
        status.history.last().unwrap().reason.as_deref(),
        Some("Replaced")
    );
    assert_eq!(status.steps[0].phase, RunPhase::Cancelled);
    wait_for_job(&ns, &format!("{third_name}-work-1")).await;
    wait_for("the cancelled Run's Job gone", TIMEOUT, || async {
        ns.api::<Job>()
            .get(&format!("{second_name}-work-1"))
            .await
            .is_err()
            .then_some(())
    })
    .await
    .unwrap();
    operator.stop().await;
}

#[tokio::test]
async fn a_failed_run_is_announced_and_notifiers_say_whether_they_can_send() {
    use hmac::Mac;
    let ns = namespace("notify").await;
    let (store, _state) = temp_store().await;
    let log = store.clone();
    let operator = Operator::start_with(&ns.client, &ns.name, "a", move |config| {
        config.store = Some(log);
        config.external_url = Some("https://herald.example".into());
    })
    .await;
    let (address, mut received) = herald_testkit::receiver().await;
    apply(
        &ns,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "notify"},
               "stringData": {"token": "cluster-hmac-key"}}),
    )
    .await;
    apply(
        &ns,
        json!({"apiVersion": "herald.dev/v1alpha1", "kind": "Notifier",
               "metadata": {"name": "audit"},
               "spec": {"type": "generic-hmac", "address": address,
                        "secretRef": {"name": "notify"}, "events": ["run.failed"],
                        "eventSources": [{"kind": "GitRepo", "matchLabels": {"team": "web"}}]}}),
    )
    .await;
    apply(
        &ns,
        json!({"apiVersion": "herald.dev/v1alpha1", "kind": "Notifier",
               "metadata": {"name": "broken"},
               "spec": {"type": "slack", "secretRef": {"name": "nowhere"}}}),
    )
    .await;
    apply(
        &ns,
        json!({"apiVersion": "herald.dev/v1alpha1", "kind": "Notifier",
               "metadata": {"name": "invalid"},
               "spec": {"type": "slack", "address": "https://hooks.example/x",
                        "foldWindow": "soon"}}),
    )
    .await;
    let notifiers: Api<herald_api::Notifier> = ns.api();
    let ready = wait_for_condition(&notifiers, "audit", "Ready").await;
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("True", "ReadyToSend")
    );
    let broken = wait_for_condition(&notifiers, "broken", "Ready").await;
    assert_eq!(
        (broken.status.as_str(), broken.reason.as_str()),
        ("False", "SecretMissing")
    );
    let invalid = wait_for_condition(&notifiers, "invalid", "Stalled").await;
    assert_eq!(invalid.reason, "InvalidSpec");
    assert!(
        invalid.message.contains("spec.foldWindow"),
        "{}",
        invalid.message
    );

    let repo = TestRepo::new();
    schedule_setup(&ns, &repo.url()).await;
    // Selected by the labels of the run's GitRepo, read from the operator's cache.
    apply(
        &ns,
        json!({"apiVersion": "herald.dev/v1alpha1", "kind": "GitRepo",
               "metadata": {"name": "repo", "labels": {"team": "web"}},
               "spec": {"repoUri": repo.url()}}),
    )
    .await;
    let run = wait_for_run(&ns, &repo.git(&["rev-parse", "HEAD"])).await;
    finish(&ns, &run, 3, "exploded").await;
    let (headers, body) = tokio::time::timeout(TIMEOUT, received.recv())
        .await
        .expect("the failure announced")
        .unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"cluster-hmac-key").unwrap();
    mac.update(&body);
    let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(headers["x-signature"].to_str().unwrap(), expected);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["event"], "run.failed");
    assert_eq!(body["object"]["name"], run.metadata.name.clone().unwrap());
    assert_eq!(body["action"]["name"], "act");
    assert_eq!(body["notifier"], format!("{}/audit", ns.name));
    let link = body["link"].as_str().unwrap();
    assert!(
        link.starts_with("https://herald.example/api/v1/events?involvedKind=Run&"),
        "{link}"
    );
    operator.stop().await;
}

fn registering_trigger(name: &str, host: &str, external: &str) -> Value {
    json!({
        "apiVersion": "herald.dev/v1alpha1", "kind": "WebhookTrigger",
        "metadata": {"name": name},
        "spec": {
            "sources": {"kind": "GitRepo", "names": ["repo"],
                        "watchOn": {"onChangeOnly": true, "reference": {"branch": "main"}}},
            "webhook": {
                "provider": "github",
                "authConfig": {"secretRef": {"name": "hook-secret"}, "key": "token"},
                "register": {"api": "github", "secretRef": {"name": "github-token"},
                             "externalUrl": external, "repository": format!("{host}/org/app")}
            },
            "action": {"kind": "Action", "name": "act"}
        }
    })
}

#[tokio::test]
async fn a_webhook_trigger_registers_its_hook_keeps_it_in_step_and_removes_it() {
    let ns = namespace("register").await;
    let operator = Operator::start_with(&ns.client, &ns.name, "a", |config| {
        config.hook_removal_grace = std::time::Duration::from_secs(2);
    })
    .await;
    let github = herald_testkit::StandInGithub::default();
    let host = github.start().await;
    for (name, token) in [
        ("github-token", "ghp_registering"),
        ("hook-secret", "hook-signing-secret"),
    ] {
        apply(
            &ns,
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
                          "stringData": {"token": token}}),
        )
        .await;
    }
    apply(
        &ns,
        registering_trigger("push", &host, "https://herald.example.com"),
    )
    .await;
    let triggers: Api<WebhookTrigger> = ns.api();
    let registered = wait_for_condition(&triggers, "push", "HookRegistered").await;
    assert_eq!(
        (registered.status.as_str(), registered.reason.as_str()),
        ("True", "Registered"),
        "{}",
        registered.message
    );
    let url = format!("https://herald.example.com/hooks/{}/push", ns.name);
    let hooks = github.hooks();
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    assert_eq!(hooks[0]["config"]["url"], url.as_str());
    assert_eq!(hooks[0]["config"]["secret"], "hook-signing-secret");
    assert_eq!(hooks[0]["config"]["content_type"], "json");
    assert_eq!(hooks[0]["events"], json!(["push"]));
    assert!(
        github
            .tokens
            .lock()
            .unwrap()
            .iter()
            .all(|t| t == "Bearer ghp_registering")
    );
    let trigger = triggers.get("push").await.unwrap();
    assert_eq!(trigger.status.unwrap().registered_hooks[0].url, url);
    assert!(
        trigger
            .metadata
            .finalizers
            .unwrap_or_default()
            .contains(&"herald.dev/hook-registration".to_owned())
    );

    // A new address: the hook moves (the old one is removed, not left behind).
    apply(
        &ns,
        registering_trigger("push", &host, "https://hooks.example.com/"),
    )
    .await;
    let moved = format!("https://hooks.example.com/hooks/{}/push", ns.name);
    wait_for("the hook at its new URL", TIMEOUT, || async {
        let hooks = github.hooks();
        (hooks.len() == 1 && hooks[0]["config"]["url"] == moved.as_str()).then_some(())
    })
    .await
    .unwrap();

    // Deleting the trigger removes its hook, then lets the trigger go.
    triggers.delete("push", &Default::default()).await.unwrap();
    wait_for("the trigger and its hook gone", TIMEOUT, || async {
        let gone = triggers.get_opt("push").await.ok()?.is_none();
        (gone && github.hooks().is_empty()).then_some(())
    })
    .await
    .unwrap();

    // A host that is gone answers nothing useful: after the grace the trigger goes anyway.
    apply(
        &ns,
        registering_trigger("gone", &host, "https://herald.example.com"),
    )
    .await;
    let registered = wait_for_condition(&triggers, "gone", "HookRegistered").await;
    assert_eq!(registered.status, "True");
    github
        .refuse
        .store(true, std::sync::atomic::Ordering::SeqCst);
    triggers.delete("gone", &Default::default()).await.unwrap();
    wait_for("the trigger let go", TIMEOUT, || async {
        triggers.get_opt("gone").await.ok()?.is_none().then_some(())
    })
    .await
    .unwrap();
    assert_eq!(
        github.hooks().len(),
        1,
        "the hook is left at the host (and the log says so)"
    );
    operator.stop().await;
}

/// The page at `path` of `operator`'s dashboard, once `shows` holds for its body (the pages
/// read the caches, which follow the API server a moment later).
async fn ui_page(operator: &Operator, path: &str, shows: impl Fn(&str) -> bool) -> String {
    let url = format!("http://{}{path}", operator.listen);
    wait_for(
        &format!("{path} to show what is expected"),
        TIMEOUT,
        || async {
            let response = reqwest::get(&url).await.ok()?;
            if response.status() != 200 {
                return None;
            }
            let body = response.text().await.ok()?;
            shows(&body).then_some(body)
        },
    )
    .await
    .unwrap_or_else(|e| panic!("{e}: GET {url}"))
}

#[tokio::test]
async fn the_dashboard_shows_a_schedules_run_from_the_caches() {
    let ns = namespace("ui").await;
    let repo = TestRepo::new();
    let (store, _state) = temp_store().await;
    let operator = Operator::start_with(&ns.client, &ns.name, "a", move |config| {
        config.store = Some(store);
        config.ui = true;
    })
    .await;
    schedule_setup(&ns, &repo.url()).await;
    let head = repo.git(&["rev-parse", "HEAD"]);
    let run = wait_for_run(&ns, &head).await;
    let name = run.metadata.name.clone().unwrap();

    let listed = format!(">{name}</a>");
    ui_page(&operator, "/ui/runs", |body| body.contains(&listed)).await;
    let filtered = format!("/ui/runs?trigger=every&namespace={}", ns.name);
    ui_page(&operator, &filtered, |body| body.contains(&listed)).await;

    finish(&ns, &run, 0, "all good").await;
    wait_for_phase(&ns, &name, RunPhase::Succeeded).await;
    let page = format!("/ui/runs/{name}");
    let detail = ui_page(&operator, &page, |body| {
        body.contains(">Succeeded</span></h1>")
    })
    .await;
    assert!(detail.contains("all good"), "the step's output: {detail}");

    let trigger = format!(">{}/every</a>", ns.name);
    let source = format!(">{}/repo</a>", ns.name);
    // The GitRepo's `Ready` condition, as its badge.
    let ready = "<span class=\"phase ok\">Ready</span>";
    let overview = ui_page(&operator, "/ui/", |body| {
        body.contains(&trigger) && body.contains(&source) && body.contains(ready)
    })
    .await;
    assert!(overview.contains("every 1s"), "how it fires: {overview}");
    let missing = reqwest::get(format!("http://{}/ui/runs/no-such-run", operator.listen))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    operator.stop().await;
}
