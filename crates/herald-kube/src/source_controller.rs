//! Readiness of sources: a valid spec, readable credentials, a reachable repository, and the
//! commit each ref that some trigger watches points at.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use herald_api::reasons;
use herald_api::validate::Validate;
use herald_api::{ClusterGitRepo, GitRepo, GitRepoStatus, SourceKind, TriggerSources};
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use crate::conditions::conditions;
use crate::context::Context;
use crate::error::{Error, KubeContext};
use crate::labels;
use crate::resource_controller::{Verdict, invalid, namespaced};
use crate::sources;

pub async fn reconcile_git_repo(repo: Arc<GitRepo>, ctx: Arc<Context>) -> Result<Action, Error> {
    // The watched refs come from the triggers' caches: read before they have listed, a source
    // would report none, and write its status again once they have.
    ctx.caches.wait_until_ready().await;
    let namespace = repo.namespace().unwrap_or_default();
    let (verdict, revisions) = match repo.validate() {
        Err(errors) => (invalid(&errors), BTreeMap::new()),
        Ok(()) => {
            let watched = watched_refs(
                &ctx,
                Some(&namespace),
                SourceKind::GitRepo,
                &repo.name_any(),
            )
            .await?;
            check(
                &ctx,
                &namespace,
                SourceKind::GitRepo,
                &repo.name_any(),
                &watched,
            )
            .await
        }
    };
    write(
        &namespaced(&ctx, &*repo),
        &*repo,
        repo.status.as_ref(),
        &verdict,
        revisions,
    )
    .await?;
    Ok(requeue(&ctx, &verdict))
}

pub async fn reconcile_cluster_git_repo(
    repo: Arc<ClusterGitRepo>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    ctx.caches.wait_until_ready().await;
    let (verdict, revisions) = match repo.validate() {
        Err(errors) => (invalid(&errors), BTreeMap::new()),
        Ok(()) => {
            let watched =
                watched_refs(&ctx, None, SourceKind::ClusterGitRepo, &repo.name_any()).await?;
            check(
                &ctx,
                &ctx.config.namespace,
                SourceKind::ClusterGitRepo,
                &repo.name_any(),
                &watched,
            )
            .await
        }
    };
    write(
        &Api::all(ctx.client.clone()),
        &*repo,
        repo.status.as_ref(),
        &verdict,
        revisions,
    )
    .await?;
    Ok(requeue(&ctx, &verdict))
}

/// Full names of the refs that triggers (in `namespace`, or anywhere) watch on this source,
/// from the caches.
async fn watched_refs(
    ctx: &Context,
    namespace: Option<&str>,
    kind: SourceKind,
    name: &str,
) -> Result<BTreeSet<String>, Error> {
    let here = |object_ns: Option<String>| namespace.is_none() || object_ns.as_deref() == namespace;
    let schedules = ctx.caches.schedule_triggers.state();
    let webhooks = ctx.caches.webhook_triggers.state();
    let sources = schedules
        .iter()
        .filter(|t| here(t.namespace()))
        .map(|t| &t.spec.sources)
        .chain(
            webhooks
                .iter()
                .filter(|t| here(t.namespace()))
                .map(|t| &t.spec.sources),
        );
    Ok(refs_watching(sources, kind, name))
}

/// The refs that any of `sources` watches on source `name` of `kind`.
pub fn refs_watching<'a>(
    sources: impl Iterator<Item = &'a TriggerSources>,
    kind: SourceKind,
    name: &str,
) -> BTreeSet<String> {
    sources
        .filter(|s| s.kind == kind && s.names.iter().any(|n| n == name))
        .filter_map(|s| s.watch_on.reference.full_ref())
        .collect()
}

/// List the repository's refs with its credentials; report readiness and the watched commits.
async fn check(
    ctx: &Context,
    namespace: &str,
    kind: SourceKind,
    name: &str,
    watched: &BTreeSet<String>,
) -> (Verdict, BTreeMap<String, String>) {
    let verdict = |ready, reason, message| Verdict {
        ready,
        stalled: false,
        reason,
        message,
    };
    let source = match sources::load(ctx, namespace, kind, name)
        .await
        .and_then(|s| s.remote())
    {
        Ok(remote) => remote,
        Err(e) => return (verdict(false, e.reason(), e.to_string()), BTreeMap::new()),
    };
    match watched_revisions(ctx, &source, watched).await {
        Ok(revisions) => {
            let message = format!("reachable; {} watched ref(s) found", revisions.len());
            (verdict(true, reasons::REACHABLE, message), revisions)
        }
        Err(e) => (verdict(false, e.reason(), e.to_string()), BTreeMap::new()),
    }
}

/// The commit of each watched ref, one listing per ref, so the triggers' own listings of it
/// answer (no extra request to the server while they are fresh); with nothing watched, the
/// branches, to show the repository is reachable.
async fn watched_revisions(
    ctx: &Context,
    remote: &herald_git::Remote,
    watched: &BTreeSet<String>,
) -> Result<BTreeMap<String, String>, herald_engine::ListError> {
    let max_age = ctx.config.source_interval / 2;
    if watched.is_empty() {
        ctx.lister
            .list(remote, &["refs/heads/".to_owned()], max_age)
            .await?;
        return Ok(BTreeMap::new());
    }
    let mut revisions = BTreeMap::new();
    for name in watched {
        let refs = ctx
            .lister
            .list(remote, std::slice::from_ref(name), max_age)
            .await?;
        if let Some(found) = refs.iter().find(|r| &r.name == name) {
            revisions.insert(name.clone(), found.commit.clone());
        }
    }
    Ok(revisions)
}

fn requeue(ctx: &Context, verdict: &Verdict) -> Action {
    if verdict.stalled {
        Action::await_change()
    } else {
        Action::requeue(ctx.config.source_interval)
    }
}

async fn write<K>(
    api: &Api<K>,
    object: &K,
    previous: Option<&GitRepoStatus>,
    verdict: &Verdict,
    revisions: BTreeMap<String, String>,
) -> Result<(), Error>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let generation = object.meta().generation;
    let previous_conditions = previous
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    let next = GitRepoStatus {
        conditions: conditions(
            previous_conditions,
            verdict.ready,
            verdict.stalled,
            verdict.reason,
            &verdict.message,
            generation,
        ),
        observed_generation: generation,
        revisions,
    };
    if previous == Some(&next) {
        return Ok(());
    }
    let patch = json!({ "apiVersion": K::api_version(&()), "kind": K::kind(&()), "status": next });
    let params = PatchParams::apply(labels::FIELD_MANAGER).force();
    api.patch_status(&object.name_any(), &params, &Patch::Apply(&patch))
        .await
        .step("writing a source's status")?;
    Ok(())
}
