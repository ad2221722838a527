//! A few threads of its own for blocking work that never stops coming, such as listings.
//!
//! Tokio's blocking pool keeps a thread while it gets work within ten seconds, and it hands
//! work to the thread idle longest. Under a steady stream of listings every thread it ever
//! started stays alive: a burst at start-up (the first checks beside the first checkouts) left
//! 11 blocking threads for the life of the process, each with its allocator heap. Here the
//! threads are at most as many as the work's own bound, started as the work first needs them,
//! and a job goes to the thread idle the shortest time: under steady work the same few
//! threads take turns, and one left idle for [`IDLE_EXIT`] ends.
//!
//! A job wakes exactly the thread it is given to (`unpark`). Threads taking turns at one
//! channel's receiver behind a mutex woke two per job: the one that got it, and the next in
//! line for the mutex.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::Thread;
use std::time::{Duration, Instant};

type Job = Box<dyn FnOnce() + Send>;

/// How long a thread waits for work before it ends.
const IDLE_EXIT: Duration = Duration::from_secs(60);

/// At most `limit` threads, each taking jobs in turn; they end when idle for a while, or when
/// the pool is dropped.
#[derive(Debug)]
pub(crate) struct Threads {
    name: &'static str,
    limit: usize,
    idle_exit: Duration,
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    /// Threads waiting for a job, the one idle the shortest time last.
    idle: Vec<Thread>,
    started: usize,
    closed: bool,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("Shared")
            .field("jobs", &state.jobs.len())
            .field("idle", &state.idle.len())
            .field("started", &state.started)
            .finish()
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The pool is gone, or the job panicked: its answer never came.
#[derive(Debug, thiserror::Error)]
#[error("the {0} thread gave no answer")]
pub(crate) struct NoAnswer(&'static str);

impl Threads {
    /// A pool of at most `limit` threads (at least one) named `name`; none is started yet.
    pub(crate) fn new(name: &'static str, limit: usize) -> Self {
        Self {
            name,
            limit: limit.max(1),
            idle_exit: IDLE_EXIT,
            shared: Arc::default(),
        }
    }

    /// Runs `job` on one of the threads and waits for its result without blocking the
    /// runtime. Give the pool no more jobs at once than its limit, or they wait in turn.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, NoAnswer> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.submit(Box::new(move || {
            // A panic costs its job's answer, not the thread; the asker may have gone.
            if let Ok(value) = catch_unwind(AssertUnwindSafe(job)) {
                let _ = answer.send(value);
            }
        }));
        answered.await.map_err(|_| NoAnswer(self.name))
    }

    /// Queues `job` and wakes the thread idle the shortest time for it; with none idle, starts
    /// one if the limit allows, else the job waits for the first thread to finish.
    fn submit(&self, job: Job) {
        let mut state = self.shared.lock();
        state.jobs.push_back(job);
        if let Some(thread) = state.idle.pop() {
            drop(state);
            thread.unpark();
            return;
        }
        if state.started >= self.limit {
            return;
        }
        state.started += 1;
        drop(state);
        let shared = Arc::clone(&self.shared);
        let idle_exit = self.idle_exit;
        let spawned = std::thread::Builder::new()
            .name(self.name.to_owned())
            .spawn(move || work(&shared, idle_exit));
        if let Err(error) = spawned {
            // The threads already started take the job in turn.
            self.shared.lock().started -= 1;
            tracing::warn!(pool = self.name, %error, "cannot start a thread");
        }
    }

    /// How many threads are alive now.
    #[cfg(test)]
    fn started(&self) -> usize {
        self.shared.lock().started
    }

    /// How many threads wait for a job now.
    #[cfg(test)]
    fn idle(&self) -> usize {
        self.shared.lock().idle.len()
    }

    /// Threads end after `idle_exit` without work instead of [`IDLE_EXIT`].
    #[cfg(test)]
    fn ending_idle_after(mut self, idle_exit: Duration) -> Self {
        self.idle_exit = idle_exit;
        self
    }
}

impl Drop for Threads {
    fn drop(&mut self) {
        let idle = {
            let mut state = self.shared.lock();
            state.closed = true;
            std::mem::take(&mut state.idle)
        };
        idle.iter().for_each(Thread::unpark);
    }
}

