//! Event rows: what an event is written as, and writing one inside another transaction (a
//! run's). A group commit's batches are written from the same rows by `postgres_batch` and
//! `sqlite_writer`. An event is turned into its row (time, normalised revision, payload text)
//! in the caller's task, so the single writer of a group commit only binds and inserts.

use sqlx::any::{Any, AnyArguments};
use sqlx::query::Query;
use sqlx::{AnyConnection, Row};

use crate::error::StoreError;
use crate::events::NewEvent;
use crate::revision::canonical;
use crate::rows::{self, micros};

/// An event as its columns are written.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EventRow {
    at: i64,
    kind: &'static str,
    namespace: Option<String>,
    trigger: Option<String>,
    source: Option<String>,
    revision: Option<String>,
    involved_kind: Option<String>,
    involved_namespace: Option<String>,
    involved_name: Option<String>,
    reason: Option<String>,
    severity: Option<String>,
    message: Option<String>,
    delivery_id: Option<String>,
    payload: Option<String>,
}

impl EventRow {
    /// The row of `event`; an event without a time happens now.
    pub(crate) fn new(event: &NewEvent) -> Self {
        Self {
            at: micros(event.at.unwrap_or_else(rows::now)),
            kind: event.kind.as_str(),
            namespace: event.namespace.clone(),
            trigger: event.trigger.clone(),
            source: event.source.clone(),
            revision: event.revision.as_deref().map(canonical),
            involved_kind: event.involved_kind.clone(),
            involved_namespace: event.involved_namespace.clone(),
            involved_name: event.involved_name.clone(),
            reason: event.reason.clone(),
            severity: event.severity.clone(),
            message: event.message.clone(),
            delivery_id: event.delivery_id.clone(),
            payload: event.payload.as_ref().map(|p| p.to_string()),
        }
    }

    /// The row's columns for rusqlite, in [`COLUMNS`] order.
    pub(crate) fn sqlite_params(&self) -> [&dyn rusqlite::ToSql; PER_ROW] {
        [
            &self.at,
            &self.kind,
            &self.namespace,
            &self.trigger,
            &self.source,
            &self.revision,
            &self.involved_kind,
            &self.involved_namespace,
            &self.involved_name,
            &self.reason,
            &self.severity,
            &self.message,
            &self.delivery_id,
            &self.payload,
        ]
    }

    /// The provider's delivery id, scoped to its trigger, if any.
    pub(crate) fn delivery_id(&self) -> Option<&str> {
        self.delivery_id.as_deref()
    }
}

/// The columns an event is written in, in binding order.
pub(crate) const COLUMNS: &str = "at, kind, namespace, trigger_name, source_name, revision, \
     involved_kind, involved_namespace, involved_name, reason, severity, message, delivery_id, \
     payload";
/// Placeholders per row: one per column.
pub(crate) const PER_ROW: usize = 14;

pub(crate) type AnyQuery<'q> = Query<'q, Any, AnyArguments<'q>>;

/// Binds `row`'s columns, in [`COLUMNS`] order.
pub(crate) fn bind_row<'q>(query: AnyQuery<'q>, row: &'q EventRow) -> AnyQuery<'q> {
    query
        .bind(row.at)
        .bind(row.kind)
        .bind(row.namespace.as_deref())
        .bind(row.trigger.as_deref())
        .bind(row.source.as_deref())
        .bind(row.revision.as_deref())
        .bind(row.involved_kind.as_deref())
        .bind(row.involved_namespace.as_deref())
        .bind(row.involved_name.as_deref())
        .bind(row.reason.as_deref())
        .bind(row.severity.as_deref())
        .bind(row.message.as_deref())
        .bind(row.delivery_id.as_deref())
        .bind(row.payload.as_deref())
}

/// The statement inserting one event with `?N` placeholders (SQLite); a delivery id stored
/// before makes it change nothing.
pub(crate) fn insert_one_sql() -> String {
    let marks: Vec<String> = (1..=PER_ROW).map(|n| format!("?{n}")).collect();
    format!(
        "INSERT INTO events ({COLUMNS}) VALUES ({}) ON CONFLICT (delivery_id) DO NOTHING",
        marks.join(", ")
    )
}

/// `$1` to `$count`. (SQLite accepts them too, but with many of them binding is quadratic in
/// its driver: SQLite's batches go through `sqlite_writer` instead.)
pub(crate) fn marks(count: usize) -> Vec<String> {
    (1..=count).map(|n| format!("${n}")).collect()
}

/// `(…), (…)`: the placeholders of `rows` rows of `per_row` values each.
pub(crate) fn values(rows: usize, per_row: usize) -> String {
    let rows: Vec<String> = marks(rows * per_row)
        .chunks(per_row)
        .map(|row| format!("({})", row.join(", ")))
        .collect();
    rows.join(", ")
}

/// Inserts `row` on `conn` (inside the caller's transaction, if any); `None` when its delivery
/// id is already stored.
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    row: &EventRow,
    op: &'static str,
) -> Result<Option<i64>, StoreError> {
    let sql = format!(
        "INSERT INTO events ({COLUMNS}) VALUES {} ON CONFLICT (delivery_id) DO NOTHING \
         RETURNING id",
        values(1, PER_ROW)
    );
    let inserted = bind_row(sqlx::query(&sql), row)
        .fetch_optional(conn)
        .await
        .map_err(StoreError::query(op))?;
    inserted
        .map(|r| r.try_get("id"))
        .transpose()
        .map_err(StoreError::query(op))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_hold_one_placeholder_per_column_and_row() {
        let postgres = values(2, PER_ROW);
        assert_eq!(postgres.matches('(').count(), 2);
        assert!(postgres.starts_with("($1, $2, "), "{postgres}");
        assert!(postgres.ends_with(", $28)"), "{postgres}");
        assert!(postgres.contains("$14), ($15"), "{postgres}");
        assert_eq!(COLUMNS.split(',').count(), PER_ROW);
    }
}
