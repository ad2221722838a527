//! PostgreSQL's batch write for the group commit: many events in a few statements, with the
//! insert itself deciding which delivery ids are new.
//!
//! Other writers (other replicas sharing the database) may store the same delivery id at any
//! moment, so nothing is decided from a lookup made before the insert: each multi-row `INSERT`
//! says `ON CONFLICT (delivery_id) DO NOTHING`, which waits for a concurrent writer of the same
//! id to finish and then skips the row if that writer committed it. Rows the insert refused are
//! looked up afterwards and answered as duplicates of the stored events.

use std::collections::{HashMap, HashSet};

use sqlx::AnyConnection;

use crate::error::StoreError;
use crate::event_rows::{COLUMNS, EventRow, PER_ROW, bind_row, marks, values};
use crate::events::EventRecorded;
use crate::rows::get;

/// Rows per multi-row `INSERT` (960 placeholders, far below PostgreSQL's limit).
const ROWS_PER_INSERT: usize = 64;
/// Delivery ids per lookup of stored events.
const IDS_PER_LOOKUP: usize = 256;
/// Inserts of a refused row whose stored event is gone again when looked up (deleted
/// meanwhile, e.g. pruned): the insert is tried again, a few times.
const ATTEMPTS: usize = 3;

/// Records `rows` in order on `conn` (inside the caller's transaction). A row whose delivery
/// id is stored, by anyone, or came earlier in `rows`, is answered as a duplicate of that event
/// and not written. Ids are reserved first, in the order of `rows`, so they follow it whatever
/// order the rows are inserted in.
pub(crate) async fn record_all(
    conn: &mut AnyConnection,
    rows: &[&EventRow],
    op: &'static str,
) -> Result<Vec<EventRecorded>, StoreError> {
    let plan = Plan::new(rows);
    let ids = reserve_ids(conn, plan.distinct.len(), op).await?;
    let written = write_distinct(conn, &plan.distinct, &ids, op).await?;
    Ok(plan.answers(&written))
}

/// The rows of a batch with each delivery id once, and where each row's answer comes from.
struct Plan<'r> {
    /// The rows to write, in order: each delivery id at its first occurrence only.
    distinct: Vec<&'r EventRow>,
    /// Per row of the batch: its row in `distinct`, and whether it repeats an earlier one.
    sources: Vec<(usize, bool)>,
}

