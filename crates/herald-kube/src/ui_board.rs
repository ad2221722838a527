//! Cluster mode's side of the dashboard: triggers, sources, actions and Runs from the
//! operator's reflector caches. Never a request to the API server: a page view costs the
//! cluster nothing, however often the dashboard is read.

use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use herald_api::{ActionDefinition, Run, SourceKind, TriggerKind};
use herald_core::Ticker;
use herald_store::{RunFilter, RunRecord};
use herald_ui::{Board, BoardError, RunView, SourceRow, TriggerRow};
use jiff::Timestamp;
use kube::ResourceExt;
use kube::api::ObjectMeta;

use crate::context::Context;
use crate::ui_records;

/// Reads what the dashboard shows of cluster mode.
#[derive(Debug, Clone)]
pub struct ClusterBoard {
    pub ctx: Arc<Context>,
}

/// Why the dashboard cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// Events and revisions are read from the store, which cluster mode may run without.
    #[error("the dashboard (--ui) reads events and revisions from the store: set --store")]
    NoStore,
}

/// Serves the dashboard's routes over the caches and `store` on `server`, with `server`'s
/// `Closing`, so its live updates end when the server closes.
pub(crate) fn serve_dashboard(
    ctx: &Arc<Context>,
    store: herald_store::Store,
    server: &mut herald_server::ServerConfig,
) {
    let board = Arc::new(ClusterBoard { ctx: ctx.clone() });
    server.pages = Some(herald_ui::router(store, board, server.closing.clone()));
}

/// The store the dashboard reads when `ui` is on; refused without one.
pub(crate) fn dashboard_store(
    config: &crate::OperatorConfig,
) -> Result<Option<herald_store::Store>, UiError> {
    if !config.ui {
        return Ok(None);
    }
    config.store.clone().map(Some).ok_or(UiError::NoStore)
}

impl Board for ClusterBoard {
    fn triggers(&self) -> BoxFuture<'_, Result<Vec<TriggerRow>, BoardError>> {
        let now = Timestamp::now();
        let caches = &self.ctx.caches;
        let schedules = caches.schedule_triggers.state().into_iter().map(|t| {
            let last_checked = self.last_checked(&t.metadata, t.status.as_ref());
            let next_due = (Ticker::from_schedule(&t.spec.schedule).ok())
                .filter(|_| !t.spec.suspend)
                .map(|ticker| ticker.due(last_checked, created(&t.metadata), now));
            TriggerRow {
                kind: TriggerKind::ScheduleTrigger,
                namespace: t.namespace().unwrap_or_default(),
                name: t.name_any(),
                fires: herald_ui::words::schedule(&t.spec.schedule),
                sources: t.spec.sources.names.clone(),
                suspended: t.spec.suspend,
                last_checked,
                next_due,
            }
        });
        let hooks = caches
            .webhook_triggers
            .state()
            .into_iter()
            .map(|t| TriggerRow {
                kind: TriggerKind::WebhookTrigger,
                namespace: t.namespace().unwrap_or_default(),
                name: t.name_any(),
                fires: herald_ui::words::hooks(&t.spec.webhook.provider),
                sources: t.spec.sources.names.clone(),
                suspended: t.spec.suspend,
                last_checked: (t.status.as_ref())
                    .and_then(|s| s.last_checked.as_ref().map(|c| c.0)),
                next_due: None,
            });
        let mut rows: Vec<TriggerRow> = schedules.chain(hooks).collect();
        rows.sort_by(|a, b| (&a.namespace, &a.name, a.kind).cmp(&(&b.namespace, &b.name, b.kind)));
        futures::future::ready(Ok(rows)).boxed()
    }

    fn sources(&self) -> BoxFuture<'_, Result<Vec<SourceRow>, BoardError>> {
        let caches = &self.ctx.caches;
        let row = |kind, meta: &ObjectMeta, url: &str, conditions: Option<&Vec<_>>| {
            let ready = conditions.and_then(|c| ready_condition(c));
            SourceRow {
                kind,
                namespace: meta.namespace.clone().unwrap_or_default(),
                name: meta.name.clone().unwrap_or_default(),
                url: url.to_owned(),
                ready: ready.is_some_and(|c| c.status == "True"),
                message: ready.map(|c| c.message.clone()).unwrap_or_default(),
            }
        };
        let repos = caches.git_repos.state().into_iter().map(|r| {
            let conditions = r.status.as_ref().map(|s| &s.conditions);
            row(
                SourceKind::GitRepo,
                &r.metadata,
                &r.spec.repo_uri,
                conditions,
            )
        });
        let cluster = caches.cluster_git_repos.state().into_iter().map(|r| {
            let conditions = r.status.as_ref().map(|s| &s.conditions);
            row(
                SourceKind::ClusterGitRepo,
                &r.metadata,
                &r.spec.repo_uri,
                conditions,
            )
        });
        let mut rows: Vec<SourceRow> = repos.chain(cluster).collect();
        rows.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        futures::future::ready(Ok(rows)).boxed()
    }

    fn runs<'a>(
        &'a self,
        filter: &'a RunFilter,
    ) -> BoxFuture<'a, Result<Vec<RunRecord>, BoardError>> {
        let found = ui_records::select(self.records(), filter);
        futures::future::ready(Ok(found)).boxed()
    }

    fn latest_runs(&self) -> BoxFuture<'_, Result<Vec<RunRecord>, BoardError>> {
        let found = ui_records::latest_of_each_trigger(self.records());
        futures::future::ready(Ok(found)).boxed()
    }

    fn run<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<RunView>, BoardError>> {
        let view = (self.find_run(name))
            .map(|run| RunView::new(ui_records::detail(&run), self.action(&run).as_ref()));
        futures::future::ready(Ok(view)).boxed()
    }
}

