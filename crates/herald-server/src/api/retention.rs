//! Event retention: a small loop that prunes the event log by age and count, once at start and
//! then on a schedule, in both modes.

use std::time::Duration;

use herald_store::Store;

/// How long and how many events are kept, and how often that is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Events older than this are deleted; `None` keeps them whatever their age.
    pub max_age: Option<Duration>,
    /// All but the newest this many are deleted; `None` keeps any number.
    pub max_count: Option<u64>,
    /// How often the limits are enforced.
    pub every: Duration,
}

impl Retention {
    /// 30 days.
    pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 60 * 60);
    /// One million events.
    pub const DEFAULT_MAX_COUNT: u64 = 1_000_000;
    /// Hourly.
    pub const DEFAULT_EVERY: Duration = Duration::from_secs(60 * 60);
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            max_age: Some(Self::DEFAULT_MAX_AGE),
            max_count: Some(Self::DEFAULT_MAX_COUNT),
            every: Self::DEFAULT_EVERY,
        }
    }
}

/// Prunes now and then every `retention.every`, forever. A failed prune is logged and retried
/// at the next tick: retention is housekeeping, never a reason to stop serving.
pub async fn prune_events_forever(store: Store, retention: Retention) {
    if retention.max_age.is_none() && retention.max_count.is_none() {
        tracing::info!("event retention is off: events are kept forever");
        return std::future::pending().await;
    }
    let mut ticks = tokio::time::interval(retention.every.max(Duration::from_secs(1)));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match store
            .prune_events(retention.max_age, retention.max_count)
            .await
        {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "old events pruned"),
            Err(e) => tracing::warn!(error = %e, "pruning events failed; retrying later"),
        }
    }
}
