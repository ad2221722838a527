//! `cargo bench -p herald --bench ui`: the dashboard's pages with 1,000 triggers and 100,000
//! runs in the store, served by `herald local` (SQLite) over loopback.
//!
//! Prints each page's p50 / p99 / max time to a complete answer (sequential requests after a
//! warm-up), beside `GET /healthz` measured in the same run (the same HTTP stack doing
//! nothing), against the target of 50 ms for Overview and Runs; then how long a change takes
//! to reach an open page (the `/ui/live` event, and the page fetched again as its script does),
//! against 1 s; and the server's memory and CPU from `/proc` over the measured window.
//! `HERALD_BENCH_REQUESTS` (default 200) sets the requests per page.

mod fixture;
// The polling bench's process and `/proc` readers, shared; not all of them are used here.
#[allow(dead_code)]
#[path = "../polling/herald.rs"]
mod herald;
#[allow(dead_code)]
#[path = "../polling/procfs.rs"]
mod procfs;

use std::time::{Duration, Instant};

use fixture::{TRIGGERS, World};

const TARGET_PAGE: Duration = Duration::from_millis(50);
const TARGET_LIVE: Duration = Duration::from_secs(1);
const LIVE_SAMPLES: usize = 20;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = runtime.block_on(run()) {
        eprintln!("bench failed: {e}");
        std::process::exit(1);
    }
}

async fn run() -> anyhow::Result<()> {
    let requests: usize = std::env::var("HERALD_BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let built = Instant::now();
    let world = World::build().await?;
    println!(
        "ui bench: {TRIGGERS} triggers, {} runs (built in {:.1} s), {requests} requests per page\n",
        fixture::RUNS,
        built.elapsed().as_secs_f64()
    );
    let server = world.start().await?;
    let client = reqwest::Client::new();
    let base = format!("http://{}", server.listen);
    let middle = fixture::RUNS / 2;
    let pages = [
        ("baseline GET /healthz", "/healthz".to_owned(), None),
        ("Overview /ui/", "/ui/".to_owned(), Some(TARGET_PAGE)),
        ("Runs /ui/runs", "/ui/runs".to_owned(), Some(TARGET_PAGE)),
        (
            "Runs of one trigger",
            format!("/ui/runs?trigger={}", fixture::trigger(500)),
            Some(TARGET_PAGE),
        ),
        (
            "Runs failed",
            "/ui/runs?phase=Failed".to_owned(),
            Some(TARGET_PAGE),
        ),
        (
            "Run /ui/runs/NAME",
            format!(
                "/ui/runs/{}-{middle:06}",
                fixture::trigger(middle % TRIGGERS)
            ),
            None,
        ),
        (
            "Revision /ui/revisions/SHA",
            format!("/ui/revisions/{}", fixture::revision(middle)),
            None,
        ),
        ("Events /ui/events", "/ui/events".to_owned(), None),
    ];
    // One pass over every page first: what the allocator keeps after it is the baseline the
    // measured pass is held to.
    for (_, path, _) in &pages {
        measure(&client, &format!("{base}{path}"), requests / 4).await?;
    }
    let before = procfs::sample(server.pid)?;
    let mut met = true;
    println!(
        "{:<28} {:>9} {:>9} {:>9} {:>9}  target",
        "page", "p50 ms", "p99 ms", "max ms", "KiB"
    );
    for (label, path, target) in &pages {
        let figures = measure(&client, &format!("{base}{path}"), requests).await?;
        let verdict = match target {
            Some(target) if figures.p99 <= *target => {
                format!("p99 under {} ms: met", target.as_millis())
            }
            Some(target) => {
                met = false;
                format!("p99 under {} ms: MISSED", target.as_millis())
            }
            None => String::new(),
        };
        println!(
            "{label:<28} {:>9.2} {:>9.2} {:>9.2} {:>9.1}  {verdict}",
            ms(figures.p50),
            ms(figures.p99),
            ms(figures.max),
            figures.bytes as f64 / 1024.0
        );
    }
    let after = procfs::sample(server.pid)?;
    let live = live_latency(&client, &base).await?;
    let live_met = live.p99 <= TARGET_LIVE;
    met &= live_met;
    println!(
        "\nlive update (event recorded -> /ui/live -> page fetched again), {LIVE_SAMPLES} changes: \
         p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; p99 under 1 s: {}",
        ms(live.p50),
        ms(live.p99),
        ms(live.max),
        if live_met { "met" } else { "MISSED" }
    );
    println!(
        "server over the measured pass (after a warm-up pass): RSS {} -> {} KiB, CPU {:.2} s",
        before.rss_kib,
        after.rss_kib,
        after.cpu_s - before.cpu_s
    );
    drop(server);
    anyhow::ensure!(met, "a target was missed");
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct Figures {
    p50: Duration,
    p99: Duration,
    max: Duration,
    bytes: usize,
}

impl Figures {
    fn of(mut samples: Vec<Duration>, bytes: usize) -> Self {
        samples.sort();
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
        Self {
            p50: at(0.5),
            p99: at(0.99),
            max: *samples.last().unwrap_or(&Duration::ZERO),
            bytes,
        }
    }
}

/// `requests` sequential GETs after 10 of warm-up; each timed to the last byte.
async fn measure(client: &reqwest::Client, url: &str, requests: usize) -> anyhow::Result<Figures> {
    let mut samples = Vec::with_capacity(requests);
    let mut bytes = 0;
    for i in 0..requests + 10 {
        let started = Instant::now();
        let answer = client.get(url).send().await?;
        anyhow::ensure!(
            answer.status().is_success(),
            "GET {url}: {}",
            answer.status()
        );
        let body = answer.bytes().await?;
        if i >= 10 {
            samples.push(started.elapsed());
            bytes = body.len();
        }
    }
    Ok(Figures::of(samples, bytes))
}

/// From recording an event (a Flux event, through the API) to the change event on an open
/// `/ui/live` stream and the page fetched again, as the page's script does.
async fn live_latency(client: &reqwest::Client, base: &str) -> anyhow::Result<Figures> {
    let mut live = client.get(format!("{base}/ui/live")).send().await?;
    let mut samples = Vec::with_capacity(LIVE_SAMPLES);
    for i in 0..LIVE_SAMPLES {
        let event = serde_json::json!({
            "involvedObject": {"kind": "Kustomization", "namespace": "flux-system", "name": "apps"},
            "severity": "info", "timestamp": jiff::Timestamp::now().to_string(),
            "message": format!("change {i}"), "reason": "ReconciliationSucceeded",
            "reportingController": "kustomize-controller",
            "metadata": {"revision": format!("main@sha1:{}", fixture::revision(i))}
        });
        let started = Instant::now();
        let flux = format!("{base}/api/v1/flux/events");
        let status = client.post(flux).json(&event).send().await?.status();
        anyhow::ensure!(status.is_success(), "recording a Flux event: {status}");
        let deadline = Duration::from_secs(5);
        loop {
            let chunk = tokio::time::timeout(deadline, live.chunk()).await;
            let chunk = chunk.map_err(|_| anyhow::anyhow!("no live update within 5 s"))??;
            let chunk = chunk.ok_or_else(|| anyhow::anyhow!("the live stream ended"))?;
            if String::from_utf8_lossy(&chunk).contains("event: change") {
                break;
            }
        }
        client.get(format!("{base}/ui/")).send().await?;
        samples.push(started.elapsed());
    }
    Ok(Figures::of(samples, 0))
}
