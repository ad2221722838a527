//! The Tekton custom task `FluxRevisionWait` on a real control plane, with CRDs for Tekton's
//! CustomRun / Run and Flux's Kustomization / HelmRelease applied, and Flux's events in a real
//! SQLite store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use herald_store::{EventKind, NewEvent, Store};
use herald_testkit::{TestNamespace, wait_for};
use kube::Api;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use support::{Operator, TIMEOUT, namespace_with_tekton_and_flux};

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const OTHER_SHA: &str = "89abcdef0123456789abcdef0123456789abcdef";

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
}

fn custom_runs() -> ApiResource {
    resource("tekton.dev", "v1beta1", "CustomRun", "customruns")
}

fn api(ns: &TestNamespace, resource: &ApiResource) -> Api<DynamicObject> {
    Api::namespaced_with(ns.client.clone(), &ns.name, resource)
}

/// Create `kind` `name` in the test's namespace with `spec`.
async fn create(ns: &TestNamespace, resource: &ApiResource, name: &str, spec: Value) {
    let mut object = DynamicObject::new(name, resource).within(&ns.name);
    object.data = json!({ "spec": spec });
    api(ns, resource)
        .create(&PostParams::default(), &object)
        .await
        .unwrap();
}

/// A CustomRun of FluxRevisionWait with `params` (`[name, value]` pairs).
async fn wait_run(ns: &TestNamespace, name: &str, params: &[(&str, &str)], extra: Value) {
    let mut spec = json!({
        "customRef": {"apiVersion": herald_kube::TASK_API_VERSION, "kind": herald_kube::TASK_KIND},
        "params": params.iter().map(|(n, v)| json!({"name": n, "value": v})).collect::<Vec<_>>(),
    });
    spec.as_object_mut()
        .unwrap()
        .extend(extra.as_object().cloned().unwrap_or_default());
    create(ns, &custom_runs(), name, spec).await;
}

/// The object's `Succeeded` condition, once its status is `status`.
async fn wait_for_succeeded(
    ns: &TestNamespace,
    resource: &ApiResource,
    name: &str,
    status: &str,
) -> (DynamicObject, Value) {
    let api = api(ns, resource);
    wait_for(
        &format!("{} {name} to be Succeeded={status}", resource.kind),
        TIMEOUT,
        || async {
            let object = api.get(name).await.ok()?;
            let condition = object.data["status"]["conditions"]
                .as_array()?
                .iter()
                .find(|c| c["type"] == "Succeeded")?
                .clone();
            (condition["status"] == status).then_some((object, condition))
        },
    )
    .await
    .unwrap()
}

fn result(object: &DynamicObject, name: &str) -> Option<String> {
    object.data["status"]["results"]
        .as_array()?
        .iter()
        .find(|r| r["name"] == name)?["value"]
        .as_str()
        .map(str::to_owned)
}

/// A Flux event as the provider endpoint stores it.
async fn flux_event(store: &Store, revision: &str, reason: &str, severity: &str, message: &str) {
    store
        .record_event(&NewEvent {
            revision: Some(revision.to_owned()),
            involved_kind: Some("Kustomization".into()),
            involved_namespace: Some("flux-system".into()),
            involved_name: Some("apps".into()),
            reason: Some(reason.into()),
            severity: Some(severity.into()),
            message: Some(message.into()),
            ..NewEvent::new(EventKind::FluxEvent)
        })
        .await
        .unwrap();
}

/// A real SQLite store in a temporary directory (kept alive by the returned guard).
async fn store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("herald.db")).await.unwrap();
    (store, dir)
}

async fn operator_with_store(ns: &TestNamespace, store: &Store) -> Operator {
    let store = store.clone();
    Operator::start_with(&ns.client, &ns.name, "a", |config| {
        config.store = Some(store);
    })
    .await
}

#[tokio::test]
async fn a_custom_run_succeeds_when_flux_events_report_the_revision_reconciled() {
    let ns = namespace_with_tekton_and_flux("flux-wait-ok").await;
    let (store, _dir) = store().await;
    let operator = operator_with_store(&ns, &store).await;
    wait_run(
        &ns,
        "deploy",
        &[("revision", &format!("main@sha1:{SHA}"))],
        json!({}),
    )
    .await;

    let (running, condition) = wait_for_succeeded(&ns, &custom_runs(), "deploy", "Unknown").await;
    assert_eq!(condition["reason"], "Running");
    assert!(condition["message"].as_str().unwrap().contains(SHA));
    assert!(running.data["status"]["startTime"].is_string());
    assert!(running.data["status"].get("completionTime").is_none());

    // Other forms of the same commit: Flux v1's `main/<sha>`, and a bare sha.
    flux_event(
        &store,
        &format!("main/{SHA}"),
        "Progressing",
        "info",
        "applying",
    )
    .await;
    flux_event(
        &store,
        &format!("main@sha1:{OTHER_SHA}"),
        "ReconciliationSucceeded",
        "info",
        "another revision",
    )
    .await;
    flux_event(
        &store,
        SHA,
        "ReconciliationSucceeded",
        "info",
        "Applied revision: main",
    )
    .await;

    let (done, condition) = wait_for_succeeded(&ns, &custom_runs(), "deploy", "True").await;
    assert_eq!(condition["reason"], "Succeeded");
    assert_eq!(
        condition["message"],
        "Kustomization/flux-system/apps: Applied revision: main"
    );
    let status = &done.data["status"];
    assert!(status["completionTime"].is_string());
    assert_eq!(status["startTime"], running.data["status"]["startTime"]);
    assert_eq!(
        status["observedGeneration"],
        json!(done.metadata.generation.unwrap())
    );
    assert_eq!(
        result(&done, "flux-object").as_deref(),
        Some("Kustomization/flux-system/apps")
    );
    assert_eq!(
        result(&done, "message").as_deref(),
        Some("Applied revision: main")
    );
    operator.stop().await;
}

