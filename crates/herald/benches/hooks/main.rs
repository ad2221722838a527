//! `cargo bench -p herald --bench hooks`: signed 8 KiB GitHub pushes against `herald local`
//! over loopback, with durable storage on (SQLite, `synchronous=FULL`).
//!
//! Prints deliveries/s and p50/p99 latency for the hook path, beside a baseline measured in the
//! same run with the same generator on `GET /healthz` (the same HTTP stack doing nothing), then
//! kills the server with SIGKILL under load, restarts it on the same store and checks that
//! every delivery answered 2xx was stored. Load comes from `wrk` when it is installed, else
//! from a Rust generator in this process; the durability check always uses the Rust one, which
//! knows which delivery each answer was for. Both share the two cores with the server.
//!
//! `HERALD_BENCH_SECONDS` (default 10) sets each measurement's length,
//! `HERALD_BENCH_CONNECTIONS` (default 64) the concurrent connections,
//! `HERALD_BENCH_GENERATOR=rust` skips `wrk`, and `HERALD_BENCH_BINARY` measures another
//! `herald` binary (one built from an earlier commit, say) instead of this build's.

mod figures;
mod load;
mod server;
mod wrk;

use std::time::Duration;

use figures::Figures;
use load::{Load, Target};
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

/// How the load is made.
struct Settings {
    length: Duration,
    connections: usize,
    use_wrk: bool,
}

async fn run() -> Result<(), String> {
    let settings = Settings {
        length: Duration::from_secs(env_number("HERALD_BENCH_SECONDS", 10)),
        connections: env_number("HERALD_BENCH_CONNECTIONS", 64) as usize,
        use_wrk: std::env::var("HERALD_BENCH_GENERATOR").as_deref() != Ok("rust")
            && wrk::available(),
    };
    let bench = Bench::prepare()?;
    let mut server = bench.start()?;
    let load = Load::new(
        server.listen,
        settings.connections,
        bench.body.clone(),
        bench.signature.clone(),
    );
    println!(
        "hook bench: {}, {} connections, {}s each, body {} bytes, SQLite durable, load from {}\n",
        if std::env::var_os("HERALD_BENCH_BINARY").is_some() {
            "HERALD_BENCH_BINARY"
        } else {
            "this build"
        },
        settings.connections,
        settings.length.as_secs(),
        bench.body.len(),
        if settings.use_wrk {
            "wrk"
        } else {
            "the Rust generator"
        }
    );
    let baseline = measure(&bench, &load, &settings, None).await?;
    let hooks = measure(&bench, &load, &settings, Some(server::TRIGGER)).await?;
    let with_files = measure(&bench, &load, &settings, Some(server::FILES_TRIGGER)).await?;
    println!("{}", Figures::header());
    println!("{}", baseline.row("GET /healthz (baseline)"));
    println!("{}", hooks.row("POST /hooks (GitHub push)"));
    println!("{}", with_files.row("  ... files filter"));
    println!(
        "\nhook path: {:.0}% of the baseline's rate; targets: >= 10000 deliveries/s, p99 < 20 ms",
        100.0 * hooks.per_second / baseline.per_second.max(1.0)
    );
    if hooks.requests == 0 || with_files.requests == 0 {
        return Err("no delivery was answered".into());
    }
    check_kill(&bench, &load, &mut server).await
}

/// Warms up, then measures the health endpoint, or the hook endpoint of `hook_trigger`.
async fn measure(
    bench: &Bench,
    load: &Load,
    settings: &Settings,
    hook_trigger: Option<&'static str>,
) -> Result<Figures, String> {
    let warm_up = Duration::from_secs(1);
    if settings.use_wrk {
        let signature = bench.signature.as_str();
        let body = bench.body_file()?;
        let target = |run| match hook_trigger {
            Some(trigger) => wrk::Wrk::Hook {
                trigger,
                body: &body,
                signature,
                run,
            },
            None => wrk::Wrk::Health,
        };
        let (listen, connections) = (bench.listen(), settings.connections);
        wrk::run(listen, &target("warm"), warm_up, connections, bench.dir())?;
        return wrk::run(
            listen,
            &target("measure"),
            settings.length,
            connections,
            bench.dir(),
        );
    }
    let target = |first| match hook_trigger {
        Some(trigger) => Target::Hook { trigger, first },
        None => Target::Health,
    };
    load.run(target(0), warm_up, "warm-up").await;
    Ok(load
        .run(target(1_000_000), settings.length, "measure")
        .await
        .figures())
}

/// SIGKILLs the server under load, restarts it and checks every acknowledged delivery.
async fn check_kill(bench: &Bench, load: &Load, server: &mut server::Server) -> Result<(), String> {
    let (acknowledged, killed_after) = load.run_until_killed(server, 2_000_000).await;
    let restarted = bench.start()?;
    let missing = bench.missing(&acknowledged).await?;
    restarted.stop();
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
