//! Creating runs, moving them through their phases, and reading them back.
//!
//! Every writing transaction starts with its write, never with a read: SQLite then waits for
//! the write lock (busy timeout) instead of failing when another connection committed first.

use herald_api::RunPhase;
use sqlx::AnyConnection;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::Store;
use crate::error::StoreError;
use crate::events::{self, EventKind, NewEvent};
use crate::rows::{self, enum_text, micros};
use crate::sql::{Sql, Value};
use crate::types::{
    Created, NewRun, RunDetail, RunFilter, RunId, RunOutcome, RunRecord, TriggerKey,
};

/// The `runs` columns a [`RunRecord`] is read from, as a literal for `concat!`.
macro_rules! run_columns {
    () => {
        "id, name, namespace, trigger_kind, trigger_name, source_kind, source_name, git_ref, \
         revision, action_kind, action_name, cause, phase, created_at, started_at, finished_at, \
         exit_code, message"
    };
}

/// Triggers asked for in one statement by [`Store::latest_runs_of`].
const LATEST_PER_QUERY: usize = 500;

/// The reason recorded with a run's first (`Pending`) transition.
pub const CREATED_REASON: &str = herald_api::reasons::RUN_CREATED;

/// The phases a run never leaves.
const TERMINAL: [RunPhase; 5] = [
    RunPhase::Succeeded,
    RunPhase::Failed,
    RunPhase::TimedOut,
    RunPhase::Skipped,
    RunPhase::Cancelled,
];

/// What a phase change writes besides the phase.
struct Change<'a> {
    to: RunPhase,
    reason: &'a str,
    message: Option<&'a str>,
    exit_code: Option<i32>,
    output: Option<&'a str>,
}

/// How a single run is looked up.
#[derive(Clone, Copy)]
enum Key<'a> {
    Id(RunId),
    Name(&'a str),
}

impl Store {
    /// Inserts a run in phase `Pending` with its first transition and, when
    /// `new.record_last_seen`, records `new.revision` as the last revision `new.trigger` saw
    /// for `new.source` — all in one transaction. Idempotent on `new.name`: if a run of that
    /// name exists, nothing changes and it is returned as [`Created::Existing`].
    #[tracing::instrument(level = "debug", name = "store.create_run", skip_all)]
    pub async fn create_run(&self, new: &NewRun) -> Result<Created, StoreError> {
        let op = "creating a run";
        let now = micros(rows::now());
        let _turn = self.write_turn().await;
        let mut tx = self.pool.begin().await.map_err(StoreError::query(op))?;
        let inserted = sqlx::query(concat!(
            "INSERT INTO runs (name, namespace, trigger_kind, trigger_name, source_kind, \
             source_name, git_ref, revision, action_kind, action_name, cause, phase, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT (name) DO NOTHING RETURNING ",
            run_columns!()
        ))
        .bind(&new.name)
        .bind(&new.namespace)
        .bind(enum_text(new.trigger.kind))
        .bind(&new.trigger.name)
        .bind(enum_text(new.source_kind))
        .bind(&new.source)
        .bind(&new.git_ref)
        .bind(&new.revision)
        .bind(enum_text(new.action_kind))
        .bind(&new.action)
        .bind(enum_text(new.cause))
        .bind(enum_text(RunPhase::Pending))
        .bind(now)
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::query(op))?;

