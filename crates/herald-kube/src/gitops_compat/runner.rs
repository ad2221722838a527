//! The annotated Deployments' attempts: on the leader every interval (sooner while an image is
//! waited for), and on request from any replica (`/reconcile`, as gitops-operator served it).
//! The last report of each is kept in memory for the debug view.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use herald_api::validate::{Validate, join_errors};
use herald_api::{ImageUpdate, ImageUpdateStatus, UpdateOutcome, UpdateReport};
use herald_automation::{Attempt, Mode};
use herald_server::ImageUpdateView;
use kube::ResourceExt;
use kube::runtime::reflector::Store;

use super::annotations::{self, Skip};
use super::convert;
use super::deployments::{self, DeploymentMeta};
use super::env::CompatEnv;
use crate::image_update_controller::{ClusterEnv, ImageContext};

/// `(namespace, name)` of a Deployment.
type Key = (String, String);

/// One enabled Deployment: the ImageUpdate it amounts to, or why it is skipped.
struct Entry {
    namespace: String,
    name: String,
    followed: Result<Followed, Skip>,
}

struct Followed {
    update: ImageUpdate,
    env: Arc<CompatEnv>,
}

/// The compatibility path's state, shared by the loop and the endpoints.
pub struct GitopsCompat {
    image: Arc<ImageContext>,
    deployments: Store<DeploymentMeta>,
    listed: tokio::sync::watch::Receiver<bool>,
    interval: Duration,
    last: Mutex<HashMap<Key, UpdateReport>>,
}

