//! The table (one column per mode and trigger count) and the figures behind it.

use std::collections::BTreeSet;

use crate::hook_latency::HookLatency;
use crate::setup::Measured;
use crate::step_latency::StepLatency;

/// Megabytes (10^6 bytes) of a VmRSS in KiB: the targets are read strictly, in MB.
pub fn mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1e6
}

/// RSS spread over the window: (max - min) / min.
pub fn rss_spread(m: &Measured) -> f64 {
    let (min, max) = min_max(&m.window.rss_kib);
    (max - min) as f64 / min.max(1) as f64
}

pub fn min_max(values: &[u64]) -> (u64, u64) {
    let min = values.iter().copied().min().unwrap_or(0);
    let max = values.iter().copied().max().unwrap_or(0);
    (min, max)
}

pub fn herald_cpu_per_min(m: &Measured) -> f64 {
    m.window.per_min(m.window.herald_cpu_s)
}

/// The CPU `git ls-remote` would take for Herald's measured checks per minute.
pub fn ls_remote_per_min(m: &Measured) -> f64 {
    m.ls_remote.cpu_per_min(m.window.checks_per_min())
}

pub fn apiserver_per_min(m: &Measured) -> Option<f64> {
    Some(m.window.per_min(m.window.apiserver.as_ref()?.cpu_s))
}

pub fn apiserver_alone_per_min(m: &Measured) -> Option<f64> {
    let (reading, length) = m.apiserver_alone.as_ref()?;
    Some(reading.cpu_s * 60.0 / length.as_secs_f64())
}

/// Rows of cells, one cell per measurement.
struct Table<'a> {
    results: &'a [Measured],
    rows: Vec<(String, Vec<String>)>,
}

impl Table<'_> {
    fn row(&mut self, label: &str, cell: impl Fn(&Measured) -> String) {
        let cells = self.results.iter().map(cell).collect();
        self.rows.push((label.to_owned(), cells));
    }
}

/// Prints the table.
pub fn print(results: &[Measured]) {
    let mut table = Table {
        results,
        rows: Vec::new(),
    };
    startup_rows(&mut table);
    herald_rows(&mut table);
    check_rows(&mut table);
    apiserver_rows(&mut table);
    print_rows(results, &table.rows);
}

fn startup_rows(table: &mut Table<'_>) {
    let mut row = |label: &str, cell: &dyn Fn(&Measured) -> String| table.row(label, cell);
    row("triggers / repositories", &|m| {
        format!("{} / {}", m.triggers, m.repos)
    });
    row("/readyz 200 after (s)", &|m| {
        m.startup
            .ready
            .map_or("never".into(), |d| format!("{:.1}", d.as_secs_f64()))
    });
    row("all checked once after (s)", &|m| {
        m.startup
            .first_round
            .map_or("never".into(), |d| format!("{:.1}", d.as_secs_f64()))
    });
    row("first runs settled after (s)", &|m| {
        m.startup
            .settled
            .map_or("never".into(), |d| format!("{:.1}", d.as_secs_f64()))
    });
    row("window (s)", &|m| {
        format!("{:.0}", m.window.length.as_secs_f64())
    });
}

/// Herald's process: memory, threads, CPU, and what `git ls-remote` costs for as much.
fn herald_rows(table: &mut Table<'_>) {
    let mut row = |label: &str, cell: &dyn Fn(&Measured) -> String| table.row(label, cell);
    row("RSS start / end (MB)", &|m| {
        let rss = &m.window.rss_kib;
        let (first, last) = (rss.first().copied(), rss.last().copied());
        format!(
            "{:.1} / {:.1}",
            mb(first.unwrap_or(0)),
            mb(last.unwrap_or(0))
        )
    });
    row("RSS min / max (MB)", &|m| {
        let (min, max) = min_max(&m.window.rss_kib);
        format!("{:.1} / {:.1}", mb(min), mb(max))
    });
    row("RSS spread (max-min)/min", &|m| {
        format!("{:.1}%", 100.0 * rss_spread(m))
    });
    row("threads min / max", &|m| {
        let (min, max) = min_max(&m.window.threads);
        format!("{min} / {max}")
    });
    row("Herald CPU-s/min", &|m| {
        format!("{:.2}", herald_cpu_per_min(m))
    });
    row("git ls-remote, same checks: CPU-s/min", &|m| {
        format!("{:.2}", ls_remote_per_min(m))
    });
    row("  (ls-remote CPU ms per call)", &|m| {
        format!(
            "{:.1}",
            1000.0 * m.ls_remote.cpu_s / m.ls_remote.calls.max(1) as f64
        )
    });
}

