//! The notifier's loop: turn new events into outbox rows, send what is due, retry with
//! backoff, give up loudly. One per store: local mode runs it always, cluster mode on the
//! leader (the cursor's compare-and-swap keeps a brief second leader from doubling rows).

use std::sync::Arc;
use std::time::{Duration, Instant};

use herald_api::{
    DEFAULT_FOLD_WINDOW, NOTIFIER_ADDRESS_KEY, NOTIFIER_TOKEN_KEY, Notifier, NotifierType,
};
use herald_server::Metrics;
use herald_store::{
    Backend, Enqueue, EventKind, EventRecord, NewEvent, Outgoing, Store, StoreError,
};
use jiff::Timestamp;

use crate::env::NotifyEnv;
use crate::hosts::Repository;
use crate::message::{Message, generic_body, signature, slack_body};
use crate::notice::Notice;
use crate::select::wants;
use crate::status;
use crate::webhook::{Poster, Target, WebhookError};
use reqwest::header::{HeaderName, HeaderValue};

/// A Notifier's name in the outbox: `namespace/name`.
fn key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

/// How the loop behaves; [`Config::default`] is what both modes use.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where Herald is reached from outside (`https://herald.example.com`): links point there.
    pub external_url: Option<String>,
    /// How often new events are looked for.
    pub poll: Duration,
    /// Sends tried before a notification is given up.
    pub max_attempts: i64,
    /// The first retry's delay, doubled each time up to `backoff_max`.
    pub backoff: Duration,
    pub backoff_max: Duration,
    /// How long a gap in event ids (a transaction still committing on PostgreSQL) is waited
    /// for before the events after it are taken.
    pub gap_patience: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            external_url: None,
            poll: Duration::from_secs(1),
            max_attempts: 8,
            backoff: Duration::from_secs(2),
            backoff_max: Duration::from_secs(300),
            gap_patience: Duration::from_secs(5),
        }
    }
}

/// Events read per pass; sends per pass.
const EVENTS_PER_PASS: u32 = 500;
const SENDS_PER_PASS: u32 = 64;
/// Sent and failed rows are kept this long (for `herald` to show, and for folding).
const KEEP_FINISHED: Duration = Duration::from_secs(24 * 3600);

/// Why one notification was not sent.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Webhook(#[from] WebhookError),
    #[error(transparent)]
    Status(#[from] crate::hosts::HostError),
    /// The Notifier's Secret is missing or unusable.
    #[error("{0}")]
    Secret(String),
    /// Its Secret lacks a key the Notifier needs.
    #[error("{0}")]
    MissingKey(String),
    /// The Notifier names no receiver (no address here or in its Secret).
    #[error("the Notifier has no address: set spec.address or the Secret's `address` key")]
    NoAddress,
    /// A `generic-hmac` or commit status Notifier names no Secret with a `token` (its spec's
    /// validation refuses that: not expected).
    #[error("the Notifier has no Secret with a `token` key")]
    NoToken,
    /// A commit status for a run whose source URL is unknown.
    #[error("cannot tell which repository the run's commit is in: set spec.address")]
    NoRepository,
}

impl SendError {
    fn is_transient(&self) -> bool {
        match self {
            Self::Webhook(error) => error.is_transient(),
            Self::Status(crate::hosts::HostError::Url(error)) => error.is_transient(),
            // A Secret may be created or fixed meanwhile.
            Self::Secret(_) | Self::MissingKey(_) => true,
            Self::Status(_) | Self::NoAddress | Self::NoToken | Self::NoRepository => false,
        }
    }
}

/// The loop's state.
pub struct Dispatcher<E> {
    env: Arc<E>,
    store: Store,
    poster: Poster,
    metrics: Metrics,
    config: Config,
    /// The first missing event id after the cursor, and since when it has been missing.
    gap: Option<(i64, Instant)>,
    last_prune: Option<Instant>,
}

impl<E> std::fmt::Debug for Dispatcher<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("config", &self.config)
            .field("gap", &self.gap)
            .finish_non_exhaustive()
    }
}

impl<E: NotifyEnv> Dispatcher<E> {
    pub fn new(
        env: Arc<E>,
        store: Store,
        poster: Poster,
        metrics: Metrics,
        config: Config,
    ) -> Self {
        Self {
            env,
            store,
            poster,
            metrics,
            config,
            gap: None,
            last_prune: None,
        }
    }

    /// Runs until the task is dropped. A store that fails is logged and tried again.
    pub async fn run(self) {
        self.run_when(|| true).await;
    }

