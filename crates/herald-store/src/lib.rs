//! Herald's store: runs, every run transition, the last revision each trigger saw per source,
//! and the event log (hook deliveries, detected revisions, run transitions, Flux events).
//!
//! Two backends share one set of migrations and one set of queries, through sqlx's `Any`
//! driver:
//!
//! - **SQLite** (the embedded default, [`Store::open`]): one file, WAL mode,
//!   `synchronous=FULL`, foreign keys on.
//! - **PostgreSQL** ([`Store::connect`] with a `postgres://` URL), for several replicas.
//!
//! Every statement uses `$N` placeholders, which both SQLite and PostgreSQL accept. The schema
//! in `migrations/` is written for SQLite and kept portable (plain `INTEGER` / `BIGINT` /
//! `TEXT`, timestamps as microseconds since the epoch, enums as their variant name); the one
//! dialect difference, how a surrogate key is generated, is rewritten for PostgreSQL when the
//! migrations are applied (see [`Backend`]).
//!
//! Events are written with group commit: concurrent [`Store::record_event`] calls share one
//! transaction, written by one writer per store (for SQLite a thread with its own rusqlite
//! connection), and each returns once its event is committed.

mod deliveries;
mod delivery_filter;
mod dialect;
mod error;
mod event_rows;
mod events;
mod group_commit;
mod last_seen;
mod notifications;
mod postgres_batch;
mod revision;
mod revisions;
mod rows;
mod runs;
mod sql;
mod sqlite_reader;
mod sqlite_writer;
mod steps;
mod types;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Once;
use std::time::Duration;

use sqlx::AnyPool;
use sqlx::Executor;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};

pub use dialect::Backend;
pub use error::StoreError;
pub use events::{EventKind, EventPage, EventQuery, EventRecord, EventRecorded, NewEvent};
pub use group_commit::WriteObserver;
pub use notifications::{Enqueue, Outgoing};
pub use revision::normalize_revision;
pub use revisions::RevisionSummary;
pub use runs::CREATED_REASON;
pub use types::{
    Created, NewRun, RunDetail, RunFilter, RunId, RunOutcome, RunRecord, StepChange, StepRecord,
    Transition, TriggerKey,
};

/// How long a statement waits for another connection's write lock before failing (SQLite).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections in a PostgreSQL pool.
const MAX_CONNECTIONS: u32 = 8;
/// Connections in a SQLite pool. SQLite has one writer at a time, and events are written on
/// the group-commit writer's own connection, so these mostly serve reads, which the hook path
/// avoids (the delivery filter, the last seen cache). Each is a thread with its own page and
/// statement caches: 8 held 1.7 MB of SQLite's heap at 500 triggers, and each thread its own
/// allocator heap.
const SQLITE_CONNECTIONS: u32 = 4;
/// How long [`Store::connect`] waits for a PostgreSQL connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A handle on the store. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// Writes events with group commit (see `group_commit`).
    writer: Arc<group_commit::GroupCommit>,
    /// Last seen revisions, kept in memory where that is sound (see `last_seen`).
    last_seen_cache: last_seen::LastSeenCache,
    /// SQLite's delivery lookups, off sqlx (see `sqlite_reader`); `None` on PostgreSQL.
    reader: Option<Arc<sqlite_reader::SqliteReader>>,
    /// The delivery ids a SQLite store may hold (see `delivery_filter`); `None` on PostgreSQL,
    /// where other replicas write too.
    deliveries: Option<Arc<delivery_filter::DeliveryFilter>>,
}

/// Whose turn it is to write to a SQLite file: taken by every writing transaction of the
/// process, in turn (see [`Store::write_turn`]).
pub(crate) type WriteGate = Arc<tokio::sync::Mutex<()>>;

/// The settings of every connection to a SQLite store, the pool's and the event writer's.
fn sqlite_pragmas() -> String {
    format!(
        "PRAGMA busy_timeout = {}; PRAGMA foreign_keys = ON; PRAGMA journal_mode = WAL; \
         PRAGMA synchronous = FULL;",
        BUSY_TIMEOUT.as_millis()
    )
}

