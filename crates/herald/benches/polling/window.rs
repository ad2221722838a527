//! The warm-up once Herald serves, then the window: /proc sampled every few seconds, the
//! Git server's counters and the API server's read at both ends.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::bail;

use crate::apiserver::{Apiserver, Reading};
use crate::git_server::{Counts, RequestLog};
use crate::herald::Herald;
use crate::lateness::{Lateness, lateness};
use crate::procfs;
use crate::settings::Settings;

/// How often the warm-up looks at the Git server's log.
const WARMUP_POLL: Duration = Duration::from_millis(500);

/// How the start went.
#[derive(Debug, Clone, Copy, Default)]
pub struct Startup {
    /// From start until `/readyz` first answered 200 (within the warm-up).
    pub ready: Option<Duration>,
    /// From start until every repository had been checked once.
    pub first_round: Option<Duration>,
    /// The warm-up ended before every repository had been checked twice.
    pub incomplete: bool,
    /// From start until the first runs had settled (local: every run finished; cluster:
    /// every Run's Job has its Pod); `None`: not within the startup deadline.
    pub settled: Option<Duration>,
}

/// Everything measured over one window.
#[derive(Debug, Clone)]
pub struct Window {
    pub length: Duration,
    /// The window's start and end by the wall clock (for objects' timestamps).
    pub wall: (jiff::Timestamp, jiff::Timestamp),
    pub rss_kib: Vec<u64>,
    pub threads: Vec<u64>,
    pub herald_cpu_s: f64,
    /// CPU of the Git server's CGI processes (this bench's reaped children).
    pub git_server_cpu_s: f64,
    pub requests: Counts,
    /// Checks in the window by the client's User-Agent.
    pub agents: BTreeMap<String, u64>,
    pub lateness: Lateness,
    pub apiserver: Option<Reading>,
    /// Herald's warning and error lines logged in the window.
    pub warnings: usize,
}

/// What the window looks at.
#[derive(Debug)]
pub struct Watched<'a> {
    pub herald: &'a mut Herald,
    pub log: &'a RequestLog,
    /// The repositories the triggers check (names under the Git server's root).
    pub repos: &'a [String],
    pub apiserver: Option<&'a Apiserver>,
}

/// Waits at least the warm-up, and until every repository was checked twice since `started`
/// (its first check and one steady one), up to the startup deadline.
pub async fn warm_up(
    watched: &mut Watched<'_>,
    started: Instant,
    settings: &Settings,
) -> anyhow::Result<Startup> {
    let mut startup = Startup::default();
    let mut every = tokio::time::interval(WARMUP_POLL);
    loop {
        every.tick().await;
        watched.herald.check_alive()?;
        let elapsed = started.elapsed();
        if startup.ready.is_none() && watched.herald.is_ready().await {
            startup.ready = Some(elapsed);
        }
        let total = watched.repos.len();
        if startup.first_round.is_none() && watched.log.repos_checked(1, started) >= total {
            startup.first_round = Some(elapsed);
        }
        let settled = watched.log.repos_checked(2, started) >= total;
        if elapsed >= settings.warmup && settled {
            return Ok(startup);
        }
        if elapsed >= settings.startup_deadline.max(settings.warmup) {
            startup.incomplete = true;
            return Ok(startup);
        }
    }
}

/// How often [`settle`] asks again.
const SETTLE_POLL: Duration = Duration::from_secs(2);

/// Waits, up to the startup deadline, until `settled` says the first runs' work is done:
/// until then their executions (checkouts, or the Job controller's Pods) are start-up, not
/// polling, and would be measured as such.
pub async fn settle<F, Fut>(
    watched: &mut Watched<'_>,
    started: Instant,
    settings: &Settings,
    mut settled: F,
) -> anyhow::Result<Option<Duration>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<bool>>,
{
    let mut every = tokio::time::interval(SETTLE_POLL);
    while started.elapsed() < settings.startup_deadline {
        every.tick().await;
        watched.herald.check_alive()?;
        if settled().await? {
            return Ok(Some(started.elapsed()));
        }
    }
    Ok(None)
}

/// Measures one window of `length`.
pub async fn measure(
    watched: &mut Watched<'_>,
    length: Duration,
    settings: &Settings,
) -> anyhow::Result<Window> {
    let start = tokio::time::Instant::now();
    let wall_start = jiff::Timestamp::now();
    let warnings_before = watched.herald.warnings();
    let requests_before = watched.log.counts();
    let agents_before = watched.log.agents();
    let api_before = read_apiserver(watched.apiserver).await?;
    let server_before = procfs::sample(std::process::id())?.children_cpu_s;
    let first = procfs::sample(watched.herald.pid)?;
    let (mut rss_kib, mut threads) = (vec![first.rss_kib], vec![first.threads]);
    let mut last = first;
    for at in sample_times(length, settings.sample_every) {
        tokio::time::sleep_until(start + at).await;
        watched.herald.check_alive()?;
        last = procfs::sample(watched.herald.pid)?;
        rss_kib.push(last.rss_kib);
        threads.push(last.threads);
    }
    let end = Instant::now();
    let checks = watched.log.checks_between(start.into_std(), end);
    let api_after = read_apiserver(watched.apiserver).await?;
    Ok(Window {
        length: end - start.into_std(),
        wall: (wall_start, jiff::Timestamp::now()),
        rss_kib,
        threads,
        herald_cpu_s: last.cpu_s - first.cpu_s,
        git_server_cpu_s: procfs::sample(std::process::id())?.children_cpu_s - server_before,
        requests: watched.log.counts().since(requests_before),
        agents: agents_since(watched.log.agents(), &agents_before),
        lateness: lateness(
            &checks,
            watched.repos,
            (start.into_std(), end),
            settings.interval,
        ),
        apiserver: match (api_before, api_after) {
            (Some(before), Some(after)) => Some(after.since(&before)),
            _ => None,
        },
        warnings: watched.herald.warnings().saturating_sub(warnings_before),
    })
}

/// The API server alone over `length`, with Herald stopped.
/// Sampling at a fixed time is the point here: nothing is awaited but the clock.
pub async fn apiserver_alone(
    apiserver: &Apiserver,
    length: Duration,
) -> anyhow::Result<(Reading, Duration)> {
    let started = Instant::now();
    let before = apiserver.read().await?;
    tokio::time::sleep(length).await;
    let after = apiserver.read().await?;
    if after.cpu_s < before.cpu_s {
        bail!("the API server's CPU time went backwards: was it restarted?");
    }
    Ok((after.since(&before), started.elapsed()))
}

/// Offsets of the samples after the first: every `period`, and the window's end.
fn sample_times(length: Duration, period: Duration) -> Vec<Duration> {
    let mut times: Vec<Duration> = (1u32..)
        .map(|k| period * k)
        .take_while(|t| *t < length)
        .collect();
    times.push(length);
    times
}

fn agents_since(
    mut now: BTreeMap<String, u64>,
    before: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    for (agent, n) in before {
        if let Some(count) = now.get_mut(agent) {
            *count -= n;
        }
    }
    now.retain(|_, n| *n > 0);
    now
}

async fn read_apiserver(apiserver: Option<&Apiserver>) -> anyhow::Result<Option<Reading>> {
    match apiserver {
        Some(apiserver) => Ok(Some(apiserver.read().await?)),
        None => Ok(None),
    }
}

impl Window {
    pub fn per_min(&self, amount: f64) -> f64 {
        amount * 60.0 / self.length.as_secs_f64()
    }

    pub fn checks_per_min(&self) -> f64 {
        self.per_min(self.requests.info_refs as f64)
    }
}