impl<'r> Plan<'r> {
    fn new(rows: &[&'r EventRow]) -> Self {
        let mut distinct = Vec::with_capacity(rows.len());
        let mut first: HashMap<&str, usize> = HashMap::new();
        let mut sources = Vec::with_capacity(rows.len());
        for &row in rows {
            let earlier = row.delivery_id().and_then(|d| first.get(d).copied());
            sources.push(match earlier {
                Some(n) => (n, true),
                None => {
                    if let Some(d) = row.delivery_id() {
                        first.insert(d, distinct.len());
                    }
                    distinct.push(row);
                    (distinct.len() - 1, false)
                }
            });
        }
        Self { distinct, sources }
    }

    /// Every row's answer, from the answers of the distinct rows.
    fn answers(&self, written: &[EventRecorded]) -> Vec<EventRecorded> {
        self.sources
            .iter()
            .map(|&(n, repeat)| EventRecorded {
                id: written[n].id,
                duplicate: written[n].duplicate || repeat,
            })
            .collect()
    }
}

/// `count` new ids of `events`, increasing.
async fn reserve_ids(
    conn: &mut AnyConnection,
    count: usize,
    op: &'static str,
) -> Result<Vec<i64>, StoreError> {
    let count = i64::try_from(count).map_err(|_| StoreError::Corrupt {
        what: format!("a batch of {count} events"),
    })?;
    let rows = sqlx::query(
        "SELECT nextval(pg_get_serial_sequence('events', 'id')) AS id \
         FROM generate_series(1, $1)",
    )
    .bind(count)
    .fetch_all(&mut *conn)
    .await
    .map_err(StoreError::query(op))?;
    let mut ids = rows
        .iter()
        .map(|r| get::<i64>(r, "id"))
        .collect::<Result<Vec<_>, _>>()?;
    // The set's order is not promised; the values are distinct, so sorting restores it.
    ids.sort_unstable();
    Ok(ids)
}

/// Inserts `rows` (no delivery id twice) under `ids`; each row's answer: new, or a duplicate
/// of the event stored under its delivery id.
///
/// Rows go in in delivery id order. Two writers inserting the same ids each wait for the
/// other's uncommitted rows; in the same order, they never wait for each other at once (a
/// deadlock, which PostgreSQL breaks only after a second by failing one of them).
async fn write_distinct(
    conn: &mut AnyConnection,
    rows: &[&EventRow],
    ids: &[i64],
    op: &'static str,
) -> Result<Vec<EventRecorded>, StoreError> {
    let mut pending: Vec<usize> = (0..rows.len()).collect();
    pending.sort_by_key(|&n| rows[n].delivery_id());
    let mut answers: Vec<Option<EventRecorded>> = vec![None; rows.len()];
    for _ in 0..ATTEMPTS {
        let mut refused = Vec::new();
        for chunk in pending.chunks(ROWS_PER_INSERT) {
            refused.extend(insert_chunk(conn, rows, ids, chunk, &mut answers, op).await?);
        }
        pending = answer_stored(conn, rows, refused, &mut answers, op).await?;
        if pending.is_empty() {
            return answers
                .into_iter()
                .map(|a| a.ok_or_else(unanswered))
                .collect();
        }
    }
    // Each attempt met a stored event that was gone by the lookup: report the lookup that
    // found nothing.
    Err(StoreError::Query {
        op,
        source: sqlx::Error::RowNotFound,
    })
}

fn unanswered() -> StoreError {
    StoreError::Corrupt {
        what: "an event of the batch was left unanswered".to_owned(),
    }
}

/// Inserts the rows numbered `chunk` in one statement, answering those inserted; returns the
/// ones refused for a delivery id already stored.
async fn insert_chunk(
    conn: &mut AnyConnection,
    rows: &[&EventRow],
    ids: &[i64],
    chunk: &[usize],
    answers: &mut [Option<EventRecorded>],
    op: &'static str,
) -> Result<Vec<usize>, StoreError> {
    let sql = format!(
        "INSERT INTO events (id, {COLUMNS}) VALUES {} \
         ON CONFLICT (delivery_id) DO NOTHING RETURNING id",
        values(chunk.len(), PER_ROW + 1)
    );
    let query = chunk
        .iter()
        .fold(sqlx::query(&sql), |q, &n| bind_row(q.bind(ids[n]), rows[n]));
    let returned = query
        .fetch_all(&mut *conn)
        .await
        .map_err(StoreError::query(op))?;
    let inserted = returned
        .iter()
        .map(|r| get::<i64>(r, "id"))
        .collect::<Result<HashSet<_>, _>>()?;
    let mut refused = Vec::new();
    for &n in chunk {
        if inserted.contains(&ids[n]) {
            answers[n] = Some(EventRecorded {
                id: ids[n],
                duplicate: false,
            });
        } else if rows[n].delivery_id().is_some() {
            refused.push(n);
        } else {
            // Without a delivery id there is no conflict: only a trigger of someone else's
            // can skip the row, and without a row there is no id to answer with.
            return Err(StoreError::Corrupt {
                what: "inserting an event changed 0 rows".to_owned(),
            });
        }
    }
    Ok(refused)
}

/// Answers each row of `refused` as a duplicate of the event stored under its delivery id;
/// returns those whose event is no longer stored (deleted since the insert met it).
async fn answer_stored(
    conn: &mut AnyConnection,
    rows: &[&EventRow],
    refused: Vec<usize>,
    answers: &mut [Option<EventRecorded>],
    op: &'static str,
) -> Result<Vec<usize>, StoreError> {
    let wanted: Vec<&str> = refused
        .iter()
        .filter_map(|&n| rows[n].delivery_id())
        .collect();
    let stored = stored_deliveries(conn, &wanted, op).await?;
    let mut gone = Vec::new();
    for n in refused {
        match rows[n].delivery_id().and_then(|d| stored.get(d)) {
            Some(&id) => {
                answers[n] = Some(EventRecorded {
                    id,
                    duplicate: true,
                });
            }
            None => gone.push(n),
        }
    }
    Ok(gone)
}

/// The ids of the events stored under `deliveries`. Each statement sees what was committed
/// before it started (PostgreSQL's default isolation), so a row the insert was refused for,
/// committed by another writer, is found.
async fn stored_deliveries(
    conn: &mut AnyConnection,
    deliveries: &[&str],
    op: &'static str,
) -> Result<HashMap<String, i64>, StoreError> {
    let mut stored = HashMap::new();
    for chunk in deliveries.chunks(IDS_PER_LOOKUP) {
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
    use crate::events::{EventKind, NewEvent};

    fn row(delivery: Option<&str>) -> EventRow {
        EventRow::new(&NewEvent {
            delivery_id: delivery.map(str::to_owned),
            ..NewEvent::new(EventKind::HookDelivery)
        })
    }

    #[test]
    fn a_plan_writes_each_delivery_id_once_and_answers_every_row() {
        let rows = [
            row(Some("a")),
            row(None),
            row(Some("a")),
            row(None),
            row(Some("b")),
        ];
        let refs: Vec<&EventRow> = rows.iter().collect();
        let plan = Plan::new(&refs);
        assert_eq!(plan.distinct.len(), 4);
        let written = [
            EventRecorded {
                id: 7,
                duplicate: true,
            },
            EventRecorded {
                id: 10,
                duplicate: false,
            },
            EventRecorded {
                id: 11,
                duplicate: false,
            },
            EventRecorded {
                id: 12,
                duplicate: false,
            },
        ];
        let answers: Vec<(i64, bool)> = plan
            .answers(&written)
            .iter()
            .map(|a| (a.id, a.duplicate))
            .collect();
        assert_eq!(
            answers,
            [(7, true), (10, false), (7, true), (11, false), (12, false)]
        );
    }
}
