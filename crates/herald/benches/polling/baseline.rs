//! The bare cost of a check: `git ls-remote URL refs/heads/main` against the same server
//! (protocol v2, like Herald: `GET info/refs`, then `ls-refs` for that prefix).

use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::procfs;

/// One `sh` runs the calls one after another and then prints its own `/proc` stat: its
/// cutime/cstime hold exactly the CPU of the git processes it waited for (ls-remote and its
/// `git-remote-http` helper), and nothing of this process's other children (the server's CGIs).
const SCRIPT: &str = r#"for url; do git ls-remote "$url" refs/heads/main >/dev/null || exit 1; done
cat /proc/$$/stat"#;

/// What the calls cost.
#[derive(Debug, Clone, Copy)]
pub struct LsRemote {
    pub calls: usize,
    pub cpu_s: f64,
    pub elapsed: Duration,
}

impl LsRemote {
    /// CPU-s per minute at `checks_per_min` calls a minute.
    pub fn cpu_per_min(&self, checks_per_min: f64) -> f64 {
        self.cpu_s / self.calls.max(1) as f64 * checks_per_min
    }
}

/// Runs one `git ls-remote` per URL.
pub fn measure(urls: &[String]) -> anyhow::Result<LsRemote> {
    let started = Instant::now();
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(SCRIPT)
        .arg("sh")
        .args(urls)
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .context("running git ls-remote")?;
    if !out.status.success() {
        bail!(
            "git ls-remote failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (_, children) = procfs::cpu_from_stat(&String::from_utf8_lossy(&out.stdout))?;
    Ok(LsRemote {
        calls: urls.len(),
        cpu_s: children,
        elapsed: started.elapsed(),
    })
}
