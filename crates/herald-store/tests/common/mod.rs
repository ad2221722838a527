//! Shared helpers: a store in a fresh temp dir and runs to put in it.

#![allow(dead_code)]

use herald_api::{ActionKind, RunCause, SourceKind, TriggerKind};
use std::collections::HashMap;

use herald_store::{EventQuery, NewRun, Store, TriggerKey};
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

/// Every stored event's delivery id, by event id (paging through the whole log).
pub async fn delivery_ids(store: &Store) -> HashMap<i64, Option<String>> {
    let mut all = HashMap::new();
    let mut query = EventQuery {
        limit: Some(EventQuery::MAX_LIMIT),
        ..EventQuery::default()
    };
    loop {
        let page = store.query_events(&query).await.expect("query");
        all.extend(page.events.into_iter().map(|e| (e.id, e.delivery_id)));
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => return all,
        }
    }
}
