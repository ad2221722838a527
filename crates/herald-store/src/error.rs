//! The store's error type.

use std::path::PathBuf;
use std::sync::Arc;

use herald_api::RunPhase;

use crate::types::RunId;

/// Everything that can go wrong in the store. Each variant names the step that failed.
#[derive(thiserror::Error, Debug)]
pub enum StoreError {
    /// The SQLite database file (or its directory) could not be created or opened.
    #[error("cannot open the store at {}", path.display())]
    Open {
        /// The database file.
        path: PathBuf,
        /// Why.
        #[source]
        source: sqlx::Error,
    },
    /// The database server could not be reached or refused the connection.
    #[error("cannot connect to the store at {target}")]
    Connect {
        /// The database URL, without its password.
        target: String,
        /// Why.
        #[source]
        source: sqlx::Error,
    },
    /// The schema could not be brought up to date.
    #[error("cannot migrate the store's schema")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// A statement failed.
    #[error("store query failed while {op}")]
    Query {
        /// What the store was doing (`creating a run`, `listing runs`, ...).
        op: &'static str,
        /// Why.
        #[source]
        source: sqlx::Error,
    },
    /// A statement of the SQLite event writer failed.
    #[error("store statement failed while {op}")]
    Sqlite {
        /// What the writer was doing.
        op: &'static str,
        /// Why.
        #[source]
        source: rusqlite::Error,
    },
    /// The run is in a terminal phase, which it cannot leave.
    #[error("run {id} cannot go from {from} to {to}")]
    InvalidTransition {
        /// The run.
        id: RunId,
        /// Its current phase.
        from: RunPhase,
        /// The phase asked for.
        to: RunPhase,
    },
    /// A run was asked to finish in a phase that is not terminal.
    #[error("run {id} cannot finish in non-terminal phase {phase}")]
    NotTerminal {
        /// The run.
        id: RunId,
        /// The phase asked for.
        phase: RunPhase,
    },
    /// No run has this id.
    #[error("run {0} not found")]
    NotFound(RunId),
    /// Writing a batch of events (several callers' events in one transaction) failed for a
    /// reason that is not one event's fault; every caller of the batch gets this, and none of
    /// its events was recorded.
    #[error("recording a batch of {events} events failed")]
    BatchFailed {
        /// How many events the batch held.
        events: usize,
        /// Why (shared by every caller of the batch).
        #[source]
        source: Arc<StoreError>,
    },
    /// The store was closed: nothing more is recorded.
    #[error("the store is closed")]
    Closed,
    /// The store's event writer stopped before answering (its runtime shut down): the event
    /// may not have been recorded.
    #[error("the store's event writer stopped before the event was committed")]
    WriterStopped,
    /// Another process moved the notification cursor meanwhile (a brief second leader): its
    /// rows stand, this process's are rolled back.
    #[error("the notification cursor moved from {expected} while this process held it")]
    CursorMoved {
        /// Where this process found it.
        expected: i64,
    },
    /// A stored value could not be read back.
    #[error("corrupt data in the store: {what}")]
    Corrupt {
        /// Which value, and what was found.
        what: String,
    },
}

impl StoreError {
    /// A short, bounded label for metrics and event reasons.
    pub fn category(&self) -> &'static str {
        match self {
            Self::Open { .. } => "open",
            Self::Connect { .. } => "connect",
            Self::Migrate(_) => "migrate",
            Self::Query { .. } | Self::Sqlite { .. } => "query",
            Self::InvalidTransition { .. } => "invalid_transition",
            Self::NotTerminal { .. } => "not_terminal",
            Self::NotFound(_) => "not_found",
            Self::Corrupt { .. } => "corrupt",
            Self::CursorMoved { .. } => "cursor_moved",
            Self::BatchFailed { .. } => "query",
            Self::Closed => "closed",
            Self::WriterStopped => "writer_stopped",
        }
    }

    /// Wraps an SQLite event writer's error with what it was doing.
    pub(crate) fn sqlite(op: &'static str) -> impl FnOnce(rusqlite::Error) -> Self {
        move |source| Self::Sqlite { op, source }
    }

    /// Wraps a statement's error with what the store was doing.
    pub(crate) fn query(op: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Query { op, source }
    }
}
