use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateTerminated, ContainerStatus, Pod, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};

/// Plays the kubelet's part for a Pod that "ran" to the end: sets its phase (Succeeded for
/// `exit_code == 0`, else Failed), marks its containers terminated with `exit_code` and
/// `message` as the termination message, and its init containers terminated with 0. Written
/// through the status subresource, as a kubelet does, so the Job controller reacts to it.
pub async fn complete_pod(
    client: &Client,
    ns: &str,
    pod_name: &str,
    exit_code: i32,
    message: Option<&str>,
) -> Result<()> {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let pod = api
        .get(pod_name)
        .await
        .with_context(|| format!("reading pod {ns}/{pod_name}"))?;
    let spec = pod.spec.unwrap_or_default();
    let now = Time(Timestamp::now());
    let status = PodStatus {
        phase: Some(
            if exit_code == 0 {
                "Succeeded"
            } else {
                "Failed"
            }
            .to_owned(),
        ),
        start_time: Some(now.clone()),
        init_container_statuses: Some(
            spec.init_containers
                .unwrap_or_default()
                .iter()
                .map(|c| terminated(c, 0, None, &now))
                .collect(),
        ),
        container_statuses: Some(
            spec.containers
                .iter()
                .map(|c| terminated(c, exit_code, message, &now))
                .collect(),
        ),
        ..Default::default()
    };
    let patch = serde_json::json!({ "status": status });
    api.patch_status(pod_name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .with_context(|| format!("setting status of pod {ns}/{pod_name}"))?;
    Ok(())
}

fn terminated(c: &Container, exit_code: i32, message: Option<&str>, now: &Time) -> ContainerStatus {
    ContainerStatus {
        name: c.name.clone(),
        image: c.image.clone().unwrap_or_default(),
        image_id: String::new(),
        ready: false,
        restart_count: 0,
        started: Some(false),
        state: Some(ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code,
                reason: Some(if exit_code == 0 { "Completed" } else { "Error" }.to_owned()),
                message: message.map(str::to_owned),
                started_at: Some(now.clone()),
                finished_at: Some(now.clone()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}
