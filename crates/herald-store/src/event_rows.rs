//! Writing one event row. An event is turned into its row (time, normalised revision, payload
//! text) in the caller's task, so the single writer of a group commit only binds and inserts.

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
}

/// Inserts `row` on `conn` (inside the caller's transaction, if any); `None` when its delivery
/// id is already stored.
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    row: &EventRow,
    op: &'static str,
) -> Result<Option<i64>, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO events (at, kind, namespace, trigger_name, source_name, revision, \
         involved_kind, involved_namespace, involved_name, reason, severity, message, \
         delivery_id, payload) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
         ON CONFLICT (delivery_id) DO NOTHING RETURNING id",
    )
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
    .fetch_optional(conn)
    .await
    .map_err(StoreError::query(op))?;
    inserted
        .map(|r| r.try_get("id"))
        .transpose()
        .map_err(StoreError::query(op))
}

/// Inserts `row`, or, when its delivery id is already stored (earlier in the same transaction
/// included), answers the earlier event's id as a duplicate.
pub(crate) async fn record(
    conn: &mut AnyConnection,
    row: &EventRow,
    op: &'static str,
) -> Result<EventRecorded, StoreError> {
    if let Some(id) = insert(conn, row, op).await? {
        return Ok(EventRecorded {
            id,
            duplicate: false,
        });
    }
    // Only a conflicting delivery id makes the insert write nothing.
    let earlier = sqlx::query("SELECT id FROM events WHERE delivery_id = $1")
        .bind(row.delivery_id.as_deref())
        .fetch_optional(conn)
        .await
        .map_err(StoreError::query(op))?
        .ok_or_else(|| StoreError::Corrupt {
            what: format!(
                "event with delivery id {:?} conflicts but cannot be read",
                row.delivery_id
            ),
        })?;
    Ok(EventRecorded {
        id: get(&earlier, "id")?,
        duplicate: true,
    })
}
