//! `concurrency` in local mode: which runs of each action execute and which wait, decided by
//! `herald_core::steps::admit` (the rule cluster mode uses too). Kept in memory: the queue's
//! order is the runs' ids, which are their creation order, and `Engine::recover` enters the
//! stored pending runs oldest first, so the queue survives a restart as the stored runs.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};

use herald_api::{ActionKind, Concurrency, reasons};
use herald_core::steps::{Admission, Halt, admit};
use herald_store::RunId;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::{Notify, watch};

/// An action, as runs name it.
pub(crate) type ActionKey = (String, ActionKind, String);

/// The runs of every action with a `concurrency` limit.
#[derive(Debug, Default)]
pub(crate) struct Admissions {
    lanes: Mutex<HashMap<ActionKey, Lane>>,
    changed: Notify,
    /// The runs in every lane's `waiting` (`herald_runs_queued`).
    queued: Gauge,
}

#[derive(Debug, Default)]
struct Lane {
    /// Executing, oldest first, with the way to cancel each and whether that was done.
    running: VecDeque<Running>,
    waiting: BTreeSet<RunId>,
}

#[derive(Debug)]
struct Running {
    id: RunId,
    halt: watch::Sender<Option<Halt>>,
    cancelled: bool,
}

/// Where a run stands once it has asked to start.
pub(crate) enum Entered {
    Started(Ticket),
    Waiting(Waiting),
    /// `Forbid`, with the reason.
    Skipped(String),
}

/// A run allowed to execute: its slot in its action's lane until dropped, and the signal that
/// another run replaced it.
#[derive(Debug)]
pub(crate) struct Ticket {
    admissions: Option<(Arc<Admissions>, ActionKey, RunId)>,
    pub halt: watch::Receiver<Option<Halt>>,
    /// Without a limit nothing can replace the run; the sender stays so `halt` never closes.
    _unlimited: Option<watch::Sender<Option<Halt>>>,
}

/// A run queued behind others.
pub(crate) struct Waiting {
    admissions: Arc<Admissions>,
    key: ActionKey,
    id: RunId,
    limit: Concurrency,
}

impl Admissions {
    /// Counts the runs waiting in any lane in `gauge` (the process's metric).
    pub fn reporting_in(queued: Gauge) -> Self {
        Self {
            queued,
            ..Self::default()
        }
    }

    /// Asks for run `id` of `key` to start under `limit` (no limit: always started).
    pub fn enter(
        self: &Arc<Self>,
        key: ActionKey,
        id: RunId,
        limit: Option<&Concurrency>,
    ) -> Entered {
        let Some(limit) = limit else {
            return Entered::Started(Ticket::unlimited());
        };
        match self.decide(&key, id, limit, true) {
            Some(Ok(ticket)) => Entered::Started(ticket),
            Some(Err(message)) => Entered::Skipped(message),
            None => Entered::Waiting(Waiting {
                admissions: Arc::clone(self),
                key,
                id,
                limit: limit.clone(),
            }),
        }
    }

    /// One decision: `Some(Ok)` started, `Some(Err)` skipped, `None` still waiting (having
    /// asked the oldest executing run to stop, for `Replace`).
    fn decide(
        self: &Arc<Self>,
        key: &ActionKey,
        id: RunId,
        limit: &Concurrency,
        first: bool,
    ) -> Option<Result<Ticket, String>> {
        let mut lanes = self.lanes.lock().unwrap_or_else(PoisonError::into_inner);
        let lane = lanes.entry(key.clone()).or_default();
        if first && lane.waiting.insert(id) {
            self.queued.inc();
        }
        let queued_before = lane.waiting.range(..id).count();
        match admit(Some(limit), lane.running.len(), queued_before) {
            Admission::Start => {
                lane.unqueue(id, &self.queued);
                let (halt, receiver) = watch::channel(None);
                lane.running.push_back(Running {
                    id,
                    halt,
                    cancelled: false,
                });
                Some(Ok(Ticket {
                    admissions: Some((Arc::clone(self), key.clone(), id)),
                    halt: receiver,
                    _unlimited: None,
                }))
            }
            Admission::Skip { message } => {
                lane.unqueue(id, &self.queued);
                Some(Err(message))
            }
            Admission::Replace => {
                if let Some(oldest) = lane.running.iter_mut().find(|r| !r.cancelled) {
                    oldest.cancelled = true;
                    let message = format!("replaced by run {id} (concurrency.policy Replace)");
                    let _ = oldest.halt.send(Some(Halt::Cancelled {
                        reason: reasons::RUN_REPLACED,
                        message,
                    }));
                    tracing::info!(run = oldest.id, by = id, "run replaced");
                }
                None
            }
            Admission::Wait => None,
        }
    }