fn install_drivers() {
    static DRIVERS: Once = Once::new();
    DRIVERS.call_once(sqlx::any::install_default_drivers);
}

impl Store {
    /// Opens the SQLite store at `path`, creating the file and its parent directories if
    /// needed, in WAL mode with `synchronous=FULL` (a committed write survives a crash), a busy
    /// timeout of about five seconds and foreign keys on; then brings the schema up to date.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        install_drivers();
        let open_err = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| open_err(sqlx::Error::Io(e)))?;
        }
        let url = dialect::sqlite_url(path).map_err(open_err)?;
        let options: AnyConnectOptions = url
            .parse()
            .map_err(|e| open_err(sqlx::Error::Configuration(Box::new(e))))?;
        let pragmas = sqlite_pragmas();
        let pool = AnyPoolOptions::new()
            .max_connections(SQLITE_CONNECTIONS)
            .after_connect(move |conn, _meta| {
                let pragmas = pragmas.clone();
                Box::pin(async move {
                    conn.execute(pragmas.as_str()).await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(open_err)?;
        let target = group_commit::Target::Sqlite {
            path: path.to_owned(),
            gate: WriteGate::default(),
        };
        let mut store = Self::new(pool, Backend::Sqlite, target);
        store.migrate().await?;
        store.deliveries = Some(Arc::new(store.stored_deliveries().await?));
        tracing::debug!(path = %path.display(), "store opened");
        Ok(store)
    }

    /// Connects to the store named by `url`: `postgres://…` (or `postgresql://…`) for
    /// PostgreSQL, `sqlite://PATH`, `sqlite:PATH` or a plain path for SQLite (as
    /// [`Store::open`]); then brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Self::connect_postgres(url).await;
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        Self::open(&PathBuf::from(path)).await
    }

    async fn connect_postgres(url: &str) -> Result<Self, StoreError> {
        install_drivers();
        let connect_err = |source| StoreError::Connect {
            target: dialect::redact(url),
            source,
        };
        let options: AnyConnectOptions = url
            .parse()
            .map_err(|e| connect_err(sqlx::Error::Configuration(Box::new(e))))?;
        let pool = AnyPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(CONNECT_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(connect_err)?;
        let target = group_commit::Target::Postgres(pool.clone());
        let store = Self::new(pool, Backend::Postgres, target);
        store.migrate().await?;
        tracing::debug!(target = %dialect::redact(url), "store connected");
        Ok(store)
    }

    fn new(pool: AnyPool, backend: Backend, events: group_commit::Target) -> Self {
        let reader = match &events {
            group_commit::Target::Sqlite { path, .. } => {
                Some(Arc::new(sqlite_reader::SqliteReader::new(path.clone())))
            }
            group_commit::Target::Postgres(_) => None,
        };
        Self {
            reader,
            deliveries: None,
            writer: Arc::new(group_commit::GroupCommit::new(events)),
            last_seen_cache: last_seen::LastSeenCache::for_backend(backend),
            pool,
            backend,
        }
    }

    /// Waits for this process's turn to write (SQLite; PostgreSQL needs none). SQLite lets
    /// one transaction write at a time and makes the others retry until a timeout; under a
    /// flood of hooks the event writer would hold the lock nearly all the time, and a run
    /// could wait seconds for a gap. Taking turns here, first come first served, bounds that
    /// wait by one batch of events.
    pub(crate) async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.writer.gate() {
            Some(gate) => Some(gate.lock().await),
            None => None,
        }
    }

    /// Tell `observer` about every transaction of events this store (and its clones) commits;
    /// the first observer set stays.
    pub fn observe_writes(&self, observer: Arc<dyn WriteObserver>) {
        let _ = self.writer.observer.set(observer);
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        dialect::migrator(self.backend)
            .run(&self.pool)
            .await
            .map_err(StoreError::Migrate)
    }

    /// Which database this store is kept in.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Commits every event already queued (answering its caller), then closes every
    /// connection, waiting for those in use to be returned. Later calls fail
    /// ([`StoreError::Closed`] for events).
    pub async fn close(&self) {
        self.writer.close().await;
        if let Some(reader) = &self.reader {
            reader.close();
        }
        self.pool.close().await;
    }
}