        let Some(row) = inserted else {
            let existing = fetch_run(&mut tx, Key::Name(&new.name), op).await?;
            tx.rollback().await.map_err(StoreError::query(op))?;
            let (record, _) = existing.ok_or_else(|| StoreError::Corrupt {
                what: format!(
                    "run {:?} conflicts on its name but cannot be read",
                    new.name
                ),
            })?;
            tracing::debug!(run = %new.name, id = record.id, "run already exists");
            return Ok(Created::Existing(record));
        };
        let record = rows::run_record(&row)?;
        insert_transition(
            &mut tx,
            record.id,
            RunPhase::Pending,
            now,
            CREATED_REASON,
            None,
            op,
        )
        .await?;
        events::insert(
            &mut tx,
            &transition_event(&record, now, CREATED_REASON, None),
            op,
        )
        .await?;
        if new.record_last_seen && record_last_seen(&mut tx, new, now, op).await? {
            events::insert(&mut tx, &detected_event(new, now), op).await?;
        }
        tx.commit().await.map_err(StoreError::query(op))?;
        if new.record_last_seen {
            (self.last_seen_cache).offer(&new.trigger, &new.source, record.id, &new.revision);
        }
        tracing::debug!(run = %record.name, id = record.id, "run created");
        Ok(Created::New(record))
    }

    /// Moves run `id` to phase `to`, appending a history row. Entering `Running` sets
    /// `started_at` (the first time only); entering a terminal phase sets `finished_at`. A run
    /// in a terminal phase cannot leave it ([`StoreError::InvalidTransition`]).
    #[tracing::instrument(level = "debug", name = "store.transition", skip_all, fields(run_id = id, to = %to))]
    pub async fn transition(
        &self,
        id: RunId,
        to: RunPhase,
        reason: &str,
        message: Option<&str>,
    ) -> Result<RunRecord, StoreError> {
        let change = Change {
            to,
            reason,
            message,
            exit_code: None,
            output: None,
        };
        self.change_phase(id, &change, "recording a run transition")
            .await
    }

    /// Moves run `id` to the terminal phase of `outcome` and stores its exit code and output,
    /// in one transaction. A non-terminal `outcome.phase` is refused with
    /// [`StoreError::NotTerminal`].
    #[tracing::instrument(level = "debug", name = "store.finish_run", skip_all, fields(run_id = id, to = %outcome.phase))]
    pub async fn finish_run(
        &self,
        id: RunId,
        outcome: &RunOutcome,
    ) -> Result<RunRecord, StoreError> {
        if !outcome.phase.is_terminal() {
            return Err(StoreError::NotTerminal {
                id,
                phase: outcome.phase,
            });
        }
        let change = Change {
            to: outcome.phase,
            reason: &outcome.reason,
            message: outcome.message.as_deref(),
            exit_code: outcome.exit_code,
            output: outcome.output.as_deref(),
        };
        self.change_phase(id, &change, "finishing a run").await
    }

    /// Runs matching `filter`, newest first, at most `filter.limit` (default 50).
    pub async fn list_runs(&self, filter: &RunFilter) -> Result<Vec<RunRecord>, StoreError> {
        let mut sql = Sql::new(concat!("SELECT ", run_columns!(), " FROM runs WHERE 1 = 1"));
        sql.filter_text(" AND namespace = ", filter.namespace.as_deref())
            .filter_text(" AND trigger_name = ", filter.trigger.as_deref())
            .filter_text(" AND source_name = ", filter.source.as_deref());
        if let Some(phase) = filter.phase {
            sql.push(" AND phase = ")
                .bind(Value::Text(enum_text(phase)));
        }
        let limit = filter.limit.unwrap_or(RunFilter::DEFAULT_LIMIT);
        sql.push(" ORDER BY id DESC LIMIT ")
            .bind(Value::Int(i64::from(limit)));
        let found = sql.query().fetch_all(&self.pool).await;
        records(found.map_err(StoreError::query("listing runs"))?)
    }

    /// The newest run of each of `triggers` that has one, newest first (the dashboard's
    /// overview). One index seek per trigger (`runs_trigger_latest`), so it costs what is
    /// asked, not how many runs are stored, as a `GROUP BY` over every run did.
    pub async fn latest_runs_of(
        &self,
        triggers: &[TriggerKey],
    ) -> Result<Vec<RunRecord>, StoreError> {
        let mut found = Vec::with_capacity(triggers.len());
        // Well under both backends' limit on bound values (32,766 and 65,535).
        for chunk in triggers.chunks(LATEST_PER_QUERY) {
            let mut sql = Sql::new("WITH wanted (ns, kind, name) AS (VALUES ");
            for (i, trigger) in chunk.iter().enumerate() {
                sql.push(if i == 0 { "(" } else { ", (" })
                    .bind(Value::Text(trigger.namespace.clone()))
                    .push(", ")
                    .bind(Value::Text(enum_text(trigger.kind)))
                    .push(", ")
                    .bind(Value::Text(trigger.name.clone()))
                    .push(")");
            }
            sql.push(concat!(
                ") SELECT ",
                run_columns!(),
                " FROM runs WHERE id IN (SELECT (SELECT MAX(id) FROM runs r \
                 WHERE r.namespace = w.ns AND r.trigger_kind = w.kind AND r.trigger_name = w.name) \
                 FROM wanted w)"
            ));
            let rows = sql.query().fetch_all(&self.pool).await;
            found.extend(records(
                rows.map_err(StoreError::query("listing triggers' latest runs"))?,
            )?);
        }
        found.sort_by_key(|run| std::cmp::Reverse(run.id));
        Ok(found)
    }

    /// The run with this id, its history and output.
    pub async fn get_run(&self, id: RunId) -> Result<Option<RunDetail>, StoreError> {
        self.detail(Key::Id(id)).await
    }

    /// The run with this name, its history and output.
    pub async fn get_run_by_name(&self, name: &str) -> Result<Option<RunDetail>, StoreError> {
        self.detail(Key::Name(name)).await
    }

    /// Runs in any of `phases`, oldest first (used at start-up to resume `Pending` runs and
    /// fail interrupted `Running` ones).
    pub async fn runs_in_phases(&self, phases: &[RunPhase]) -> Result<Vec<RunRecord>, StoreError> {
        if phases.is_empty() {
            return Ok(Vec::new());
        }
        let mut sql = Sql::new(concat!(
            "SELECT ",
            run_columns!(),
            " FROM runs WHERE phase IN ("
        ));
        for (i, phase) in phases.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(Value::Text(enum_text(phase)));
        }
        sql.push(") ORDER BY id ASC");
        let found = sql.query().fetch_all(&self.pool).await;
        records(found.map_err(StoreError::query("listing runs by phase"))?)
    }

    async fn change_phase(
        &self,
        id: RunId,
        change: &Change<'_>,
        op: &'static str,
    ) -> Result<RunRecord, StoreError> {
        let now = micros(rows::now());
        let started = (change.to == RunPhase::Running).then_some(now);
        let finished = change.to.is_terminal().then_some(now);
        let _turn = self.write_turn().await;
        let mut tx = self.pool.begin().await.map_err(StoreError::query(op))?;
        let updated = sqlx::query(concat!(
            "UPDATE runs SET phase = $1, message = $2, started_at = COALESCE(started_at, $3), \
             finished_at = COALESCE($4, finished_at), exit_code = COALESCE($5, exit_code), \
             output = COALESCE($6, output) WHERE id = $7 AND phase NOT IN ($8, $9, $10, $11, $12) \
             RETURNING ",
            run_columns!()
        ))
        .bind(enum_text(change.to))
        .bind(change.message)
        .bind(started)
        .bind(finished)
        .bind(change.exit_code)
        .bind(change.output)
        .bind(id)
        .bind(enum_text(TERMINAL[0]))
        .bind(enum_text(TERMINAL[1]))
        .bind(enum_text(TERMINAL[2]))
        .bind(enum_text(TERMINAL[3]))
        .bind(enum_text(TERMINAL[4]))
        .fetch_optional(&mut *tx)
        .await
        .map_err(StoreError::query(op))?;

        let Some(row) = updated else {
            tx.rollback().await.map_err(StoreError::query(op))?;
            return Err(self.refusal(id, change.to, op).await);
        };
        let record = rows::run_record(&row)?;
        insert_transition(
            &mut tx,
            id,
            change.to,
            now,
            change.reason,
            change.message,
            op,
        )
        .await?;
        events::insert(
            &mut tx,
            &transition_event(&record, now, change.reason, change.message),
            op,
        )
        .await?;
        tx.commit().await.map_err(StoreError::query(op))?;
        tracing::debug!(run = %record.name, id, phase = %change.to, reason = change.reason, "run transition");
        Ok(record)
    }

    /// Why an update matched no row: the run is missing, or already terminal.
    pub(crate) async fn refusal(&self, id: RunId, to: RunPhase, op: &'static str) -> StoreError {
        let row = sqlx::query("SELECT phase FROM runs WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await;
        match row {
            Err(source) => StoreError::Query { op, source },
            Ok(None) => StoreError::NotFound(id),
            Ok(Some(row)) => match rows::phase(&row) {
                Ok(from) => StoreError::InvalidTransition { id, from, to },
                Err(e) => e,
            },
        }
    }

    async fn detail(&self, key: Key<'_>) -> Result<Option<RunDetail>, StoreError> {
        let op = "reading a run";
        // One read transaction, so the record and its history are one snapshot.
        let mut tx = self.pool.begin().await.map_err(StoreError::query(op))?;
        let Some((run, output)) = fetch_run(&mut tx, key, op).await? else {
            return Ok(None);
        };
        let history = sqlx::query(
            "SELECT phase, at, reason, message, step, attempt, from_phase FROM run_transitions \
             WHERE run_id = $1 ORDER BY id",
        )
        .bind(run.id)
        .fetch_all(&mut *tx)
        .await
        .map_err(StoreError::query(op))?
        .iter()
        .map(rows::transition)
        .collect::<Result<Vec<_>, _>>()?;
        let steps = crate::steps::steps_of(&mut tx, run.id).await?;
        tx.commit().await.map_err(StoreError::query(op))?;
        Ok(Some(RunDetail {
            run,
            history,
            steps,
            output,
        }))
    }
}