    /// As [`Dispatcher::run`], passing only while `active()` says so (cluster mode: while
    /// this replica leads).
    pub async fn run_when(mut self, active: impl Fn() -> bool) {
        loop {
            if active() {
                if let Err(error) = self.pass().await {
                    tracing::warn!(error = %error, "notifications: the store failed; trying again");
                }
            }
            tokio::time::sleep(self.config.poll).await;
        }
    }

    /// One pass: new events in, due notifications out.
    pub async fn pass(&mut self) -> Result<(), StoreError> {
        self.ingest().await?;
        self.deliver().await?;
        let pending = self.store.pending_notifications().await?;
        self.metrics.notifications_pending.set(pending);
        if self
            .last_prune
            .is_none_or(|at| at.elapsed() > Duration::from_secs(3600))
        {
            let before = Timestamp::now()
                - jiff::SignedDuration::try_from(KEEP_FINISHED).unwrap_or_default();
            self.store.prune_notifications(before).await?;
            self.last_prune = Some(Instant::now());
        }
        Ok(())
    }

    /// Turns the events after the cursor into outbox rows, in one transaction with the move.
    async fn ingest(&mut self) -> Result<(), StoreError> {
        let cursor = self.store.notification_cursor().await?;
        let events = self.store.events_after(cursor, EVENTS_PER_PASS).await?;
        let taken = self.settled(cursor, &events);
        let Some(last) = taken.last().map(|e| e.id) else {
            return Ok(());
        };
        let notifiers = self.env.notifiers();
        let items: Vec<Enqueue> = taken
            .iter()
            .filter_map(|event| Some((event, Notice::from_event(event)?)))
            .flat_map(|(event, notice)| self.rows_for(&notifiers, event, notice))
            .collect();
        match self
            .store
            .enqueue_notifications(cursor, last, &items, Timestamp::now())
            .await
        {
            Err(StoreError::CursorMoved { .. }) => {
                tracing::info!("notifications: another process took these events");
                Ok(())
            }
            other => other,
        }
    }

