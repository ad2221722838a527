//! `cargo bench -p herald --bench hooks`: signed 8 KiB GitHub pushes against `herald local`
//! over loopback, with durable storage on (SQLite, `synchronous=FULL`).
//!
//! Prints deliveries/s and p50/p99 latency for the hook path, beside a baseline measured in the
//! same run on `GET /healthz` (the same HTTP stack doing nothing), then kills the server with
//! SIGKILL under load, restarts it on the same store and checks that every delivery answered
//! 2xx was stored. The load generator runs in this process on the same cores as the server.
//!
//! `HERALD_BENCH_SECONDS` (default 10) sets each measurement's length and
//! `HERALD_BENCH_CONNECTIONS` (default 64) the concurrent connections.

mod load;
mod server;

use std::time::Duration;

use load::{Load, Report, Target};
use server::Bench;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

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

async fn run() -> Result<(), String> {
    let seconds = Duration::from_secs(env_number("HERALD_BENCH_SECONDS", 10));
    let connections = env_number("HERALD_BENCH_CONNECTIONS", 64) as usize;
    let bench = Bench::prepare()?;
    let mut server = bench.start()?;
    let load = Load::new(
        server.listen,
        connections,
        bench.body.clone(),
        bench.signature.clone(),
    );

    println!(
        "hook bench: {connections} connections, {}s each, body 8 KiB, SQLite durable\n",
        seconds.as_secs()
    );
    load.run(Target::Health, Duration::from_secs(1), "warm-up")
        .await;
    let baseline = load.run(Target::Health, seconds, "health").await;
    load.run(Target::Hook { first: 0 }, Duration::from_secs(1), "warm")
        .await;
    let hooks = load
        .run(Target::Hook { first: 1_000_000 }, seconds, "hook")
        .await;
    println!("{}", Report::header());
    println!("{}", baseline.row("GET /healthz (baseline)"));
    println!("{}", hooks.row("POST /hooks (GitHub push)"));
    println!(
        "\nhook path: {:.0}% of the baseline's rate; targets: >= 10000 deliveries/s, p99 < 20 ms",
        100.0 * hooks.rate() / baseline.rate().max(1.0)
    );
    if hooks.acknowledged.is_empty() {
        return Err(format!(
            "no delivery was acknowledged: {:?}",
            hooks.statuses
        ));
    }

    let (acknowledged, killed_after) = load.run_until_killed(&mut server, 2_000_000).await;
    let server = bench.start()?;
    let missing = bench.missing(&acknowledged).await?;
    server.stop();
    println!(
        "\nkill -9 after {} ms of load: {} deliveries acknowledged, {} missing after restart",
        killed_after.as_millis(),
        acknowledged.len(),
        missing.len()
    );
    if !missing.is_empty() {
        return Err(format!(
            "acknowledged but not stored: {:?}",
            &missing[..missing.len().min(10)]
        ));
    }
    Ok(())
}
