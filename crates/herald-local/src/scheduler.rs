//! Schedule triggers: one task per trigger, restarted when its definition changes.

use std::collections::BTreeMap;
use std::sync::Arc;

use herald_api::{ScheduleTriggerSpec, TriggerKind};
use herald_core::Ticker;
use jiff::Timestamp;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::catalog::{Catalog, Key};
use herald_core::Firing;

use crate::engine::{Engine, FireRequest};
use crate::report::log_outcomes;

/// Keep one task per schedule trigger in step with the catalog, until the catalog's sender
/// is dropped.
pub async fn run_schedules(engine: Engine, mut catalog: watch::Receiver<Arc<Catalog>>) {
    let mut running: BTreeMap<Key, (ScheduleTriggerSpec, AbortOnDrop)> = BTreeMap::new();
    loop {
        let current = catalog.borrow_and_update().clone();
        running.retain(|key, (spec, _)| {
            current
                .schedule_triggers
                .get(key)
                .is_some_and(|t| &t.spec == spec)
        });
        for (key, trigger) in &current.schedule_triggers {
            if !running.contains_key(key) {
                let task = tokio::spawn(tick_forever(
                    engine.clone(),
                    key.clone(),
                    trigger.spec.clone(),
                ));
                running.insert(key.clone(), (trigger.spec.clone(), AbortOnDrop(task)));
            }
        }
        if catalog.changed().await.is_err() {
            return;
        }
    }
}

/// Stops the trigger's task when its entry is replaced or removed.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn tick_forever(engine: Engine, (namespace, name): Key, spec: ScheduleTriggerSpec) {
    let ticker = match Ticker::from_schedule(&spec.schedule) {
        Ok(ticker) => ticker,
        Err(e) => {
            tracing::error!(%namespace, trigger = %name, error = %e, "schedule not started");
            return;
        }
    };
    // Local mode keeps no last check time: a restart checks an interval trigger at once.
    let mut due = ticker.due(None, None, Timestamp::now());
    loop {
        sleep_until(due).await;
        let request = FireRequest {
            kind: TriggerKind::ScheduleTrigger,
            namespace: namespace.clone(),
            name: name.clone(),
            source: None,
            firing: Firing::Tick(due.to_string()),
            pushes: None,
            listing_max_age: ticker.listing_max_age(),
        };
        match engine.fire(&request).await {
            Ok(outcomes) => log_outcomes(&engine, &request, outcomes),
            Err(e) => tracing::warn!(%namespace, trigger = %name, error = %e, "check failed"),
        }
        // Never schedule in the past: a slow check skips missed ticks rather than bursting.
        let after = due.max(Timestamp::now());
        due = match ticker.next_after(after) {
            Ok(t) => t,
            Err(e) => {
                return tracing::error!(%namespace, trigger = %name, error = %e, "no next time");
            }
        };
    }
}

async fn sleep_until(at: Timestamp) {
    let wait = at.duration_since(Timestamp::now());
    if let Ok(wait) = std::time::Duration::try_from(wait) {
        tokio::time::sleep(wait).await;
    }
}
