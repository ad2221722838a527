//! How late each repository's checks came: the gaps between consecutive checks compared
//! with the trigger's interval.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Lateness over a window, in seconds past the interval (negative: early).
#[derive(Debug, Clone, Default)]
pub struct Lateness {
    pub gaps: usize,
    pub p50_s: f64,
    pub p99_s: f64,
    pub max_s: f64,
    /// Repositories with a gap longer than interval + 1 s.
    pub late_repos: usize,
    /// Repositories not checked at all in the window.
    pub unchecked: usize,
    /// Fewest and most checks of one repository in the window.
    pub checks_min: usize,
    pub checks_max: usize,
}

/// The lateness of `repos`' checks in `[from, to)`.
///
/// Besides the gaps between checks, the time from the window's start to a repository's
/// first check and from its last check to the window's end count when longer than the
/// interval: they are at least that late, so a repository that stops being checked shows.
pub fn lateness(
    checks: &BTreeMap<String, Vec<Instant>>,
    repos: &[String],
    (from, to): (Instant, Instant),
    interval: Duration,
) -> Lateness {
    let mut late = Vec::new();
    let mut figures = Lateness {
        checks_min: usize::MAX,
        ..Lateness::default()
    };
    for repo in repos {
        let times = checks.get(repo).map(Vec::as_slice).unwrap_or_default();
        figures.checks_min = figures.checks_min.min(times.len());
        figures.checks_max = figures.checks_max.max(times.len());
        if times.is_empty() {
            figures.unchecked += 1;
        }
        let gaps = repo_gaps(times, from, to, interval);
        if gaps.iter().any(|g| *g > interval + Duration::from_secs(1)) {
            figures.late_repos += 1;
        }
        late.extend(
            gaps.iter()
                .map(|g| g.as_secs_f64() - interval.as_secs_f64()),
        );
    }
    late.sort_by(f64::total_cmp);
    figures.gaps = late.len();
    figures.p50_s = percentile(&late, 0.50);
    figures.p99_s = percentile(&late, 0.99);
    figures.max_s = late.last().copied().unwrap_or(f64::NAN);
    if repos.is_empty() {
        figures.checks_min = 0;
    }
    figures
}

/// Gaps between consecutive checks, plus the open ends when longer than the interval.
fn repo_gaps(times: &[Instant], from: Instant, to: Instant, interval: Duration) -> Vec<Duration> {
    let (Some(first), Some(last)) = (times.first(), times.last()) else {
        return vec![to - from];
    };
    let mut gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.extend(
        [*first - from, to - *last]
            .into_iter()
            .filter(|open| *open > interval),
    );
    gaps
}

/// The `p` quantile of `sorted` (NaN for none).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}