#[tokio::test]
async fn a_flux_failure_fails_the_run_with_its_reason_and_message() {
    let ns = namespace_with_tekton_and_flux("flux-wait-failed").await;
    let (store, _dir) = store().await;
    flux_event(
        &store,
        SHA,
        "HealthCheckFailed",
        "error",
        "Deployment/apps/web not ready",
    )
    .await;
    let operator = operator_with_store(&ns, &store).await;
    wait_run(
        &ns,
        "deploy",
        &[("revision", SHA), ("kind", "Kustomization")],
        json!({}),
    )
    .await;

    let (done, condition) = wait_for_succeeded(&ns, &custom_runs(), "deploy", "False").await;
    assert_eq!(condition["reason"], "HealthCheckFailed");
    assert_eq!(
        condition["message"],
        "Kustomization/flux-system/apps: Deployment/apps/web not ready"
    );
    assert_eq!(
        result(&done, "reason").as_deref(),
        Some("HealthCheckFailed")
    );
    assert!(done.data["status"]["completionTime"].is_string());
    operator.stop().await;
}

#[tokio::test]
async fn a_run_with_no_word_from_flux_times_out() {
    let ns = namespace_with_tekton_and_flux("flux-wait-timeout").await;
    let (store, _dir) = store().await;
    let operator = operator_with_store(&ns, &store).await;
    wait_run(
        &ns,
        "deploy",
        &[("revision", SHA)],
        json!({"timeout": "2s"}),
    )
    .await;

    let (done, condition) = wait_for_succeeded(&ns, &custom_runs(), "deploy", "False").await;
    assert_eq!(condition["reason"], "CustomRunTimedOut");
    assert!(condition["message"].as_str().unwrap().contains(SHA));
    let time = |key: &str| -> jiff::Timestamp {
        done.data["status"][key].as_str().unwrap().parse().unwrap()
    };
    let took = time("completionTime").duration_since(time("startTime"));
    assert!(took >= jiff::SignedDuration::from_secs(2), "{took:?}");
    operator.stop().await;
}

#[tokio::test]
async fn a_cancelled_run_fails_as_cancelled() {
    let ns = namespace_with_tekton_and_flux("flux-wait-cancel").await;
    let (store, _dir) = store().await;
    let operator = operator_with_store(&ns, &store).await;
    wait_run(&ns, "deploy", &[("revision", SHA)], json!({})).await;
    wait_for_succeeded(&ns, &custom_runs(), "deploy", "Unknown").await;

    // What Tekton's PipelineRun controller does to cancel a CustomRun.
    let cancel = json!({"spec": {"status": "RunCancelled", "statusMessage": "CustomRun cancelled as the PipelineRun it belongs to has been cancelled."}});
    api(&ns, &custom_runs())
        .patch("deploy", &PatchParams::default(), &Patch::Merge(&cancel))
        .await
        .unwrap();

    let (done, condition) = wait_for_succeeded(&ns, &custom_runs(), "deploy", "False").await;
    assert_eq!(condition["reason"], "CustomRunCancelled");
    assert!(
        condition["message"]
            .as_str()
            .unwrap()
            .contains("PipelineRun")
    );
    assert!(done.data["status"]["completionTime"].is_string());
    assert_eq!(done.data["status"]["observedGeneration"], json!(2));
    operator.stop().await;
}

/// Write `status` to a Flux object through its status subresource, as its controller would.
async fn flux_object(ns: &TestNamespace, resource: &ApiResource, name: &str, status: Value) {
    create(ns, resource, name, json!({"interval": "10m"})).await;
    api(ns, resource)
        .patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(&json!({"status": status})),
        )
        .await
        .unwrap();
}

fn ready(status: &str, reason: &str, message: &str) -> Value {
    json!([{
        "type": "Ready", "status": status, "reason": reason, "message": message,
        "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1,
    }])
}

