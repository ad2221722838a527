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
    writeln!(out, "History:")?;
    for step in &detail.history {
        writeln!(
            out,
            "  {}  {:<10} {:<18} {}",
            stamp(step.at),
            step.phase.to_string(),
            step.reason,
            step.message.as_deref().unwrap_or("")
        )?;
    }
    if let Some(output) = detail.output.as_deref().filter(|o| !o.is_empty()) {
        writeln!(out, "Output:")?;
        for line in output.lines() {
            writeln!(out, "  | {line}")?;
        }
    }
    Ok(())
}

fn short(revision: &str) -> &str {
    revision.get(..8).unwrap_or(revision)
}

fn stamp(at: Timestamp) -> String {
    at.strftime("%Y-%m-%d %H:%M:%S%.3f").to_string()
}
