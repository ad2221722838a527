//! Firing a trigger for one source: look at the revision, decide, and create the Run. The Run
//! is the durable record; the trigger's last seen revision moves only after it exists, so a
//! crash in between repeats nothing (the Run's name is the same) and loses nothing.

use std::collections::BTreeMap;

use herald_api::{ActionRef, CheckedSource, Run, RunSpec, TriggerKind, TriggerSources};
use herald_core::hooks::Push;
use herald_core::{Firing, plan_run, run_name, select_pushed, why_not_selected};
use herald_server::RunLabels;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Api;
use kube::api::PostParams;

use crate::context::Context;
use crate::error::{Error, KubeContext, is_conflict};
use crate::job::run_labels;
use crate::sources::{self, get};
use crate::store_events;

/// The parts of a trigger firing needs, whatever its kind.
#[derive(Debug, Clone)]
pub struct TriggerView<'a> {
    pub kind: TriggerKind,
    pub namespace: &'a str,
    pub name: &'a str,
    pub owner: Option<OwnerReference>,
    pub sources: &'a TriggerSources,
    pub action: &'a ActionRef,
    pub checked: &'a BTreeMap<String, CheckedSource>,
}

/// What firing one source did.
#[derive(Debug, Clone)]
pub enum Fired {
    /// A Run was created, or already existed for this change (`created: false`).
    Run { run: Box<Run>, created: bool },
    /// Nothing to do (revision already seen with `onChangeOnly`, or a push elsewhere).
    Skipped { reason: String },
}

/// Fire `trigger` for `source`.
pub async fn fire_source(
    ctx: &Context,
    trigger: &TriggerView<'_>,
    source: &str,
    firing: &Firing,
    pushes: Option<&[Push]>,
) -> Result<Fired, Error> {
    let watch_on = &trigger.sources.watch_on;
    let selected = match pushes {
        // The payload says what was pushed: no need to ask the remote.
        Some(pushes) => match select_pushed(&watch_on.reference, &watch_on.files, pushes) {
            Ok(Some(selected)) => selected,
            Ok(None) => {
                return Ok(Fired::Skipped {
                    reason: why_not_selected(&watch_on.reference, pushes),
                });
            }
            Err(e) => return Err(Error::Invalid(format!("invalid file glob: {e}"))),
        },
        None => {
            let loaded =
                sources::load(ctx, trigger.namespace, trigger.sources.kind, source).await?;
            sources::current_revision(&loaded, &watch_on.reference).await?
        }
    };
    let seen = trigger.checked.get(source).map(|c| c.revision.as_str());
    let on_change_only = trigger.sources.watch_on.on_change_only;
    let Some(plan) = plan_run(firing, on_change_only, seen, &selected.revision) else {
        let reason = format!("revision {} already seen", selected.revision);
        return Ok(Fired::Skipped { reason });
    };
    let name = run_name(
        trigger.name,
        source,
        &selected.revision,
        plan.identity,
        plan.occasion.as_deref(),
    );
    let spec = RunSpec {
        cause: plan.cause,
        trigger: herald_api::TriggerRef {
            kind: trigger.kind,
            name: trigger.name.to_owned(),
        },
        source: herald_api::SourceRef {
            kind: trigger.sources.kind,
            name: source.to_owned(),
        },
        git_ref: selected.git_ref,
        revision: selected.revision,
        action: trigger.action.clone(),
    };
    let run = Run {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(trigger.namespace.to_owned()),
            labels: Some(run_labels(&name, &spec)),
            owner_references: trigger.owner.clone().map(|o| vec![o]),
            ..ObjectMeta::default()
        },
        spec,
        status: None,
    };
    let api: Api<Run> = Api::namespaced(ctx.client.clone(), trigger.namespace);
    match api.create(&PostParams::default(), &run).await {
        Ok(created) => {
            let labels = RunLabels {
                trigger_kind: trigger.kind.to_string(),
                cause: created.spec.cause.to_string(),
            };
            ctx.metrics.runs_created.get_or_create(&labels).inc();
            if plan.records_last_seen && seen != Some(created.spec.revision.as_str()) {
                store_events::record(ctx, store_events::detected(&created)).await;
            }
            Ok(Fired::Run {
                run: Box::new(created),
                created: true,
            })
        }
        Err(e) if is_conflict(&e) => {
            let existing = get(&api, &name, "reading an existing Run")
                .await?
                .unwrap_or(run);
            Ok(Fired::Run {
                run: Box::new(existing),
                created: false,
            })
        }
        Err(e) => Err(e).step("creating a Run"),
    }
}
