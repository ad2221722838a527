//! A hook delivery fans out to sources; their outcomes make one answer.

use std::sync::atomic::{AtomicU64, Ordering};

use herald_core::Firing;
use herald_server::{FireError, Fired, FiredRun, SkippedSource};

use crate::fire::{Failure, Outcome};

/// The firing a delivery makes: its id is the occasion, so a redelivery is the same run; a
/// delivery without one is an occasion of its own.
pub fn delivery_firing(id: Option<&str>) -> Firing {
    Firing::Delivery(id.map_or_else(occasion_id, str::to_owned))
}

/// A process-unique id for an occasion that must never collide with another (a delivery
/// without an id, a hand firing).
pub fn occasion_id() -> String {
    // Process-wide on purpose: two engines in one process must not hand out the same id.
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let now = jiff::Timestamp::now().as_nanosecond();
    format!("{now}-{}-{n}", std::process::id())
}

/// What a delivery did, source by source: the runs it newly created (for the caller to
/// start, whatever the answer) and the answer.
#[derive(Debug)]
pub struct HookOutcomes<R> {
    pub created: Vec<R>,
    pub answer: Result<Fired, FireError>,
}

impl<R> HookOutcomes<R> {
    /// Gathers the sources' outcomes. A store failure fails the delivery (`503`: nothing may
    /// be acknowledged that was not stored; a retry finds the stored runs by name); a source
    /// that could not be read fails it only when no source produced a run.
    pub fn gather(
        outcomes: Vec<(String, Outcome<R>)>,
        describe: impl Fn(&str, &R, bool) -> FiredRun,
    ) -> Self {
        let mut fired = Fired::default();
        let mut created = Vec::new();
        let (mut unstored, mut unreadable) = (Vec::new(), Vec::new());
        for (source, outcome) in outcomes {
            match outcome {
                Outcome::Created(run) => {
                    fired.runs.push(describe(&source, &run, true));
                    created.push(run);
                }
                Outcome::Existing(run) => fired.runs.push(describe(&source, &run, false)),
                Outcome::Skipped(reason) => fired.skipped.push(SkippedSource { source, reason }),
                Outcome::Failed(Failure::Store(why)) => unstored.push(format!("{source}: {why}")),
                Outcome::Failed(Failure::Source(why)) => {
                    unreadable.push(format!("{source}: {why}"))
                }
            }
        }
        let answer = if !unstored.is_empty() {
            Err(FireError::Store(unstored.join("; ")))
        } else if fired.runs.is_empty() && !unreadable.is_empty() {
            Err(FireError::Source(unreadable.join("; ")))
        } else {
            Ok(fired)
        };
        Self { created, answer }
    }
}