/// What reached the Git server, and when.
fn check_rows(table: &mut Table<'_>) {
    let mut row = |label: &str, cell: &dyn Fn(&Measured) -> String| table.row(label, cell);
    row("checks/min (expected)", &|m| {
        // One per trigger per interval (fewer only if Herald lists a shared URL once).
        let expected = m.triggers as f64 * 60.0 / m.interval.as_secs_f64();
        format!("{:.0} ({:.0})", m.window.checks_per_min(), expected)
    });
    row("Git client (User-Agent)", &|m| {
        let agents: Vec<&str> = m.window.agents.keys().map(String::as_str).collect();
        agents.join(", ")
    });
    row("POST ls-refs / fetch per min", &|m| {
        let r = m.window.requests;
        let per_min = |n: u64| m.window.per_min(n as f64);
        format!("{:.0} / {:.0}", per_min(r.ls_refs), per_min(r.fetches))
    });
    row("lateness p50 / p99 / max (s)", &|m| {
        let l = &m.window.lateness;
        format!("{:.2} / {:.2} / {:.2}", l.p50_s, l.p99_s, l.max_s)
    });
    row("repos late > 1 s / unchecked", &|m| {
        let l = &m.window.lateness;
        format!("{} / {}", l.late_repos, l.unchecked)
    });
    row("checks per repo min / max", &|m| {
        let l = &m.window.lateness;
        format!("{} / {}", l.checks_min, l.checks_max)
    });
    row("hook answered p50 / p99 / max (ms)", &|m| {
        hook_row(m, |h| &h.answered)
    });
    row("hook to Job p50 / p99 / max (ms)", &|m| {
        hook_row(m, |h| &h.job)
    });
    row("step Job end to next Job p50 / p99 / max (ms)", &|m| {
        step_row(m, |s| &s.next_job)
    });
    row("API create to watch p50 / p99 / max (ms)", &|m| {
        step_row(m, |s| &s.api_baseline)
    });
    row("git server (http-backend) CPU-s/min", &|m| {
        format!("{:.2}", m.window.per_min(m.window.git_server_cpu_s))
    });
    row("Git server errors in window", &|m| {
        m.window.requests.errors.to_string()
    });
    row("runs at window start / end", &|m| {
        format!("{} / {}", m.runs.0, m.runs.1)
    });
    row("Herald warnings in window", &|m| {
        m.window.warnings.to_string()
    });
}

fn apiserver_rows(table: &mut Table<'_>) {
    let results = table.results;
    if results.iter().all(|m| m.window.apiserver.is_none()) {
        return;
    }
    let mut row = |label: &str, cell: &dyn Fn(&Measured) -> String| table.row(label, cell);
    let dash = || "-".to_owned();
    row("apiserver CPU-s/min", &|m| {
        apiserver_per_min(m).map_or_else(dash, |c| format!("{c:.2}"))
    });
    row("apiserver CPU-s/min, Herald stopped", &|m| {
        apiserver_alone_per_min(m).map_or_else(dash, |c| format!("{c:.2}"))
    });
    let verbs: BTreeSet<String> = results
        .iter()
        .filter_map(|m| m.window.apiserver.as_ref())
        .flat_map(|r| r.requests.by_verb().into_keys())
        .collect();
    for verb in verbs {
        row(&format!("API {verb}/min"), &|m| {
            m.window.apiserver.as_ref().map_or_else(dash, |r| {
                let n = r.requests.by_verb().get(&verb).copied().unwrap_or(0.0);
                format!("{:.1}", m.window.per_min(n))
            })
        });
    }
    row("API writes in window (no leases)", &|m| {
        m.window.apiserver.as_ref().map_or_else(dash, |r| {
            format!(
                "{:.0} ({:.0})",
                r.requests.total_writes(),
                r.requests.writes_without_leases()
            )
        })
    });
    row("API writes, Herald stopped", &|m| {
        m.apiserver_alone
            .as_ref()
            .map_or_else(dash, |(r, _)| format!("{:.0}", r.requests.total_writes()))
    });
}

fn print_rows(results: &[Measured], rows: &[(String, Vec<String>)]) {
    let label_width = rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    let heads: Vec<String> = results
        .iter()
        .map(|m| format!("{} {}", m.mode.name(), m.triggers))
        .collect();
    // Each column as wide as its widest cell.
    let widths: Vec<usize> = (0..results.len())
        .map(|c| {
            rows.iter()
                .map(|(_, cells)| cells[c].len())
                .chain([heads[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |label: &str, cells: &[String]| {
        let mut line = format!("{label:<label_width$}");
        for (cell, width) in cells.iter().zip(&widths) {
            line.push_str(&format!("  {cell:>width$}"));
        }
        line
    };
    println!("{}", line("", &heads));
    for (label, cells) in rows {
        println!("{}", line(label, cells));
    }
}

/// The writes of each cluster measurement, most first (what a "zero writes" miss is made of).
pub fn print_writes(results: &[Measured]) {
    for m in results {
        let Some(reading) = &m.window.apiserver else {
            continue;
        };
        let writes: Vec<String> = reading
            .requests
            .writes()
            .iter()
            .take(8)
            .map(|(what, n)| format!("{n:.0} {what}"))
            .collect();
        let label = format!("{} {}", m.mode.name(), m.triggers);
        if !writes.is_empty() {
            println!("API writes in the {label} window: {}", writes.join(", "));
        }
        let events: Vec<String> = m
            .events
            .iter()
            .take(8)
            .map(|(what, n)| format!("{n} {what}"))
            .collect();
        if !events.is_empty() {
            println!(
                "Events created in the {label} window: {}",
                events.join(", ")
            );
        }
    }
}

/// A hook latency row: p50 / p99 / max of what `pick` takes, blank where none was measured.
fn hook_row(m: &Measured, pick: impl Fn(&HookLatency) -> &Vec<f64>) -> String {
    let Some(hooks) = &m.hook_latency else {
        return String::new();
    };
    let (p50, p99, max) = HookLatency::summary(pick(hooks));
    format!("{p50:.1} / {p99:.1} / {max:.1}")
}

/// A step latency row, as [`hook_row`].
fn step_row(m: &Measured, pick: impl Fn(&StepLatency) -> &Vec<f64>) -> String {
    let Some(steps) = &m.step_latency else {
        return String::new();
    };
    let (p50, p99, max) = HookLatency::summary(pick(steps));
    format!("{p50:.1} / {p99:.1} / {max:.1}")
}
