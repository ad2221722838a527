//! CRD generation for `herald crds` and `deploy/crds/`.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use crate::{Action, ClusterAction, ClusterGitRepo, GitRepo, Run, ScheduleTrigger, WebhookTrigger};

/// Every CRD Herald serves, in a stable order.
pub fn all_crds() -> Vec<CustomResourceDefinition> {
    vec![
        GitRepo::crd(),
        ClusterGitRepo::crd(),
        ScheduleTrigger::crd(),
        WebhookTrigger::crd(),
        Action::crd(),
        ClusterAction::crd(),
        Run::crd(),
    ]
}

/// All CRDs as one multi-document YAML stream.
pub fn crds_yaml() -> Result<String, serde_yaml::Error> {
    let mut out = String::new();
    for crd in all_crds() {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&crd)?);
    }
    Ok(out)
}
