//! Local mode's side of the dashboard: triggers and sources from the manifest folder, their
//! check times and failures from the engine, runs from the store.

use futures::FutureExt;
use futures::future::BoxFuture;
use herald_api::{SourceKind, TriggerKind};
use herald_store::{RunFilter, RunRecord};
use herald_ui::{Board, BoardError, RunView, SourceRow, TriggerRow};

use crate::engine::Engine;

/// Reads what the dashboard shows of local mode.
#[derive(Debug, Clone)]
pub struct LocalBoard {
    pub engine: Engine,
}

impl Board for LocalBoard {
    fn triggers(&self) -> BoxFuture<'_, Result<Vec<TriggerRow>, BoardError>> {
        let catalog = self.engine.catalog();
        let times = self.engine.check_times();
        let row = |kind,
                   (namespace, name): &(String, String),
                   fires,
                   sources: &herald_api::TriggerSources,
                   suspended| {
            let checked = times.get(kind, namespace, name);
            TriggerRow {
                kind,
                namespace: namespace.clone(),
                name: name.clone(),
                fires,
                sources: sources.names.clone(),
                suspended,
                last_checked: checked.last,
                next_due: checked.next.filter(|_| !suspended),
            }
        };
        let schedules = (catalog.schedule_triggers.iter()).map(|(key, t)| {
            let fires = herald_ui::words::schedule(&t.spec.schedule);
            row(
                TriggerKind::ScheduleTrigger,
                key,
                fires,
                &t.spec.sources,
                t.spec.suspend,
            )
        });
        let hooks = (catalog.webhook_triggers.iter()).map(|(key, t)| {
            let fires = herald_ui::words::hooks(&t.spec.webhook.provider);
            row(
                TriggerKind::WebhookTrigger,
                key,
                fires,
                &t.spec.sources,
                t.spec.suspend,
            )
        });
        let mut rows: Vec<TriggerRow> = schedules.chain(hooks).collect();
        rows.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        futures::future::ready(Ok(rows)).boxed()
    }

    fn sources(&self) -> BoxFuture<'_, Result<Vec<SourceRow>, BoardError>> {
        let catalog = self.engine.catalog();
        let health = self.engine.source_health();
        let row = |kind, namespace: &str, name: &str, url: &str| {
            let failing = health.failing(kind, namespace, name);
            SourceRow {
                kind,
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                url: url.to_owned(),
                ready: failing.is_none(),
                message: failing
                    .map(|reason| format!("the last check failed: {reason}"))
                    .unwrap_or_default(),
            }
        };
        let repos = (catalog.git_repos.iter())
            .map(|((ns, name), r)| row(SourceKind::GitRepo, ns, name, &r.spec.repo_uri));
        let cluster = (catalog.cluster_git_repos.iter())
            .map(|(name, r)| row(SourceKind::ClusterGitRepo, "", name, &r.spec.repo_uri));
        let rows = repos.chain(cluster).collect();
        futures::future::ready(Ok(rows)).boxed()
    }

    fn runs<'a>(
        &'a self,
        filter: &'a RunFilter,
    ) -> BoxFuture<'a, Result<Vec<RunRecord>, BoardError>> {
        async move { Ok(self.engine.store().list_runs(filter).await?) }.boxed()
    }

    fn latest_runs(&self) -> BoxFuture<'_, Result<Vec<RunRecord>, BoardError>> {
        let catalog = self.engine.catalog();
        let key = |kind, (namespace, name): &(String, String)| herald_store::TriggerKey {
            kind,
            namespace: namespace.clone(),
            name: name.clone(),
        };
        let schedules =
            (catalog.schedule_triggers.keys()).map(|k| key(TriggerKind::ScheduleTrigger, k));
        let hooks = (catalog.webhook_triggers.keys()).map(|k| key(TriggerKind::WebhookTrigger, k));
        let triggers: Vec<_> = schedules.chain(hooks).collect();
        async move { Ok(self.engine.store().latest_runs_of(&triggers).await?) }.boxed()
    }

    fn run<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<RunView>, BoardError>> {
        async move {
            let Some(detail) = self.engine.store().get_run_by_name(name).await? else {
                return Ok(None);
            };
            let catalog = self.engine.catalog();
            let action = herald_api::ActionRef {
                kind: detail.run.action_kind,
                name: detail.run.action.clone(),
            };
            let definition = catalog.action(&detail.run.namespace, &action);
            Ok(Some(RunView::new(detail, definition)))
        }
        .boxed()
    }
}
