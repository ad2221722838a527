//! Parsing schedules: shared by validation and the scheduler, so both accept the same input.

use std::time::Duration;

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};
use jiff::tz::TimeZone;

/// The shortest interval a schedule may have.
const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// Parses a schedule interval such as `30s`, `5m` or `1h 30m` (humantime syntax). It must be
/// at least one second.
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    let interval = humantime::parse_duration(s.trim()).map_err(|e| {
        format!(
            "invalid interval {s:?}: {e} (write a duration such as \"30s\", \"5m\" or \"1h 30m\")"
        )
    })?;
    if interval < MIN_INTERVAL {
        return Err(format!(
            "interval {s:?} is too short: the minimum is {}",
            humantime::format_duration(MIN_INTERVAL)
        ));
    }
    Ok(interval)
}

/// Parses a cron expression (5 fields, or 6 with seconds first; `@daily` and the like also
/// work) and its IANA time zone (UTC when `None`).
///
/// The error names which of the two is wrong, so callers can show it as is.
pub fn parse_cron(expr: &str, tz: Option<&str>) -> Result<(Cron, TimeZone), String> {
    let cron = parse_cron_expr(expr);
    let tz = parse_time_zone(tz.unwrap_or("UTC"));
    match (cron, tz) {
        (Ok(cron), Ok(tz)) => Ok((cron, tz)),
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => Err(e),
        (Err(cron), Err(tz)) => Err(format!("{cron}; {tz}")),
    }
}

/// The cron half of [`parse_cron`].
pub(crate) fn parse_cron_expr(expr: &str) -> Result<Cron, String> {
    let invalid = |reason: &str| format!("invalid cron expression {expr:?}: {reason}");
    let trimmed = expr.trim();
    if trimmed.is_empty() {
        return Err(invalid("it is empty"));
    }
    let fields = trimmed.split_whitespace().count();
    if !trimmed.starts_with('@') && !(5..=6).contains(&fields) {
        return Err(invalid(&format!(
            "expected 5 fields (minute hour day-of-month month day-of-week) or 6 with \
             seconds first, got {fields}"
        )));
    }
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
        .parse(trimmed)
        .map_err(|e| invalid(&e.to_string()))
}

/// The time zone half of [`parse_cron`].
pub(crate) fn parse_time_zone(name: &str) -> Result<TimeZone, String> {
    if name == "UTC" {
        return Ok(TimeZone::UTC);
    }
    if name.trim().is_empty() {
        return Err("time zone must not be empty (leave timeZone out for UTC)".into());
    }
    TimeZone::get(name).map_err(|_| {
        format!(
            "unknown time zone {name:?}: use an IANA time zone name such as \"Europe/Berlin\" \
             or \"UTC\""
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals() {
        assert_eq!(parse_interval("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_interval("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_interval("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_interval("1s"), Ok(Duration::from_secs(1)));
        for (bad, expect) in [
            ("", "invalid interval"),
            ("5", "invalid interval"),
            ("five minutes", "invalid interval"),
            ("-5m", "invalid interval"),
            ("0s", "too short"),
            ("500ms", "too short"),
        ] {
            let e = parse_interval(bad).unwrap_err();
            assert!(e.contains(expect), "{bad:?}: {e}");
        }
    }

    #[test]
    fn cron_expressions() {
        for ok in [
            "*/5 * * * *",
            "0 9 * * MON-FRI",
            "*/10 * * * * *",
            "@daily",
            "0 0 1 1 *",
        ] {
            assert!(parse_cron_expr(ok).is_ok(), "{ok}");
        }
        let fields = parse_cron_expr("* * *").unwrap_err();
        assert_eq!(
            fields,
            "invalid cron expression \"* * *\": expected 5 fields (minute hour day-of-month \
             month day-of-week) or 6 with seconds first, got 3"
        );
        assert!(
            parse_cron_expr("0 0 * * * * 2030").is_err(),
            "years are not supported"
        );
        assert!(parse_cron_expr("61 * * * *").is_err());
        assert!(parse_cron_expr("* * * * FOO").is_err());
        assert!(parse_cron_expr("").unwrap_err().contains("empty"));
    }

    #[test]
    fn time_zones() {
        assert_eq!(parse_time_zone("UTC"), Ok(TimeZone::UTC));
        assert!(parse_time_zone("Europe/Berlin").is_ok());
        assert!(parse_time_zone("America/New_York").is_ok());
        let e = parse_time_zone("Mars/Olympus_Mons").unwrap_err();
        assert!(
            e.starts_with("unknown time zone \"Mars/Olympus_Mons\""),
            "{e}"
        );
        assert!(parse_time_zone("").is_err());
    }

    #[test]
    fn cron_with_zone() {
        let (cron, tz) = parse_cron("0 9 * * *", Some("Europe/Berlin")).unwrap();
        let start = jiff::civil::date(2025, 1, 1)
            .at(10, 0, 0, 0)
            .to_zoned(tz.clone())
            .unwrap();
        let next = cron.find_next_occurrence(&start, false).unwrap();
        assert_eq!(
            next.datetime(),
            jiff::civil::date(2025, 1, 2).at(9, 0, 0, 0)
        );
        assert_eq!(next.time_zone(), &tz);

        let (_, utc) = parse_cron("*/5 * * * *", None).unwrap();
        assert_eq!(utc, TimeZone::UTC);
        let both = parse_cron("* *", Some("Nowhere/Land")).unwrap_err();
        assert!(
            both.contains("cron") && both.contains("time zone"),
            "{both}"
        );
    }
}
