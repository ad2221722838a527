//! Delivery lookups (`Store::delivery_event`), asked before firing every hook delivery: the
//! store's path against the one it replaced on SQLite (the query on an sqlx pool) and against
//! the design not chosen (a reader thread fed by a queue), in the same run.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use herald_store::{NewEvent, Store};
use rusqlite::OptionalExtension;
use sqlx::{AnyPool, Row};
use tokio::sync::{mpsc, oneshot};

use crate::measure::timed;
use crate::workload::{self, Rng, Workload};

/// Concurrent tasks asking, as the hook handler's connections do.
const TASKS: usize = 64;
const LOOKUP: &str = "SELECT id FROM events WHERE delivery_id = ?1";

type Ask = (String, oneshot::Sender<Option<i64>>);

/// How a delivery is looked up.
#[derive(Clone)]
pub enum Lookup {
    /// The query on an sqlx pool of the same database: `delivery_event` before, on SQLite
    /// (and still, on PostgreSQL).
    Sqlx(AnyPool),
    /// `Store::delivery_event`.
    Store(Store),
    /// A thread of its own with one rusqlite connection, answering all that is queued at
    /// each wake-up in one read transaction (SQLite only).
    Queued(mpsc::UnboundedSender<Ask>),
}

impl Lookup {
    async fn find(&self, delivery_id: &str) -> Option<i64> {
        match self {
            Self::Sqlx(pool) => sqlx::query("SELECT id FROM events WHERE delivery_id = $1")
                .bind(delivery_id)
                .fetch_optional(pool)
                .await
                .expect("sqlx lookup")
                .map(|r| r.get::<i64, _>("id")),
            Self::Store(store) => store.delivery_event(delivery_id).await.expect("lookup"),
            Self::Queued(queue) => {
                let (reply, answer) = oneshot::channel();
                queue
                    .send((delivery_id.to_owned(), reply))
                    .expect("reader thread");
                answer.await.expect("answer")
            }
        }
    }
}

/// Starts a [`Lookup::Queued`] reader of the SQLite file at `path`; it ends with the last
/// clone of the lookup.
fn queued_reader(path: &Path) -> Lookup {
    let (queue, mut asked) = mpsc::unbounded_channel::<Ask>();
    let connection = rusqlite::Connection::open(path).expect("open the reader's connection");
    connection
        .execute_batch("PRAGMA busy_timeout = 5000; PRAGMA query_only = ON;")
        .expect("reader settings");
    std::thread::spawn(move || {
        while let Some(first) = asked.blocking_recv() {
            let mut batch = vec![first];
            while let Ok(more) = asked.try_recv() {
                batch.push(more);
            }
            let tx = connection.unchecked_transaction().expect("begin");
            let mut lookup = tx.prepare_cached(LOOKUP).expect("prepare");
            for (key, reply) in batch {
                let found = lookup.query_row([key], |r| r.get(0)).optional();
                let _ = reply.send(found.expect("lookup"));
            }
            drop(lookup);
            tx.commit().expect("end the read transaction");
        }
    });
    Lookup::Queued(queue)
}

/// A rate, and the CPU time (all threads) it took per item.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub per_second: f64,
    pub cpu: Option<Duration>,
}

/// One lookup path's figures.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    /// Lookups from [`TASKS`] tasks.
    pub lookups: Rate,
    /// One task's lookups, one after the other: p50 and p99.
    pub p50: Duration,
    pub p99: Duration,
    /// Deliveries from [`TASKS`] tasks, each looked up and then recorded.
    pub with_record: Rate,
}

/// Delivery lookups, each path measured in the same run.
#[derive(Debug)]
pub struct Deliveries {
    /// Before, on SQLite: the query on an sqlx pool.
    pub sqlx: Figures,
    /// A queued reader thread (SQLite only).
    pub queued: Option<Figures>,
    /// `Store::delivery_event`.
    pub store: Figures,
    /// Deliveries recorded without a lookup, before the others and after them (how far the
    /// machine drifted meanwhile).
    pub record_only: [Rate; 2],
}

/// Measures every path on `keys` and `hooks` new deliveries: `pool` for sqlx, `sqlite` (the
/// store's file) for a queued reader.
pub async fn run(
    store: &Store,
    pool: AnyPool,
    sqlite: Option<&Path>,
    keys: &Arc<Vec<String>>,
    hooks: usize,
) -> Deliveries {
    // Every path is started first and kept until the end: a thread ending (the sqlx pool's
    // connections', the queued reader's) would take its CPU time out of the count meanwhile.
    let sqlx = Lookup::Sqlx(pool);
    let queued = sqlite.map(queued_reader);
    let new = Lookup::Store(store.clone());
    let record_first = with_record(None, store, hooks, "bench/record-first").await;
    let sqlx = measure(&sqlx, store, keys, hooks, "bench/sqlx").await;
    let queued = match &queued {
        Some(lookup) => Some(measure(lookup, store, keys, hooks, "bench/queued").await),
        None => None,
    };
    let new = measure(&new, store, keys, hooks, "bench/store").await;
    Deliveries {
        sqlx,
        queued,
        store: new,
        record_only: [
            record_first,
            with_record(None, store, hooks, "bench/record-last").await,
        ],
    }
}

