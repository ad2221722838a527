//! One deadline for a whole listing: every connect, read and write gets what is left
//! of it, so a server that trickles bytes cannot stretch a listing past its timeout.

use std::io;
use std::time::{Duration, Instant};

/// When a listing must have finished.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    end: Instant,
    timeout: Duration,
}

impl Deadline {
    /// A deadline `timeout` from now.
    pub fn after(timeout: Duration) -> Self {
        Self {
            end: Instant::now() + timeout,
            timeout,
        }
    }

    /// The whole timeout, for messages.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// What is left, or a `TimedOut` error once the deadline has passed. Never zero,
    /// since a zero socket timeout means "wait forever".
    pub fn remaining(&self) -> io::Result<Duration> {
        let left = self.end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the listing deadline passed",
            ));
        }
        Ok(left.max(Duration::from_millis(1)))
    }

    /// What is left in whole milliseconds (at least 1), for libssh2's timeout.
    pub fn remaining_ms(&self) -> io::Result<u32> {
        let left = self.remaining()?;
        Ok(u32::try_from(left.as_millis()).unwrap_or(u32::MAX).max(1))
    }
}

/// Whether `err` means the peer did not answer in time (a socket timeout reads as
/// `WouldBlock` on Unix).
pub(crate) fn is_timeout(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passed_deadline_times_out() {
        let deadline = Deadline::after(Duration::ZERO);
        let err = deadline.remaining().expect_err("no time left");
        assert!(is_timeout(&err));
        let deadline = Deadline::after(Duration::from_secs(60));
        assert!(
            deadline
                .remaining()
                .is_ok_and(|left| left > Duration::from_secs(59))
        );
        assert!(deadline.remaining_ms().is_ok_and(|ms| ms > 59_000));
    }
}
