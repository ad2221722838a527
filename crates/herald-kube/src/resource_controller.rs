//! Readiness of sources and actions: validated specs, reachable repositories.

use std::sync::Arc;

use herald_api::validate::{Validate, join_errors};
use herald_api::{Action as HeraldAction, ClusterAction, ClusterGitRepo, GitRepo, SourceKind};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use crate::conditions::conditions;
use crate::context::Context;
use crate::error::{Error, KubeContext};
use crate::labels;
use crate::sources;

/// The outcome a status reports.
struct Verdict {
    ready: bool,
    stalled: bool,
    reason: &'static str,
    message: String,
}

pub async fn reconcile_git_repo(repo: Arc<GitRepo>, ctx: Arc<Context>) -> Result<Action, Error> {
    let verdict = match repo.validate() {
        Err(errors) => invalid(&errors),
        Ok(()) => {
            reachable(
                &ctx,
                &repo.namespace().unwrap_or_default(),
                SourceKind::GitRepo,
                &repo.name_any(),
            )
            .await
        }
    };
    let previous = repo
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    write(&namespaced(&ctx, &*repo), &*repo, previous, &verdict).await?;
    Ok(requeue(&ctx, &verdict))
}

pub async fn reconcile_cluster_git_repo(
    repo: Arc<ClusterGitRepo>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let verdict = match repo.validate() {
        Err(errors) => invalid(&errors),
        Ok(()) => {
            reachable(
                &ctx,
                &ctx.config.namespace,
                SourceKind::ClusterGitRepo,
                &repo.name_any(),
            )
            .await
        }
    };
    let previous = repo
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    write(&Api::all(ctx.client.clone()), &*repo, previous, &verdict).await?;
    Ok(requeue(&ctx, &verdict))
}

pub async fn reconcile_action(
    action: Arc<HeraldAction>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let verdict = action.validate().map_or_else(|e| invalid(&e), |()| valid());
    let previous = action
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    write(&namespaced(&ctx, &*action), &*action, previous, &verdict).await?;
    Ok(Action::await_change())
}

pub async fn reconcile_cluster_action(
    action: Arc<ClusterAction>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let verdict = action.validate().map_or_else(|e| invalid(&e), |()| valid());
    let previous = action
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    write(&Api::all(ctx.client.clone()), &*action, previous, &verdict).await?;
    Ok(Action::await_change())
}

fn namespaced<K>(ctx: &Context, object: &K) -> Api<K>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    Api::namespaced(ctx.client.clone(), &object.namespace().unwrap_or_default())
}

fn invalid(errors: &[herald_api::validate::FieldError]) -> Verdict {
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

/// Whether the repository can be listed with its credentials.
async fn reachable(ctx: &Context, namespace: &str, kind: SourceKind, name: &str) -> Verdict {
    let listed = async {
        let source = sources::load(ctx, namespace, kind, name).await?;
        let remote = source.remote()?;
        tokio::task::spawn_blocking(move || herald_git::list_refs(&remote))
            .await
            .map_err(|e| Error::Source(e.to_string()))?
            .map_err(|e| Error::Source(e.to_string()))
    };
    match listed.await {
        Ok(refs) => Verdict {
            ready: true,
            stalled: false,
            reason: "Reachable",
            message: format!("{} refs listed", refs.len()),
        },
        Err(e @ Error::Missing(_)) => Verdict {
            ready: false,
            stalled: false,
            reason: "SecretMissing",
            message: e.to_string(),
        },
        Err(e) => Verdict {
            ready: false,
            stalled: false,
            reason: "Unreachable",
            message: e.to_string(),
        },
    }
}

fn requeue(ctx: &Context, verdict: &Verdict) -> Action {
    if verdict.stalled {
        Action::await_change()
    } else {
        Action::requeue(ctx.config.source_interval)
    }
}

/// Server-side apply the conditions, unless they are unchanged.
async fn write<K>(
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