/// One thread's life: take the next job and run it; with none, wait to be handed one, and end
/// after `idle_exit` without any, or once the pool is dropped.
fn work(shared: &Shared, idle_exit: Duration) {
    let me = std::thread::current();
    loop {
        let mut state = shared.lock();
        if let Some(job) = state.jobs.pop_front() {
            drop(state);
            job();
            continue;
        }
        if state.closed {
            state.started -= 1;
            return;
        }
        state.idle.push(me.clone());
        drop(state);
        let parked = Instant::now();
        std::thread::park_timeout(idle_exit);
        let mut state = shared.lock();
        // Still listed as idle: nobody handed this thread a job (a timeout, or a spurious
        // wake-up). Handed one, it was taken off the list and goes round for it.
        if let Some(at) = state.idle.iter().position(|t| t.id() == me.id()) {
            state.idle.remove(at);
            if state.jobs.is_empty() && !state.closed && parked.elapsed() >= idle_exit {
                state.started -= 1;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::Barrier;

    fn thread_name() -> String {
        std::thread::current().name().unwrap_or_default().to_owned()
    }

    #[tokio::test]
    async fn a_job_runs_on_a_named_thread_of_the_pool() {
        let pool = Threads::new("test-pool", 2);
        assert_eq!(pool.run(thread_name).await.unwrap(), "test-pool");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn never_more_threads_than_the_limit() {
        let pool = Arc::new(Threads::new("bounded", 3));
        let asks: Vec<_> = (0..200)
            .map(|_| {
                let pool = Arc::clone(&pool);
                tokio::spawn(async move { pool.run(|| std::thread::current().id()).await })
            })
            .collect();
        let mut threads = HashSet::new();
        for ask in asks {
            threads.insert(ask.await.unwrap().unwrap());
        }
        assert!(threads.len() <= 3, "{} threads", threads.len());
        assert!(pool.started() <= 3);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn jobs_up_to_the_limit_run_at_once() {
        // Each job waits for the other two: they finish only if all three run together.
        let pool = Arc::new(Threads::new("together", 3));
        let barrier = Arc::new(Barrier::new(3));
        let asks: Vec<_> = (0..3)
            .map(|_| {
                let pool = Arc::clone(&pool);
                let barrier = Arc::clone(&barrier);
                tokio::spawn(async move { pool.run(move || barrier.wait().is_leader()).await })
            })
            .collect();
        let mut leaders = 0;
        for ask in asks {
            leaders += usize::from(ask.await.unwrap().unwrap());
        }
        assert_eq!(leaders, 1);
    }

    #[tokio::test]
    async fn a_panicking_job_loses_its_answer_not_the_thread() {
        let pool = Threads::new("survivor", 1);
        let panicked = pool.run(|| -> u8 { panic!("job failed") }).await;
        assert!(panicked.is_err());
        assert_eq!(pool.run(|| 7).await.unwrap(), 7);
        assert_eq!(pool.started(), 1);
    }

    /// Starts `n` threads in `pool` by running `n` jobs that wait for each other.
    async fn start_threads(pool: &Arc<Threads>, n: usize) -> HashSet<std::thread::ThreadId> {
        let barrier = Arc::new(Barrier::new(n));
        let asks: Vec<_> = (0..n)
            .map(|_| {
                let (pool, barrier) = (Arc::clone(pool), Arc::clone(&barrier));
                tokio::spawn(async move {
                    pool.run(move || {
                        barrier.wait();
                        std::thread::current().id()
                    })
                    .await
                })
            })
            .collect();
        let mut threads = HashSet::new();
        for ask in asks {
            threads.insert(ask.await.unwrap().unwrap());
        }
        threads
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn steady_work_goes_to_the_threads_idle_the_shortest_time() {
        let pool = Arc::new(Threads::new("lifo", 4));
        assert_eq!(start_threads(&pool, 4).await.len(), 4);
        // One job after another, each given once every thread is back on the idle list (an
        // answer can reach its asker before its thread is back): the thread that finished
        // last is handed every next job. A pool handing work to the thread idle longest
        // rotates through all four.
        let mut used = HashSet::new();
        for _ in 0..50 {
            all_idle(&pool, 4).await;
            used.insert(pool.run(|| std::thread::current().id()).await.unwrap());
        }
        assert_eq!(used.len(), 1, "{} threads took turns", used.len());
    }

    async fn all_idle(pool: &Threads, threads: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while pool.idle() < threads {
            assert!(Instant::now() < deadline, "{} threads idle", pool.idle());
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn idle_threads_end_and_work_starts_them_again() {
        let pool = Arc::new(Threads::new("ending", 3).ending_idle_after(Duration::from_millis(50)));
        assert_eq!(start_threads(&pool, 3).await.len(), 3);
        let deadline = Instant::now() + Duration::from_secs(10);
        while pool.started() > 0 {
            assert!(
                Instant::now() < deadline,
                "{} threads still alive",
                pool.started()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(pool.run(|| 7).await.unwrap(), 7);
        assert!(pool.started() <= 1);
    }
}
