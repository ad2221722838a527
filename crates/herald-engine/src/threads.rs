//! A few threads of its own for blocking work that never stops coming, such as listings.
//!
//! Tokio's blocking pool keeps a thread while it gets work within ten seconds, and it hands
//! work to the thread idle longest. Under a steady stream of listings every thread it ever
//! started stays alive: a burst at start-up (the first checks beside the first checkouts) left
//! 11 blocking threads for the life of the process, each with its allocator heap. Here the
//! threads are at most as many as the work's own bound, started as the work first needs them.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, PoisonError};

type Job = Box<dyn FnOnce() + Send>;

/// At most `limit` threads, each taking jobs in turn; they end when the pool is dropped.
#[derive(Debug)]
pub(crate) struct Threads {
    name: &'static str,
    limit: usize,
    jobs: Sender<Job>,
    /// A receiver has one owner; the threads take turns at it.
    queue: Arc<Mutex<Receiver<Job>>>,
    started: AtomicUsize,
    /// Threads waiting for a job, less the jobs sent and not taken yet: below one, a job sent
    /// now finds no thread free for it.
    free: Arc<AtomicIsize>,
}

/// The pool is gone, or the job panicked: its answer never came.
#[derive(Debug, thiserror::Error)]
#[error("the {0} thread gave no answer")]
pub(crate) struct NoAnswer(&'static str);

impl Threads {
    /// A pool of at most `limit` threads (at least one) named `name`; none is started yet.
    pub(crate) fn new(name: &'static str, limit: usize) -> Self {
        let (sender, receiver) = channel();
        Self {
            name,
            limit: limit.max(1),
            jobs: sender,
            queue: Arc::new(Mutex::new(receiver)),
            started: AtomicUsize::new(0),
            free: Arc::new(AtomicIsize::new(0)),
        }
    }

    /// Runs `job` on one of the threads and waits for its result without blocking the
    /// runtime. Give the pool no more jobs at once than its limit, or they wait in turn.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, NoAnswer> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // A panic costs its job's answer, not the thread; the asker may have gone.
            if let Ok(value) = catch_unwind(AssertUnwindSafe(job)) {
                let _ = answer.send(value);
            }
        });
        self.claim_a_thread();
        if self.jobs.send(job).is_err() {
            return Err(NoAnswer(self.name));
        }
        answered.await.map_err(|_| NoAnswer(self.name))
    }

    /// Claims a free thread for a job about to be sent, starting one when none is free and
    /// the limit allows; at the limit the job waits for the first thread to finish.
    fn claim_a_thread(&self) {
        if self.free.fetch_sub(1, Ordering::AcqRel) > 0 {
            return;
        }
        let under_limit = self
            .started
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.limit).then_some(n + 1)
            })
            .is_ok();
        if !under_limit {
            return;
        }
        let queue = Arc::clone(&self.queue);
        let free = Arc::clone(&self.free);
        let spawned = std::thread::Builder::new()
            .name(self.name.to_owned())
            .spawn(move || work(&queue, &free));
        if let Err(error) = spawned {
            // The threads already started take the job in turn.
            self.started.fetch_sub(1, Ordering::AcqRel);
            tracing::warn!(pool = self.name, %error, "cannot start a thread");
        }
    }
}

/// One thread's life: take the next job, run it, until the pool's sender is dropped.
fn work(queue: &Mutex<Receiver<Job>>, free: &AtomicIsize) {
    loop {
        free.fetch_add(1, Ordering::AcqRel);
        let next = queue.lock().unwrap_or_else(PoisonError::into_inner).recv();
        match next {
            Ok(job) => job(),
            Err(_) => return,
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
        assert!(pool.started.load(Ordering::Acquire) <= 3);
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
        assert_eq!(pool.started.load(Ordering::Acquire), 1);
    }
}
