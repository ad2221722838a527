use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};

/// How long a CRD may take to become Established (usually well under a second).
const ESTABLISHED_TIMEOUT: Duration = Duration::from_secs(30);

/// Server-side applies `crds` and waits until each one is Established, i.e. its resources can
/// be served.
pub async fn apply_crds(client: &Client, crds: &[CustomResourceDefinition]) -> Result<()> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply("herald-testkit").force();
    for crd in crds {
        let name = crd.metadata.name.as_deref().context("CRD without a name")?;
        api.patch(name, &params, &Patch::Apply(crd))
            .await
            .with_context(|| format!("applying CRD {name}"))?;
    }
    for crd in crds {
        let name = crd.metadata.name.as_deref().unwrap_or_default();
        let established = await_condition(api.clone(), name, conditions::is_crd_established());
        tokio::time::timeout(ESTABLISHED_TIMEOUT, established)
            .await
            .with_context(|| format!("CRD {name} not Established after {ESTABLISHED_TIMEOUT:?}"))?
            .with_context(|| format!("watching CRD {name}"))?;
    }
    Ok(())
}
