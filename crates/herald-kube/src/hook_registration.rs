//! `webhook.register`: the trigger's hooks created at the Git host, kept in step on every
//! reconcile (a changed secret, path or address is written again), and removed when the
//! trigger is deleted or stops asking, behind a finalizer that never holds a deletion longer
//! than `OperatorConfig::hook_removal_grace` when the host cannot be reached.

use herald_api::{RegisteredHook, SourceKind, WebhookTrigger, reasons};
use herald_notify::hosts::{Hook, Hooks, HostError, Repository};
use herald_notify::webhook::WebhookError;
use kube::api::{Patch, PatchParams};
use kube::runtime::reflector::ObjectRef;
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::context::Context;
use crate::error::{Error, KubeContext};

/// The finalizer that keeps a trigger until its hooks are removed at the host.
pub const FINALIZER: &str = "herald.dev/hook-registration";

/// What registering found: the hooks, and the `HookRegistered` condition's words.
#[derive(Debug)]
pub struct Registration {
    pub hooks: Vec<RegisteredHook>,
    pub ok: bool,
    pub reason: &'static str,
    pub message: String,
}

/// Creates or updates `trigger`'s hooks (it has `webhook.register`).
pub async fn register(ctx: &Context, trigger: &WebhookTrigger) -> Result<Registration, Error> {
    ensure_finalizer(ctx, trigger).await?;
    let Some(register) = &trigger.spec.webhook.register else {
        return Ok(failed(reasons::INVALID_SPEC, "no webhook.register".into()));
    };
    let namespace = trigger.namespace().unwrap_or_default();
    let token = match secret(ctx, &namespace, &register.secret_ref.name, "token").await {
        Ok(token) => token,
        Err(why) => return Ok(failed(why.reason, why.message)),
    };
    let auth = &trigger.spec.webhook.auth_config;
    let hook_secret = match secret(ctx, &namespace, &auth.secret_ref.name, &auth.key).await {
        Ok(secret) => secret,
        Err(why) => return Ok(failed(why.reason, why.message)),
    };
    let poster = ctx.poster()?;
    let mut hooks = Vec::new();
    for (path, repository) in targets(ctx, trigger) {
        let Some(repository) = repository else {
            let why = format!(
                "cannot tell the repository of the hook {path}; set webhook.register.repository"
            );
            return Ok(failed(reasons::SOURCE_NOT_FOUND, why));
        };
        let url = format!("{}{path}", register.external_url.trim_end_matches('/'));
        let parsed = match Repository::parse(&repository, "the repository") {
            Ok(parsed) => parsed,
            Err(error) => return Ok(failed(reasons::INVALID_SPEC, error.to_string())),
        };
        let at = Hooks {
            poster,
            api: register.api,
            repository: &parsed,
            token: &token,
        };
        match at
            .ensure(Hook {
                url: &url,
                secret: &hook_secret,
            })
            .await
        {
            Ok(id) => hooks.push(RegisteredHook {
                repository,
                id,
                url,
            }),
            Err(error) => return Ok(refused(&error)),
        }
    }
    // Hooks registered before at another URL or repository (a changed path, address or
    // source) are this trigger's no more.
    let before = trigger
        .status
        .as_ref()
        .map(|s| s.registered_hooks.as_slice())
        .unwrap_or_default();
    for stale in before.iter().filter(|old| {
        !hooks
            .iter()
            .any(|h| h.url == old.url && h.repository == old.repository)
    }) {
        let removed = match Repository::parse(&stale.repository, "the repository") {
            Ok(repository) => {
                let at = Hooks {
                    poster,
                    api: register.api,
                    repository: &repository,
                    token: &token,
                };
                at.remove(&stale.url).await.map(drop)
            }
            Err(error) => Err(error),
        };
        if let Err(error) = removed {
            tracing::warn!(trigger = %trigger.name_any(), url = %stale.url, %error, "a replaced hook could not be removed at the Git host");
        }
    }
    let message = format!("{} hook(s) at {}", hooks.len(), register.api.as_str());
    Ok(Registration {
        hooks,
        ok: true,
        reason: reasons::REGISTERED,
        message,
    })
}

