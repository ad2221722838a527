//! What the bench measures, from `HERALD_BENCH_*` variables.

use std::time::Duration;

use anyhow::{Context, bail};

/// The two ways Herald runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Local,
    Cluster,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Local => "local",
            Mode::Cluster => "cluster",
        }
    }
}

/// Every knob, read once at start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Trigger counts to measure, one after another (`HERALD_BENCH_TRIGGERS`, "500,1000").
    pub triggers: Vec<usize>,
    /// Bare repositories the triggers share (`HERALD_BENCH_REPOS`; default one per trigger).
    pub repos: Option<usize>,
    pub modes: Vec<Mode>,
    /// Each ScheduleTrigger's interval.
    pub interval: Duration,
    /// At least this long between Herald being ready and the window.
    pub warmup: Duration,
    pub window: Duration,
    /// How often /proc is read within the window.
    pub sample_every: Duration,
    /// The window over which the API server is measured with Herald stopped (0: skipped).
    pub apiserver_baseline: Duration,
    /// How long the warm-up may be stretched waiting for every repository's second check.
    pub startup_deadline: Duration,
}

impl Settings {
    pub fn from_env() -> anyhow::Result<Self> {
        let settings = Self {
            triggers: list("HERALD_BENCH_TRIGGERS", "500", |s| {
                s.parse::<usize>().map_err(|e| e.to_string())
            })?,
            repos: std::env::var("HERALD_BENCH_REPOS")
                .ok()
                .map(|v| v.parse::<usize>())
                .transpose()
                .context("HERALD_BENCH_REPOS")?,
            modes: list("HERALD_BENCH_MODES", "local,cluster", parse_mode)?,
            interval: duration("HERALD_BENCH_INTERVAL", "10s")?,
            warmup: duration("HERALD_BENCH_WARMUP", "60s")?,
            window: duration("HERALD_BENCH_WINDOW", "120s")?,
            sample_every: duration("HERALD_BENCH_SAMPLE", "5s")?,
            apiserver_baseline: duration("HERALD_BENCH_APISERVER_BASELINE", "60s")?,
            startup_deadline: duration("HERALD_BENCH_STARTUP_DEADLINE", "600s")?,
        };
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> anyhow::Result<()> {
        if self.triggers.contains(&0) || self.repos == Some(0) {
            bail!("HERALD_BENCH_TRIGGERS and HERALD_BENCH_REPOS must be at least 1");
        }
        if self.interval < Duration::from_secs(1) || self.window < self.interval {
            bail!("HERALD_BENCH_INTERVAL must be >= 1s and HERALD_BENCH_WINDOW >= the interval");
        }
        if self.sample_every.is_zero() {
            bail!("HERALD_BENCH_SAMPLE must be positive");
        }
        Ok(())
    }

    /// Bare repositories for `triggers` triggers.
    pub fn repos_for(&self, triggers: usize) -> usize {
        self.repos.unwrap_or(triggers).min(triggers)
    }
}

fn parse_mode(s: &str) -> Result<Mode, String> {
    match s {
        "local" => Ok(Mode::Local),
        "cluster" => Ok(Mode::Cluster),
        other => Err(format!("unknown mode {other:?} (local, cluster)")),
    }
}

fn list<T>(
    name: &str,
    default: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> anyhow::Result<Vec<T>> {
    let value = std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let items: Vec<T> = value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| parse(s).map_err(|e| anyhow::anyhow!("{name}: {e}")))
        .collect::<anyhow::Result<_>>()?;
    if items.is_empty() {
        bail!("{name} is empty");
    }
    Ok(items)
}

/// A humantime duration ("10s", "2m"), or plain seconds.
fn duration(name: &str, default: &str) -> anyhow::Result<Duration> {
    let value = std::env::var(name).unwrap_or_else(|_| default.to_owned());
    if let Ok(seconds) = value.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    humantime::parse_duration(&value).with_context(|| format!("{name}={value:?}"))
}
