//! The event log: recording, querying newest first with keyset pagination, and retention.

use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::Store;
use crate::error::StoreError;
use crate::event_rows::{self, EventRow};
use crate::revision::canonical;
use crate::rows::{self, get, micros};
use crate::sql::{Sql, Value};

/// What an event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// A hook was delivered (`hook.delivery`).
    #[serde(rename = "hook.delivery")]
    HookDelivery,
    /// A new revision of a source was detected (`revision.detected`).
    #[serde(rename = "revision.detected")]
    RevisionDetected,
    /// A run changed phase (`run.transition`).
    #[serde(rename = "run.transition")]
    RunTransition,
    /// Flux's notification-controller reported an event (`flux.event`).
    #[serde(rename = "flux.event")]
    FluxEvent,
    /// An image update was attempted (`image.update`): the tag chosen, the outcome (its
    /// reason: `Updated`, `UpToDate`, `WaitingForImage`, `Failed`, `Rejected`) and the commit.
    #[serde(rename = "image.update")]
    ImageUpdate,
    /// A source could not be read where it could before, or for another reason
    /// (`source.failed`): unreachable, credentials refused, a host key that changed.
    #[serde(rename = "source.failed")]
    SourceFailed,
    /// A notification was given up on after its retries (`notification.failed`).
    #[serde(rename = "notification.failed")]
    NotificationFailed,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [Self; 7] = [
        Self::HookDelivery,
        Self::RevisionDetected,
        Self::RunTransition,
        Self::FluxEvent,
        Self::ImageUpdate,
        Self::SourceFailed,
        Self::NotificationFailed,
    ];

    /// The kind as stored and shown: `hook.delivery`, `revision.detected`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HookDelivery => "hook.delivery",
            Self::RevisionDetected => "revision.detected",
            Self::RunTransition => "run.transition",
            Self::FluxEvent => "flux.event",
            Self::ImageUpdate => "image.update",
            Self::SourceFailed => "source.failed",
            Self::NotificationFailed => "notification.failed",
        }
    }

    /// The kind named `text`, if any.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event to record (see [`Store::record_event`]). Build with [`NewEvent::new`] and struct
/// update syntax.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewEvent {
    /// What happened.
    pub kind: EventKind,
    /// When; `None` is now.
    pub at: Option<Timestamp>,
    /// The namespace it happened in.
    pub namespace: Option<String>,
    /// The trigger concerned.
    pub trigger: Option<String>,
    /// The source concerned.
    pub source: Option<String>,
    /// The revision concerned, in any form [`normalize_revision`](crate::normalize_revision)
    /// knows; stored normalised when it holds a SHA-1.
    pub revision: Option<String>,
    /// The kind of the object the event is about (`Kustomization`, `Run`, ...).
    pub involved_kind: Option<String>,
    /// Its namespace.
    pub involved_namespace: Option<String>,
    /// Its name.
    pub involved_name: Option<String>,
    /// A short machine-readable reason (`ReconciliationSucceeded`, `Started`, ...).
    pub reason: Option<String>,
    /// `info` or `error` (Flux's severities), or another short label.
    pub severity: Option<String>,
    /// A human-readable message.
    pub message: Option<String>,
    /// The hook delivery's id: an event with a delivery id already stored is not stored again.
    pub delivery_id: Option<String>,
    /// The original payload, kept as JSON text.
    pub payload: Option<serde_json::Value>,
}

impl NewEvent {
    /// An event of `kind`, now, with every other field empty.
    pub fn new(kind: EventKind) -> Self {
        Self {
            kind,
            at: None,
            namespace: None,
            trigger: None,
            source: None,
            revision: None,
            involved_kind: None,
            involved_namespace: None,
            involved_name: None,
            reason: None,
            severity: None,
            message: None,
            delivery_id: None,
            payload: None,
        }
    }

    /// `trigger` saw `revision` of `source` (at `git_ref`, when one was watched) for the
    /// first time: the event both modes record when a run moves a last seen revision.
    pub fn revision_detected(
        namespace: &str,
        trigger: &str,
        source: &str,
        git_ref: Option<&str>,
        revision: &str,
    ) -> Self {
        let git_ref = git_ref.unwrap_or("a pinned revision");
        Self {
            namespace: Some(namespace.to_owned()),
            trigger: Some(trigger.to_owned()),
            source: Some(source.to_owned()),
            revision: Some(revision.to_owned()),
            reason: Some("Detected".into()),
            severity: Some("info".into()),
            message: Some(format!("{git_ref} is at {revision}")),
            ..Self::new(EventKind::RevisionDetected)
        }
    }
}

/// The result of [`Store::record_event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EventRecorded {
    /// The event's id (the earlier one's, for a duplicate delivery).
    pub id: i64,
    /// Whether an event with the same delivery id was already stored (nothing was written).
    pub duplicate: bool,
}

