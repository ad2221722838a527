//! Shared helpers: a store in a fresh temp dir and runs to put in it.

#![allow(dead_code)]

use herald_api::{ActionKind, RunCause, SourceKind, TriggerKind};
use herald_store::{NewRun, Store, TriggerKey};
use tempfile::TempDir;

/// A store in its own temp dir; the dir lives as long as the value.
pub struct TestStore {
    pub store: Store,
    pub dir: TempDir,
}

impl TestStore {
    /// The database file.
    pub fn path(&self) -> std::path::PathBuf {
        self.dir.path().join("state").join("herald.db")
    }
}

/// Opens a store at `<tmp>/state/herald.db` (the parent directory does not exist yet).
pub async fn open() -> TestStore {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("state").join("herald.db");
    let store = Store::open(&path).await.expect("open store");
    TestStore { store, dir }
}

/// The trigger most tests use.
pub fn trigger(name: &str) -> TriggerKey {
    TriggerKey {
        kind: TriggerKind::ScheduleTrigger,
        namespace: "default".into(),
        name: name.into(),
    }
}

/// A `Change` run of `trigger` for `repo` at `revision`.
pub fn new_run(name: &str, trigger_name: &str, revision: &str) -> NewRun {
    NewRun {
        name: name.into(),
        namespace: "default".into(),
        trigger: trigger(trigger_name),
        source_kind: SourceKind::GitRepo,
        source: "repo".into(),
        git_ref: Some("refs/heads/main".into()),
        revision: revision.into(),
        action_kind: ActionKind::Action,
        action: "build".into(),
        cause: RunCause::Change,
        record_last_seen: true,
    }
}
