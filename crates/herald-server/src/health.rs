//! Health that reflects the loops doing the work: a process whose scheduler or controllers
//! died must not keep answering "ok" (and, in a cluster, keep its Lease).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Shared between the loops, which report, and the router, which answers probes.
#[derive(Debug, Clone, Default)]
pub struct Health {
    ready: Arc<AtomicBool>,
    failed: Arc<AtomicBool>,
}

impl Health {
    /// Every loop has started.
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    /// A loop ended that should run forever: not ready, not alive.
    pub fn set_failed(&self) {
        self.failed.store(true, Ordering::Release);
        self.ready.store(false, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    pub fn is_alive(&self) -> bool {
        !self.failed.load(Ordering::Acquire)
    }
}

impl Health {
    /// Run `work`, a loop that should never end, in its own task. If it ends or panics, the
    /// process is marked failed. Dropping the returned future stops the loop.
    pub async fn guard(self, name: &'static str, work: impl Future<Output = ()> + Send + 'static) {
        let task = tokio::spawn(work);
        let _stop_on_drop = AbortOnDrop(task.abort_handle());
        match task.await {
            Err(e) if e.is_cancelled() => return,
            Err(e) => tracing::error!(loop_name = name, error = %e, "a work loop panicked"),
            Ok(()) => tracing::error!(loop_name = name, "a work loop ended"),
        }
        self.set_failed();
    }
}

struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Trips when the server starts to shut down. Answers that last (the dashboard's live updates)
/// end then: a graceful shutdown waits for every open answer, and would wait on them forever.
#[derive(Debug, Clone)]
pub struct Closing {
    sender: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Default for Closing {
    fn default() -> Self {
        Self {
            sender: Arc::new(tokio::sync::watch::channel(false).0),
        }
    }
}

impl Closing {
    pub fn close(&self) {
        self.sender.send_replace(true);
    }

    /// Resolves once [`Closing::close`] was called (at once if it was already).
    pub async fn closed(&self) {
        let mut closed = self.sender.subscribe();
        // Fails only when the sender is gone, which `self` prevents.
        let _ = closed.wait_for(|closed| *closed).await;
    }
}