/// Removes the hooks `trigger`'s status lists; then drops the finalizer. When the host
/// cannot be asked, tries again until the grace after the deletion (or the request to stop
/// registering) has passed, then lets go and logs what is left behind.
pub async fn unregister(
    ctx: &Context,
    trigger: &WebhookTrigger,
) -> Result<Option<std::time::Duration>, Error> {
    let namespace = trigger.namespace().unwrap_or_default();
    let registered = trigger
        .status
        .as_ref()
        .map(|s| s.registered_hooks.clone())
        .unwrap_or_default();
    let Some(register) = &trigger.spec.webhook.register else {
        // No longer asked for: without its token nothing can be removed.
        if !registered.is_empty() {
            tracing::warn!(trigger = %trigger.name_any(), hooks = ?registered, "webhook.register was removed: its hooks stay at the Git host");
        }
        remove_finalizer(ctx, trigger).await?;
        return Ok(None);
    };
    let token = secret(ctx, &namespace, &register.secret_ref.name, "token").await;
    let poster = ctx.poster()?;
    let mut left = Vec::new();
    for hook in &registered {
        let removed = match (
            &token,
            Repository::parse(&hook.repository, "the repository"),
        ) {
            (Ok(token), Ok(repository)) => {
                let at = Hooks {
                    poster,
                    api: register.api,
                    repository: &repository,
                    token,
                };
                at.remove(&hook.url)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
            (Err(why), _) => Err(why.message.clone()),
            (_, Err(error)) => Err(error.to_string()),
        };
        if let Err(why) = removed {
            left.push(format!("{} ({why})", hook.url));
        }
    }
    if !left.is_empty() {
        let since = trigger
            .metadata
            .deletion_timestamp
            .as_ref()
            .map(|t| t.0)
            .unwrap_or_else(jiff::Timestamp::now);
        let waited = jiff::Timestamp::now().duration_since(since).unsigned_abs();
        if waited < ctx.config.hook_removal_grace {
            tracing::info!(trigger = %trigger.name_any(), left = ?left, "hooks not removed yet; trying again");
            return Ok(Some(std::time::Duration::from_secs(5)));
        }
        tracing::warn!(trigger = %trigger.name_any(), left = ?left, "gave up removing hooks at the Git host; remove them there");
    }
    remove_finalizer(ctx, trigger).await?;
    Ok(None)
}

/// Whether Herald holds `trigger` for its hooks.
pub fn has_finalizer(trigger: &WebhookTrigger) -> bool {
    trigger.finalizers().iter().any(|f| f == FINALIZER)
}

/// Each hook path with the repository that posts to it: the one named, or each source's.
fn targets(ctx: &Context, trigger: &WebhookTrigger) -> Vec<(String, Option<String>)> {
    let namespace = trigger.namespace().unwrap_or_default();
    let webhook = &trigger.spec.webhook;
    let sources = &trigger.spec.sources;
    let paths = herald_core::hooks::hook_paths(
        webhook.provider.into(),
        &namespace,
        &trigger.name_any(),
        &sources.names,
        webhook.multi_source,
    );
    if let Some(repository) = webhook.register.as_ref().and_then(|r| r.repository.clone()) {
        return paths
            .into_iter()
            .map(|p| (p, Some(repository.clone())))
            .collect();
    }
    let mut targets: Vec<(String, Option<String>)> = Vec::new();
    for (i, source) in sources.names.iter().enumerate() {
        let path = paths.get(i).or(paths.first()).cloned().unwrap_or_default();
        let url = source_url(ctx, sources.kind, &namespace, source);
        if !targets.iter().any(|(p, u)| *p == path && *u == url) {
            targets.push((path, url));
        }
    }
    targets
}

fn source_url(ctx: &Context, kind: SourceKind, namespace: &str, name: &str) -> Option<String> {
    match kind {
        SourceKind::GitRepo => ctx
            .caches
            .git_repos
            .get(&ObjectRef::new(name).within(namespace))
            .map(|r| r.spec.repo_uri.clone()),
        SourceKind::ClusterGitRepo => ctx
            .caches
            .cluster_git_repos
            .get(&ObjectRef::new(name))
            .map(|r| r.spec.repo_uri.clone()),
    }
}

async fn secret(
    ctx: &Context,
    namespace: &str,
    name: &str,
    key: &str,
) -> Result<String, herald_engine::SourceError> {
    let value = ctx.caches.secrets.value(namespace, name, key).await?;
    String::from_utf8(value)
        .map(|v| v.trim().to_owned())
        .map_err(|_| {
            herald_engine::SourceError::credentials_invalid(format!(
                "key {key} of Secret {namespace}/{name} is not UTF-8"
            ))
        })
}

fn failed(reason: &'static str, message: String) -> Registration {
    Registration {
        hooks: Vec::new(),
        ok: false,
        reason,
        message,
    }
}

/// The host's answer, in the condition: refused (with its status and words) or unreachable.
fn refused(error: &HostError) -> Registration {
    let reason = match error {
        HostError::Url(WebhookError::Transport { .. } | WebhookError::Abandoned { .. }) => {
            reasons::HOST_UNREACHABLE
        }
        _ => reasons::HOST_REFUSED,
    };
    failed(reason, error.to_string())
}

async fn ensure_finalizer(ctx: &Context, trigger: &WebhookTrigger) -> Result<(), Error> {
    if has_finalizer(trigger) {
        return Ok(());
    }
    let mut finalizers = trigger.finalizers().to_vec();
    finalizers.push(FINALIZER.to_owned());
    patch_finalizers(ctx, trigger, finalizers).await
}

async fn remove_finalizer(ctx: &Context, trigger: &WebhookTrigger) -> Result<(), Error> {
    let finalizers: Vec<String> = trigger
        .finalizers()
        .iter()
        .filter(|f| *f != FINALIZER)
        .cloned()
        .collect();
    patch_finalizers(ctx, trigger, finalizers).await
}

/// A merge patch of the whole list, guarded by the resourceVersion read, so another
/// controller's finalizer added meanwhile is never dropped (the patch fails and is retried).
async fn patch_finalizers(
    ctx: &Context,
    trigger: &WebhookTrigger,
    finalizers: Vec<String>,
) -> Result<(), Error> {
    let api: Api<WebhookTrigger> =
        Api::namespaced(ctx.client.clone(), &trigger.namespace().unwrap_or_default());
    let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": trigger.resource_version()}});
    api.patch(
        &trigger.name_any(),
        &PatchParams::default(),
        &Patch::Merge(&patch),
    )
    .await
    .step("updating a trigger's finalizers")?;
    Ok(())
}
