//! Hook deliveries seen before: a repeated delivery is acknowledged and not run again.

use futures::TryStreamExt;
use sqlx::Row;

use crate::Store;
use crate::delivery_filter::DeliveryFilter;
use crate::error::StoreError;

impl Store {
    /// The id of the event that recorded the delivery with this id, if one did. Delivery ids
    /// are unique across the store, so callers scope them (e.g. by trigger) before recording.
    ///
    /// Sees every event whose [`Store::record_event`] was answered before it was called. Cheap
    /// enough to ask before every delivery: on SQLite it is answered on the caller's thread
    /// without awaiting (see `sqlite_reader`), on PostgreSQL by one query on the pool.
    #[tracing::instrument(level = "debug", name = "store.delivery_event", skip_all)]
    pub async fn delivery_event(&self, delivery_id: &str) -> Result<Option<i64>, StoreError> {
        if self
            .deliveries
            .as_ref()
            .is_some_and(|f| !f.may_hold(delivery_id))
        {
            return Ok(None);
        }
        match &self.reader {
            Some(reader) => reader.delivery_event(delivery_id),
            None => self.pooled_delivery_event(delivery_id).await,
        }
    }

    /// Notes the delivery ids among `recorded` rows as held, before their records are answered.
    pub(crate) fn note_deliveries<'a>(&self, ids: impl Iterator<Item = &'a str>) {
        if let Some(filter) = &self.deliveries {
            ids.for_each(|id| filter.insert(id));
        }
    }

    /// Every delivery id in the SQLite file, in a filter, read off the async workers.
    pub(crate) async fn stored_deliveries(&self) -> Result<DeliveryFilter, StoreError> {
        let op = "reading the stored delivery ids";
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM events WHERE delivery_id IS NOT NULL")
                .fetch_one(&self.pool)
                .await
                .map_err(StoreError::query(op))?;
        let filter = DeliveryFilter::for_stored(usize::try_from(count).unwrap_or(0));
        let mut ids = sqlx::query_scalar::<_, String>(
            "SELECT delivery_id FROM events WHERE delivery_id IS NOT NULL",
        )
        .fetch(&self.pool);
        while let Some(id) = ids.try_next().await.map_err(StoreError::query(op))? {
            filter.insert(&id);
        }
        Ok(filter)
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
