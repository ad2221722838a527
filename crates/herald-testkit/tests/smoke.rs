//! The harness on the real control plane: a CRD becomes Established and serves objects, and
//! the real Job controller completes or fails a Job once the test plays the kubelet.

use std::time::Duration;

use herald_testkit::{TestCluster, TestNamespace, apply_crds, complete_pod, shared, wait_for};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams, PostParams};
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(30);

async fn cluster() -> &'static TestCluster {
    shared().await.unwrap_or_else(|e| panic!("{e:#}"))
}

#[tokio::test]
async fn crd_is_established_and_serves_objects() {
    let cluster = cluster().await;
    let crd: CustomResourceDefinition = serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": "widgets.smoke.herald.dev" },
        "spec": {
            "group": "smoke.herald.dev",
            "names": { "kind": "Widget", "plural": "widgets", "singular": "widget" },
            "scope": "Namespaced",
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": { "openAPIV3Schema": {
                    "type": "object",
                    "properties": { "spec": {
                        "type": "object",
                        "properties": { "size": { "type": "integer", "minimum": 1 } },
                    }},
                }},
            }],
        },
    }))
    .unwrap();
    apply_crds(&cluster.client(), std::slice::from_ref(&crd))
        .await
        .unwrap();
    // Applying again is a no-op, as the operator's own start-up will do.
    apply_crds(&cluster.client(), &[crd]).await.unwrap();

    let ns = cluster.namespace("crd").await.unwrap();
    let gvk = GroupVersionKind::gvk("smoke.herald.dev", "v1", "Widget");
    let widgets: Api<DynamicObject> =
        Api::namespaced_with(ns.client.clone(), &ns.name, &ApiResource::from_gvk(&gvk));
    let widget: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "smoke.herald.dev/v1", "kind": "Widget",
        "metadata": { "name": "w" }, "spec": { "size": 3 },
    }))
    .unwrap();
    let created = widgets
        .create(&PostParams::default(), &widget)
        .await
        .unwrap();
    assert_eq!(created.data["spec"]["size"], 3);

    // The OpenAPI schema is enforced.
    let mut bad = widget;
    bad.metadata.name = Some("bad".into());
    bad.data["spec"]["size"] = json!(0);
    assert!(widgets.create(&PostParams::default(), &bad).await.is_err());
}

#[tokio::test]
async fn job_completes_when_its_pod_exits_zero() {
    let ns = cluster().await.namespace("job-ok").await.unwrap();
    let job = run_job(&ns, 0).await;
    let status = job.status.unwrap_or_default();
    assert_eq!(status.succeeded, Some(1));
    assert!(has_condition(&status.conditions, "Complete"), "{status:?}");
}

#[tokio::test]
async fn job_fails_when_its_pod_exits_nonzero() {
    let ns = cluster().await.namespace("job-fail").await.unwrap();
    let job = run_job(&ns, 1).await;
    let status = job.status.unwrap_or_default();
    assert_eq!(status.failed, Some(1));
    assert!(has_condition(&status.conditions, "Failed"), "{status:?}");
}

/// Creates a one-container Job without retries, "runs" its Pod to `exit_code` and returns the
/// Job once the Job controller has finished it.
async fn run_job(ns: &TestNamespace, exit_code: i32) -> Job {
    let jobs: Api<Job> = ns.api();
    let job: Job = serde_json::from_value(json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": { "name": "smoke" },
        "spec": {
            "backoffLimit": 0,
            "template": { "spec": {
                "restartPolicy": "Never",
                "initContainers": [{ "name": "setup", "image": "busybox" }],
                "containers": [{ "name": "main", "image": "busybox" }],
            }},
        },
    }))
    .expect("a Job");
    jobs.create(&PostParams::default(), &job)
        .await
        .expect("create the Job");

    let pods: Api<Pod> = ns.api();
    let by_job = ListParams::default().labels("job-name=smoke");
    let pod = wait_for("the Job's pod", TIMEOUT, || async {
        pods.list(&by_job).await.ok()?.items.into_iter().next()
    })
    .await
    .expect("the Job controller creates a pod");
    complete_pod(
        &ns.client,
        &ns.name,
        &pod.name_any(),
        exit_code,
        Some("the end"),
    )
    .await
    .expect("complete the pod");

    let pod = pods.get(&pod.name_any()).await.expect("read the pod");
    let statuses = pod
        .status
        .and_then(|s| s.container_statuses)
        .unwrap_or_default();
    let terminated = statuses[0]
        .state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .expect("a terminated container");
    assert_eq!(
        (terminated.exit_code, terminated.message.as_deref()),
        (exit_code, Some("the end"))
    );

    wait_for("the Job to finish", TIMEOUT, || async {
        let job = jobs.get("smoke").await.ok()?;
        let conditions = &job.status.as_ref()?.conditions;
        (has_condition(conditions, "Complete") || has_condition(conditions, "Failed"))
            .then_some(job)
    })
    .await
    .expect("the Job controller finishes the Job")
}

fn has_condition(
    conditions: &Option<Vec<k8s_openapi::api::batch::v1::JobCondition>>,
    type_: &str,
) -> bool {
    conditions
        .iter()
        .flatten()
        .any(|c| c.type_ == type_ && c.status == "True")
}
