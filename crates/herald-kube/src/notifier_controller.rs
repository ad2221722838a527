//! Notifiers in cluster mode: a controller that reports whether each can send (its spec, its
//! Secret and keys), and the notifier engine's view of the caches (`ClusterEnv`'s). The
//! engine itself (`herald_notify::Dispatcher`) runs on the leader only.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use herald_api::validate::Validate;
use herald_api::{Notifier, reasons};
use herald_notify::{NotifyEnv, Object};
use kube::runtime::controller::Action;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Resource, ResourceExt};

use crate::context::Context;
use crate::error::Error;
use crate::image_update_controller::ClusterEnv;
use crate::resource_controller::{Verdict, invalid, namespaced, write};

/// How soon a Notifier that cannot send is looked at again (its Secret does not wake it).
const RECHECK_NOT_READY: Duration = Duration::from_secs(30);
/// How soon one that can is looked at again (a Secret deleted meanwhile).
const RECHECK_READY: Duration = Duration::from_secs(300);

/// Ready when the spec is valid and its Secret holds what its type needs.
pub async fn reconcile(notifier: Arc<Notifier>, ctx: Arc<Context>) -> Result<Action, Error> {
    let api = namespaced(&ctx, &*notifier);
    let verdict = match notifier.validate() {
        Err(errors) => invalid(&errors),
        Ok(()) => readiness(&notifier, &ctx).await?,
    };
    let previous = notifier
        .status
        .as_ref()
        .map(|s| s.conditions.as_slice())
        .unwrap_or_default();
    write(&api, &*notifier, previous, &verdict).await?;
    Ok(match (verdict.ready, verdict.stalled) {
        (_, true) => Action::await_change(),
        (true, _) => Action::requeue(RECHECK_READY),
        (false, _) => Action::requeue(RECHECK_NOT_READY),
    })
}

async fn readiness(notifier: &Notifier, ctx: &Context) -> Result<Verdict, Error> {
    let namespace = notifier.namespace().unwrap_or_default();
    let secret = match &notifier.spec.secret_ref {
        Some(secret) => ctx.caches.secrets.get(&namespace, &secret.name).await?,
        None => None,
    };
    Ok(
        match herald_notify::readiness(&notifier.spec, &namespace, secret.as_deref()) {
            Ok(()) => Verdict {
                ready: true,
                stalled: false,
                reason: reasons::READY_TO_SEND,
                message: format!("sends as {}", notifier.spec.notifier_type.as_str()),
            },
            Err(why) => Verdict {
                ready: false,
                stalled: false,
                reason: why.reason,
                message: why.message,
            },
        },
    )
}

/// The notifier engine's view of the cluster is image automation's (`ClusterEnv`): the
/// caches, and Secrets read through them.
impl NotifyEnv for ClusterEnv {
    fn notifiers(&self) -> Vec<Arc<Notifier>> {
        self.ctx.caches.notifiers.state()
    }

    fn labels(&self, namespace: &str, object: &Object) -> Option<BTreeMap<String, String>> {
        let caches = &self.ctx.caches;
        let name = object.name.as_str();
        match object.kind.as_str() {
            "ScheduleTrigger" => labels(&caches.schedule_triggers, Some(namespace), name),
            "WebhookTrigger" => labels(&caches.webhook_triggers, Some(namespace), name),
            "Action" => labels(&caches.actions, Some(namespace), name),
            "ClusterAction" => labels(&caches.cluster_actions, None, name),
            "GitRepo" => labels(&caches.git_repos, Some(namespace), name),
            "ClusterGitRepo" => labels(&caches.cluster_git_repos, None, name),
            "ImageUpdate" => labels(&caches.image_updates, Some(namespace), name),
            _ => None,
        }
    }

    fn source_url(&self, namespace: &str, object: &Object) -> Option<String> {
        let kind = object.source_kind()?;
        self.ctx.caches.source_url(kind, namespace, &object.name)
    }
}

/// The labels of the cached object `namespace/name` (cluster-scoped without a namespace).
fn labels<K>(
    store: &Store<K>,
    namespace: Option<&str>,
    name: &str,
) -> Option<BTreeMap<String, String>>
where
    K: Resource<DynamicType = ()> + Clone,
{
    let key = match namespace {
        Some(namespace) => ObjectRef::new(name).within(namespace),
        None => ObjectRef::new(name),
    };
    Some(store.get(&key)?.meta().labels.clone().unwrap_or_default())
}

/// The notifier engine on the leader: passes run only while this replica holds the Lease
/// (the cursor's compare-and-swap keeps a brief second leader from storing rows twice).
pub async fn dispatch_on_leader(ctx: Arc<Context>, store: herald_store::Store) {
    let poster = match ctx.poster() {
        Ok(poster) => poster.clone(),
        Err(error) => {
            tracing::error!(%error, "notifications are off");
            return;
        }
    };
    let config = herald_notify::Config {
        external_url: ctx.config.external_url.clone(),
        ..herald_notify::Config::default()
    };
    let env = Arc::new(ClusterEnv { ctx: ctx.clone() });
    let dispatcher =
        herald_notify::Dispatcher::new(env, store, poster, ctx.metrics.clone(), config);
    let leadership = ctx.leadership.clone();
    dispatcher.run_when(move || leadership.is_leader()).await;
}
