//! Notifications in local mode: the folder's Notifiers, labels, source URLs and Secrets for
//! the engine every mode uses (`herald_notify::Dispatcher`).

use std::collections::BTreeMap;
use std::sync::Arc;

use herald_api::Notifier;
use herald_notify::{NotifyEnv, Object};
use kube::Resource;

use crate::image_updates::LocalEnv;

impl NotifyEnv for LocalEnv {
    fn notifiers(&self) -> Vec<Arc<Notifier>> {
        let catalog = self.catalog.borrow().clone();
        catalog
            .notifiers
            .iter()
            .map(|((namespace, _), notifier)| {
                // A manifest may leave its namespace out: it is the key's.
                let mut notifier = notifier.clone();
                notifier.metadata.namespace = Some(namespace.clone());
                Arc::new(notifier)
            })
            .collect()
    }

    fn labels(&self, namespace: &str, object: &Object) -> Option<BTreeMap<String, String>> {
        let catalog = self.catalog.borrow().clone();
        let key = (namespace.to_owned(), object.name.clone());
        let name = &object.name;
        match object.kind.as_str() {
            "ScheduleTrigger" => labels(catalog.schedule_triggers.get(&key)),
            "WebhookTrigger" => labels(catalog.webhook_triggers.get(&key)),
            "Action" => labels(catalog.actions.get(&key)),
            "ClusterAction" => labels(catalog.cluster_actions.get(name)),
            "GitRepo" => labels(catalog.git_repos.get(&key)),
            "ClusterGitRepo" => labels(catalog.cluster_git_repos.get(name)),
            "ImageUpdate" => labels(catalog.image_updates.get(&key)),
            _ => None,
        }
    }

    fn source_url(&self, namespace: &str, object: &Object) -> Option<String> {
        let kind = object.source_kind()?;
        self.catalog
            .borrow()
            .source_url(namespace, kind, &object.name)
    }
}

fn labels<T: Resource>(object: Option<&T>) -> Option<BTreeMap<String, String>> {
    Some(object?.meta().labels.clone().unwrap_or_default())
}
