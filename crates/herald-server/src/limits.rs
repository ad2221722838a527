//! Limits on hook deliveries: a rate for all triggers, one per trigger, and how many may be in
//! progress at once. A delivery over a rate is answered 429 and one over the in-progress limit
//! 503, both with `Retry-After`: never dropped silently, never queued without bound.

use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Deliveries per second allowed, with bursts of twice that, and deliveries in progress at
/// once; `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimits {
    pub global_per_second: Option<NonZeroU32>,
    pub per_trigger_per_second: Option<NonZeroU32>,
    pub max_in_flight: Option<NonZeroUsize>,
}

/// The limiters, shared by every request.
#[derive(Clone, Default)]
pub(crate) struct Limiters {
    global: Option<Arc<DefaultDirectRateLimiter>>,
    per_trigger: Option<Arc<DefaultKeyedRateLimiter<String>>>,
    in_flight: Option<Arc<Semaphore>>,
    /// Made once: making a clock calibrates it, which costs more than a whole check.
    clock: DefaultClock,
}

impl std::fmt::Debug for Limiters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiters")
            .field("global", &self.global.is_some())
            .field("per_trigger", &self.per_trigger.is_some())
            .field("in_flight", &self.in_flight.is_some())
            .finish()
    }
}

/// One delivery's place in progress.
pub(crate) struct InFlight {
    _permit: Option<OwnedSemaphorePermit>,
}

fn quota(per_second: NonZeroU32) -> Quota {
    let burst = per_second.saturating_mul(NonZeroU32::MIN.saturating_add(1));
    Quota::per_second(per_second).allow_burst(burst)
}

impl Limiters {
    pub(crate) fn new(limits: RateLimits) -> Self {
        Self {
            global: limits
                .global_per_second
                .map(|n| Arc::new(governor::RateLimiter::direct(quota(n)))),
            per_trigger: limits
                .per_trigger_per_second
                .map(|n| Arc::new(governor::RateLimiter::keyed(quota(n)))),
            in_flight: limits
                .max_in_flight
                .map(|n| Arc::new(Semaphore::new(n.get()))),
            clock: DefaultClock::default(),
        }
    }

    /// A place among the deliveries in progress, held until dropped; `None` when the limit is
    /// reached (answer 503: the work already admitted must finish first).
    pub(crate) fn admit(&self) -> Option<InFlight> {
        match &self.in_flight {
            None => Some(InFlight { _permit: None }),
            Some(slots) => slots
                .clone()
                .try_acquire_owned()
                .ok()
                .map(|p| InFlight { _permit: Some(p) }),
        }
    }

    /// `Err(wait)` when all hooks together are over the limit; `wait` is when to retry.
    pub(crate) fn check_global(&self) -> Result<(), Duration> {
        let Some(limiter) = &self.global else {
            return Ok(());
        };
        limiter
            .check()
            .map_err(|e| e.wait_time_from(self.clock.now()))
    }

    /// `Err(wait)` when `trigger`'s verified deliveries are over its limit. Checked after the
    /// signature, so unsigned floods cannot use up a trigger's budget.
    pub(crate) fn check_trigger(&self, trigger: &str) -> Result<(), Duration> {
        let Some(limiter) = &self.per_trigger else {
            return Ok(());
        };
        limiter
            .check_key(&trigger.to_owned())
            .map_err(|e| e.wait_time_from(self.clock.now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deliveries_over_the_in_flight_limit_are_refused_until_one_finishes() {
        let limits = Limiters::new(RateLimits {
            max_in_flight: NonZeroUsize::new(2),
            ..RateLimits::default()
        });
        let first = limits.admit().expect("first");
        let _second = limits.admit().expect("second");
        assert!(limits.admit().is_none(), "a third waits for one to finish");
        drop(first);
        assert!(limits.admit().is_some());
        assert!(
            Limiters::new(RateLimits::default()).admit().is_some(),
            "no limit"
        );
    }

    #[test]
    fn a_trigger_over_its_limit_waits_and_others_do_not() {
        let limits = Limiters::new(RateLimits {
            global_per_second: None,
            per_trigger_per_second: NonZeroU32::new(1),
            ..RateLimits::default()
        });
        assert!(limits.check_trigger("a").is_ok());
        assert!(limits.check_trigger("a").is_ok(), "a burst of two");
        let wait = limits.check_trigger("a").unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(1),
            "{wait:?}"
        );
        assert!(limits.check_trigger("b").is_ok(), "limits are per trigger");
        assert!(limits.check_global().is_ok());
    }

    #[test]
    fn the_global_limit_covers_every_trigger() {
        let limits = Limiters::new(RateLimits {
            global_per_second: NonZeroU32::new(1),
            per_trigger_per_second: None,
            ..RateLimits::default()
        });
        assert!(limits.check_global().is_ok() && limits.check_global().is_ok());
        assert!(limits.check_global().is_err());
        assert!(limits.check_trigger("a").is_ok());
        let unlimited = Limiters::default();
        assert!(unlimited.check_global().is_ok() && unlimited.check_trigger("a").is_ok());
    }
}