    /// The events that may be taken now: on PostgreSQL, those before a gap in the ids (a
    /// transaction that took an id may still commit), unless the gap has been there for
    /// `gap_patience` (a rolled-back insert, a conflict, pruning). SQLite commits in id order.
    fn settled<'a>(&mut self, cursor: i64, events: &'a [EventRecord]) -> &'a [EventRecord] {
        if self.store.backend() == Backend::Sqlite {
            return events;
        }
        let mut expected = cursor + 1;
        for (i, event) in events.iter().enumerate() {
            if event.id != expected {
                let since = match self.gap {
                    Some((id, since)) if id == expected => since,
                    _ => {
                        self.gap = Some((expected, Instant::now()));
                        return &events[..i];
                    }
                };
                if since.elapsed() < self.config.gap_patience {
                    return &events[..i];
                }
                tracing::debug!(
                    missing = expected,
                    "notifications: stopped waiting for an event id"
                );
            }
            expected = event.id + 1;
        }
        events
    }

    /// One row per Notifier that wants `notice`.
    fn rows_for(
        &self,
        notifiers: &[Arc<Notifier>],
        event: &EventRecord,
        notice: Notice,
    ) -> Vec<Enqueue> {
        let labels = |object: &crate::notice::Object| self.env.labels(&notice.namespace, object);
        let fold_key = notice.fold_key();
        let json = serde_json::to_value(&notice).unwrap_or_default();
        notifiers
            .iter()
            .filter(|n| n.metadata.namespace.as_deref() == Some(notice.namespace.as_str()))
            .filter(|n| wants(&n.spec, &notice, labels))
            .map(|n| {
                let window = fold_window(n);
                Enqueue {
                    notifier: key(
                        &notice.namespace,
                        n.metadata.name.as_deref().unwrap_or_default(),
                    ),
                    // Not folded: each event its own row.
                    fold_key: if window.is_zero() {
                        format!("{fold_key}#{}", event.id)
                    } else {
                        fold_key.clone()
                    },
                    window,
                    event_id: event.id,
                    notice: json.clone(),
                }
            })
            .collect()
    }

    /// Sends what is due, each at most once at a time; the outcome is stored before the next.
    async fn deliver(&self) -> Result<(), StoreError> {
        let due = self
            .store
            .due_notifications(Timestamp::now(), SENDS_PER_PASS)
            .await?;
        if due.is_empty() {
            return Ok(());
        }
        let notifiers = self.env.notifiers();
        let sends = due.into_iter().map(|outgoing| {
            let notifier = notifiers
                .iter()
                .find(|n| {
                    key(
                        n.metadata.namespace.as_deref().unwrap_or_default(),
                        n.metadata.name.as_deref().unwrap_or_default(),
                    ) == outgoing.notifier
                })
                .cloned();
            async move {
                let result = match &notifier {
                    Some(n) if !n.spec.suspend => self.send(n, &outgoing).await.map(|()| true),
                    // Deleted or suspended meanwhile: what it would have sent is dropped.
                    _ => Ok(false),
                };
                self.settle(&outgoing, result).await
            }
        });
        for result in futures::future::join_all(sends).await {
            result?;
        }
        Ok(())
    }

    /// Records a send's outcome: sent, retried later, or given up (an event and a metric).
    async fn settle(
        &self,
        outgoing: &Outgoing,
        result: Result<bool, SendError>,
    ) -> Result<(), StoreError> {
        match result {
            Ok(true) => {
                Metrics::count(&self.metrics.notifications, "sent");
                self.store.notification_sent(outgoing.id).await
            }
            Ok(false) => {
                self.store
                    .notification_failed(outgoing.id, "the Notifier was deleted or suspended")
                    .await
            }
            Err(error)
                if error.is_transient() && outgoing.attempts + 1 < self.config.max_attempts =>
            {
                let delay = backoff(&self.config, outgoing.attempts);
                tracing::info!(notifier = %outgoing.notifier, error = %error, retry_in = ?delay, "notification not delivered; will retry");
                let due =
                    Timestamp::now() + jiff::SignedDuration::try_from(delay).unwrap_or_default();
                self.store
                    .notification_retry(outgoing.id, due, &error.to_string())
                    .await
            }
            Err(error) => {
                Metrics::count(&self.metrics.notifications, "failed");
                tracing::warn!(notifier = %outgoing.notifier, error = %error, attempts = outgoing.attempts + 1, "notification given up");
                self.store
                    .notification_failed(outgoing.id, &error.to_string())
                    .await?;
                let event = failed_event(outgoing, &error);
                if let Err(store_error) = self.store.record_event(&event).await {
                    tracing::warn!(error = %store_error, "could not record a notification's failure");
                }
                Ok(())
            }
        }
    }

    /// One send to `notifier`'s receiver.
    async fn send(&self, notifier: &Notifier, outgoing: &Outgoing) -> Result<(), SendError> {
        let notice: Notice = serde_json::from_value(outgoing.notice.clone()).map_err(|e| {
            SendError::Webhook(WebhookError::Encode {
                reason: e.to_string(),
            })
        })?;
        let window = outgoing.summary.then(|| fold_window(notifier));
        let link = self.link(&notice);
        let message = Message::new(
            notice,
            outgoing.occurrences,
            window,
            link,
            outgoing.notifier.clone(),
        );
        match notifier.spec.notifier_type.host_api() {
            Some(api) => self.send_status(notifier, api, &message).await,
            None => self.send_webhook(notifier, &message).await,
        }
    }

    /// A commit status, on the repository `spec.address` names or the run's source.
    async fn send_status(
        &self,
        notifier: &Notifier,
        api: herald_api::GitHostApi,
        message: &Message,
    ) -> Result<(), SendError> {
        let token = self.token(notifier).await?;
        let repository = match self.address(notifier).await? {
            Some(address) => Repository::parse(&address, "spec.address")?,
            None => {
                let namespace = notifier.metadata.namespace.as_deref().unwrap_or_default();
                let source = message
                    .notice
                    .source
                    .as_ref()
                    .ok_or(SendError::NoRepository)?;
                let url = self
                    .env
                    .source_url(namespace, source)
                    .ok_or(SendError::NoRepository)?;
                Repository::parse(&url, "the run's source URL")?
            }
        };
        let request = status::request(api, &repository, &token, message)?;
        let body = encode(&request.body)?;
        Ok(self
            .poster
            .post(&request.target, &request.headers, body)
            .await?)
    }

    /// Slack's or Herald's own JSON, signed for `generic-hmac`.
    async fn send_webhook(&self, notifier: &Notifier, message: &Message) -> Result<(), SendError> {
        let address = self.address(notifier).await?.ok_or(SendError::NoAddress)?;
        let target = Target::new(&address)?;
        let body = match notifier.spec.notifier_type {
            NotifierType::Slack => encode(&slack_body(message))?,
            _ => encode(&generic_body(message))?,
        };
        let mut headers = Vec::new();
        if notifier.spec.notifier_type == NotifierType::GenericHmac {
            let key = self.token(notifier).await?;
            let value = HeaderValue::from_str(&signature(key.as_bytes(), &body))
                .map_err(|_| SendError::Secret("the signature is not a header value".into()))?;
            headers.push((HeaderName::from_static("x-signature"), value));
        }
        Ok(self.poster.post(&target, &headers, body).await?)
    }

    /// The Secret's `token`: the HMAC key or the API token.
    async fn token(&self, notifier: &Notifier) -> Result<String, SendError> {
        self.secret(notifier, NOTIFIER_TOKEN_KEY)
            .await?
            .ok_or(SendError::NoToken)
    }

    /// The Secret's `address`, else `spec.address`.
    async fn address(&self, notifier: &Notifier) -> Result<Option<String>, SendError> {
        let from_secret = match self.secret(notifier, NOTIFIER_ADDRESS_KEY).await {
            // The address may be in the spec instead.
            Err(SendError::MissingKey(_)) => None,
            other => other?,
        };
        Ok(from_secret.or_else(|| notifier.spec.address.clone()))
    }

    /// A key of the Notifier's Secret, trimmed; `None` without a Secret.
    async fn secret(
        &self,
        notifier: &Notifier,
        key_name: &str,
    ) -> Result<Option<String>, SendError> {
        let Some(secret) = &notifier.spec.secret_ref else {
            return Ok(None);
        };
        let namespace = notifier.metadata.namespace.as_deref().unwrap_or_default();
        let value = self
            .env
            .secret_value(namespace, &secret.name, key_name)
            .await
            .map_err(|e| match e.reason {
                herald_api::reasons::SECRET_KEY_MISSING => SendError::MissingKey(e.message),
                _ => SendError::Secret(e.message),
            })?;
        String::from_utf8(value)
            .map(|v| Some(v.trim().to_owned()))
            .map_err(|_| {
                SendError::Secret(format!(
                    "key {key_name} of Secret {} is not UTF-8",
                    secret.name
                ))
            })
    }

    /// Where to see the object: the query API's events about it.
    fn link(&self, notice: &Notice) -> Option<String> {
        let base = self.config.external_url.as_deref()?.trim_end_matches('/');
        Some(format!(
            "{base}/api/v1/events?involvedKind={}&involvedNamespace={}&involvedName={}",
            notice.object.kind, notice.namespace, notice.object.name
        ))
    }
}

