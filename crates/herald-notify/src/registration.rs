//! `webhook.register`, the part both modes share: which hooks a WebhookTrigger wants (its
//! paths at `externalUrl`, each at its repository), creating or updating them at the host,
//! removing the ones it no longer wants, and removing them all when it goes. Secrets are read
//! through the mode's [`SecretReader`]; what to do with the outcome (a condition, a log line)
//! is the mode's.

use herald_api::{
    HookRegistration, NOTIFIER_TOKEN_KEY, RegisteredHook, SourceKind, WebhookTriggerSpec, reasons,
};
use herald_engine::{SecretReader, SourceError};

use crate::hosts::{Hook, Hooks, HostError, Repository};
use crate::webhook::{Poster, WebhookError};

/// One hook a trigger wants: the URL the host posts to, and the repository (`None` when its
/// source's URL is unknown).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub url: String,
    pub repository: Option<String>,
}

/// What registering found: the hooks, and the words of a `HookRegistered` condition.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    pub hooks: Vec<RegisteredHook>,
    pub ok: bool,
    pub reason: &'static str,
    pub message: String,
}

/// The hooks trigger `namespace/name` wants: each of its paths at `externalUrl`, at the
/// repository named or at each source's URL (`source_url`).
pub fn wanted_hooks(
    namespace: &str,
    name: &str,
    spec: &WebhookTriggerSpec,
    source_url: impl Fn(SourceKind, &str) -> Option<String>,
) -> Vec<Wanted> {
    let Some(register) = &spec.webhook.register else {
        return Vec::new();
    };
    let base = register.external_url.trim_end_matches('/');
    let paths = herald_core::hooks::hook_paths(
        spec.webhook.provider.into(),
        namespace,
        name,
        &spec.sources.names,
        spec.webhook.multi_source,
    );
    let mut wanted: Vec<Wanted> = Vec::new();
    for (i, source) in spec.sources.names.iter().enumerate() {
        let path = paths.get(i).or(paths.first()).cloned().unwrap_or_default();
        let repository = register
            .repository
            .clone()
            .or_else(|| source_url(spec.sources.kind, source));
        let hook = Wanted {
            url: format!("{base}{path}"),
            repository,
        };
        if !wanted.contains(&hook) {
            wanted.push(hook);
        }
    }
    wanted
}

/// Creates or updates each of `wanted` at the host, then removes those of `before` it no
/// longer wants (a moved URL, another repository).
pub async fn register<S: SecretReader>(
    secrets: &S,
    poster: &Poster,
    namespace: &str,
    spec: &WebhookTriggerSpec,
    wanted: &[Wanted],
    before: &[RegisteredHook],
) -> Registration {
    let Some(register) = &spec.webhook.register else {
        return failed(reasons::INVALID_SPEC, "no webhook.register".into());
    };
    let token = match token(secrets, namespace, register).await {
        Ok(token) => token,
        Err(why) => return failed(why.reason, why.message),
    };
    let auth = &spec.webhook.auth_config;
    let hook_secret = match text(secrets, namespace, &auth.secret_ref.name, &auth.key).await {
        Ok(secret) => secret,
        Err(why) => return failed(why.reason, why.message),
    };
    let mut hooks = Vec::new();
    for hook in wanted {
        let Some(repository) = hook.repository.clone() else {
            let why = format!(
                "cannot tell the repository of the hook {}; set webhook.register.repository",
                hook.url
            );
            return failed(reasons::SOURCE_NOT_FOUND, why);
        };
        let at = match hooks_at(poster, register, &repository, &token) {
            Ok(at) => at,
            Err(error) => return failed(reasons::INVALID_SPEC, error.to_string()),
        };
        let ensured = at
            .ensure(Hook {
                url: &hook.url,
                secret: &hook_secret,
            })
            .await;
        match ensured {
            Ok(id) => hooks.push(RegisteredHook {
                repository,
                id,
                url: hook.url.clone(),
            }),
            Err(error) => {
                // What was registered before stays known, to be kept in step or removed.
                let earlier: Vec<RegisteredHook> = before
                    .iter()
                    .filter(|b| !hooks.contains(b))
                    .cloned()
                    .collect();
                let mut known = hooks;
                known.extend(earlier);
                return Registration {
                    hooks: known,
                    ..refused(&error)
                };
            }
        }
    }
    let stale: Vec<RegisteredHook> = before
        .iter()
        .filter(|old| {
            !hooks
                .iter()
                .any(|h| h.url == old.url && h.repository == old.repository)
        })
        .cloned()
        .collect();
    for left in remove(poster, register, &token, &stale).await {
        tracing::warn!(hook = %left, "a replaced hook could not be removed at the Git host");
    }
    let message = format!("{} hook(s) at {}", hooks.len(), register.api.as_str());
    Registration {
        hooks,
        ok: true,
        reason: reasons::REGISTERED,
        message,
    }
}

/// Removes `hooks` (registered for a trigger of `namespace` with `register`); what could not
/// be removed, with why.
pub async fn unregister<S: SecretReader>(
    secrets: &S,
    poster: &Poster,
    namespace: &str,
    register: &HookRegistration,
    hooks: &[RegisteredHook],
) -> Vec<String> {
    match token(secrets, namespace, register).await {
        Ok(token) => remove(poster, register, &token, hooks).await,
        Err(why) => hooks
            .iter()
            .map(|h| format!("{} ({})", h.url, why.message))
            .collect(),
    }
}

/// Removes `hooks` with `token` (a mode that remembers the token it registered with: local
/// mode, whose Secret may leave the folder with the trigger); what could not be removed.
pub async fn remove(
    poster: &Poster,
    register: &HookRegistration,
    token: &str,
    hooks: &[RegisteredHook],
) -> Vec<String> {
    let mut left = Vec::new();
    for hook in hooks {
        let removed = match hooks_at(poster, register, &hook.repository, token) {
            Ok(at) => at.remove(&hook.url).await.map(drop),
            Err(error) => Err(error),
        };
        if let Err(why) = removed {
            left.push(format!("{} ({why})", hook.url));
        }
    }
    left
}

/// A repository's hooks through `register`'s API.
fn hooks_at<'a>(
    poster: &'a Poster,
    register: &HookRegistration,
    repository: &str,
    token: &'a str,
) -> Result<Hooks<'a>, HostError> {
    Ok(Hooks {
        poster,
        api: register.api,
        repository: Repository::parse(repository, "the repository")?,
        token,
    })
}

/// The API token `register` names, read now.
pub async fn token<S: SecretReader>(
    secrets: &S,
    namespace: &str,
    register: &HookRegistration,
) -> Result<String, SourceError> {
    text(
        secrets,
        namespace,
        &register.secret_ref.name,
        NOTIFIER_TOKEN_KEY,
    )
    .await
}

/// A Secret's key as trimmed text.
async fn text<S: SecretReader>(
    secrets: &S,
    namespace: &str,
    name: &str,
    key: &str,
) -> Result<String, SourceError> {
    let value = secrets.secret_value(namespace, name, key).await?;
    String::from_utf8(value)
        .map(|v| v.trim().to_owned())
        .map_err(|_| {
            SourceError::credentials_invalid(format!(
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

/// The host's answer: refused (with its status and words) or unreachable.
fn refused(error: &HostError) -> Registration {
    let reason = match error {
        HostError::Url(WebhookError::Transport { .. } | WebhookError::Abandoned { .. }) => {
            reasons::HOST_UNREACHABLE
        }
        _ => reasons::HOST_REFUSED,
    };
    failed(reason, error.to_string())
}
