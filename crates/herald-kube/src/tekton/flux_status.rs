//! The second signal: the status of Flux's Kustomizations and HelmReleases in the cluster,
//! where those kinds are served.

use std::time::Duration;

use herald_core::flux::{FAILURE_REASONS, SUCCESS_REASONS};
use kube::api::{ApiResource, DynamicObject, ListParams};
use kube::discovery::Discovery;
use kube::{Api, Client, ResourceExt};
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::custom_run::WaitRequest;
use super::signal::OwnedReport;
use crate::error::{Error, KubeContext};

/// How long a discovery answer is trusted: Flux may be installed (or removed) while Herald
/// runs.
const DISCOVERY_TTL: Duration = Duration::from_secs(60);

/// Flux's kinds with a status Herald reads, each with the versions it knows, newest first.
const KINDS: [(&str, &str, &[&str]); 2] = [
    (
        "kustomize.toolkit.fluxcd.io",
        "Kustomization",
        &["v1", "v1beta2"],
    ),
    (
        "helm.toolkit.fluxcd.io",
        "HelmRelease",
        &["v2", "v2beta2", "v2beta1"],
    ),
];

/// Which Flux kinds the cluster serves, rediscovered at most every [`DISCOVERY_TTL`].
#[derive(Debug, Default)]
pub struct FluxKinds {
    cached: Mutex<Option<(Instant, Vec<ApiResource>)>>,
}

impl FluxKinds {
    /// The served kinds (their newest served version each); none when Flux is not installed.
    pub async fn served(&self, client: &Client) -> Result<Vec<ApiResource>, Error> {
        let mut cached = self.cached.lock().await;
        if let Some((_, kinds)) = cached
            .as_ref()
            .filter(|(at, _)| at.elapsed() < DISCOVERY_TTL)
        {
            return Ok(kinds.clone());
        }
        let groups: Vec<&str> = KINDS.iter().map(|(group, ..)| *group).collect();
        let discovery = Discovery::new(client.clone())
            .filter(&groups)
            .run()
            .await
            .step("discovering Flux's kinds")?;
        let kinds: Vec<ApiResource> = KINDS
            .iter()
            .filter_map(|(group, kind, versions)| {
                let group = discovery.get(group)?;
                versions.iter().find_map(|version| {
                    group
                        .versioned_resources(version)
                        .into_iter()
                        .map(|(resource, _)| resource)
                        .find(|resource| resource.kind == *kind)
                })
            })
            .collect();
        let before: Option<Vec<&str>> = cached
            .as_ref()
            .map(|(_, old)| old.iter().map(|k| k.kind.as_str()).collect());
        let now: Vec<&str> = kinds.iter().map(|k| k.kind.as_str()).collect();
        // Said once, and again only when it changes.
        if before.as_ref() != Some(&now) {
            if now.is_empty() {
                tracing::info!(
                    "Flux's Kustomization and HelmRelease are not served: FluxRevisionWait reads Flux's events only"
                );
            } else {
                tracing::info!(kinds = ?now, "FluxRevisionWait reads the status of Flux's objects");
            }
        }
        *cached = Some((Instant::now(), kinds.clone()));
        Ok(kinds)
    }
}

/// What the Flux objects the request names say about its revision.
pub async fn reports(
    client: &Client,
    kinds: &[ApiResource],
    request: &WaitRequest,
    scope: Option<&str>,
) -> Result<Vec<OwnedReport>, Error> {
    let namespace = request.namespace.as_deref().or(scope);
    let mut found = Vec::new();
    for resource in kinds {
        if request.kind.as_ref().is_some_and(|k| *k != resource.kind) {
            continue;
        }
        let api: Api<DynamicObject> = match namespace {
            Some(namespace) => Api::namespaced_with(client.clone(), namespace, resource),
            None => Api::all_with(client.clone(), resource),
        };
        let objects = match (&request.name, namespace) {
            (Some(name), Some(_)) => api
                .get_opt(name)
                .await
                .step("reading a Flux object")?
                .into_iter()
                .collect(),
            _ => {
                api.list(&ListParams::default())
                    .await
                    .step("listing Flux objects")?
                    .items
            }
        };
        found.extend(
            objects
                .iter()
                .filter(|o| request.name.as_ref().is_none_or(|n| *n == o.name_any()))
                .filter_map(|o| report(&resource.kind, o, &request.revision)),
        );
    }
    Ok(found)
}