impl ClusterBoard {
    fn runs_cached(&self) -> Vec<Arc<Run>> {
        self.ctx.caches.runs.state()
    }

    /// Every cached Run as a record.
    fn records(&self) -> Vec<RunRecord> {
        self.runs_cached()
            .iter()
            .map(|r| ui_records::record(r))
            .collect()
    }

    /// The Run named `name`: names are unique per namespace, so where several namespaces
    /// have one, the first namespace in order (the dashboard names runs without theirs).
    fn find_run(&self, name: &str) -> Option<Arc<Run>> {
        (self.runs_cached().into_iter())
            .filter(|r| r.metadata.name.as_deref() == Some(name))
            .min_by_key(|r| r.metadata.namespace.clone())
    }

    /// The Run's Action or ClusterAction as the cache holds it now (its shape is shown even
    /// when it does not validate).
    fn action(&self, run: &Run) -> Option<ActionDefinition> {
        let namespace = run.namespace().unwrap_or_default();
        let found = crate::run_controller::cached_action(&self.ctx, &namespace, &run.spec.action);
        found.ok().map(|(definition, _)| definition)
    }

    /// The later of the status's last check (written when a check changed something) and
    /// this process's memory of checks (the trigger controller's, by uid).
    fn last_checked(
        &self,
        meta: &ObjectMeta,
        status: Option<&herald_api::TriggerStatus>,
    ) -> Option<Timestamp> {
        let key = meta.uid.clone().or_else(|| meta.name.clone())?;
        let remembered = self.ctx.checks.get(&key);
        let written = status.and_then(|s| s.last_checked.as_ref().map(|t| t.0));
        remembered.max(written)
    }
}

fn created(meta: &ObjectMeta) -> Option<Timestamp> {
    meta.creation_timestamp.as_ref().map(|t| t.0)
}

/// The `Ready` condition among `conditions`.
fn ready_condition(
    conditions: &[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
) -> Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    conditions
        .iter()
        .find(|c| c.type_ == herald_api::reasons::READY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(ui: bool, store: Option<herald_store::Store>) -> crate::OperatorConfig {
        crate::OperatorConfig {
            ui,
            store,
            ..crate::OperatorConfig::default()
        }
    }

    #[tokio::test]
    async fn the_dashboard_needs_the_store() {
        let refused = dashboard_store(&config(true, None)).unwrap_err();
        assert!(matches!(refused, UiError::NoStore));
        assert!(refused.to_string().contains("--store"), "{refused}");
        assert!(dashboard_store(&config(false, None)).unwrap().is_none());
        let dir = tempfile::tempdir().unwrap();
        let store = herald_store::Store::open(&dir.path().join("herald.db"))
            .await
            .unwrap();
        assert!(
            dashboard_store(&config(true, Some(store)))
                .unwrap()
                .is_some()
        );
    }

    #[tokio::test]
    async fn the_operator_refuses_the_dashboard_without_a_store_before_it_starts() {
        // Never contacted: the refusal comes first.
        let nowhere = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        let client = kube::Client::try_from(nowhere).unwrap();
        let server = herald_server::ServerConfig::default();
        let refused = crate::run(client, config(true, None), server, std::future::pending())
            .await
            .unwrap_err();
        assert!(refused.to_string().contains("--store"), "{refused}");
    }
}
