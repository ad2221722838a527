//! SQLite's event writer: a thread with its own connection that writes each batch of the
//! group commit in one `BEGIN IMMEDIATE` transaction.
//!
//! It uses rusqlite rather than the store's sqlx pool. sqlx runs every SQLite connection on a
//! driver thread and hands it each statement and each returned row across channels; a batch
//! took several such round trips, each waiting for both threads to be scheduled, and under a
//! flood of hooks that waiting, not SQLite, bounded how many events a second were stored.
//! Here the whole batch (prepared statements, inserts, commit) runs on one thread.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode, OpenFlags, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use crate::WriteGate;
use crate::error::StoreError;
use crate::event_rows::{self, EventRow};
use crate::events::EventRecorded;
use crate::group_commit::{Job, Msg, OP, Observer, batch_rows, gather, observe, settle};

/// Runs `writer` on a thread of its own, taking batches from `queue`. The receiver returned
/// is answered when the thread ends.
pub(crate) fn start(
    mut writer: SqliteWriter,
    mut queue: mpsc::Receiver<Msg>,
) -> Result<oneshot::Receiver<()>, StoreError> {
    let (done, finished) = oneshot::channel();
    std::thread::Builder::new()
        .name("herald-events".into())
        .spawn(move || {
            while let Some(first) = queue.blocking_recv() {
                let batch = gather(first, &mut queue);
                if !batch.is_empty() {
                    writer.commit(batch);
                }
            }
            let _ = done.send(());
        })
        .map_err(|e| {
            tracing::error!(error = %e, "cannot start the store's event writer");
            StoreError::WriterStopped
        })?;
    Ok(finished)
}

/// Whether SQLite refused a statement for what it was given (a constraint, a trigger, a
/// value it cannot store), which may be one event's fault, rather than failing to write.
pub(crate) fn refused(error: &rusqlite::Error) -> bool {
    match error {
        rusqlite::Error::SqliteFailure(e, _) => matches!(
            e.code,
            ErrorCode::ConstraintViolation | ErrorCode::TypeMismatch | ErrorCode::TooBig
        ),
        _ => false,
    }
}

/// The writer's connection, opened when first needed and again after it failed.
pub(crate) struct SqliteWriter {
    path: PathBuf,
    gate: WriteGate,
    connection: Option<Connection>,
    insert: String,
    observer: Observer,
}

impl SqliteWriter {
    pub(crate) fn new(path: PathBuf, gate: WriteGate, observer: Observer) -> Self {
        Self {
            path,
            gate,
            connection: None,
            insert: event_rows::insert_one_sql(),
            observer,
        }
    }

    /// Writes `batch` in one transaction and answers each caller (see [`settle`]).
    pub(crate) fn commit(&mut self, batch: Vec<Job>) {
        let rows = batch_rows(&batch);
        let started = std::time::Instant::now();
        let written = self.write(&rows);
        observe(&self.observer, rows.len(), started);
        for job in settle(batch, written) {
            let answer = self.write(&job.rows());
            job.answer(answer);
        }
    }

    /// Writes `rows` in one transaction, in order. A failure other than a refused statement
    /// drops the connection, so the next batch starts on a fresh one.
    fn write(&mut self, rows: &[&EventRow]) -> Result<Vec<EventRecorded>, StoreError> {
        let _turn = self.gate.blocking_lock();
        let connection = match &mut self.connection {
            Some(connection) => connection,
            empty => empty.insert(open(&self.path).map_err(StoreError::sqlite(OP))?),
        };
        let written = write(connection, &self.insert, rows);
        if let Err(StoreError::Sqlite { source, .. }) = &written {
            if !refused(source) {
                self.connection = None;
            }
        }
        written
    }
}

/// Opens the store's file for writing, with the settings of the store's own connections.
pub(crate) fn open(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(path, flags)?;
    connection.execute_batch(&crate::sqlite_pragmas())?;
    Ok(connection)
}

/// Inserts each row with `insert` (cached, prepared once per connection). A row whose
/// delivery id is already stored, by an earlier batch or earlier in this one, changes
/// nothing and is answered as a duplicate of the stored event.
fn write(
    connection: &mut Connection,
    insert: &str,
    rows: &[&EventRow],
) -> Result<Vec<EventRecorded>, StoreError> {
    let tx = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(StoreError::sqlite(OP))?;
    let mut recorded = Vec::with_capacity(rows.len());
    {
        let mut insert = tx.prepare_cached(insert).map_err(StoreError::sqlite(OP))?;
        for row in rows {
            let inserted = insert
                .execute(row.sqlite_params())
                .map_err(StoreError::sqlite(OP))?;
            recorded.push(match (inserted, row.delivery_id()) {
                (1, _) => EventRecorded {
                    id: tx.last_insert_rowid(),
                    duplicate: false,
                },
                (0, Some(delivery)) => EventRecorded {
                    id: stored_delivery(&tx, delivery)?,
                    duplicate: true,
                },
                // Only a trigger of someone else's (`RAISE(IGNORE)`) can do this; without a
                // row there is no id to answer with.
                (changed, _) => {
                    return Err(StoreError::Corrupt {
                        what: format!("inserting an event changed {changed} rows"),
                    });
                }
            });
        }
    }
    tx.commit().map_err(StoreError::sqlite(OP))?;
    Ok(recorded)
}

/// The id of the event stored under `delivery`.
fn stored_delivery(tx: &rusqlite::Transaction<'_>, delivery: &str) -> Result<i64, StoreError> {
    tx.prepare_cached("SELECT id FROM events WHERE delivery_id = ?1")
        .and_then(|mut lookup| lookup.query_row([delivery], |r| r.get(0)))
        .map_err(StoreError::sqlite(OP))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The writer commits durably, as the store's pool does.
    #[tokio::test]
    async fn the_writer_connection_has_the_store_settings() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("herald.db");
        let _store = crate::Store::open(&path).await.expect("open");
        let connection = open(&path).expect("writer connection");
        let pragma = |name: &str| -> String {
            connection
                .query_row(&format!("PRAGMA {name}"), [], |r| {
                    r.get::<_, rusqlite::types::Value>(0)
                })
                .map(|v| format!("{v:?}"))
                .expect("pragma")
        };
        assert_eq!(pragma("synchronous"), "Integer(2)", "FULL");
        assert_eq!(pragma("journal_mode"), r#"Text("wal")"#);
        assert_eq!(pragma("busy_timeout"), "Integer(5000)");
        assert_eq!(pragma("foreign_keys"), "Integer(1)");
    }

    #[test]
    fn only_what_was_given_counts_as_refused() {
        let failure = |code| {
            rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error {
                    code,
                    extended_code: 0,
                },
                None,
            )
        };
        assert!(refused(&failure(ErrorCode::ConstraintViolation)));
        assert!(refused(&failure(ErrorCode::TooBig)));
        assert!(!refused(&failure(ErrorCode::DatabaseBusy)));
        assert!(!refused(&failure(ErrorCode::DiskFull)));
        assert!(!refused(&rusqlite::Error::QueryReturnedNoRows));
    }
}
