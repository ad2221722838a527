//! Multi-step actions: the graph of an action's steps, the scheduler that says what happens
//! next, and the outputs steps pass on. Both modes execute what these decide.

mod advance;
mod graph;
mod outputs;

pub use advance::{Advance, Move, RunVerdict, StepState, advance};
pub use graph::{DEFAULT_BACKOFF, DEFAULT_STEP_TIMEOUT, MAX_BACKOFF, StepGraph, StepNode};
pub use outputs::{
    MAX_RUN_OUTPUTS, MAX_STEP_OUTPUT, OUTPUT_ENV, OutputError, fits_run, needs_env, outputs_size,
    parse_outputs, result_word,
};

/// The job an action runs in this version: its `actionJob`. A graph of `steps` passes
/// validation, and both modes refuse it here, at load and at a run's start, until they
/// execute graphs.
pub fn runnable_job(
    def: &herald_api::ActionDefinition,
) -> Result<&herald_api::ActionJob, herald_api::validate::FieldError> {
    def.action_job.as_ref().ok_or_else(|| {
        herald_api::validate::FieldError::new(
            "spec.steps",
            "multi-step actions are checked but not yet run by this version of Herald; \
             use actionJob",
        )
    })
}

#[cfg(test)]
mod tests;