    /// A run found executing at start-up takes its place again, whatever the limit.
    pub fn resume(self: &Arc<Self>, key: ActionKey, id: RunId, limited: bool) -> Ticket {
        if !limited {
            return Ticket::unlimited();
        }
        let (halt, receiver) = watch::channel(None);
        let mut lanes = self.lanes.lock().unwrap_or_else(PoisonError::into_inner);
        lanes
            .entry(key.clone())
            .or_default()
            .running
            .push_back(Running {
                id,
                halt,
                cancelled: false,
            });
        Ticket {
            admissions: Some((Arc::clone(self), key, id)),
            halt: receiver,
            _unlimited: None,
        }
    }

    fn leave(&self, key: &ActionKey, id: RunId) {
        let mut lanes = self.lanes.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(lane) = lanes.get_mut(key) {
            lane.running.retain(|r| r.id != id);
            lane.unqueue(id, &self.queued);
            if lane.running.is_empty() && lane.waiting.is_empty() {
                lanes.remove(key);
            }
        }
        drop(lanes);
        self.changed.notify_waiters();
    }
}

impl Lane {
    /// Takes run `id` out of the queue, if it is there.
    fn unqueue(&mut self, id: RunId, queued: &Gauge) {
        if self.waiting.remove(&id) {
            queued.dec();
        }
    }
}

impl Waiting {
    /// Waits until the run may start (`Queue`, `Replace`), under the limit it entered with.
    pub async fn admitted(self) -> Ticket {
        loop {
            // Listen before looking, so a run leaving in between is not missed.
            let changed = self.admissions.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            // Forbid never waits, so a waiting run is never skipped here.
            if let Some(Ok(ticket)) =
                (self.admissions).decide(&self.key, self.id, &self.limit, false)
            {
                return ticket;
            }
            changed.await;
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        // A waiting run abandoned (its task ended) must not hold the queue.
        let mut lanes = (self.admissions.lanes)
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(lane) = lanes.get_mut(&self.key) {
            lane.unqueue(self.id, &self.admissions.queued);
        }
        drop(lanes);
        self.admissions.changed.notify_waiters();
    }
}

impl Ticket {
    fn unlimited() -> Self {
        let (sender, halt) = watch::channel(None);
        Self {
            admissions: None,
            halt,
            _unlimited: Some(sender),
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some((admissions, key, id)) = self.admissions.take() {
            admissions.leave(&key, id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_api::ConcurrencyPolicy;

    fn key() -> ActionKey {
        ("default".to_owned(), ActionKind::Action, "build".to_owned())
    }

    #[tokio::test]
    async fn the_queued_gauge_counts_the_runs_waiting_and_nothing_else() {
        let queued = Gauge::default();
        let admissions = Arc::new(Admissions::reporting_in(queued.clone()));
        let limit = Concurrency {
            max: 1,
            policy: ConcurrencyPolicy::Queue,
        };
        let Entered::Started(first) = admissions.enter(key(), 1, Some(&limit)) else {
            panic!("the first run starts");
        };
        let Entered::Waiting(second) = admissions.enter(key(), 2, Some(&limit)) else {
            panic!("the second run waits");
        };
        let Entered::Waiting(third) = admissions.enter(key(), 3, Some(&limit)) else {
            panic!("the third run waits");
        };
        assert_eq!(queued.get(), 2);
        drop(first);
        let second = second.admitted().await;
        assert_eq!(queued.get(), 1, "the second run left the queue to execute");
        drop(third);
        assert_eq!(queued.get(), 0, "an abandoned waiting run leaves the queue");
        drop(second);
        assert_eq!(queued.get(), 0);
        let unlimited = admissions.enter(key(), 4, None);
        assert!(matches!(unlimited, Entered::Started(_)));
        assert_eq!(queued.get(), 0, "a run without a limit never queues");
    }
}