/// An event as stored. Serialised in camelCase, as the HTTP API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRecord {
    /// The store's id: increasing in insertion order; the pagination cursor.
    pub id: i64,
    /// When it happened.
    pub at: Timestamp,
    /// What happened.
    pub kind: EventKind,
    /// The namespace it happened in.
    pub namespace: Option<String>,
    /// The trigger concerned.
    pub trigger: Option<String>,
    /// The source concerned.
    pub source: Option<String>,
    /// The revision, normalised when it holds a SHA-1.
    pub revision: Option<String>,
    /// The kind of the object the event is about.
    pub involved_kind: Option<String>,
    /// Its namespace.
    pub involved_namespace: Option<String>,
    /// Its name.
    pub involved_name: Option<String>,
    /// A short machine-readable reason.
    pub reason: Option<String>,
    /// `info`, `error`, ...
    pub severity: Option<String>,
    /// A human-readable message.
    pub message: Option<String>,
    /// The hook delivery's id.
    pub delivery_id: Option<String>,
    /// The original payload.
    pub payload: Option<serde_json::Value>,
}

/// Which events [`Store::query_events`] returns. Every set field must match.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EventQuery {
    /// Only events of this kind.
    pub kind: Option<EventKind>,
    /// Only events about this revision, in any form
    /// [`normalize_revision`](crate::normalize_revision) knows.
    pub revision: Option<String>,
    /// Only events of this source.
    pub source: Option<String>,
    /// Only events of this trigger.
    pub trigger: Option<String>,
    /// Only events about objects of this kind.
    pub involved_kind: Option<String>,
    /// Only events about objects in this namespace.
    pub involved_namespace: Option<String>,
    /// Only events about objects of this name.
    pub involved_name: Option<String>,
    /// Only events with this reason.
    pub reason: Option<String>,
    /// Only events of this severity.
    pub severity: Option<String>,
    /// Only events at or after this time.
    pub since: Option<Timestamp>,
    /// Only events at or before this time.
    pub until: Option<Timestamp>,
    /// Only events older than the one with this id (a page's `next_cursor`).
    pub cursor: Option<i64>,
    /// At most this many events (default [`EventQuery::DEFAULT_LIMIT`], at most
    /// [`EventQuery::MAX_LIMIT`]).
    pub limit: Option<u32>,
}

impl EventQuery {
    /// How many events a page holds when no limit is given.
    pub const DEFAULT_LIMIT: u32 = 100;
    /// The largest page.
    pub const MAX_LIMIT: u32 = 1000;
}

/// One page of events, newest first. Serialised in camelCase, as the HTTP API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventPage {
    /// The events.
    pub events: Vec<EventRecord>,
    /// The cursor for the next (older) page, when there are more events.
    pub next_cursor: Option<i64>,
}

pub(crate) const EVENT_COLUMNS: &str = "id, at, kind, namespace, trigger_name, source_name, revision, \
     involved_kind, involved_namespace, involved_name, reason, severity, message, delivery_id, \
     payload";

