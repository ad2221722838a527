//! Herald's embedded store: runs, every run transition, and the last revision each trigger saw
//! per source, kept in one SQLite file for local mode.
//!
//! The schema lives in `migrations/` and is kept portable (plain `INTEGER` / `BIGINT` / `TEXT`,
//! timestamps as microseconds since the epoch, enums as their variant name) so that the event
//! store can run the same migrations on PostgreSQL.

mod error;
mod rows;
mod runs;
mod types;

use std::path::Path;
use std::time::Duration;

use sqlx::Row;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

pub use error::StoreError;
pub use runs::CREATED_REASON;
pub use types::{
    Created, NewRun, RunDetail, RunFilter, RunId, RunOutcome, RunRecord, Transition, TriggerKey,
};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// How long a statement waits for another connection's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections in the pool. SQLite has one writer at a time; more connections serve readers.
const MAX_CONNECTIONS: u32 = 8;

/// A handle on the store. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens the store at `path`, creating the file and its parent directories if needed, in
    /// WAL mode with `synchronous=FULL` (a committed write survives a crash), a busy timeout of
    /// about five seconds and foreign keys on; then brings the schema up to date.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| open_err(sqlx::Error::Io(e)))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(open_err)?;
        MIGRATOR.run(&pool).await.map_err(StoreError::Migrate)?;
        tracing::debug!(path = %path.display(), "store opened");
        Ok(Self { pool })
    }

    /// Closes every connection, waiting for those in use to be returned. Later calls fail.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The last revision `trigger` recorded for the source named `source`, if any.
    pub async fn last_seen(
        &self,
        trigger: &TriggerKey,
        source: &str,
    ) -> Result<Option<String>, StoreError> {
        let op = "reading the last seen revision";
        let row = sqlx::query(
            "SELECT revision FROM last_seen WHERE trigger_kind = ? AND trigger_namespace = ? \
             AND trigger_name = ? AND source_name = ?",
        )
        .bind(rows::enum_text(trigger.kind))
        .bind(&trigger.namespace)
        .bind(&trigger.name)
        .bind(source)
        .fetch_optional(&self.pool)
        .await
        .map_err(StoreError::query(op))?;
        row.map(|r| r.try_get("revision"))
            .transpose()
            .map_err(StoreError::query(op))
    }
}
