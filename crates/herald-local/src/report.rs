//! Acting on and logging the outcome of a firing.

use crate::engine::{Engine, FireRequest, SourceOutcome};

/// Start the new runs and log what happened for each source.
pub fn log_outcomes(engine: &Engine, request: &FireRequest, outcomes: Vec<SourceOutcome>) {
    let trigger = format!("{}/{}", request.namespace, request.name);
    for outcome in outcomes {
        match outcome {
            SourceOutcome::Created(run) => {
                tracing::info!(%trigger, run = %run.name, source = %run.source, revision = %run.revision, cause = %run.cause, "run created");
                engine.spawn(run);
            }
            SourceOutcome::Existing(run) => {
                tracing::debug!(%trigger, run = %run.name, "run already exists for this change");
            }
            SourceOutcome::Skipped { source, reason } => {
                tracing::debug!(%trigger, %source, %reason, "nothing to do");
            }
            SourceOutcome::Failed { source, error } => {
                tracing::warn!(%trigger, %source, %error, "source check failed");
            }
        }
    }
}
