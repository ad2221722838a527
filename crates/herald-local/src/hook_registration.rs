//! `webhook.register` in local mode: the folder's WebhookTriggers that ask for it have their
//! hooks created at the Git host (by `herald_notify::registration`, as in a cluster) when
//! Herald starts and whenever the folder changes them; a trigger removed from the folder, or
//! no longer asking, has its hooks removed. What was registered is kept in memory: a restart
//! registers again (hooks are found by URL, so none is doubled) and removes nothing.

use std::collections::BTreeMap;
use std::time::Duration;

use herald_api::{RegisteredHook, WebhookTriggerSpec};
use herald_notify::registration;
use herald_notify::webhook::Poster;

use crate::catalog::{Catalog, Key};
use crate::image_updates::LocalEnv;

/// How soon a registration the host refused (or a missing Secret) is tried again.
const RETRY: Duration = Duration::from_secs(30);

/// A trigger's registration as last done: its spec then, what the host holds, whether it
/// worked, and the token it was done with (a trigger's Secret often leaves the folder with
/// it: the hooks are removed with the token they were made with). Never shown.
struct Done {
    spec: WebhookTriggerSpec,
    hooks: Vec<RegisteredHook>,
    ok: bool,
    token: Option<String>,
}

/// Keeps the folder's hooks registered until the catalog's sender is dropped.
pub async fn run(env: LocalEnv, poster: Poster) {
    let mut catalog = env.catalog.clone();
    let mut done: BTreeMap<Key, Done> = BTreeMap::new();
    loop {
        let current = catalog.borrow_and_update().clone();
        remove_unwanted(&env, &poster, &current, &mut done).await;
        register_changed(&env, &poster, &current, &mut done).await;
        let retry = done.values().any(|d| !d.ok);
        // A failed registration is tried again at the next change, or after RETRY.
        tokio::select! {
            changed = catalog.changed() => if changed.is_err() { return },
            () = tokio::time::sleep(RETRY), if retry => {}
        }
    }
}

/// Triggers gone from the folder, or no longer asking: their hooks removed.
async fn remove_unwanted(
    env: &LocalEnv,
    poster: &Poster,
    current: &Catalog,
    done: &mut BTreeMap<Key, Done>,
) {
    let unwanted: Vec<Key> = done
        .keys()
        .filter(|key| {
            current
                .webhook_triggers
                .get(*key)
                .is_none_or(|t| t.spec.webhook.register.is_none())
        })
        .cloned()
        .collect();
    for key in unwanted {
        let Some(gone) = done.remove(&key) else {
            continue;
        };
        let Some(register) = &gone.spec.webhook.register else {
            continue;
        };
        let left = match &gone.token {
            Some(token) => registration::remove(poster, register, token, &gone.hooks).await,
            None => registration::unregister(env, poster, &key.0, register, &gone.hooks).await,
        };
        if left.is_empty() {
            tracing::info!(trigger = %format!("{}/{}", key.0, key.1), removed = gone.hooks.len(), "hooks removed at the Git host");
        } else {
            tracing::warn!(trigger = %format!("{}/{}", key.0, key.1), ?left, "hooks could not be removed at the Git host; remove them there");
        }
    }
}

/// Triggers asking for registration whose spec is new or changed: registered.
async fn register_changed(
    env: &LocalEnv,
    poster: &Poster,
    current: &Catalog,
    done: &mut BTreeMap<Key, Done>,
) {
    for (key, trigger) in &current.webhook_triggers {
        if trigger.spec.webhook.register.is_none()
            || done
                .get(key)
                .is_some_and(|d| d.ok && d.spec == trigger.spec)
        {
            continue;
        }
        let (namespace, name) = key;
        let wanted = registration::wanted_hooks(namespace, name, &trigger.spec, |kind, source| {
            current.source_url(namespace, kind, source)
        });
        let before = done.get(key).map(|d| d.hooks.clone()).unwrap_or_default();
        let outcome =
            registration::register(env, poster, namespace, &trigger.spec, &wanted, &before).await;
        let trigger_name = format!("{namespace}/{name}");
        if outcome.ok {
            tracing::info!(trigger = %trigger_name, message = %outcome.message, "hooks registered at the Git host");
        } else {
            tracing::warn!(trigger = %trigger_name, reason = outcome.reason, message = %outcome.message, "hooks not registered; trying again");
        }
        let token = match &trigger.spec.webhook.register {
            Some(register) => registration::token(env, namespace, register).await.ok(),
            None => None,
        };
        done.insert(
            key.clone(),
            Done {
                spec: trigger.spec.clone(),
                hooks: outcome.hooks,
                ok: outcome.ok,
                token,
            },
        );
    }
}
