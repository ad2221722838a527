//! Multi-step actions: the graph of an action's steps, the scheduler that says what happens
//! next, and the outputs steps pass on. Both modes execute what these decide.

mod advance;
mod concurrency;
mod graph;
mod outputs;
mod rerun;

pub use advance::{Advance, Halt, Move, RunVerdict, StepState, advance};
pub use concurrency::{Admission, admit};
pub use graph::{DEFAULT_BACKOFF, DEFAULT_STEP_TIMEOUT, MAX_BACKOFF, StepGraph, StepNode};
pub use outputs::{
    MAX_RUN_OUTPUTS, MAX_STEP_OUTPUT, OUTPUT_ENV, OutputError, fits_run, needs_env, outputs_size,
    parse_outputs, result_word,
};
pub use rerun::{RerunError, reused_steps};

#[cfg(test)]
mod tests;
