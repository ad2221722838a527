//! Re-reading the manifest folder when it changes.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use crate::catalog::Catalog;
use crate::manifests::{LoadError, load_dir, manifest_files};

/// What identifies the folder's content cheaply: each file's path, size and modification time.
type Fingerprint = Vec<(PathBuf, u64, Option<SystemTime>)>;

fn fingerprint(dir: &Path) -> std::io::Result<Fingerprint> {
    manifest_files(dir)?
        .into_iter()
        .map(|path| {
            let meta = std::fs::metadata(&path)?;
            Ok((path, meta.len(), meta.modified().ok()))
        })
        .collect()
}

/// Load the folder and log each bad document. The catalog holds every good one.
pub fn load_and_report(dir: &Path) -> std::io::Result<(Catalog, Vec<LoadError>)> {
    let loaded = load_dir(dir)?;
    for error in &loaded.errors {
        tracing::error!(%error, "manifest error");
    }
    tracing::info!(dir = %dir.display(), loaded = %loaded.catalog.summary(), errors = loaded.errors.len(), "manifests read");
    for (trigger, paths) in loaded.catalog.hook_paths() {
        for path in paths {
            tracing::info!(%trigger, %path, "webhook trigger: point its sender at this path");
        }
    }
    Ok((loaded.catalog, loaded.errors))
}

/// Poll `dir` every `every` and publish a new catalog when anything changed. Polling (rather
/// than inotify) works the same on every filesystem, including network and container mounts.
pub async fn watch_dir(dir: PathBuf, every: Duration, sender: watch::Sender<Arc<Catalog>>) {
    let mut last = fingerprint(&dir).ok();
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let now = match fingerprint(&dir) {
            Ok(now) => now,
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "cannot read the manifest folder");
                continue;
            }
        };
        if last.as_ref() == Some(&now) {
            continue;
        }
        last = Some(now);
        match load_and_report(&dir) {
            Ok((catalog, _)) => {
                if sender.send(Arc::new(catalog)).is_err() {
                    return;
                }
            }
            Err(e) => tracing::warn!(dir = %dir.display(), error = %e, "reload failed"),
        }
    }
}