/// What one object's status says about `revision`: reconciled when it is the last applied
/// revision and `Ready` is `True`; failed when it is the last attempted one and `Ready` is
/// `False` for one of Flux's failure reasons; nothing otherwise.
pub fn report(kind: &str, object: &DynamicObject, revision: &str) -> Option<OwnedReport> {
    let status = object.data.get("status")?;
    let ready = status
        .get("conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("Ready"))?;
    let object_name = format!(
        "{kind}/{}/{}",
        object.namespace().unwrap_or_default(),
        object.name_any()
    );
    let message = text(ready, "message").to_owned();
    match text(ready, "status") {
        "True" if applied(status).is_some_and(|r| same_revision(r, revision)) => {
            Some(OwnedReport {
                object: object_name,
                // Any Ready=True reason (HelmRelease's `TestSucceeded` too) means reconciled.
                reason: SUCCESS_REASONS[0].to_owned(),
                severity: "info".into(),
                message,
            })
        }
        "False"
            if same_revision(text(status, "lastAttemptedRevision"), revision)
                && FAILURE_REASONS.contains(&text(ready, "reason")) =>
        {
            Some(OwnedReport {
                object: object_name,
                reason: text(ready, "reason").to_owned(),
                severity: "error".into(),
                message,
            })
        }
        _ => None,
    }
}

/// The string at `key` of `value`, empty when missing.
fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// The last applied revision: `lastAppliedRevision`, or for a HelmRelease v2 whose field is
/// gone, the chart version of its deployed release at the head of `history`.
fn applied(status: &Value) -> Option<&str> {
    let field = status
        .get("lastAppliedRevision")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty());
    field.or_else(|| {
        let latest = status.get("history")?.as_array()?.first()?;
        (latest.get("status")?.as_str()? == "deployed")
            .then(|| latest.get("chartVersion")?.as_str())?
    })
}

/// Whether two revisions are the same: by commit when both name one (`main@sha1:<sha>`,
/// `main/<sha>`, `<sha>`), else as written (a chart version, a tag).
fn same_revision(a: &str, b: &str) -> bool {
    match (
        herald_store::normalize_revision(a),
        herald_store::normalize_revision(b),
    ) {
        (Some(a), Some(b)) => a == b,
        _ => !a.trim().is_empty() && a.trim() == b.trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    fn kustomization(status: Value) -> DynamicObject {
        let resource = ApiResource::from_gvk_with_plural(
            &kube::api::GroupVersionKind::gvk("kustomize.toolkit.fluxcd.io", "v1", "Kustomization"),
            "kustomizations",
        );
        let mut object = DynamicObject::new("apps", &resource).within("flux-system");
        object.data = json!({ "status": status });
        object
    }

    fn ready(status: &str, reason: &str) -> Value {
        json!([{"type": "Ready", "status": status, "reason": reason, "message": "m"}])
    }

    #[test]
    fn applied_and_ready_is_reconciled() {
        let object = kustomization(json!({
            "lastAppliedRevision": format!("main@sha1:{SHA}"),
            "lastAttemptedRevision": format!("main@sha1:{SHA}"),
            "conditions": ready("True", "ReconciliationSucceeded"),
        }));
        let found = report("Kustomization", &object, SHA).expect("a report");
        assert_eq!(found.object, "Kustomization/flux-system/apps");
        assert_eq!(found.reason, "ReconciliationSucceeded");
        assert_eq!(report("Kustomization", &object, &"f".repeat(40)), None);
    }

    #[test]
    fn attempted_and_failed_is_a_failure() {
        let object = kustomization(json!({
            "lastAppliedRevision": format!("main@sha1:{}", "f".repeat(40)),
            "lastAttemptedRevision": format!("main/{SHA}"),
            "conditions": ready("False", "HealthCheckFailed"),
        }));
        let found = report("Kustomization", &object, SHA).expect("a report");
        assert_eq!(
            (found.reason.as_str(), found.severity.as_str()),
            ("HealthCheckFailed", "error")
        );
        // Not ready for a reason that is no failure (waiting on a dependency): nothing yet.
        let waiting = kustomization(json!({
            "lastAttemptedRevision": SHA,
            "conditions": ready("False", "DependencyNotReady"),
        }));
        assert_eq!(report("Kustomization", &waiting, SHA), None);
        // Progressing: nothing yet.
        let progressing = kustomization(json!({
            "lastAttemptedRevision": SHA,
            "conditions": ready("Unknown", "Progressing"),
        }));
        assert_eq!(report("Kustomization", &progressing, SHA), None);
    }

    #[test]
    fn a_helm_release_v2_reads_its_history() {
        let object = kustomization(json!({
            "history": [{"chartVersion": "1.2.3", "status": "deployed"}],
            "conditions": ready("True", "TestSucceeded"),
        }));
        assert!(report("HelmRelease", &object, "1.2.3").is_some());
        assert_eq!(report("HelmRelease", &object, "1.2.4"), None);
        assert!(!same_revision("", ""));
    }
}