/// Reads one run and its output.
async fn fetch_run(
    conn: &mut AnyConnection,
    key: Key<'_>,
    op: &'static str,
) -> Result<Option<(RunRecord, Option<String>)>, StoreError> {
    let query = match key {
        Key::Id(id) => sqlx::query(concat!(
            "SELECT ",
            run_columns!(),
            ", output FROM runs WHERE id = $1"
        ))
        .bind(id),
        Key::Name(name) => sqlx::query(concat!(
            "SELECT ",
            run_columns!(),
            ", output FROM runs WHERE name = $1"
        ))
        .bind(name),
    };
    let Some(row) = query
        .fetch_optional(conn)
        .await
        .map_err(StoreError::query(op))?
    else {
        return Ok(None);
    };
    let output = row.try_get("output").map_err(|e| StoreError::Corrupt {
        what: format!("column output: {e}"),
    })?;
    Ok(Some((rows::run_record(&row)?, output)))
}

async fn insert_transition(
    conn: &mut AnyConnection,
    id: RunId,
    phase: RunPhase,
    at: i64,
    reason: &str,
    message: Option<&str>,
    op: &'static str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO run_transitions (run_id, phase, at, reason, message) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(enum_text(phase))
    .bind(at)
    .bind(reason)
    .bind(message)
    .execute(conn)
    .await
    .map_err(StoreError::query(op))?;
    Ok(())
}

