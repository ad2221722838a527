//! Recording verified deliveries, and recognising one delivered before.
//!
//! A delivery is recorded after its runs are stored: a crash in between leaves no record, so
//! the sender's retry fires again, and run names (made from the delivery id) turn that retry
//! into the runs already created. Recording first would instead acknowledge a retry whose runs
//! were never stored. Every delivery with an id is looked up before it fires, so a repeat runs
//! nothing however long after (its runs may have been pruned); two copies racing past the
//! lookup fire the same named runs, and the id's uniqueness makes the second a duplicate.

use herald_core::hooks::{HookEvent, Provider, Push};
use herald_store::{EventKind, EventRecorded, NewEvent, Store, StoreError};
use serde_json::json;

use crate::hooks::FiredRun;

/// One verified delivery's place in the log.
pub(crate) struct DeliveryLog<'a> {
    store: Option<&'a Store>,
    namespace: &'a str,
    trigger: &'a str,
    source: Option<&'a str>,
    /// The provider's delivery id, scoped to the trigger (ids from generic senders need not be
    /// unique across triggers).
    key: Option<String>,
}

impl<'a> DeliveryLog<'a> {
    pub(crate) fn new(
        store: Option<&'a Store>,
        namespace: &'a str,
        trigger: &'a str,
        source: Option<&'a str>,
        delivery_id: Option<&str>,
    ) -> Self {
        Self {
            store,
            namespace,
            trigger,
            source,
            key: delivery_id.map(|id| format!("{namespace}/{trigger}/{id}")),
        }
    }

    /// The event that recorded this delivery before, if any.
    pub(crate) async fn earlier(&self) -> Result<Option<i64>, StoreError> {
        match (self.store, &self.key) {
            (Some(store), Some(key)) => store.delivery_event(key).await,
            _ => Ok(None),
        }
    }

    /// Records the delivery as handled; `duplicate` when it was recorded before, `Ok(None)`
    /// when there is no log.
    pub(crate) async fn record(
        &self,
        provider: Provider,
        event: &HookEvent,
        runs: &[FiredRun],
    ) -> Result<Option<EventRecorded>, StoreError> {
        let Some(store) = self.store else {
            return Ok(None);
        };
        let event = self.event(provider, event, runs);
        store.record_event(&event).await.map(Some)
    }

    fn event(&self, provider: Provider, event: &HookEvent, runs: &[FiredRun]) -> NewEvent {
        let (reason, pushes) = match event {
            HookEvent::Push(pushes) if pushes.iter().all(|p| p.deleted) => {
                ("delete".to_owned(), pushes.as_slice())
            }
            HookEvent::Push(pushes) => ("push".to_owned(), pushes.as_slice()),
            HookEvent::Ping => ("ping".to_owned(), &[][..]),
            HookEvent::Ignored { event } => (format!("ignored:{event}"), &[][..]),
            HookEvent::Unspecified => ("hook".to_owned(), &[][..]),
        };
        let run_names: Vec<&str> = runs.iter().map(|r| r.name.as_str()).collect();
        NewEvent {
            namespace: Some(self.namespace.to_owned()),
            trigger: Some(self.trigger.to_owned()),
            source: self.source.map(str::to_owned),
            // One pushed revision makes the delivery findable by revision; a deletion has none.
            revision: match pushes {
                [push] if !push.deleted => Some(push.revision.clone()),
                _ => None,
            },
            message: Some(message(&reason, pushes, run_names.len())),
            reason: Some(reason),
            delivery_id: self.key.clone(),
            payload: Some(json!({
                "provider": provider.to_string(),
                "pushes": pushes.iter().map(push_summary).collect::<Vec<_>>(),
                "runs": run_names,
            })),
            ..NewEvent::new(EventKind::HookDelivery)
        }
    }
}

fn push_summary(push: &Push) -> serde_json::Value {
    let revision = (!push.deleted).then_some(&push.revision);
    json!({ "ref": push.git_ref, "revision": revision, "deleted": push.deleted })
}

fn message(reason: &str, pushes: &[Push], runs: usize) -> String {
    match pushes {
        [] => format!("{reason} delivered; {runs} run(s)"),
        [push] if push.deleted => format!("deletion of {}; {runs} run(s)", push.git_ref),
        [push] => format!(
            "push to {} at {}; {runs} run(s)",
            push.git_ref, push.revision
        ),
        many => format!("push of {} refs; {runs} run(s)", many.len()),
    }
}
