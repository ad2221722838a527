//! SQLite's delivery lookup, asked before firing every hook delivery that has an id: answered
//! on the caller's thread by a rusqlite connection of the store's own, not through sqlx.
//!
//! sqlx runs each SQLite connection on a driver thread and hands it the statement and each row
//! across channels; on a busy machine every hand-off waits for both threads to be scheduled,
//! and that waiting costs more than the lookup (an index search of one row, a few
//! microseconds, see `docs/PERFORMANCE.md`). So the lookup runs where it is asked, without
//! awaiting: it holds its thread for less time than one hand-off would wait.
//!
//! Every lookup is its own read transaction (autocommit; the statement is reset when the row
//! is read), begun after it was asked: in WAL mode it sees every transaction committed before,
//! so every event whose `record_event` had already been answered.

use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, OptionalExtension};

use crate::error::StoreError;
use crate::sqlite_writer;

/// What a failed lookup names in its error.
const OP: &str = "looking up a delivery";
/// Connections kept for later lookups. Lookups never await, so no more run at once than
/// threads ask; the few more a burst of threads opens are closed after use.
const MAX_IDLE: usize = 4;

/// Read connections to one SQLite file, opened when first needed.
#[derive(Debug)]
pub(crate) struct SqliteReader {
    path: PathBuf,
    /// Connections not in use; `None` once the store is closed.
    idle: Mutex<Option<Vec<Connection>>>,
}

impl SqliteReader {
    pub(crate) fn new(path: PathBuf) -> Self {
        Self {
            path,
            idle: Mutex::new(Some(Vec::new())),
        }
    }

    /// The id of the event stored under `delivery_id`, if any.
    pub(crate) fn delivery_event(&self, delivery_id: &str) -> Result<Option<i64>, StoreError> {
        let connection = self.take()?;
        let found = lookup(&connection, delivery_id).map_err(StoreError::sqlite(OP))?;
        // Only a connection that worked is kept: after an error the next lookup opens afresh.
        self.give_back(connection);
        Ok(found)
    }

    /// Closes the idle connections; later lookups fail with [`StoreError::Closed`].
    pub(crate) fn close(&self) {
        self.lock().take();
    }

    /// An idle connection, or a new one (opened without holding the lock).
    fn take(&self) -> Result<Connection, StoreError> {
        let idle = match &mut *self.lock() {
            Some(idle) => idle.pop(),
            None => return Err(StoreError::Closed),
        };
        match idle {
            Some(connection) => Ok(connection),
            None => open(&self.path).map_err(StoreError::sqlite(OP)),
        }
    }

    fn give_back(&self, connection: Connection) {
        if let Some(idle) = &mut *self.lock() {
            if idle.len() < MAX_IDLE {
                idle.push(connection);
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Vec<Connection>>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connection with the store's settings that refuses to write.
fn open(path: &std::path::Path) -> rusqlite::Result<Connection> {
    let connection = sqlite_writer::open(path)?;
    connection.execute_batch("PRAGMA query_only = ON;")?;
    Ok(connection)
}

/// Looks `delivery_id` up with a statement prepared once per connection.
fn lookup(connection: &Connection, delivery_id: &str) -> rusqlite::Result<Option<i64>> {
    connection
        .prepare_cached("SELECT id FROM events WHERE delivery_id = ?1")?
        .query_row([delivery_id], |r| r.get(0))
        .optional()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EventKind, NewEvent};

    #[tokio::test]
    async fn lookups_reuse_their_connection_and_stop_at_close() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("herald.db");
        let store = crate::Store::open(&path).await.expect("open");
        let reader = SqliteReader::new(path);
        assert_eq!(reader.delivery_event("d-1").expect("lookup"), None);
        // The kept connection holds no snapshot: it sees what is committed after its last use.
        let recorded = store
            .record_event(&NewEvent {
                delivery_id: Some("d-1".into()),
                ..NewEvent::new(EventKind::HookDelivery)
            })
            .await
            .expect("record");
        assert_eq!(reader.lock().as_ref().map(Vec::len), Some(1));
        assert_eq!(
            reader.delivery_event("d-1").expect("lookup"),
            Some(recorded.id)
        );
        reader.close();
        let err = reader.delivery_event("d-1").expect_err("closed");
        assert!(matches!(err, StoreError::Closed), "{err}");
    }

    #[tokio::test]
    async fn a_lookup_connection_cannot_write() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("herald.db");
        let _store = crate::Store::open(&path).await.expect("open");
        let connection = open(&path).expect("reader");
        let err = connection
            .execute("DELETE FROM events", [])
            .expect_err("query_only");
        assert!(err.to_string().contains("readonly"), "{err}");
    }
}
