//! Times as a person reads them: relative ("3 min ago") with the absolute time beside it.

use jiff::Timestamp;

/// A moment, both ways.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct When {
    /// RFC 3339, to the second, UTC: the `datetime` and the title of a `<time>`.
    pub iso: String,
    pub relative: String,
}

impl When {
    pub fn new(at: Timestamp, now: Timestamp) -> Self {
        let iso = at.round(jiff::Unit::Second).unwrap_or(at).to_string();
        Self {
            iso,
            relative: relative(at, now),
        }
    }
}

/// `just now`, `40 s ago`, `3 min ago`, `5 h ago`, `2 d ago`; `in 3 min` for the future.
pub fn relative(at: Timestamp, now: Timestamp) -> String {
    let seconds = now.as_second() - at.as_second();
    let span = span(seconds.unsigned_abs());
    match seconds {
        -4..=4 => "just now".to_owned(),
        s if s < 0 => format!("in {span}"),
        _ => format!("{span} ago"),
    }
}

fn span(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min", seconds / 60),
        3600..86_400 => format!("{} h", seconds / 3600),
        _ => format!("{} d", seconds / 86_400),
    }
}

/// A duration to the precision a person needs: `850 ms`, `4.2 s`, `3 min 4 s`, `2 h 5 min`.
pub fn duration(seconds: f64) -> String {
    let whole = seconds.max(0.0) as u64;
    match whole {
        0 => format!("{} ms", (seconds.max(0.0) * 1000.0).round() as u64),
        1..10 => format!("{seconds:.1} s"),
        10..60 => format!("{whole} s"),
        60..3600 => format!("{} min {} s", whole / 60, whole % 60),
        _ => format!("{} h {} min", whole / 3600, whole % 3600 / 60),
    }
}

/// The time from `from` to `to` (or to `now` while it lasts), formatted.
pub fn between(from: Option<Timestamp>, to: Option<Timestamp>, now: Timestamp) -> Option<String> {
    let from = from?;
    let to = to.unwrap_or(now);
    let seconds = to.duration_since(from).as_secs_f64();
    Some(duration(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_second(second).expect("in range")
    }

    #[test]
    fn relative_times_read_naturally_both_ways() {
        let now = at(1_000_000);
        assert_eq!(relative(at(999_998), now), "just now");
        assert_eq!(relative(at(1_000_000 - 40), now), "40 s ago");
        assert_eq!(relative(at(1_000_000 - 185), now), "3 min ago");
        assert_eq!(relative(at(1_000_000 - 5 * 3600), now), "5 h ago");
        assert_eq!(relative(at(1_000_000 - 2 * 86_400), now), "2 d ago");
        assert_eq!(relative(at(1_000_000 + 180), now), "in 3 min");
        assert_eq!(When::new(at(0), now).iso, "1970-01-01T00:00:00Z");
    }

    #[test]
    fn durations_keep_the_precision_that_matters() {
        assert_eq!(duration(0.85), "850 ms");
        assert_eq!(duration(4.25), "4.2 s");
        assert_eq!(duration(42.0), "42 s");
        assert_eq!(duration(184.0), "3 min 4 s");
        assert_eq!(duration(7500.0), "2 h 5 min");
        assert_eq!(between(None, None, at(5)), None);
        assert_eq!(between(Some(at(0)), None, at(5)).as_deref(), Some("5.0 s"));
    }
}