impl std::fmt::Debug for GitopsCompat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitopsCompat")
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl GitopsCompat {
    /// The state, and the Deployments' watch, which must be driven (with [`Self::run`]) for
    /// anything to be seen.
    pub fn new(
        image: Arc<ImageContext>,
        interval: Duration,
    ) -> (
        Arc<Self>,
        impl std::future::Future<Output = ()> + Send + 'static,
    ) {
        let ctx = &image.ctx;
        let watched = deployments::watch(ctx.client.clone(), ctx.config.watch_namespace.as_deref());
        let compat = Arc::new(Self {
            image,
            deployments: watched.store,
            listed: watched.listed,
            interval,
            last: Mutex::default(),
        });
        let watch = futures::StreamExt::for_each(watched.watch, |()| async {});
        (compat, watch)
    }

    /// The leader's loop: every enabled Deployment attempted every interval, or sooner when an
    /// image is being waited for.
    pub async fn run(self: Arc<Self>) {
        self.wait_until_listed().await;
        let renew = self.image.ctx.config.lease_renew;
        loop {
            let next = if self.image.ctx.leadership.is_leader() {
                let (_, sooner) = self.attempt_all().await;
                sooner.map_or(self.interval, |s| s.min(self.interval))
            } else {
                renew
            };
            tokio::time::sleep(next).await;
        }
    }

    /// Every enabled Deployment, attempted now (together, so updates to one branch land in
    /// one commit), and a `failed` report for each one skipped; with how soon to look again.
    pub async fn attempt_all(&self) -> (Vec<UpdateReport>, Option<Duration>) {
        self.wait_until_listed().await;
        let entries = self.entries();
        let attempts = entries.iter().map(|entry| self.attempt(entry, Mode::Push));
        let attempts = futures::future::join_all(attempts).await;
        let sooner = attempts.iter().filter_map(|(_, retry)| *retry).min();
        let reports: Vec<UpdateReport> = attempts.into_iter().map(|(r, _)| r).collect();
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        last.clear();
        for report in &reports {
            let key = (report.namespace.clone(), report.deployment.clone());
            last.insert(key, report.clone());
        }
        (reports, sooner)
    }

    /// Deployment `namespace/name` attempted now; `None` when it is not enabled (or unknown).
    pub async fn attempt_one(
        &self,
        namespace: &str,
        name: &str,
        dry_run: bool,
    ) -> Option<UpdateReport> {
        self.wait_until_listed().await;
        let entry = self
            .entries()
            .into_iter()
            .find(|e| e.namespace == namespace && e.name == name)?;
        let mode = if dry_run { Mode::DryRun } else { Mode::Push };
        let (report, _) = self.attempt(&entry, mode).await;
        if !dry_run {
            let key = (namespace.to_owned(), name.to_owned());
            let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
            last.insert(key, report.clone());
        }
        Some(report)
    }

    /// The followed Deployments as the debug view shows ImageUpdates: the spec they amount to
    /// (Secret names, no values) and this process's last report.
    pub fn views(&self) -> Vec<ImageUpdateView> {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        self.entries()
            .into_iter()
            .filter_map(|entry| {
                let followed = entry.followed.ok()?;
                let report = last.get(&(entry.namespace.clone(), entry.name.clone()));
                Some(ImageUpdateView {
                    namespace: entry.namespace,
                    name: entry.name,
                    spec: followed.update.spec,
                    status: status(report),
                    last: report.cloned(),
                })
            })
            .collect()
    }

    async fn attempt(&self, entry: &Entry, mode: Mode) -> (UpdateReport, Option<Duration>) {
        match &entry.followed {
            Ok(followed) => {
                let updater = self.image.updater.with_env(followed.env.clone());
                let Attempt {
                    report,
                    retry_after,
                    ..
                } = updater.attempt(&followed.update, mode).await;
                (report, retry_after)
            }
            Err(skip) => (skipped(&entry.namespace, &entry.name, skip), None),
        }
    }

    /// The enabled Deployments, by namespace and name.
    fn entries(&self) -> Vec<Entry> {
        let mut entries: Vec<Entry> = self
            .deployments
            .state()
            .iter()
            .filter_map(|deployment| self.entry(deployment))
            .collect();
        entries.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        entries
    }

    fn entry(&self, deployment: &DeploymentMeta) -> Option<Entry> {
        let namespace = deployment.namespace().unwrap_or_default();
        let name = deployment.name_any();
        let followed = match annotations::parse(deployment.annotations()) {
            Ok(None) => return None,
            Ok(Some(config)) => self.followed(&namespace, &name, config),
            Err(skip) => Err(skip),
        };
        Some(Entry {
            namespace,
            name,
            followed,
        })
    }

    /// The ImageUpdate `config` amounts to, checked as any ImageUpdate is (a bad image name
    /// or branch is a skip with the check's words).
    fn followed(
        &self,
        namespace: &str,
        name: &str,
        config: annotations::CompatConfig,
    ) -> Result<Followed, Skip> {
        let update = convert::image_update(namespace, name, &config, self.interval);
        if let Err(errors) = update.spec.validate() {
            let reason = format!("invalid annotations: {}", join_errors(&errors));
            return Err(Skip { reason });
        }
        let env = Arc::new(CompatEnv {
            cluster: ClusterEnv {
                ctx: self.image.ctx.clone(),
            },
            namespace: namespace.to_owned(),
            config: Arc::new(config),
        });
        Ok(Followed { update, env })
    }

    async fn wait_until_listed(&self) {
        let mut listed = self.listed.clone();
        // The sender lives as long as the watch; if it is gone, nothing more will be listed.
        let _ = listed.wait_for(|listed| *listed).await;
    }
}

/// What gitops-operator answered for a Deployment it skipped, in the report's shape.
fn skipped(namespace: &str, name: &str, skip: &Skip) -> UpdateReport {
    let action = UpdateOutcome::Failed;
    UpdateReport {
        deployment: name.to_owned(),
        namespace: namespace.to_owned(),
        action,
        from: None,
        to: None,
        status: action.status().to_owned(),
        message: format!("Deployment {namespace}/{name}: {}", skip.reason),
        commit: None,
        diff: None,
    }
}

/// A status from the last report: annotated Deployments have no status of their own.
fn status(report: Option<&UpdateReport>) -> ImageUpdateStatus {
    ImageUpdateStatus {
        latest_tag: report.and_then(|r| r.to.clone()),
        last_commit: report.and_then(|r| r.commit.clone()),
        ..ImageUpdateStatus::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skip_is_a_failed_report_naming_the_deployment() {
        let skip = Skip {
            reason: "missing annotation gitops.operator.image_name".into(),
        };
        let report = skipped("apps", "web", &skip);
        assert_eq!(report.action, UpdateOutcome::Failed);
        assert_eq!(report.status, "Failure");
        assert_eq!(
            report.message,
            "Deployment apps/web: missing annotation gitops.operator.image_name"
        );
        assert_eq!(
            (report.namespace.as_str(), report.deployment.as_str()),
            ("apps", "web")
        );
    }
}
