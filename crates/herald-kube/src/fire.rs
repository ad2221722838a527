//! Cluster mode's side of the engine's fire path: runs are Run resources owned by their
//! trigger, the last seen revision is the trigger's `status.checkedSources`, and sources are
//! GitRepo / ClusterGitRepo resources with their Secrets. The Run is the durable record; the
//! trigger's last seen revision moves only after it exists, so a crash in between repeats
//! nothing (the Run's name is the same) and loses nothing.

use std::collections::BTreeMap;

use herald_api::{CheckedSource, GitReference, Run, RunSpec};
use herald_core::Selected;
use herald_engine::{Created, RunStore, SourceError, SourceReader, TriggerDef};
use herald_store::NewRun;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Api;
use kube::api::PostParams;

use crate::context::Context;
use crate::error::{Error, KubeContext, is_conflict};
use crate::job::{TRACEPARENT_ANNOTATION, run_labels};
use crate::sources::{self, get};
use crate::store_events;

/// The Runs of one trigger.
#[derive(Debug)]
pub struct ClusterRuns<'a> {
    pub ctx: &'a Context,
    /// The trigger, as the Runs' owner (so they go with it).
    pub owner: Option<OwnerReference>,
    /// What the trigger's status says it last saw, per source.
    pub checked: &'a BTreeMap<String, CheckedSource>,
}

impl RunStore for ClusterRuns<'_> {
    type Run = Run;
    type Error = Error;

    async fn last_seen(
        &self,
        trigger: &TriggerDef<'_>,
        source: &str,
    ) -> Result<Option<String>, Error> {
        let key = seen_key(&trigger.kind, trigger.namespace, trigger.name, source);
        let remembered = self.ctx.seen.get(&key);
        Ok(remembered.or_else(|| self.checked.get(source).map(|c| c.revision.clone())))
    }

    async fn create(&self, new: &NewRun) -> Result<Created<Run>, Error> {
        // Within the engine's `create_run` span: the Run's trace goes on from there.
        let run = run_object(new, self.owner.clone(), herald_telemetry::traceparent());
        let api: Api<Run> = Api::namespaced(self.ctx.client.clone(), &new.namespace);
        let created = api.create(&PostParams::default(), &run).await;
        if new.record_last_seen && (created.is_ok() || created.as_ref().is_err_and(is_conflict)) {
            let key = seen_key(
                &new.trigger.kind,
                &new.namespace,
                &new.trigger.name,
                &new.source,
            );
            self.ctx.seen.set(key, new.revision.clone());
        }
        match created {
            Ok(created) => {
                let seen = self.checked.get(&new.source).map(|c| c.revision.as_str());
                if new.record_last_seen && seen != Some(new.revision.as_str()) {
                    store_events::record(self.ctx, store_events::detected(&created)).await;
                }
                Ok(Created::New(created))
            }
            Err(e) if is_conflict(&e) => {
                let existing = get(&api, &new.name, "reading an existing Run")
                    .await?
                    .unwrap_or(run);
                Ok(Created::Existing(existing))
            }
            Err(e) => Err(e).step("creating a Run"),
        }
    }

    fn source_health(&self) -> &herald_engine::SourceHealth {
        &self.ctx.source_health
    }

    async fn record_event(&self, event: herald_store::NewEvent) {
        store_events::record(self.ctx, event).await;
    }
}

fn seen_key(
    kind: &herald_api::TriggerKind,
    namespace: &str,
    trigger: &str,
    source: &str,
) -> String {
    format!("{kind}/{namespace}/{trigger}/{source}")
}

/// The Run resource for `new`.
fn run_object(new: &NewRun, owner: Option<OwnerReference>, traceparent: Option<String>) -> Run {
    let spec = RunSpec {
        cause: new.cause,
        trigger: herald_api::TriggerRef {
            kind: new.trigger.kind,
            name: new.trigger.name.clone(),
        },
        source: herald_api::SourceRef {
            kind: new.source_kind,
            name: new.source.clone(),
        },
        git_ref: new.git_ref.clone(),
        revision: new.revision.clone(),
        action: herald_api::ActionRef {
            kind: new.action_kind,
            name: new.action.clone(),
        },
        rerun_of: None,
    };
    Run {
        metadata: ObjectMeta {
            name: Some(new.name.clone()),
            namespace: Some(new.namespace.clone()),
            labels: Some(run_labels(&new.name, &spec)),
            annotations: traceparent
                .map(|value| BTreeMap::from([(TRACEPARENT_ANNOTATION.to_owned(), value)])),
            owner_references: owner.map(|o| vec![o]),
            ..ObjectMeta::default()
        },
        spec,
        status: None,
    }
}

/// Sources read through the API server.
#[derive(Debug)]
pub struct ClusterSources<'a>(pub &'a Context);

impl SourceReader for ClusterSources<'_> {
    async fn current(
        &self,
        trigger: &TriggerDef<'_>,
        source: &str,
        reference: &GitReference,
    ) -> Result<Selected, SourceError> {
        let kind = trigger.sources.kind;
        let loaded = sources::load(self.0, trigger.namespace, kind, source).await?;
        let (lister, max_age) = (&self.0.lister, trigger.listing_max_age);
        let remote = loaded.remote()?;
        Ok(herald_engine::current_revision(lister, &remote, reference, max_age).await?)
    }

    fn suspended(&self, trigger: &TriggerDef<'_>, source: &str) -> bool {
        let kind = trigger.sources.kind;
        sources::suspended(self.0, trigger.namespace, kind, source)
    }
}
