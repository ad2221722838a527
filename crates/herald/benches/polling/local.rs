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
    let startup = window::warm_up(&mut watched, started, settings).await?;
    let runs_before = count_runs(&db).await?;
    eprintln!("  local: measuring {:?}", settings.window);
    let window = window::measure(&mut watched, settings.window, settings).await?;
    let runs_after = count_runs(&db).await?;
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
        ls_remote,
    })
}

/// Runs in the store, as `herald runs` lists them (SQLite lets it read beside the server).
async fn count_runs(db: &Path) -> anyhow::Result<usize> {
    let out = tokio::process::Command::new(binary())
        .args(["runs", "--limit", "1000000", "--output", "json", "--db"])
        .arg(db)
        .output()
        .await
        .context("running herald runs")?;
    if !out.status.success() {
        bail!("herald runs: {}", String::from_utf8_lossy(&out.stderr));
    }
    let runs: Vec<serde_json::Value> =
        serde_json::from_slice(&out.stdout).context("reading herald runs' JSON")?;
    Ok(runs.len())
}
