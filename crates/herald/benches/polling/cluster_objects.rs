//! What the cluster holds before Herald starts: Herald's CRDs (from `herald crds`), a
//! namespace whose service accounts are ready, and the bench's objects.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, bail};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, Namespace, Pod, ServiceAccount};
use kube::api::{Api, ApiResource, DynamicObject, ListParams, ObjectMeta, PostParams};
use kube::core::GroupVersionKind;
use serde_json::Value;

use crate::herald::binary;

/// v1.20's ServiceAccount admission rejects Pods until the account's token Secret exists.
const ACCOUNTS_DEADLINE: Duration = Duration::from_secs(60);
/// The account Jobs of an Action that names none run as.
const ACTION_ACCOUNT: &str = "herald-action";

/// Applies the CRDs the binary under test prints, and waits until they are served.
pub async fn apply_crds(client: &kube::Client) -> anyhow::Result<()> {
    let out = tokio::process::Command::new(binary())
        .arg("crds")
        .output()
        .await
        .context("running herald crds")?;
    if !out.status.success() {
        bail!("herald crds: {}", String::from_utf8_lossy(&out.stderr));
    }
    let crds = herald_testkit::parse_crds(&String::from_utf8_lossy(&out.stdout))?;
    herald_testkit::apply_crds(client, &crds).await
}

/// Creates `name` with the service account Jobs use, and waits until both accounts have
/// their token Secrets (so the Job controller's Pods are admitted once, not retried).
pub async fn create_namespace(client: &kube::Client, name: &str) -> anyhow::Result<()> {
    let meta = |name: &str| ObjectMeta {
        name: Some(name.to_owned()),
        ..ObjectMeta::default()
    };
    let namespace = Namespace {
        metadata: meta(name),
        ..Namespace::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await
        .with_context(|| format!("creating namespace {name}"))?;
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), name);
    let account = ServiceAccount {
        metadata: meta(ACTION_ACCOUNT),
        ..ServiceAccount::default()
    };
    accounts.create(&PostParams::default(), &account).await?;
    for account in ["default", ACTION_ACCOUNT] {
        herald_testkit::wait_for(
            &format!("service account {name}/{account}"),
            ACCOUNTS_DEADLINE,
            || async {
                let sa = accounts.get_opt(account).await.ok()??;
                sa.secrets.is_some_and(|s| !s.is_empty()).then_some(())
            },
        )
        .await?;
    }
    Ok(())
}

/// Creates every object in `namespace`, one after another.
pub async fn create_objects(
    client: &kube::Client,
    namespace: &str,
    objects: &[Value],
) -> anyhow::Result<()> {
    for object in objects {
        let object: DynamicObject = serde_json::from_value(object.clone())?;
        let api = api_for(client, namespace, &object)?;
        api.create(&PostParams::default(), &object)
            .await
            .with_context(|| format!("creating {:?}", object.metadata.name))?;
    }
    Ok(())
}

/// Runs in `namespace` (each trigger's first revision makes one).
pub async fn count_runs(client: &kube::Client, namespace: &str) -> anyhow::Result<usize> {
    let gvk = GroupVersionKind::gvk("herald.dev", "v1alpha1", "Run");
    let api: Api<DynamicObject> =
        Api::namespaced_with(client.clone(), namespace, &ApiResource::from_gvk(&gvk));
    Ok(api.list_metadata(&ListParams::default()).await?.items.len())
}

/// Whether the first Runs' consequences are done: `runs` Runs, each with its Job, each Job
/// with its Pod. Until then the Job controller (and Herald following the Jobs) keep writing,
/// which is start-up, not polling. Pods stay Pending: no kubelet runs them.
pub async fn jobs_settled(
    client: &kube::Client,
    namespace: &str,
    runs: usize,
) -> anyhow::Result<bool> {
    let params = ListParams::default();
    let jobs: Api<Job> = Api::namespaced(client.clone(), namespace);
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let jobs = jobs.list_metadata(&params).await?.items.len();
    let pods = pods.list_metadata(&params).await?.items.len();
    Ok(count_runs(client, namespace).await? >= runs && jobs >= runs && pods >= jobs)
}

fn api_for(
    client: &kube::Client,
    namespace: &str,
    object: &DynamicObject,
) -> anyhow::Result<Api<DynamicObject>> {
    let types = object.types.as_ref().context("object without a kind")?;
    let (group, version) = types
        .api_version
        .split_once('/')
        .context("apiVersion without a group")?;
    let gvk = GroupVersionKind::gvk(group, version, &types.kind);
    Ok(Api::namespaced_with(
        client.clone(),
        namespace,
        &ApiResource::from_gvk(&gvk),
    ))
}

/// Events created in `namespace` within `(from, to)`, by "component/reason", most first: the
/// API server counts writes but cannot say whose they are.
pub async fn events_between(
    client: &kube::Client,
    namespace: &str,
    (from, to): (jiff::Timestamp, jiff::Timestamp),
) -> anyhow::Result<Vec<(String, usize)>> {
    let api: Api<Event> = Api::namespaced(client.clone(), namespace);
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for event in api.list(&ListParams::default()).await?.items {
        let Some(created) = event.metadata.creation_timestamp.as_ref().map(|t| t.0) else {
            continue;
        };
        // Timestamps have whole seconds: an event of the window's first second counts.
        if created < from.checked_sub(jiff::SignedDuration::from_secs(1))? || created > to {
            continue;
        }
        let component = event
            .reporting_component
            .filter(|c| !c.is_empty())
            .or_else(|| event.source.and_then(|s| s.component))
            .unwrap_or_else(|| "-".into());
        let reason = event.reason.unwrap_or_default();
        *counts.entry(format!("{component}/{reason}")).or_default() += 1;
    }
    let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
    counts.sort_by_key(|c| std::cmp::Reverse(c.1));
    Ok(counts)
}