/// Records `new.revision` as last seen; true when it differs from the one seen before (a
/// newly detected revision).
async fn record_last_seen(
    conn: &mut AnyConnection,
    new: &NewRun,
    at: i64,
    op: &'static str,
) -> Result<bool, StoreError> {
    let before: Option<String> = sqlx::query_scalar(
        "SELECT revision FROM last_seen WHERE trigger_kind = $1 AND trigger_namespace = $2 \
         AND trigger_name = $3 AND source_name = $4",
    )
    .bind(enum_text(new.trigger.kind))
    .bind(&new.trigger.namespace)
    .bind(&new.trigger.name)
    .bind(&new.source)
    .fetch_optional(&mut *conn)
    .await
    .map_err(StoreError::query(op))?;
    sqlx::query(
        "INSERT INTO last_seen (trigger_kind, trigger_namespace, trigger_name, source_name, \
         revision, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (trigger_kind, trigger_namespace, trigger_name, source_name) \
         DO UPDATE SET revision = excluded.revision, updated_at = excluded.updated_at",
    )
    .bind(enum_text(new.trigger.kind))
    .bind(&new.trigger.namespace)
    .bind(&new.trigger.name)
    .bind(&new.source)
    .bind(&new.revision)
    .bind(at)
    .execute(conn)
    .await
    .map_err(StoreError::query(op))?;
    Ok(before.as_deref() != Some(new.revision.as_str()))
}

