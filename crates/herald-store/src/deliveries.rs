//! Hook deliveries seen before: a repeated delivery is acknowledged and not run again.

use sqlx::Row;

use crate::Store;
use crate::error::StoreError;

impl Store {
    /// The id of the event that recorded the delivery with this id, if one did. Delivery ids
    /// are unique across the store, so callers scope them (e.g. by trigger) before recording.
    pub async fn delivery_event(&self, delivery_id: &str) -> Result<Option<i64>, StoreError> {
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
