//! The definitions local mode works from: every object read from the manifest folder.

use std::collections::BTreeMap;

use herald_api::{
    Action, ActionKind, ClusterAction, ClusterGitRepo, GitRepo, ImageUpdate, Notifier,
    ScheduleTrigger, SourceKind, TriggerKind, WebhookTrigger,
};
use herald_engine::SourceError;
use herald_server::{HookAuth, NotReady};
use k8s_openapi::api::core::v1::Secret;

/// `(namespace, name)` of a namespaced object.
pub type Key = (String, String);

/// A snapshot of the manifest folder. Replaced whole on every reload.
#[derive(Debug, Default, Clone)]
pub struct Catalog {
    pub git_repos: BTreeMap<Key, GitRepo>,
    pub cluster_git_repos: BTreeMap<String, ClusterGitRepo>,
    pub schedule_triggers: BTreeMap<Key, ScheduleTrigger>,
    pub webhook_triggers: BTreeMap<Key, WebhookTrigger>,
    pub actions: BTreeMap<Key, Action>,
    pub cluster_actions: BTreeMap<String, ClusterAction>,
    pub secrets: BTreeMap<Key, Secret>,
    pub image_updates: BTreeMap<Key, ImageUpdate>,
    pub notifiers: BTreeMap<Key, Notifier>,
}

/// The parts of a trigger that firing needs, whatever its kind.
#[derive(Debug, Clone)]
pub struct TriggerView<'a> {
    pub kind: TriggerKind,
    pub namespace: &'a str,
    pub name: &'a str,
    pub sources: &'a herald_api::TriggerSources,
    pub action: &'a herald_api::ActionRef,
    /// Whether one hook delivery may fire every source (webhook `multiSource`).
    pub multi_source: bool,
    /// `spec.suspend`: nothing fires it.
    pub suspended: bool,
}