/// The `revision.detected` event of a revision a trigger sees for the first time.
fn detected_event(new: &NewRun, at: i64) -> NewEvent {
    NewEvent {
        at: rows::time(at),
        ..NewEvent::revision_detected(
            &new.namespace,
            &new.trigger.name,
            &new.source,
            new.git_ref.as_deref(),
            &new.revision,
        )
    }
}

/// The `run.transition` event recorded with a transition of `run` (already in its new phase).
fn transition_event(run: &RunRecord, at: i64, reason: &str, message: Option<&str>) -> NewEvent {
    let payload = serde_json::json!({
        "runId": run.id,
        "phase": enum_text(run.phase),
        "exitCode": run.exit_code,
    });
    run_event(run, at, run.phase, reason, message, payload)
}

/// A `run.transition` event about `run` (the Run is the involved object) moving to `phase`.
pub(crate) fn run_event(
    run: &RunRecord,
    at: i64,
    phase: RunPhase,
    reason: &str,
    message: Option<&str>,
    mut payload: serde_json::Value,
) -> NewEvent {
    // What a notifier selects on (by kind and name) and cluster mode's events say alike.
    if let serde_json::Value::Object(fields) = &mut payload {
        fields.insert("triggerKind".into(), enum_text(run.trigger_kind).into());
        fields.insert("sourceKind".into(), enum_text(run.source_kind).into());
        fields.insert("actionKind".into(), enum_text(run.action_kind).into());
        fields.insert("action".into(), run.action.clone().into());
    }
    let severity = if matches!(phase, RunPhase::Failed | RunPhase::TimedOut) {
        "error"
    } else {
        "info"
    };
    NewEvent {
        at: rows::time(at),
        namespace: Some(run.namespace.clone()),
        trigger: Some(run.trigger.clone()),
        source: Some(run.source.clone()),
        revision: Some(run.revision.clone()),
        involved_kind: Some("Run".to_owned()),
        involved_namespace: Some(run.namespace.clone()),
        involved_name: Some(run.name.clone()),
        reason: Some(reason.to_owned()),
        severity: Some(severity.to_owned()),
        message: message.map(str::to_owned),
        payload: Some(payload),
        ..NewEvent::new(EventKind::RunTransition)
    }
}

fn records(rows: Vec<AnyRow>) -> Result<Vec<RunRecord>, StoreError> {
    rows.iter().map(rows::run_record).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_list_matches_the_api() {
        for phase in [
            RunPhase::Pending,
            RunPhase::Running,
            RunPhase::Succeeded,
            RunPhase::Failed,
            RunPhase::TimedOut,
            RunPhase::Skipped,
            RunPhase::Cancelled,
        ] {
            assert_eq!(TERMINAL.contains(&phase), phase.is_terminal(), "{phase}");
        }
    }
}
