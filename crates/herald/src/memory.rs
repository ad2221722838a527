//! Keeping the process's resident memory to what it uses. Both modes go through here.

use std::time::Duration;

/// Turns transparent huge pages off for this process, before the runtime allocates. mimalloc
/// asks for huge pages on its arenas (and a node set to THP `always` gives them anyway), so
/// every 2 MiB region a thread touched stayed resident whole: 16 of idle local mode's 37 MB
/// of anonymous memory, and more with every thread in a cluster. Herald's heap is tens of
/// MB, too small for huge pages to save anything worth that.
pub fn keep_small_pages() {
    #[cfg(target_os = "linux")]
    if let Err(error) = nix::sys::prctl::set_thp_disable(true) {
        // Only memory is at stake; say so and go on.
        eprintln!("warning: cannot turn transparent huge pages off: {error}");
    }
}

/// How often the C libraries' heaps are given back to the system.
const TRIM_EVERY: Duration = Duration::from_secs(30);

/// Gives the free pages of glibc's heaps back to the system every [`TRIM_EVERY`], for as
/// long as the runtime runs. Rust's allocations go to mimalloc; SQLite, libgit2 and OpenSSL
/// allocate with glibc's malloc, which keeps freed memory in the middle of its arenas: idle
/// local mode held 19.4 MB of them with 2.1 MB in use (its `malloc_stats`), and only
/// `malloc_trim` returns such pages (its trim thresholds only shrink an arena's top).
pub fn trim_c_heaps_periodically() {
    tokio::spawn(async {
        // The first trim after one period: a short command ends before it.
        let first = tokio::time::Instant::now() + TRIM_EVERY;
        let mut every = tokio::time::interval_at(first, TRIM_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            // It walks every arena under its lock: a blocking call, however short.
            let _ = tokio::task::spawn_blocking(trim_c_heaps).await;
        }
    });
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn trim_c_heaps() {
    // SAFETY: malloc_trim takes no pointers and has no preconditions; glibc locks each
    // arena while it releases that arena's free pages, so it is safe beside other threads'
    // allocations. The return value only says whether anything was released.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn trim_c_heaps() {}