/// A Notifier's fold window: none for a commit status, else its `foldWindow` (default 10m).
fn fold_window(notifier: &Notifier) -> Duration {
    if notifier.spec.notifier_type.is_commit_status() {
        return Duration::ZERO;
    }
    let text = notifier
        .spec
        .fold_window
        .as_deref()
        .unwrap_or(DEFAULT_FOLD_WINDOW);
    herald_api::validate::step_duration(text).unwrap_or(Duration::ZERO)
}

/// The delay before retry `attempts + 1`: doubling from `backoff`, capped.
fn backoff(config: &Config, attempts: i64) -> Duration {
    let factor = 2u32.saturating_pow(u32::try_from(attempts).unwrap_or(u32::MAX).min(20));
    config
        .backoff
        .saturating_mul(factor)
        .min(config.backoff_max)
}

fn encode(body: &serde_json::Value) -> Result<Vec<u8>, SendError> {
    serde_json::to_vec(body).map_err(|e| {
        SendError::Webhook(WebhookError::Encode {
            reason: e.to_string(),
        })
    })
}

/// The `notification.failed` event: which Notifier, what it was about, why (never the URL).
fn failed_event(outgoing: &Outgoing, error: &SendError) -> NewEvent {
    let (namespace, name) = outgoing
        .notifier
        .split_once('/')
        .unwrap_or(("", &outgoing.notifier));
    let about = |key: &str| outgoing.notice.get(key).cloned();
    NewEvent {
        namespace: Some(namespace.to_owned()),
        involved_kind: Some("Notifier".into()),
        involved_namespace: Some(namespace.to_owned()),
        involved_name: Some(name.to_owned()),
        reason: Some(herald_api::reasons::NOTIFICATION_FAILED.into()),
        severity: Some("error".into()),
        message: Some(format!(
            "gave up after {} attempt(s): {error}",
            outgoing.attempts + 1
        )),
        payload: Some(serde_json::json!({
            "event": about("event"),
            "object": about("object"),
            "eventId": outgoing.event_id,
        })),
        ..NewEvent::new(EventKind::NotificationFailed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let config = Config::default();
        let delays: Vec<_> = (0..10).map(|a| backoff(&config, a).as_secs()).collect();
        assert_eq!(delays, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
    }
}
