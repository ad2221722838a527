//! CRD generation for `herald crds` and `deploy/crds/`.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use kube::CustomResourceExt;

use crate::{
    Action, ClusterAction, ClusterGitRepo, GitRepo, ImageUpdate, Notifier, Run, ScheduleTrigger,
    WebhookTrigger,
};

/// Every CRD Herald serves, in a stable order.
pub fn all_crds() -> Vec<CustomResourceDefinition> {
    let mut crds = vec![
        GitRepo::crd(),
        ClusterGitRepo::crd(),
        ScheduleTrigger::crd(),
        WebhookTrigger::crd(),
        Action::crd(),
        ClusterAction::crd(),
        Run::crd(),
        ImageUpdate::crd(),
        Notifier::crd(),
    ];
    for crd in &mut crds {
        for version in &mut crd.spec.versions {
            if let Some(schema) = version
                .schema
                .as_mut()
                .and_then(|s| s.open_api_v3_schema.as_mut())
            {
                drop_null_enum_values(schema);
            }
        }
    }
    crds
}

/// An optional enum gets `null` among its `enum` values, which Kubernetes 1.20 refuses
/// ("unknown object type nil"). `nullable: true` already says the same, so drop it.
fn drop_null_enum_values(schema: &mut JSONSchemaProps) {
    if let Some(values) = schema.enum_.as_mut() {
        values.retain(|v| !v.0.is_null());
    }
    let children = schema
        .properties
        .iter_mut()
        .flat_map(|p| p.values_mut())
        .chain(schema.items.iter_mut().flat_map(|items| match items {
            JSONSchemaPropsOrArray::Schema(one) => std::slice::from_mut(one.as_mut()),
            JSONSchemaPropsOrArray::Schemas(many) => many.as_mut_slice(),
        }))
        .chain(schema.one_of.iter_mut().flatten())
        .chain(schema.any_of.iter_mut().flatten())
        .chain(schema.all_of.iter_mut().flatten());
    for child in children {
        drop_null_enum_values(child);
    }
    if let Some(JSONSchemaPropsOrBool::Schema(extra)) = schema.additional_properties.as_mut() {
        drop_null_enum_values(extra);
    }
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
