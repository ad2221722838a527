//! Readiness of actions: a valid spec is Ready, an invalid one Stalled with the reason.

use std::sync::Arc;

use herald_api::validate::{Validate, join_errors};
use herald_api::{Action as HeraldAction, ActionStatus, ClusterAction};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use crate::conditions::conditions;
use crate::context::Context;
use crate::error::{Error, KubeContext};
use crate::labels;

/// The outcome a status reports.
pub(crate) struct Verdict {
    pub(crate) ready: bool,
    pub(crate) stalled: bool,
    pub(crate) reason: &'static str,
    pub(crate) message: String,
}

pub async fn reconcile_action(
    action: Arc<HeraldAction>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let api = namespaced(&ctx, &*action);
    record_validity(&api, &*action, action.status.as_ref()).await
}

pub async fn reconcile_cluster_action(
    action: Arc<ClusterAction>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let api = Api::all(ctx.client.clone());
    record_validity(&api, &*action, action.status.as_ref()).await
}

/// Ready when the spec is valid, Stalled with the reasons when not; then wait for a change.
async fn record_validity<K>(
    api: &Api<K>,
    action: &K,
    status: Option<&ActionStatus>,
) -> Result<Action, Error>
where
    K: Validate
        + Resource<DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let verdict = action.validate().map_or_else(|e| invalid(&e), |()| valid());
    let previous = status.map(|s| s.conditions.as_slice()).unwrap_or_default();
    write(api, action, previous, &verdict).await?;
    Ok(Action::await_change())
}

pub(crate) fn namespaced<K>(ctx: &Context, object: &K) -> Api<K>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    Api::namespaced(ctx.client.clone(), &object.namespace().unwrap_or_default())
}

pub(crate) fn invalid(errors: &[herald_api::validate::FieldError]) -> Verdict {
    Verdict {
        ready: false,
        stalled: true,
        reason: "InvalidSpec",
        message: join_errors(errors),
    }
}

fn valid() -> Verdict {
    Verdict {
        ready: true,
        stalled: false,
        reason: "Valid",
        message: "the spec is valid".into(),
    }
}

/// Server-side apply the conditions, unless they are unchanged.
pub(crate) async fn write<K>(
    api: &Api<K>,
    object: &K,
    previous: &[Condition],
    verdict: &Verdict,
) -> Result<(), Error>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let generation = object.meta().generation;
    let next = conditions(
        previous,
        verdict.ready,
        verdict.stalled,
        verdict.reason,
        &verdict.message,
        generation,
    );
    if next == previous {
        return Ok(());
    }
    let status = json!({ "conditions": next, "observedGeneration": generation });
    let patch =
        json!({ "apiVersion": K::api_version(&()), "kind": K::kind(&()), "status": status });
    let params = PatchParams::apply(labels::FIELD_MANAGER).force();
    api.patch_status(&object.name_any(), &params, &Patch::Apply(&patch))
        .await
        .step("writing a status")?;
    Ok(())
}
