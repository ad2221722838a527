//! Local mode: `herald local` on a folder of manifests, SQLite store.

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};

use crate::baseline::LsRemote;
use crate::herald::{self, binary};
use crate::manifests;
use crate::settings::Mode;
use crate::setup::{Measured, Setup};
use crate::window::{self, Watched};

pub async fn measure(setup: &Setup<'_>, ls_remote: LsRemote) -> anyhow::Result<Measured> {
    let settings = setup.settings;
    let dir = setup.folder(Mode::Local)?;
    manifests::write(&dir.join("manifests"), &setup.objects())?;
    let db = dir.join("herald.db");
    let started = Instant::now();
    let mut herald = herald::start_local(&dir.join("manifests"), &db, &dir.join("herald.log"))?;
    herald.wait_serving().await?;
    eprintln!(
        "  local: serving after {:.1} s; warming up",
        started.elapsed().as_secs_f64()
    );
    let mut watched = Watched {
        herald: &mut herald,
        log: &setup.server.log,
        repos: &setup.repos,
        apiserver: None,
    };
    let mut startup = window::warm_up(&mut watched, started, settings).await?;
    startup.settled = window::settle(&mut watched, started, settings, || async {
        let runs = list_runs(&db).await?;
        Ok(runs.len() >= setup.triggers && runs.iter().all(finished))
    })
    .await?;
    let runs_before = list_runs(&db).await?.len();
    eprintln!("  local: measuring {:?}", settings.window);
    let window = window::measure(&mut watched, settings.window, settings).await?;
    let runs_after = list_runs(&db).await?.len();
    herald.stop();
    Ok(Measured {
        mode: Mode::Local,
        triggers: setup.triggers,
        repos: setup.repos.len(),
        interval: settings.interval,
        startup,
        window,
        runs: (runs_before, runs_after),
        apiserver_alone: None,
        events: Vec::new(),
        ls_remote,
        hook_latency: None,
        step_latency: None,
    })
}

/// Whether a run (as `herald runs` prints it) has ended.
fn finished(run: &serde_json::Value) -> bool {
    !matches!(run["phase"].as_str(), Some("Pending" | "Running"))
}

/// Runs in the store, as `herald runs` lists them (SQLite lets it read beside the server).
async fn list_runs(db: &Path) -> anyhow::Result<Vec<serde_json::Value>> {
    let out = tokio::process::Command::new(binary())
        .args(["runs", "--limit", "1000000", "--output", "json", "--db"])
        .arg(db)
        .output()
        .await
        .context("running herald runs")?;
    if !out.status.success() {
        bail!("herald runs: {}", String::from_utf8_lossy(&out.stderr));
    }
    serde_json::from_slice(&out.stdout).context("reading herald runs' JSON")
}