impl Store {
    /// Appends `event`, durably: it returns once the event is committed. When it has a
    /// delivery id that is already stored, nothing is written and the earlier event's id is
    /// returned with `duplicate: true`.
    ///
    /// Concurrent calls share one transaction (group commit, see [`Store::record_events`]); a
    /// call fails only for its own event, or when the whole write fails
    /// ([`StoreError::BatchFailed`]), or after [`Store::close`] ([`StoreError::Closed`]).
    #[tracing::instrument(level = "debug", name = "store.record_event", skip_all)]
    pub async fn record_event(&self, event: &NewEvent) -> Result<EventRecorded, StoreError> {
        let recorded = self.writer.record(vec![EventRow::new(event)]).await?;
        self.note_deliveries(event.delivery_id.as_deref().into_iter());
        recorded
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Corrupt {
                what: "the event writer answered no id".to_owned(),
            })
    }

    /// Appends `events` in order, in one transaction: all of them are recorded, or none and the
    /// error. Each answer is as [`Store::record_event`]'s, in the same order; a delivery id
    /// repeated within `events` is a duplicate of its first occurrence.
    #[tracing::instrument(level = "debug", name = "store.record_events", skip_all, fields(count = events.len()))]
    pub async fn record_events(
        &self,
        events: &[NewEvent],
    ) -> Result<Vec<EventRecorded>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let recorded = self
            .writer
            .record(events.iter().map(EventRow::new).collect())
            .await?;
        self.note_deliveries(events.iter().filter_map(|e| e.delivery_id.as_deref()));
        Ok(recorded)
    }

    /// Events matching `query`, newest first, one page at a time.
    pub async fn query_events(&self, query: &EventQuery) -> Result<EventPage, StoreError> {
        let mut sql = Sql::new(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE 1 = 1"));
        if let Some(kind) = query.kind {
            sql.push(" AND kind = ")
                .bind(Value::Text(kind.as_str().to_owned()));
        }
        let revision = query.revision.as_deref().map(canonical);
        sql.filter_text(" AND revision = ", revision.as_deref())
            .filter_text(" AND source_name = ", query.source.as_deref())
            .filter_text(" AND trigger_name = ", query.trigger.as_deref())
            .filter_text(" AND involved_kind = ", query.involved_kind.as_deref())
            .filter_text(
                " AND involved_namespace = ",
                query.involved_namespace.as_deref(),
            )
            .filter_text(" AND involved_name = ", query.involved_name.as_deref())
            .filter_text(" AND reason = ", query.reason.as_deref())
            .filter_text(" AND severity = ", query.severity.as_deref());
        if let Some(since) = query.since {
            sql.push(" AND at >= ").bind(Value::Int(micros(since)));
        }
        if let Some(until) = query.until {
            sql.push(" AND at <= ").bind(Value::Int(micros(until)));
        }
        if let Some(cursor) = query.cursor {
            sql.push(" AND id < ").bind(Value::Int(cursor));
        }
        let limit = query
            .limit
            .unwrap_or(EventQuery::DEFAULT_LIMIT)
            .clamp(1, EventQuery::MAX_LIMIT);
        // One more than asked: whether it exists says whether there is a next page.
        sql.push(" ORDER BY id DESC LIMIT ")
            .bind(Value::Int(i64::from(limit) + 1));
        let found = sql
            .query()
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query("querying events"))?;
        let mut events = found
            .iter()
            .map(event_record)
            .collect::<Result<Vec<_>, _>>()?;
        let more = events.len() > limit as usize;
        events.truncate(limit as usize);
        let next_cursor = if more {
            events.last().map(|e| e.id)
        } else {
            None
        };
        Ok(EventPage {
            events,
            next_cursor,
        })
    }

    /// Deletes events older than `max_age`, then all but the newest `max_count`; returns how
    /// many were deleted. `None` leaves that limit off.
    pub async fn prune_events(
        &self,
        max_age: Option<Duration>,
        max_count: Option<u64>,
    ) -> Result<u64, StoreError> {
        let op = "pruning events";
        let _turn = self.write_turn().await;
        let mut deleted = 0;
        if let Some(age) = max_age {
            let age = i64::try_from(age.as_micros()).unwrap_or(i64::MAX);
            let cutoff = micros(rows::now()).saturating_sub(age);
            deleted += sqlx::query("DELETE FROM events WHERE at < $1")
                .bind(cutoff)
                .execute(&self.pool)
                .await
                .map_err(StoreError::query(op))?
                .rows_affected();
        }
        if let Some(count) = max_count {
            let keep = i64::try_from(count).unwrap_or(i64::MAX);
            // The newest `keep` ids survive; the subquery is NULL (nothing deleted) when there
            // are no more than that.
            deleted += sqlx::query(
                "DELETE FROM events WHERE id <= \
                 (SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET $1)",
            )
            .bind(keep)
            .execute(&self.pool)
            .await
            .map_err(StoreError::query(op))?
            .rows_affected();
        }
        if deleted > 0 {
            tracing::debug!(deleted, "events pruned");
        }
        Ok(deleted)
    }
}

/// Inserts `event` on `conn` (inside the caller's transaction, if any); `None` when its
/// delivery id is already stored.
pub(crate) async fn insert(
    conn: &mut AnyConnection,
    event: &NewEvent,
    op: &'static str,
) -> Result<Option<i64>, StoreError> {
    event_rows::insert(conn, &EventRow::new(event), op).await
}

pub(crate) fn event_record(row: &AnyRow) -> Result<EventRecord, StoreError> {
    let kind: String = get(row, "kind")?;
    let payload: Option<String> = get(row, "payload")?;
    Ok(EventRecord {
        id: get(row, "id")?,
        at: rows::get_time(row, "at")?,
        kind: EventKind::parse(&kind).ok_or_else(|| StoreError::Corrupt {
            what: format!("column kind: unknown value {kind:?}"),
        })?,
        namespace: get(row, "namespace")?,
        trigger: get(row, "trigger_name")?,
        source: get(row, "source_name")?,
        revision: get(row, "revision")?,
        involved_kind: get(row, "involved_kind")?,
        involved_namespace: get(row, "involved_namespace")?,
        involved_name: get(row, "involved_name")?,
        reason: get(row, "reason")?,
        severity: get(row, "severity")?,
        message: get(row, "message")?,
        delivery_id: get(row, "delivery_id")?,
        payload: payload
            .map(|p| serde_json::from_str(&p))
            .transpose()
            .map_err(|e| StoreError::Corrupt {
                what: format!("column payload: {e}"),
            })?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_through_their_names() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
            let json = serde_json::to_value(kind).expect("serialise");
            assert_eq!(json, serde_json::Value::String(kind.to_string()));
        }
        assert_eq!(EventKind::parse("flux"), None);
    }
}
