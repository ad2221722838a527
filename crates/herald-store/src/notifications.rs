//! The notification outbox: rows made from events by the notifier (herald-notify), sent and
//! retried from here, so a restart drops nothing and an event is turned into rows once.
//!
//! Folding is decided here, in the transaction that stores a row: the first notification of a
//! fold key in a window is due at once; the others of that window add to one summary row due
//! when the window ends.

use std::time::Duration;

use jiff::Timestamp;
use sqlx::any::AnyRow;

use crate::Store;
use crate::error::StoreError;
use crate::events::{EVENT_COLUMNS, EventRecord, event_record};
use crate::rows::{self, get, micros};

/// The cursor's name: one per store (every process of a cluster shares it, the leader moves it).
const CURSOR: &str = "notifier";

/// One notification to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Enqueue {
    /// `namespace/name` of the Notifier.
    pub notifier: String,
    /// What makes two notifications identical (for a notifier that does not fold, unique).
    pub fold_key: String,
    /// The fold window; zero sends every notification.
    pub window: Duration,
    /// The event it announces.
    pub event_id: i64,
    /// What to send, as JSON (no secret: those are read when sending).
    pub notice: serde_json::Value,
}

/// A stored notification that is due.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// The row's id.
    pub id: i64,
    /// `namespace/name` of the Notifier.
    pub notifier: String,
    /// Whether it stands for the rest of a fold window rather than its first notification.
    pub summary: bool,
    /// How many notifications it stands for: 1, or for a summary the window's total.
    pub occurrences: i64,
    /// The (latest) event it announces.
    pub event_id: i64,
    /// What to send.
    pub notice: serde_json::Value,
    /// Sends tried so far.
    pub attempts: i64,
}

/// The states of a row.
const PENDING: &str = "pending";
const SENT: &str = "sent";
const FAILED: &str = "failed";

