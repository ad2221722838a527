//! What a step passes on: `key=value` lines in `$HERALD_OUTPUT`, read strictly (a bad file
//! fails the step, nothing is truncated), and the `HERALD_NEEDS_*` variables they become.

use std::collections::BTreeMap;

use herald_api::{OUTPUT_RESULT_KEY, RunPhase, StepOutputs, needs_env_name, reasons};

use super::advance::StepState;
use super::graph::StepGraph;

/// The variable naming the file a step writes its outputs to.
pub const OUTPUT_ENV: &str = "HERALD_OUTPUT";
/// Most bytes one step's output file may hold: what fits a container's termination message,
/// so cluster mode reads outputs without the Pod's logs.
pub const MAX_STEP_OUTPUT: usize = 4 * 1024;
/// Most bytes of outputs one run keeps (keys and values of every step).
pub const MAX_RUN_OUTPUTS: usize = 32 * 1024;
/// Secrets shorter than this are refused only as a whole value: shorter ones would turn up
/// inside ordinary words.
const MIN_SECRET_SEARCHED: usize = 6;

/// Why a step's outputs were refused; the step fails with [`OutputError::reason`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    #[error("$HERALD_OUTPUT holds {size} bytes; a step may pass on at most {MAX_STEP_OUTPUT}")]
    TooLarge { size: usize },
    #[error(
        "the run's outputs would reach {total} bytes with this step's; a run keeps at most {MAX_RUN_OUTPUTS}"
    )]
    RunTooLarge { total: usize },
    #[error("line {line} of $HERALD_OUTPUT is not key=value (or not UTF-8)")]
    Malformed { line: usize },
    #[error("line {line} of $HERALD_OUTPUT repeats key {key:?}")]
    Duplicate { line: usize, key: String },
    #[error("$HERALD_OUTPUT sets {key:?}, which the step does not declare in outputs ({declared})")]
    Undeclared { key: String, declared: String },
    #[error("output {key:?} holds a secret the step was given; secrets never leave the step")]
    Secret { key: String },
}

impl OutputError {
    /// The step's reason, from [`reasons`].
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } | Self::RunTooLarge { .. } => reasons::STEP_OUTPUT_TOO_LARGE,
            Self::Malformed { .. } | Self::Duplicate { .. } => reasons::STEP_OUTPUT_MALFORMED,
            Self::Undeclared { .. } => reasons::STEP_OUTPUT_UNDECLARED,
            Self::Secret { .. } => reasons::STEP_OUTPUT_SECRET,
        }
    }
}

/// Reads a step's output file. Blank lines are ignored; a value runs to the end of its line
/// and may hold `=`. `secrets` are the secret values the step was given.
pub fn parse_outputs(
    bytes: &[u8],
    declared: &[String],
    secrets: &[&str],
) -> Result<StepOutputs, OutputError> {
    if bytes.len() > MAX_STEP_OUTPUT {
        return Err(OutputError::TooLarge { size: bytes.len() });
    }
    let text = std::str::from_utf8(bytes).map_err(|e| OutputError::Malformed {
        line: 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count(),
    })?;
    let mut outputs = BTreeMap::new();
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let (key, value) = raw
            .split_once('=')
            .filter(|(k, _)| herald_api::validate::output_key(k).is_ok())
            .ok_or(OutputError::Malformed { line })?;
        if !declared.iter().any(|d| d == key) {
            return Err(OutputError::Undeclared {
                key: key.to_owned(),
                declared: if declared.is_empty() {
                    "none".to_owned()
                } else {
                    declared.join(", ")
                },
            });
        }
        if holds_secret(value, secrets) {
            return Err(OutputError::Secret {
                key: key.to_owned(),
            });
        }
        if outputs.insert(key.to_owned(), value.to_owned()).is_some() {
            return Err(OutputError::Duplicate {
                line,
                key: key.to_owned(),
            });
        }
    }
    Ok(outputs)
}

fn holds_secret(value: &str, secrets: &[&str]) -> bool {
    secrets.iter().filter(|s| !s.is_empty()).any(|secret| {
        value == *secret || (secret.len() >= MIN_SECRET_SEARCHED && value.contains(secret))
    })
}

/// Bytes that outputs count against [`MAX_RUN_OUTPUTS`].
pub fn outputs_size(outputs: &StepOutputs) -> usize {
    outputs.iter().map(|(k, v)| k.len() + v.len() + 2).sum()
}

/// Whether a step's new outputs still fit the run, given the outputs kept so far.
pub fn fits_run(kept: usize, new: &StepOutputs) -> Result<(), OutputError> {
    let total = kept + outputs_size(new);
    if total > MAX_RUN_OUTPUTS {
        return Err(OutputError::RunTooLarge { total });
    }
    Ok(())
}

/// The result a step shows to the steps that need it: `success`, `failure`, `skipped` or
/// `cancelled` (a failure with `continueOnError` shows as `success`, as its dependents see it).
pub fn result_word(state: &StepState, continue_on_error: bool) -> &'static str {
    match state.phase {
        RunPhase::Succeeded => "success",
        RunPhase::Failed | RunPhase::TimedOut if continue_on_error => "success",
        RunPhase::Failed | RunPhase::TimedOut => "failure",
        RunPhase::Skipped => "skipped",
        RunPhase::Cancelled | RunPhase::Pending | RunPhase::Running => "cancelled",
    }
}

/// The `HERALD_NEEDS_*` variables of step `i`: each need's declared outputs that it wrote,
/// and its result.
pub fn needs_env(
    graph: &StepGraph,
    states: &[StepState],
    outputs: &[StepOutputs],
    i: usize,
) -> Vec<(String, String)> {
    let mut env = Vec::new();
    for &n in &graph.nodes()[i].needs {
        let node = &graph.nodes()[n];
        let name = node.step.name.as_str();
        for (key, value) in &outputs[n] {
            env.push((needs_env_name(name, key), value.clone()));
        }
        env.push((
            needs_env_name(name, OUTPUT_RESULT_KEY),
            result_word(&states[n], node.step.continue_on_error).to_owned(),
        ));
    }
    env
}
