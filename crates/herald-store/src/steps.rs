//! A run's steps: each one's latest attempt, and every move of every attempt in the run's
//! history and as an event, so a run's full story outlives the run itself.

use herald_api::{RunPhase, StepOutputs};
use sqlx::AnyConnection;
use sqlx::any::AnyRow;

use crate::Store;
use crate::error::StoreError;
use crate::events::{self, NewEvent};
use crate::rows::{self, enum_text, get, micros};
use crate::types::{RunRecord, StepChange, StepRecord};

impl Store {
    /// Records a step's move, in one transaction: a history row naming the step and attempt,
    /// the step's row (created on its first move), and a `run.transition` event. The run must
    /// exist ([`StoreError::NotFound`]) and not be finished
    /// ([`StoreError::InvalidTransition`]).
    #[tracing::instrument(
        level = "debug",
        name = "store.record_step",
        skip_all,
        fields(run_id = run.id, step = change.name, to = %change.to)
    )]
    pub async fn record_step(
        &self,
        run: &RunRecord,
        change: &StepChange<'_>,
    ) -> Result<(), StoreError> {
        let op = "recording a step transition";
        let now = micros(rows::now());
        let outputs = change
            .outputs
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| StoreError::Corrupt {
                what: format!("outputs of step {}: {e}", change.name),
            })?;
        let _turn = self.write_turn().await;
        let mut tx = self.pool.begin().await.map_err(StoreError::query(op))?;
        // The write comes first and checks that the run is unfinished in the same statement.
        let inserted = sqlx::query(
            "INSERT INTO run_transitions (run_id, phase, at, reason, message, step, attempt, \
             from_phase) SELECT $1, $2, $3, $4, $5, $6, $7, $8 WHERE EXISTS \
             (SELECT 1 FROM runs WHERE id = $1 AND phase IN ($9, $10))",
        )
        .bind(run.id)
        .bind(enum_text(change.to))
        .bind(now)
        .bind(change.reason)
        .bind(change.message)
        .bind(change.name)
        .bind(i32::try_from(change.attempt).unwrap_or(i32::MAX))
        .bind(enum_text(change.from))
        .bind(enum_text(RunPhase::Pending))
        .bind(enum_text(RunPhase::Running))
        .execute(&mut *tx)
        .await
        .map_err(StoreError::query(op))?;
        if inserted.rows_affected() == 0 {
            tx.rollback().await.map_err(StoreError::query(op))?;
            return Err(self.refusal(run.id, change.to, op).await);
        }
        upsert_step(&mut tx, run.id, change, outputs.as_deref(), now, op).await?;
        events::insert(&mut tx, &step_event(run, change, now), op).await?;
        tx.commit().await.map_err(StoreError::query(op))?;
        tracing::debug!(run = %run.name, step = change.name, attempt = change.attempt, phase = %change.to, reason = change.reason, "step transition");
        Ok(())
    }

    /// The steps of run `run_id`, in the action's order.
    pub async fn run_steps(&self, run_id: crate::RunId) -> Result<Vec<StepRecord>, StoreError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(StoreError::query("reading a run's steps"))?;
        steps_of(&mut conn, run_id).await
    }
}

async fn upsert_step(
    conn: &mut AnyConnection,
    run_id: crate::RunId,
    change: &StepChange<'_>,
    outputs: Option<&str>,
    now: i64,
    op: &'static str,
) -> Result<(), StoreError> {
    let started = (change.to == RunPhase::Running).then_some(now);
    let finished = change.to.is_terminal().then_some(now);
    // A new attempt starts clean: its exit code, output and outputs are its own.
    sqlx::query(
        "INSERT INTO run_steps (run_id, name, position, phase, attempt, reason, message, \
         exit_code, started_at, finished_at, outputs, output) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (run_id, name) DO UPDATE SET phase = excluded.phase, \
         reason = excluded.reason, message = excluded.message, \
         exit_code = CASE WHEN excluded.attempt > run_steps.attempt THEN excluded.exit_code \
           ELSE COALESCE(excluded.exit_code, run_steps.exit_code) END, \
         started_at = CASE WHEN excluded.attempt > run_steps.attempt THEN excluded.started_at \
           ELSE COALESCE(run_steps.started_at, excluded.started_at) END, \
         finished_at = excluded.finished_at, \
         outputs = CASE WHEN excluded.attempt > run_steps.attempt THEN excluded.outputs \
           ELSE COALESCE(excluded.outputs, run_steps.outputs) END, \
         output = CASE WHEN excluded.attempt > run_steps.attempt THEN excluded.output \
           ELSE COALESCE(excluded.output, run_steps.output) END, \
         attempt = excluded.attempt",
    )
    .bind(run_id)
    .bind(change.name)
    .bind(i64::try_from(change.position).unwrap_or(i64::MAX))
    .bind(enum_text(change.to))
    .bind(i32::try_from(change.attempt).unwrap_or(i32::MAX))
    .bind(change.reason)
    .bind(change.message)
    .bind(change.exit_code)
    .bind(started)
    .bind(finished)
    .bind(outputs)
    .bind(change.output)
    .execute(conn)
    .await
    .map_err(StoreError::query(op))?;
    Ok(())
}

pub(crate) async fn steps_of(
    conn: &mut AnyConnection,
    run_id: crate::RunId,
) -> Result<Vec<StepRecord>, StoreError> {
    sqlx::query(
        "SELECT name, position, phase, attempt, reason, message, exit_code, started_at, finished_at, \
         outputs, output FROM run_steps WHERE run_id = $1 ORDER BY position",
    )
    .bind(run_id)
    .fetch_all(conn)
    .await
    .map_err(StoreError::query("reading a run's steps"))?
    .iter()
    .map(step_record)
    .collect()
}

fn step_record(row: &AnyRow) -> Result<StepRecord, StoreError> {
    let outputs: Option<String> = get(row, "outputs")?;
    let outputs: StepOutputs = match outputs {
        None => StepOutputs::new(),
        Some(json) => serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
            what: format!("column outputs: {e}"),
        })?,
    };
    Ok(StepRecord {
        name: get(row, "name")?,
        position: usize::try_from(get::<i32>(row, "position")?).unwrap_or(0),
        phase: rows::parse_enum("phase", &get::<String>(row, "phase")?)?,
        attempt: u32::try_from(get::<i32>(row, "attempt")?).unwrap_or(0),
        reason: get(row, "reason")?,
        message: get(row, "message")?,
        exit_code: get(row, "exit_code")?,
        started_at: rows::get_opt_time(row, "started_at")?,
        finished_at: rows::get_opt_time(row, "finished_at")?,
        outputs,
        output: get(row, "output")?,
    })
}

/// The `run.transition` event of a step's move: the run as the involved object, the step
/// and attempt in the payload (outputs are not copied: the run's row holds them).
fn step_event(run: &RunRecord, change: &StepChange<'_>, at: i64) -> NewEvent {
    let payload = serde_json::json!({
        "runId": run.id,
        "step": change.name,
        "attempt": change.attempt,
        "from": enum_text(change.from),
        "phase": enum_text(change.to),
        "exitCode": change.exit_code,
    });
    crate::runs::run_event(run, at, change.to, change.reason, change.message, payload)
}
