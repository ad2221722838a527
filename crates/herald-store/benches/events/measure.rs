//! Timing ingest and lookups.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use herald_store::{EventQuery, Store};

use crate::workload::{self, OBJECTS, REVISIONS, Rng, Workload};

/// How fast events went in.
#[derive(Debug, Clone, Copy)]
pub struct Ingest {
    pub events: usize,
    pub duplicates: usize,
    pub elapsed: Duration,
}

impl Ingest {
    pub fn per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64()
    }
}

/// Latency percentiles of one kind of lookup.
#[derive(Debug, Clone, Copy)]
pub struct Lookups {
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
    /// Mean events a lookup returned.
    pub mean_rows: f64,
}

/// Records the first `total` events of `workload` through `record_event` from `writers`
/// concurrent tasks, each taking the next event number as soon as its last one is stored.
pub async fn ingest(
    store: &Store,
    workload: Arc<Workload>,
    total: usize,
    writers: usize,
) -> Ingest {
    let next = Arc::new(AtomicUsize::new(0));
    let duplicates = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|_| {
            let (store, workload) = (store.clone(), Arc::clone(&workload));
            let (next, duplicates) = (Arc::clone(&next), Arc::clone(&duplicates));
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        return;
                    }
                    let recorded = store
                        .record_event(&workload.event(i))
                        .await
                        .unwrap_or_else(|e| panic!("recording event {i}: {e:?}"));
                    if recorded.duplicate {
                        duplicates.fetch_add(1, Ordering::Relaxed);
                    }
                    if (i + 1) % (total / 10).max(1) == 0 {
                        eprintln!("  {} events in {:.1?}", i + 1, started.elapsed());
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("writer task");
    }
    Ingest {
        events: total,
        duplicates: duplicates.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
    }
}

/// `count` lookups of random existing revisions (in Flux's `main@sha1:` form), newest 100.
pub async fn revision_lookups(store: &Store, count: usize, revisions: usize) -> Lookups {
    let mut rng = Rng::new(7);
    lookups(store, count, move || EventQuery {
        revision: Some(format!(
            "main@sha1:{}",
            workload::revision(rng.below(revisions as u64) as usize)
        )),
        limit: Some(100),
        ..EventQuery::default()
    })
    .await
}

/// `count` lookups of random Flux objects (involved kind, namespace and name), newest 100.
pub async fn object_lookups(store: &Store, count: usize) -> Lookups {
    let mut rng = Rng::new(11);
    lookups(store, count, move || {
        let (kind, namespace, name) = workload::object(rng.below(OBJECTS as u64) as usize);
        EventQuery {
            involved_kind: Some(kind.to_owned()),
            involved_namespace: Some(namespace),
            involved_name: Some(name),
            limit: Some(100),
            ..EventQuery::default()
        }
    })
    .await
}

/// Revisions present in a run of `total` events (all of them, once there are enough events).
pub fn revisions_in(total: usize) -> usize {
    REVISIONS.min(total)
}

/// Runs `count` queries one after the other (after a short warm-up) and times each.
async fn lookups(store: &Store, count: usize, mut query: impl FnMut() -> EventQuery) -> Lookups {
    const WARM_UP: usize = 20;
    let mut times = Vec::with_capacity(count);
    let mut rows = 0;
    for n in 0..WARM_UP + count {
        let q = query();
        let started = Instant::now();
        let page = store.query_events(&q).await.expect("query");
        let took = started.elapsed();
        assert!(
            !page.events.is_empty(),
            "an existing key found nothing: {q:?}"
        );
        if n >= WARM_UP {
            times.push(took);
            rows += page.events.len();
        }
    }
    times.sort();
    let at = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)];
    Lookups {
        p50: at(0.50),
        p99: at(0.99),
        max: times[times.len() - 1],
        mean_rows: rows as f64 / count as f64,
    }
}

/// CPU time used so far by each thread of this process, from the scheduler's counts (Linux;
/// empty elsewhere).
fn thread_times() -> HashMap<String, Duration> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return HashMap::new();
    };
    tasks
        .flatten()
        .filter_map(|task| {
            // A thread may end between listing and reading.
            let stat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
            let ns = stat.split_whitespace().next()?.parse().ok()?;
            Some((
                task.file_name().to_string_lossy().into_owned(),
                Duration::from_nanos(ns),
            ))
        })
        .collect()
}

/// Runs `work`; how long it took and the CPU time the process used meanwhile, summed over its
/// threads (`None` where that cannot be read). A thread that ended meanwhile is not counted.
pub async fn timed<T>(
    work: impl std::future::Future<Output = T>,
) -> (T, Duration, Option<Duration>) {
    let (before, started) = (thread_times(), Instant::now());
    let out = work.await;
    let elapsed = started.elapsed();
    let after = thread_times();
    let used = after
        .iter()
        .map(|(tid, &ns)| ns.saturating_sub(before.get(tid).copied().unwrap_or_default()))
        .sum();
    (out, elapsed, (!after.is_empty()).then_some(used))
}
