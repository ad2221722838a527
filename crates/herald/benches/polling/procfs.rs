//! What the kernel says about a process: CPU time, resident memory, threads.

use std::sync::OnceLock;

use anyhow::{Context, bail};

/// One reading of `/proc/PID/stat` and `/proc/PID/status`.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// utime + stime of the process (all its threads), in seconds.
    pub cpu_s: f64,
    /// utime + stime of its children that have been waited for, in seconds.
    pub children_cpu_s: f64,
    pub rss_kib: u64,
    pub threads: u64,
}

/// Reads process `pid` now.
pub fn sample(pid: u32) -> anyhow::Result<Sample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("process {pid} is gone"))?;
    let (cpu_s, children_cpu_s) = cpu_from_stat(&stat)?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("process {pid} is gone"))?;
    Ok(Sample {
        cpu_s,
        children_cpu_s,
        rss_kib: status_field(&status, "VmRSS:").context("no VmRSS")?,
        threads: status_field(&status, "Threads:").context("no Threads")?,
    })
}

/// (utime + stime, cutime + cstime) in seconds from the text of a `/proc/PID/stat`.
pub fn cpu_from_stat(stat: &str) -> anyhow::Result<(f64, f64)> {
    // The command name may hold spaces and parentheses; the fields follow the last ')'.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        bail!("unreadable stat: {stat:?}");
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14-17 of proc(5) (utime, stime, cutime, cstime); `rest` starts at field 3.
    let tick = |n: usize| -> anyhow::Result<f64> {
        let value: u64 = fields
            .get(n - 3)
            .and_then(|f| f.parse().ok())
            .with_context(|| format!("stat field {n} missing"))?;
        Ok(value as f64 / clock_ticks())
    };
    Ok((tick(14)? + tick(15)?, tick(16)? + tick(17)?))
}

fn status_field(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on every Linux this runs on).
fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}
