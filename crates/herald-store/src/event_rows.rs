//! Writing event rows: one inside another transaction (a run's), or many at once for
//! PostgreSQL's group commit (SQLite's is written by `sqlite_writer`, from the same rows). An
//! event is turned into its row (time, normalised revision, payload text) in the caller's
//! task, so the single writer of a group commit only binds and inserts.

use std::collections::HashMap;

use sqlx::any::{Any, AnyArguments};
use sqlx::query::Query;
use sqlx::{AnyConnection, Row};

use crate::error::StoreError;
use crate::events::{EventRecorded, NewEvent};
use crate::revision::canonical;
use crate::rows::{self, get, micros};

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
const COLUMNS: &str = "at, kind, namespace, trigger_name, source_name, revision, involved_kind, \
     involved_namespace, involved_name, reason, severity, message, delivery_id, payload";
/// Placeholders per row: one per column.
const PER_ROW: usize = 14;
/// Rows per multi-row `INSERT` (896 placeholders, far below both backends' limits).
const ROWS_PER_INSERT: usize = 64;
/// Delivery ids per lookup of those already stored.
const IDS_PER_LOOKUP: usize = 256;

type AnyQuery<'q> = Query<'q, Any, AnyArguments<'q>>;

/// Binds `row`'s columns, in [`COLUMNS`] order.
fn bind_row<'q>(query: AnyQuery<'q>, row: &'q EventRow) -> AnyQuery<'q> {
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
fn marks(count: usize) -> Vec<String> {
    (1..=count).map(|n| format!("${n}")).collect()
}

/// `(…), (…)`: the placeholders of `rows` rows.
fn values(rows: usize) -> String {
    let rows: Vec<String> = marks(rows * PER_ROW)
        .chunks(PER_ROW)
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
        values(1)
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

/// Where one row's answer comes from.
enum Answer {
    /// It is inserted as the `n`th new row.
    New(usize),
    /// Its delivery id was stored before, as this event.
    Stored(i64),
    /// Its delivery id is the `n`th new row's.
    SameAs(usize),
}

/// Records `rows` in order on `conn` (inside the caller's transaction), with few statements:
/// one lookup of the delivery ids already stored, then multi-row inserts of the rest. A row
/// whose delivery id is stored, or came earlier in `rows`, is answered as a duplicate of that
/// event and not written.
///
/// A delivery id stored by another writer between the lookup and the insert fails the insert
/// (unique constraint); the group commit then writes each call again, and the lookup sees it.
pub(crate) async fn record_all(
    conn: &mut AnyConnection,
    rows: &[&EventRow],
    op: &'static str,
) -> Result<Vec<EventRecorded>, StoreError> {
    let stored = stored_deliveries(conn, rows, op).await?;
    let mut fresh: Vec<&EventRow> = Vec::with_capacity(rows.len());
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut answers = Vec::with_capacity(rows.len());
    for &row in rows {
        let delivery = row.delivery_id.as_deref();
        let answer = match delivery.map(|d| (stored.get(d), seen.get(d))) {
            Some((Some(&id), _)) => Answer::Stored(id),
            Some((None, Some(&n))) => Answer::SameAs(n),
            _ => {
                if let Some(d) = delivery {
                    seen.insert(d, fresh.len());
                }
                fresh.push(row);
                Answer::New(fresh.len() - 1)
            }
        };
        answers.push(answer);
    }
    let mut ids = Vec::with_capacity(fresh.len());
    for chunk in fresh.chunks(ROWS_PER_INSERT) {
        ids.extend(insert_many(conn, chunk, op).await?);
    }
    Ok(answers
        .into_iter()
        .map(|a| match a {
            Answer::New(n) => EventRecorded {
                id: ids[n],
                duplicate: false,
            },
            Answer::Stored(id) => EventRecorded {
                id,
                duplicate: true,
            },
            Answer::SameAs(n) => EventRecorded {
                id: ids[n],
                duplicate: true,
            },
        })
        .collect())
}

/// Inserts `rows` in one statement; their ids, in order.
async fn insert_many(
    conn: &mut AnyConnection,
    rows: &[&EventRow],
    op: &'static str,
) -> Result<Vec<i64>, StoreError> {
    let sql = format!(
        "INSERT INTO events ({COLUMNS}) VALUES {} RETURNING id",
        values(rows.len())
    );
    let query = rows
        .iter()
        .fold(sqlx::query(&sql), |q, row| bind_row(q, row));
    let returned = query.fetch_all(conn).await.map_err(StoreError::query(op))?;
    let mut ids = returned
        .iter()
        .map(|r| get::<i64>(r, "id"))
        .collect::<Result<Vec<_>, _>>()?;
    if ids.len() != rows.len() {
        return Err(StoreError::Corrupt {
            what: format!("{} rows inserted, {} ids returned", rows.len(), ids.len()),
        });
    }
    // Ids are handed out in VALUES order, but RETURNING need not list them in it.
    ids.sort_unstable();
    Ok(ids)
}

/// The ids of the events already stored under the delivery ids of `rows`.
async fn stored_deliveries(
    conn: &mut AnyConnection,
    rows: &[&EventRow],
    op: &'static str,
) -> Result<HashMap<String, i64>, StoreError> {
    let wanted: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.delivery_id.as_deref())
        .collect();
    let mut stored = HashMap::new();
    for chunk in wanted.chunks(IDS_PER_LOOKUP) {
        let sql = format!(
            "SELECT id, delivery_id FROM events WHERE delivery_id IN ({})",
            marks(chunk.len()).join(", ")
        );
        let query = chunk.iter().fold(sqlx::query(&sql), |q, d| q.bind(*d));
        for row in query
            .fetch_all(&mut *conn)
            .await
            .map_err(StoreError::query(op))?
        {
            stored.insert(get(&row, "delivery_id")?, get(&row, "id")?);
        }
    }
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_hold_one_placeholder_per_column_and_row() {
        let postgres = values(2);
        assert_eq!(postgres.matches('(').count(), 2);
        assert!(postgres.starts_with("($1, $2, "), "{postgres}");
        assert!(postgres.ends_with(", $28)"), "{postgres}");
        assert!(postgres.contains("$14), ($15"), "{postgres}");
        assert_eq!(COLUMNS.split(',').count(), PER_ROW);
    }
}