/// `count` delivery ids, stored and unknown alternately (the stored ones from the first
/// `events` of the workload).
pub fn keys(count: usize, events: usize) -> Arc<Vec<String>> {
    let mut rng = Rng::new(23);
    let keys = (0..count)
        .map(|n| match n % 2 {
            0 => loop {
                if let Some(key) = workload::delivery_key(rng.below(events as u64) as usize) {
                    break key;
                }
            },
            _ => format!("default/on-push/unknown-{n}"),
        })
        .collect();
    Arc::new(keys)
}

/// Measures `lookup` on `keys`, then on `hooks` new deliveries (ids under `prefix`) each
/// looked up and recorded in `store`.
async fn measure(
    lookup: &Lookup,
    store: &Store,
    keys: &Arc<Vec<String>>,
    hooks: usize,
    prefix: &str,
) -> Figures {
    let lookups = concurrent(lookup, keys).await;
    let (p50, p99) = one_task(lookup, keys).await;
    let with_record = with_record(Some(lookup), store, hooks, prefix).await;
    Figures {
        lookups,
        p50,
        p99,
        with_record,
    }
}

/// All `keys` looked up from [`TASKS`] tasks.
async fn concurrent(lookup: &Lookup, keys: &Arc<Vec<String>>) -> Rate {
    let next = Arc::new(AtomicUsize::new(0));
    let found = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (lookup, keys) = (lookup.clone(), Arc::clone(keys));
            let (next, found) = (Arc::clone(&next), Arc::clone(&found));
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let Some(key) = keys.get(n) else { return };
                    if lookup.find(key).await.is_some() {
                        found.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let ((), elapsed, cpu) = timed(async {
        for task in tasks {
            task.await.expect("lookup task");
        }
    })
    .await;
    assert_eq!(found.load(Ordering::Relaxed), keys.len().div_ceil(2));
    rate(keys.len(), elapsed, cpu)
}

/// p50 and p99 of lookups one after the other, over the first tenth of `keys`.
async fn one_task(lookup: &Lookup, keys: &[String]) -> (Duration, Duration) {
    let mut times = Vec::with_capacity(keys.len() / 10);
    for key in &keys[..(keys.len() / 10).max(1)] {
        let started = Instant::now();
        std::hint::black_box(lookup.find(key).await);
        times.push(started.elapsed());
    }
    times.sort();
    let at = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    (at(0.50), at(0.99))
}

/// `hooks` new deliveries from [`TASKS`] tasks, each looked up with `lookup` (or not) and
/// then recorded: the store's part of the hook path.
async fn with_record(lookup: Option<&Lookup>, store: &Store, hooks: usize, prefix: &str) -> Rate {
    let template = hook_template();
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (lookup, store, next) = (lookup.cloned(), store.clone(), Arc::clone(&next));
            let (template, prefix) = (template.clone(), prefix.to_owned());
            tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= hooks {
                        return;
                    }
                    let key = format!("{prefix}/{n}");
                    if let Some(lookup) = &lookup {
                        assert_eq!(lookup.find(&key).await, None, "{key} is new");
                    }
                    let event = NewEvent {
                        delivery_id: Some(key),
                        ..template.clone()
                    };
                    let recorded = store.record_event(&event).await.expect("record");
                    assert!(!recorded.duplicate);
                }
            })
        })
        .collect();
    let ((), elapsed, cpu) = timed(async {
        for task in tasks {
            task.await.expect("hook task");
        }
    })
    .await;
    rate(hooks, elapsed, cpu)
}

fn rate(items: usize, elapsed: Duration, cpu: Option<Duration>) -> Rate {
    Rate {
        per_second: items as f64 / elapsed.as_secs_f64(),
        cpu: cpu.map(|c| c / u32::try_from(items).unwrap_or(u32::MAX)),
    }
}

/// A hook delivery of the workload, to record under new ids.
fn hook_template() -> NewEvent {
    let workload = Workload::new(1_000);
    (0..)
        .map(|i| workload.event(i))
        .find(|e| e.delivery_id.is_some())
        .expect("the workload has hook deliveries")
}