#[tokio::test]
async fn a_ready_kustomization_that_applied_the_revision_succeeds_the_run_without_a_store() {
    let ns = namespace_with_tekton_and_flux("flux-wait-ks").await;
    let kustomizations = resource(
        "kustomize.toolkit.fluxcd.io",
        "v1",
        "Kustomization",
        "kustomizations",
    );
    flux_object(&ns, &kustomizations, "apps", json!({
        "lastAppliedRevision": format!("main@sha1:{SHA}"),
        "lastAttemptedRevision": format!("main@sha1:{SHA}"),
        "conditions": ready("True", "ReconciliationSucceeded", format!("Applied revision: main@sha1:{SHA}").as_str()),
    }))
    .await;
    // Another Kustomization that has not reached the revision does not hold it back.
    flux_object(
        &ns,
        &kustomizations,
        "infra",
        json!({
            "lastAppliedRevision": format!("main@sha1:{OTHER_SHA}"),
            "conditions": ready("True", "ReconciliationSucceeded", "Applied revision: older"),
        }),
    )
    .await;
    let operator = Operator::start(&ns.client, &ns.name, "a").await;
    wait_run(
        &ns,
        "deploy",
        &[("revision", SHA), ("namespace", &ns.name)],
        json!({}),
    )
    .await;

    let (done, condition) = wait_for_succeeded(&ns, &custom_runs(), "deploy", "True").await;
    let object = format!("Kustomization/{}/apps", ns.name);
    assert_eq!(result(&done, "flux-object"), Some(object.clone()));
    assert!(condition["message"].as_str().unwrap().starts_with(&object));
    operator.stop().await;
}

#[tokio::test]
async fn a_helm_release_that_failed_the_revision_fails_the_run() {
    let ns = namespace_with_tekton_and_flux("flux-wait-hr").await;
    let releases = resource(
        "helm.toolkit.fluxcd.io",
        "v2",
        "HelmRelease",
        "helmreleases",
    );
    flux_object(&ns, &releases, "web", json!({
        "lastAttemptedRevision": format!("main@sha1:{SHA}"),
        "conditions": ready("False", "UpgradeFailed", "Helm upgrade failed: timed out waiting for the condition"),
    }))
    .await;
    let operator = Operator::start(&ns.client, &ns.name, "a").await;
    wait_run(
        &ns,
        "deploy",
        &[("revision", SHA), ("kind", "HelmRelease"), ("name", "web")],
        json!({}),
    )
    .await;

    let (_, condition) = wait_for_succeeded(&ns, &custom_runs(), "deploy", "False").await;
    assert_eq!(condition["reason"], "UpgradeFailed");
    assert_eq!(
        condition["message"],
        format!(
            "HelmRelease/{}/web: Helm upgrade failed: timed out waiting for the condition",
            ns.name
        )
    );
    operator.stop().await;
}

#[tokio::test]
async fn a_v1alpha1_run_is_served_too() {
    let ns = namespace_with_tekton_and_flux("flux-wait-run").await;
    let (store, _dir) = store().await;
    let operator = operator_with_store(&ns, &store).await;
    let runs = resource("tekton.dev", "v1alpha1", "Run", "runs");
    create(
        &ns,
        &runs,
        "deploy",
        json!({
            "ref": {"apiVersion": herald_kube::TASK_API_VERSION, "kind": herald_kube::TASK_KIND},
            "params": [{"name": "revision", "value": SHA}],
            "timeout": "1h0m0s",
        }),
    )
    .await;
    wait_for_succeeded(&ns, &runs, "deploy", "Unknown").await;
    flux_event(
        &store,
        SHA,
        "ReconciliationSucceeded",
        "info",
        "Applied revision",
    )
    .await;

    let (done, _) = wait_for_succeeded(&ns, &runs, "deploy", "True").await;
    assert_eq!(
        result(&done, "flux-object").as_deref(),
        Some("Kustomization/flux-system/apps")
    );
    operator.stop().await;
}

#[tokio::test]
async fn other_custom_tasks_are_left_alone_and_bad_params_are_reported() {
    let ns = namespace_with_tekton_and_flux("flux-wait-others").await;
    create(
        &ns,
        &custom_runs(),
        "someone-elses",
        json!({
            "customRef": {"apiVersion": "example.dev/v1alpha1", "kind": "Wait"},
            "params": [{"name": "revision", "value": SHA}],
        }),
    )
    .await;
    let operator = Operator::start(&ns.client, &ns.name, "a").await;
    wait_run(&ns, "typo", &[("revison", SHA)], json!({})).await;

    let (_, condition) = wait_for_succeeded(&ns, &custom_runs(), "typo", "False").await;
    assert_eq!(condition["reason"], "InvalidSpec");
    assert!(
        condition["message"]
            .as_str()
            .unwrap()
            .contains("unknown param \"revison\""),
        "{condition}"
    );
    // Created first, so the controller saw it before the run it has finished.
    let untouched = api(&ns, &custom_runs()).get("someone-elses").await.unwrap();
    assert!(
        untouched.data.get("status").is_none(),
        "{:?}",
        untouched.data
    );
    operator.stop().await;
}
