//! CRD manifests of other projects' kinds that Herald works with (Tekton's custom task runs,
//! Flux's Kustomization and HelmRelease), kept under `manifests/`, for tests that need those
//! kinds served.

use anyhow::{Context, Result};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde::Deserialize;

/// Tekton's `CustomRun` (tekton.dev/v1beta1) and `Run` (tekton.dev/v1alpha1).
pub const TEKTON_CRDS: &str = include_str!("../manifests/tekton.yaml");
/// Flux's `Kustomization` (v1, v1beta2) and `HelmRelease` (v2, v2beta2, v2beta1).
pub const FLUX_CRDS: &str = include_str!("../manifests/flux.yaml");

/// Every CRD in a multi-document YAML manifest.
pub fn parse_crds(manifest: &str) -> Result<Vec<CustomResourceDefinition>> {
    serde_yaml::Deserializer::from_str(manifest)
        .map(|document| {
            CustomResourceDefinition::deserialize(document).context("reading a CRD manifest")
        })
        .collect()
}

/// Tekton's and Flux's CRDs, ready for [`apply_crds`](crate::apply_crds).
pub fn tekton_and_flux_crds() -> Result<Vec<CustomResourceDefinition>> {
    let mut crds = parse_crds(TEKTON_CRDS)?;
    crds.extend(parse_crds(FLUX_CRDS)?);
    Ok(crds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifests_hold_the_four_kinds_with_a_status_subresource() {
        let crds = tekton_and_flux_crds().expect("the manifests parse");
        let names: Vec<_> = crds.iter().map(|c| c.spec.names.kind.as_str()).collect();
        assert_eq!(names, ["CustomRun", "Run", "Kustomization", "HelmRelease"]);
        for crd in &crds {
            for version in &crd.spec.versions {
                let status = version
                    .subresources
                    .as_ref()
                    .and_then(|s| s.status.as_ref());
                assert!(status.is_some(), "{} {}", crd.spec.names.kind, version.name);
                assert!(version.schema.is_some());
            }
        }
    }
}
