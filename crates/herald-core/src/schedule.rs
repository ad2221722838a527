//! When a schedule is next due.

use std::time::Duration;

use herald_api::Schedule;
use herald_api::validate::{parse_cron, parse_interval};
use jiff::{Timestamp, tz::TimeZone};

/// A parsed schedule.
#[derive(Debug, Clone)]
pub enum Ticker {
    Interval(Duration),
    Cron {
        cron: Box<croner::Cron>,
        tz: TimeZone,
    },
}

/// A schedule that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TickerError {
    #[error("schedule: {0}")]
    Invalid(String),
    #[error("schedule has no time after {0}")]
    NoNextTime(Timestamp),
}

impl Ticker {
    /// Parse `interval` or `cron` (+ `timeZone`); exactly one must be set.
    pub fn from_schedule(schedule: &Schedule) -> Result<Self, TickerError> {
        match (&schedule.interval, &schedule.cron) {
            (Some(interval), None) => Ok(Self::Interval(
                parse_interval(interval).map_err(TickerError::Invalid)?,
            )),
            (None, Some(expr)) => {
                let (cron, tz) = parse_cron(expr, schedule.time_zone.as_deref())
                    .map_err(TickerError::Invalid)?;
                Ok(Self::Cron {
                    cron: Box::new(cron),
                    tz,
                })
            }
            _ => Err(TickerError::Invalid(
                "set exactly one of interval or cron".into(),
            )),
        }
    }

    /// The first time strictly after `after` that the schedule is due.
    /// How old a listing of a source's refs may be and still answer a check of this schedule:
    /// half an interval, so triggers watching one repository share listings and a change is
    /// still seen within an interval and a half; a cron schedule asks the remote each time.
    pub fn listing_max_age(&self) -> std::time::Duration {
        match self {
            Ticker::Interval(every) => *every / 2,
            Ticker::Cron { .. } => std::time::Duration::ZERO,
        }
    }

    /// When a trigger is next due, the same rule in both modes: an interval trigger at once
    /// when it was never checked (so a new or restarted Herald does not wait a period), else
    /// one interval after its last check; a cron trigger at its next match after the last
    /// check, or after it was created.
    pub fn due(
        &self,
        last_checked: Option<Timestamp>,
        created: Option<Timestamp>,
        now: Timestamp,
    ) -> Timestamp {
        match (self, last_checked) {
            (Ticker::Interval(_), None) => now,
            (_, Some(last)) => self.next_after(last).unwrap_or(now),
            (Ticker::Cron { .. }, None) => self.next_after(created.unwrap_or(now)).unwrap_or(now),
        }
    }

    pub fn next_after(&self, after: Timestamp) -> Result<Timestamp, TickerError> {
        match self {
            Self::Interval(every) => {
                let span = jiff::SignedDuration::try_from(*every)
                    .map_err(|e| TickerError::Invalid(e.to_string()))?;
                after
                    .checked_add(span)
                    .map_err(|_| TickerError::NoNextTime(after))
            }
            Self::Cron { cron, tz } => cron
                .find_next_occurrence(&after.to_zoned(tz.clone()), false)
                .map(|zoned| zoned.timestamp())
                .map_err(|_| TickerError::NoNextTime(after)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(interval: Option<&str>, cron: Option<&str>, tz: Option<&str>) -> Schedule {
        Schedule {
            interval: interval.map(Into::into),
            cron: cron.map(Into::into),
            time_zone: tz.map(Into::into),
        }
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn interval_adds_its_duration() {
        let t = Ticker::from_schedule(&schedule(Some("90s"), None, None)).unwrap();
        assert_eq!(
            t.next_after(ts("2026-01-01T00:00:00Z")).unwrap(),
            ts("2026-01-01T00:01:30Z")
        );
    }

    #[test]
    fn cron_honours_the_time_zone() {
        // 09:00 in Berlin (UTC+1 in January) is 08:00 UTC.
        let t = Ticker::from_schedule(&schedule(None, Some("0 9 * * *"), Some("Europe/Berlin")))
            .unwrap();
        assert_eq!(
            t.next_after(ts("2026-01-01T10:00:00Z")).unwrap(),
            ts("2026-01-02T08:00:00Z")
        );
        let utc = Ticker::from_schedule(&schedule(None, Some("0 9 * * *"), None)).unwrap();
        assert_eq!(
            utc.next_after(ts("2026-01-01T10:00:00Z")).unwrap(),
            ts("2026-01-02T09:00:00Z")
        );
    }

    #[test]
    fn cron_is_strictly_after() {
        let t = Ticker::from_schedule(&schedule(None, Some("*/5 * * * *"), None)).unwrap();
        assert_eq!(
            t.next_after(ts("2026-01-01T00:05:00Z")).unwrap(),
            ts("2026-01-01T00:10:00Z")
        );
    }

    #[test]
    fn both_or_neither_is_invalid() {
        assert!(Ticker::from_schedule(&schedule(Some("1m"), Some("* * * * *"), None)).is_err());
        assert!(Ticker::from_schedule(&schedule(None, None, None)).is_err());
        assert!(Ticker::from_schedule(&schedule(None, Some("nope"), None)).is_err());
    }

    #[test]
    fn the_first_due_time_is_one_rule() {
        let at = |s: i64| Timestamp::from_second(s).unwrap();
        let every = Ticker::from_schedule(&schedule(Some("10s"), None, None)).unwrap();
        assert_eq!(every.due(None, Some(at(0)), at(100)), at(100), "at once");
        assert_eq!(
            every.due(Some(at(95)), None, at(100)),
            at(105),
            "an interval on"
        );
        let hourly = Ticker::from_schedule(&schedule(None, Some("0 * * * *"), None)).unwrap();
        assert_eq!(
            hourly.due(None, Some(at(60)), at(100)),
            at(3600),
            "after creation"
        );
        assert_eq!(hourly.due(Some(at(3600)), None, at(3601)), at(7200));
    }
}
