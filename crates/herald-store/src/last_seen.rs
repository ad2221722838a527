//! The last revision each trigger saw per source, read on every hook and tick: kept in memory
//! for SQLite, where this process is the store's only writer of it.
//!
//! Runs commit one at a time on SQLite, so their ids grow in commit order; an entry moves only
//! to a larger run id, and the cache ends where the table does even when two runs' answers
//! arrive out of order. PostgreSQL may be shared by replicas, so it is always read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use sqlx::Row;

use crate::error::StoreError;
use crate::rows;
use crate::types::TriggerKey;
use crate::{Backend, Store};

/// (trigger, source) → (the run that recorded it, the revision). Run id 0: read from the table.
type Entries = HashMap<(TriggerKey, String), (i64, String)>;

/// The cache; `None` where it would not be sound.
#[derive(Debug, Clone, Default)]
pub(crate) struct LastSeenCache(Option<Arc<Mutex<Entries>>>);

impl LastSeenCache {
    pub(crate) fn for_backend(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => Self(Some(Arc::default())),
            Backend::Postgres => Self(None),
        }
    }

    fn get(&self, trigger: &TriggerKey, source: &str) -> Option<String> {
        let entries = self
            .0
            .as_ref()?
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let key = (trigger.clone(), source.to_owned());
        entries.get(&key).map(|(_, revision)| revision.clone())
    }

    /// Keeps `revision`, recorded by run `run_id` (0: read from the table), unless a later run
    /// recorded one already.
    pub(crate) fn offer(&self, trigger: &TriggerKey, source: &str, run_id: i64, revision: &str) {
        let Some(entries) = &self.0 else { return };
        let mut entries = entries.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = entries
            .entry((trigger.clone(), source.to_owned()))
            .or_insert((-1, String::new()));
        if run_id > entry.0 {
            *entry = (run_id, revision.to_owned());
        }
    }
}

impl Store {
    /// The last revision `trigger` recorded for the source named `source`, if any.
    #[tracing::instrument(level = "debug", name = "store.last_seen", skip_all)]
    pub async fn last_seen(
        &self,
        trigger: &TriggerKey,
        source: &str,
    ) -> Result<Option<String>, StoreError> {
        if let Some(revision) = self.last_seen_cache.get(trigger, source) {
            return Ok(Some(revision));
        }
        let op = "reading the last seen revision";
        let row = sqlx::query(
            "SELECT revision FROM last_seen WHERE trigger_kind = $1 AND trigger_namespace = $2 \
             AND trigger_name = $3 AND source_name = $4",
        )
        .bind(rows::enum_text(trigger.kind))
        .bind(&trigger.namespace)
        .bind(&trigger.name)
        .bind(source)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::query(op))?;
        let revision: Option<String> = row
            .map(|r| r.try_get("revision"))
            .transpose()
            .map_err(StoreError::query(op))?;
        if let Some(revision) = &revision {
            self.last_seen_cache.offer(trigger, source, 0, revision);
        }
        Ok(revision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_api::TriggerKind;

    fn key() -> TriggerKey {
        TriggerKey {
            kind: TriggerKind::WebhookTrigger,
            namespace: "ns".into(),
            name: "t".into(),
        }
    }

    #[test]
    fn a_later_run_wins_whatever_order_its_answer_comes_in() {
        let cache = LastSeenCache::for_backend(Backend::Sqlite);
        cache.offer(&key(), "repo", 7, "b");
        cache.offer(&key(), "repo", 6, "a");
        cache.offer(&key(), "repo", 0, "from the table");
        assert_eq!(cache.get(&key(), "repo").as_deref(), Some("b"));
        assert_eq!(cache.get(&key(), "other"), None);
    }

    #[test]
    fn postgres_is_always_read() {
        let cache = LastSeenCache::for_backend(Backend::Postgres);
        cache.offer(&key(), "repo", 7, "b");
        assert_eq!(cache.get(&key(), "repo"), None);
    }
}