impl Catalog {
    /// A trigger of `kind` by namespace and name.
    pub fn trigger(
        &self,
        kind: TriggerKind,
        namespace: &str,
        name: &str,
    ) -> Option<TriggerView<'_>> {
        let key = (namespace.to_owned(), name.to_owned());
        match kind {
            TriggerKind::ScheduleTrigger => {
                self.schedule_triggers
                    .get_key_value(&key)
                    .map(|(k, t)| TriggerView {
                        kind,
                        namespace: &k.0,
                        name: &k.1,
                        sources: &t.spec.sources,
                        action: &t.spec.action,
                        multi_source: false,
                        suspended: t.spec.suspend,
                    })
            }
            TriggerKind::WebhookTrigger => {
                self.webhook_triggers
                    .get_key_value(&key)
                    .map(|(k, t)| TriggerView {
                        kind,
                        namespace: &k.0,
                        name: &k.1,
                        sources: &t.spec.sources,
                        action: &t.spec.action,
                        multi_source: t.spec.webhook.multi_source,
                        suspended: t.spec.suspend,
                    })
            }
        }
    }

    /// Whether source `name` of `kind`, as a trigger in `namespace` names it, is suspended; a
    /// source that does not exist is not (firing reports it missing).
    pub fn source_suspended(&self, namespace: &str, kind: SourceKind, name: &str) -> bool {
        match kind {
            SourceKind::GitRepo => self
                .git_repos
                .get(&(namespace.to_owned(), name.to_owned()))
                .is_some_and(|r| r.spec.suspend),
            SourceKind::ClusterGitRepo => self
                .cluster_git_repos
                .get(name)
                .is_some_and(|r| r.spec.suspend),
        }
    }

    /// The URL of source `name` of `kind`, as a trigger in `namespace` names it.
    pub fn source_url(&self, namespace: &str, kind: SourceKind, name: &str) -> Option<String> {
        match kind {
            SourceKind::GitRepo => self
                .git_repos
                .get(&(namespace.to_owned(), name.to_owned()))
                .map(|r| r.spec.repo_uri.clone()),
            SourceKind::ClusterGitRepo => self
                .cluster_git_repos
                .get(name)
                .map(|r| r.spec.repo_uri.clone()),
        }
    }

    /// The kinds of trigger named `namespace/name`, for commands that take a bare name.
    pub fn trigger_kinds_named(&self, namespace: &str, name: &str) -> Vec<TriggerKind> {
        [TriggerKind::ScheduleTrigger, TriggerKind::WebhookTrigger]
            .into_iter()
            .filter(|kind| self.trigger(*kind, namespace, name).is_some())
            .collect()
    }

    /// What the action a trigger in `namespace` names runs.
    pub fn action(
        &self,
        namespace: &str,
        action: &herald_api::ActionRef,
    ) -> Option<&herald_api::ActionDefinition> {
        match action.kind {
            ActionKind::Action => self
                .actions
                .get(&(namespace.to_owned(), action.name.clone()))
                .map(|a| &a.spec.definition),
            ActionKind::ClusterAction => self
                .cluster_actions
                .get(&action.name)
                .map(|a| &a.spec.definition),
        }
    }

    /// One key of a Secret, as bytes.
    pub fn secret_value(
        &self,
        namespace: &str,
        name: &str,
        key: &str,
    ) -> Result<Vec<u8>, SourceError> {
        let secret = self
            .secrets
            .get(&(namespace.to_owned(), name.to_owned()))
            .ok_or_else(|| SourceError::secret_missing(namespace, name))?;
        herald_api::secret_key(secret, key)
            .ok_or_else(|| SourceError::secret_key_missing(namespace, name, key))
    }

    /// How webhook trigger `namespace/name` verifies its senders: `None` when there is no
    /// such trigger, the reason when it cannot verify anyone.
    pub fn hook_auth(&self, namespace: &str, name: &str) -> Option<Result<HookAuth, NotReady>> {
        let trigger = self
            .webhook_triggers
            .get(&(namespace.to_owned(), name.to_owned()))?;
        let secret_name = &trigger.spec.webhook.auth_config.secret_ref.name;
        let secret = self
            .secrets
            .get(&(namespace.to_owned(), secret_name.clone()));
        Some(HookAuth::resolve(&trigger.spec, namespace, secret))
    }

    /// Whether Notifier `namespace/name` can send: `None` when there is no such Notifier.
    pub fn notifier_readiness(
        &self,
        namespace: &str,
        name: &str,
    ) -> Option<Result<(), herald_notify::NotReady>> {
        let notifier = self
            .notifiers
            .get(&(namespace.to_owned(), name.to_owned()))?;
        let secret = notifier
            .spec
            .secret_ref
            .as_ref()
            .and_then(|r| self.secrets.get(&(namespace.to_owned(), r.name.clone())));
        Some(herald_notify::readiness(&notifier.spec, namespace, secret))
    }

    /// Each webhook trigger that can verify its senders (`namespace/name`) with the paths its
    /// sender may be pointed at: what a trigger's status shows in cluster mode.
    pub fn hook_paths(&self) -> Vec<(String, Vec<String>)> {
        self.webhook_triggers
            .keys()
            .filter_map(|(namespace, name)| {
                let auth = self.hook_auth(namespace, name)?.ok()?;
                Some((format!("{namespace}/{name}"), auth.paths(namespace, name)))
            })
            .collect()
    }

    /// How many objects of each kind were loaded, for a start-up summary.
    pub fn summary(&self) -> String {
        format!(
            "{} GitRepo, {} ClusterGitRepo, {} ScheduleTrigger, {} WebhookTrigger, {} Action, {} ClusterAction, {} ImageUpdate, {} Notifier, {} Secret",
            self.git_repos.len(),
            self.cluster_git_repos.len(),
            self.schedule_triggers.len(),
            self.webhook_triggers.len(),
            self.actions.len(),
            self.cluster_actions.len(),
            self.image_updates.len(),
            self.notifiers.len(),
            self.secrets.len()
        )
    }
}
