//! Printing runs for people (tables, text) and programs (JSON).

use std::io::Write;

use herald_store::{RunDetail, RunRecord};
use jiff::Timestamp;

use crate::cli::{OutputFormat, ShowFormat};

pub fn print_runs(runs: &[RunRecord], format: OutputFormat) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if let OutputFormat::Json = format {
        serde_json::to_writer_pretty(&mut out, runs)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<5} {:<28} {:<10} {:<22} {:<16} {:<9} {:<10} CREATED",
        "ID", "NAME", "PHASE", "TRIGGER", "SOURCE", "REVISION", "CAUSE"
    )?;
    for run in runs {
        writeln!(
            out,
            "{:<5} {:<28} {:<10} {:<22} {:<16} {:<9} {:<10} {}",
            run.id,
            run.name,
            run.phase.to_string(),
            format!("{}/{}", run.namespace, run.trigger),
            run.source,
            short(&run.revision),
            run.cause.to_string(),
            run.created_at.strftime("%Y-%m-%d %H:%M:%S")
        )?;
    }
    if runs.is_empty() {
        writeln!(out, "(no runs)")?;
    }
    Ok(())
}

pub fn print_run(detail: &RunDetail, format: ShowFormat) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if let ShowFormat::Json = format {
        serde_json::to_writer_pretty(&mut out, detail)?;
        writeln!(out)?;
        return Ok(());
    }
    let run = &detail.run;
    writeln!(out, "Run:       {} ({})", run.id, run.name)?;
    writeln!(out, "Phase:     {}", run.phase)?;
    writeln!(
        out,
        "Trigger:   {} {}/{}",
        run.trigger_kind, run.namespace, run.trigger
    )?;
    writeln!(out, "Source:    {} {}", run.source_kind, run.source)?;
    writeln!(out, "Ref:       {}", run.git_ref.as_deref().unwrap_or("-"))?;
    writeln!(out, "Revision:  {}", run.revision)?;
    writeln!(out, "Action:    {} {}", run.action_kind, run.action)?;
    writeln!(out, "Cause:     {}", run.cause)?;
    if let Some(code) = run.exit_code {
        writeln!(out, "Exit code: {code}")?;
    }
    if let Some(message) = &run.message {
        writeln!(out, "Message:   {message}")?;
    }
    if !detail.steps.is_empty() {
        print_steps(&mut out, detail)?;
    }
    writeln!(out, "History:")?;
    for t in &detail.history {
        // The run's own moves, then each step's as `step#attempt  from -> to`.
        let what = match (&t.step, t.attempt) {
            (Some(step), Some(attempt)) => format!("{step}#{attempt}"),
            (Some(step), None) => step.clone(),
            (None, _) => "run".to_owned(),
        };
        let moved = match t.from {
            Some(from) => format!("{from} -> {}", t.phase),
            None => t.phase.to_string(),
        };
        writeln!(
            out,
            "  {}  {:<16} {:<22} {:<18} {}",
            stamp(t.at),
            what,
            moved,
            t.reason,
            t.message.as_deref().unwrap_or("")
        )?;
    }
    if detail.steps.len() > 1 {
        // Each step's own output, its last lines: `-o json` has all that was kept.
        for s in &detail.steps {
            if let Some(output) = s.output.as_deref().filter(|o| !o.is_empty()) {
                writeln!(out, "Output of {}:", s.name)?;
                print_tail(&mut out, output, STEP_OUTPUT_LINES)?;
            }
        }
    } else if let Some(output) = detail.output.as_deref().filter(|o| !o.is_empty()) {
        writeln!(out, "Output:")?;
        print_tail(&mut out, output, usize::MAX)?;
    }
    Ok(())
}

/// Lines of each step's output `herald runs show` prints for a multi-step run.
const STEP_OUTPUT_LINES: usize = 20;

fn print_tail(out: &mut impl Write, output: &str, lines: usize) -> anyhow::Result<()> {
    let all: Vec<&str> = output.lines().collect();
    let skipped = all.len().saturating_sub(lines);
    if skipped > 0 {
        writeln!(out, "  | ({skipped} lines before)")?;
    }
    for line in &all[skipped..] {
        writeln!(out, "  | {line}")?;
    }
    Ok(())
}

/// One line per step: phase, attempt, exit code, duration and what it passed on.
fn print_steps(out: &mut impl Write, detail: &RunDetail) -> anyhow::Result<()> {
    writeln!(out, "Steps:")?;
    for s in &detail.steps {
        let took = match (s.started_at, s.finished_at) {
            (Some(start), Some(end)) => {
                let ms = end.duration_since(start).as_millis();
                format!("{:.1}s", ms as f64 / 1000.0)
            }
            _ => "-".to_owned(),
        };
        let outputs: Vec<String> = s.outputs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        writeln!(
            out,
            "  {:<20} {:<10} attempt {:<2} exit {:<4} {:>7}  {} {}",
            s.name,
            s.phase.to_string(),
            s.attempt,
            s.exit_code
                .map_or_else(|| "-".to_owned(), |c| c.to_string()),
            took,
            s.reason.as_deref().unwrap_or(""),
            if outputs.is_empty() {
                s.message.clone().unwrap_or_default()
            } else {
                format!("-> {}", outputs.join(" "))
            }
        )?;
    }
    Ok(())
}

fn short(revision: &str) -> &str {
    revision.get(..8).unwrap_or(revision)
}

fn stamp(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M:%S%.3f").to_string()
}