impl Store {
    /// Events with an id above `after`, oldest first, at most `limit`.
    pub async fn events_after(
        &self,
        after: i64,
        limit: u32,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE id > $1 ORDER BY id LIMIT $2"
        ))
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query("reading events after a cursor"))?;
        rows.iter().map(event_record).collect()
    }

    /// The id of the newest event, 0 when there is none: what changed since a reader last
    /// looked (the dashboard's live updates, the notifier's first cursor).
    pub async fn newest_event_id(&self) -> Result<i64, StoreError> {
        let newest = sqlx::query("SELECT COALESCE(MAX(id), 0) AS newest FROM events")
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::query("reading the newest event's id"))?;
        get(&newest, "newest")
    }

    /// The last event the notifier looked at. The schema starts it at the newest event when
    /// it is created (notifications start with what happens from then on, never with the
    /// store's history); should the row be gone, it starts again at the newest.
    pub async fn notification_cursor(&self) -> Result<i64, StoreError> {
        let op = "reading the notification cursor";
        let found = sqlx::query("SELECT event_id FROM notification_cursor WHERE name = $1")
            .bind(CURSOR)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::query(op))?;
        if let Some(row) = found {
            return get(&row, "event_id");
        }
        let newest = self.newest_event_id().await?;
        let _turn = self.write_turn().await;
        sqlx::query(
            "INSERT INTO notification_cursor (name, event_id) VALUES ($1, $2) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(CURSOR)
        .bind(newest)
        .execute(&self.pool)
        .await
        .map_err(StoreError::query(op))?;
        let row = sqlx::query("SELECT event_id FROM notification_cursor WHERE name = $1")
            .bind(CURSOR)
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::query(op))?;
        get(&row, "event_id")
    }

    /// Stores `items`, folding each into its window as of `now`, and moves the cursor from
    /// `from` to `to`: all in one transaction, or nothing and [`StoreError::CursorMoved`] when
    /// the cursor was not at `from` (another process looked at these events).
    pub async fn enqueue_notifications(
        &self,
        from: i64,
        to: i64,
        items: &[Enqueue],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let op = "storing notifications";
        let now = micros(now);
        let _turn = self.write_turn().await;
        let mut tx = self.pool.begin().await.map_err(StoreError::query(op))?;
        let moved = sqlx::query(
            "UPDATE notification_cursor SET event_id = $1 WHERE name = $2 AND event_id = $3",
        )
        .bind(to)
        .bind(CURSOR)
        .bind(from)
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(op))?
        .rows_affected();
        if moved != 1 {
            tx.rollback().await.map_err(StoreError::query(op))?;
            return Err(StoreError::CursorMoved { expected: from });
        }
        for item in items {
            let window = i64::try_from(item.window.as_micros()).unwrap_or(i64::MAX);
            let open = if window == 0 {
                None
            } else {
                sqlx::query(
                    "SELECT window_end FROM notifications WHERE notifier = $1 AND fold_key = $2 \
                     AND summary = 0 AND window_end > $3 ORDER BY window_end DESC LIMIT 1",
                )
                .bind(&item.notifier)
                .bind(&item.fold_key)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await
                .map_err(StoreError::query(op))?
                .map(|row| get::<i64>(&row, "window_end"))
                .transpose()?
            };
            let (window_end, summary, due) = match open {
                Some(end) => (end, 1_i64, end),
                None if window == 0 => (0, 0, now),
                None => (now.saturating_add(window), 0, now),
            };
            sqlx::query(
                "INSERT INTO notifications (notifier, fold_key, window_end, summary, occurrences, \
                 event_id, notice, state, attempts, due, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10) \
                 ON CONFLICT (notifier, fold_key, window_end, summary) DO UPDATE SET \
                 occurrences = notifications.occurrences + 1, event_id = excluded.event_id, \
                 notice = excluded.notice",
            )
            .bind(&item.notifier)
            .bind(&item.fold_key)
            .bind(window_end)
            .bind(summary)
            // A summary counts the window's first notification too.
            .bind(1 + summary)
            .bind(item.event_id)
            .bind(item.notice.to_string())
            .bind(PENDING)
            .bind(due)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(StoreError::query(op))?;
        }
        tx.commit().await.map_err(StoreError::query(op))
    }

    /// Pending notifications due at `now`, oldest due first, at most `limit`.
    pub async fn due_notifications(
        &self,
        now: Timestamp,
        limit: u32,
    ) -> Result<Vec<Outgoing>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, notifier, summary, occurrences, event_id, notice, attempts \
             FROM notifications WHERE state = $1 AND due <= $2 ORDER BY due, id LIMIT $3",
        )
        .bind(PENDING)
        .bind(micros(now))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query("reading due notifications"))?;
        rows.iter().map(outgoing).collect()
    }

    /// How many notifications wait to be sent (due now, retrying, or ending a fold window).
    pub async fn pending_notifications(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS pending FROM notifications WHERE state = $1")
            .bind(PENDING)
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::query("counting pending notifications"))?;
        get(&row, "pending")
    }

    /// When the next pending notification is due, if any.
    pub async fn next_notification_due(&self) -> Result<Option<Timestamp>, StoreError> {
        let row = sqlx::query("SELECT MIN(due) AS due FROM notifications WHERE state = $1")
            .bind(PENDING)
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::query("reading the next notification's time"))?;
        let due: Option<i64> = get(&row, "due")?;
        Ok(due.and_then(rows::time))
    }

    /// Notification `id` was delivered.
    pub async fn notification_sent(&self, id: i64) -> Result<(), StoreError> {
        self.finish_notification(id, SENT, None).await
    }

    /// Notification `id` was given up on, for `error`.
    pub async fn notification_failed(&self, id: i64, error: &str) -> Result<(), StoreError> {
        self.finish_notification(id, FAILED, Some(error)).await
    }

    /// Notification `id` failed with `error`; try again at `due`.
    pub async fn notification_retry(
        &self,
        id: i64,
        due: Timestamp,
        error: &str,
    ) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        sqlx::query(
            "UPDATE notifications SET attempts = attempts + 1, due = $1, last_error = $2 \
             WHERE id = $3 AND state = $4",
        )
        .bind(micros(due))
        .bind(error)
        .bind(id)
        .bind(PENDING)
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("scheduling a notification's retry"))?;
        Ok(())
    }

    async fn finish_notification(
        &self,
        id: i64,
        state: &str,
        error: Option<&str>,
    ) -> Result<(), StoreError> {
        let _turn = self.write_turn().await;
        sqlx::query(
            "UPDATE notifications SET state = $1, attempts = attempts + 1, finished_at = $2, \
             last_error = COALESCE($3, last_error) WHERE id = $4",
        )
        .bind(state)
        .bind(micros(rows::now()))
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("finishing a notification"))?;
        Ok(())
    }

    /// Deletes sent and failed notifications finished before `before`, keeping any whose
    /// fold window is still open (it decides what later ones fold into); returns how many.
    pub async fn prune_notifications(&self, before: Timestamp) -> Result<u64, StoreError> {
        let before = micros(before);
        let _turn = self.write_turn().await;
        let deleted = sqlx::query(
            "DELETE FROM notifications WHERE state <> $1 AND finished_at < $2 AND window_end < $2",
        )
        .bind(PENDING)
        .bind(before)
        .execute(&self.pool)
        .await
        .map_err(StoreError::query("pruning notifications"))?
        .rows_affected();
        Ok(deleted)
    }
}

fn outgoing(row: &AnyRow) -> Result<Outgoing, StoreError> {
    let notice: String = get(row, "notice")?;
    let summary: i64 = get(row, "summary")?;
    Ok(Outgoing {
        id: get(row, "id")?,
        notifier: get(row, "notifier")?,
        summary: summary != 0,
        occurrences: get(row, "occurrences")?,
        event_id: get(row, "event_id")?,
        notice: serde_json::from_str(&notice).map_err(|e| StoreError::Corrupt {
            what: format!("column notice: {e}"),
        })?,
        attempts: get(row, "attempts")?,
    })
}
