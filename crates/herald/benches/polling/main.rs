//! `cargo bench -p herald --bench polling`: the steady cost of polling N unchanged
//! repositories every 10 s, in local mode (`herald local`) and cluster mode (`herald run`
//! against the project's real control plane), with the real release binary.
//!
//! A smart-HTTP Git server on loopback (`git http-backend` as CGI behind a small axum server)
//! serves one bare repository per trigger and times every `GET info/refs`: one per check.
//! After a warm-up, a window samples Herald's RSS, threads and CPU from /proc, counts the
//! checks and how late each repository's came, and in cluster mode reads kube-apiserver's
//! CPU and `apiserver_request_total` at both ends, then measures the API server again with
//! Herald stopped, and then (cluster mode, the polling triggers still running) times 100
//! verified pushes to a WebhookTrigger until their Jobs show, and a chain of 21 steps from
//! each step's Job completing to the next step's Job. Beside Herald's CPU it prints what
//! `git ls-remote` costs for as many checks against the same server, and then a verdict
//! against the targets. A missed target is printed; the bench fails only when it cannot
//! measure.
//!
//! Environment: `HERALD_BENCH_TRIGGERS` (default 500; a list runs each, e.g. "500,1000"),
//! `HERALD_BENCH_MODES` ("local,cluster"), `HERALD_BENCH_INTERVAL` (10s),
//! `HERALD_BENCH_WARMUP` (60s), `HERALD_BENCH_WINDOW` (120s), `HERALD_BENCH_SAMPLE` (5s),
//! `HERALD_BENCH_REPOS` (bare repositories shared by the triggers; default one each),
//! `HERALD_BENCH_APISERVER_BASELINE` (60s; 0 skips), `HERALD_BENCH_STARTUP_DEADLINE` (600s:
//! how long the warm-up may stretch until every repository was checked twice), and
//! `HERALD_BENCH_BINARY` (measure another `herald` build).

mod apiserver;
mod baseline;
mod cluster;
mod cluster_objects;
mod control_plane;
mod git_server;
mod herald;
mod hook_latency;
mod jobs_seen;
mod lateness;
mod local;
mod manifests;
mod procfs;
mod report;
mod repos;
mod settings;
mod setup;
mod step_latency;
mod verdict;
mod window;

use std::process::ExitCode;

use anyhow::Context;
use tokio::signal::unix::{SignalKind, signal};

use git_server::GitServer;
use settings::{Mode, Settings};
use setup::{Measured, Setup};

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("polling bench: no tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(until_interrupted());
    // Dropping the runtime kills the CGI processes still running (kill_on_drop).
    drop(runtime);
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("polling bench failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the bench; on SIGINT or SIGTERM its future is dropped, and with it every process it
/// started (Herald and the control plane stop in their `Drop`).
async fn until_interrupted() -> anyhow::Result<()> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        outcome = run() => outcome,
        _ = interrupt.recv() => anyhow::bail!("interrupted; everything started was stopped"),
        _ = terminate.recv() => anyhow::bail!("terminated; everything started was stopped"),
    }
}

async fn run() -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    print_header(&settings);
    let scratch = tempfile::Builder::new()
        .prefix("herald-polling-")
        .tempdir()?;
    let root = scratch.path().join("git");
    let most_repos = settings
        .triggers
        .iter()
        .map(|n| settings.repos_for(*n))
        .max()
        .unwrap_or(1);
    eprintln!("creating {most_repos} bare repositories");
    repos::create(&root, most_repos)?;
    let server = GitServer::start(&root).await?;
    let mut results = Vec::new();
    let outcome = measure_all(&settings, &server, scratch.path(), &mut results).await;
    if !results.is_empty() {
        println!();
        report::print(&results);
        report::print_writes(&results);
        verdict::print(&results);
    }
    outcome
}

async fn measure_all(
    settings: &Settings,
    server: &GitServer,
    scratch: &std::path::Path,
    results: &mut Vec<Measured>,
) -> anyhow::Result<()> {
    for &triggers in &settings.triggers {
        let setup = Setup::new(
            settings,
            server,
            scratch.join(triggers.to_string()),
            triggers,
        );
        eprintln!("{triggers} triggers: git ls-remote baseline, {triggers} calls");
        let urls = setup.urls();
        let ls_remote = tokio::task::spawn_blocking(move || baseline::measure(&urls)).await??;
        eprintln!(
            "  {} calls in {:.1} s, {:.2} CPU-s",
            ls_remote.calls,
            ls_remote.elapsed.as_secs_f64(),
            ls_remote.cpu_s
        );
        for &mode in &settings.modes {
            eprintln!("{triggers} triggers, {} mode", mode.name());
            let measured = match mode {
                Mode::Local => local::measure(&setup, ls_remote).await,
                Mode::Cluster => cluster::measure(&setup, ls_remote).await,
            };
            results.push(measured.with_context(|| format!("{} mode", mode.name()))?);
        }
    }
    Ok(())
}

fn print_header(settings: &Settings) {
    let modes: Vec<&str> = settings.modes.iter().map(|m| m.name()).collect();
    println!(
        "polling bench: {}, triggers {:?}, modes {}, interval {:?}, warm-up {:?}, window {:?}, \
         sampled every {:?}, {} cores",
        if std::env::var_os("HERALD_BENCH_BINARY").is_some() {
            "HERALD_BENCH_BINARY"
        } else {
            "this build"
        },
        settings.triggers,
        modes.join(","),
        settings.interval,
        settings.warmup,
        settings.window,
        settings.sample_every,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
}
