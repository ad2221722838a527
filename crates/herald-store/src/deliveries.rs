//! Hook deliveries seen before: a repeated delivery is acknowledged and not run again.

use sqlx::Row;

use crate::Store;
use crate::error::StoreError;

impl Store {
    /// The id of the event that recorded the delivery with this id, if one did. Delivery ids
    /// are unique across the store, so callers scope them (e.g. by trigger) before recording.
    ///
    /// Sees every event whose [`Store::record_event`] was answered before it was called. Cheap
    /// enough to ask before every delivery: on SQLite it is answered on the caller's thread
    /// without awaiting (see `sqlite_reader`), on PostgreSQL by one query on the pool.
    pub async fn delivery_event(&self, delivery_id: &str) -> Result<Option<i64>, StoreError> {
        match &self.reader {
            Some(reader) => reader.delivery_event(delivery_id),
            None => self.pooled_delivery_event(delivery_id).await,
        }
    }

    /// PostgreSQL's lookup: one query on the pool.
    async fn pooled_delivery_event(&self, delivery_id: &str) -> Result<Option<i64>, StoreError> {
        let op = "looking up a delivery";
        let row = sqlx::query("SELECT id FROM events WHERE delivery_id = $1")
            .bind(delivery_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::query(op))?;
        row.map(|r| r.try_get("id"))
            .transpose()
            .map_err(StoreError::query(op))
    }
}
