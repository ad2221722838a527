//! Reading one sample out of a `/metrics` scrape, for tests that check a value, and holding a
//! whole scrape to the README's metrics table.

use std::io::Write;
use std::process::{Command, Stdio};

/// The value of the sample written exactly `name` (labels included, as served:
/// `herald_runs_created_total{trigger_kind="ScheduleTrigger",cause="Change"}`), if served.
pub fn metric_sample(scrape: &str, name: &str) -> Option<f64> {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.split(' ').next()?.parse().ok())
}

/// Which of the README's rows a scrape must serve: local mode has no controllers, so the rows
/// that say "cluster mode" are not required of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScrapeOf {
    Local,
    Cluster,
}

/// Holds `scrape` to the README's metrics table with `scripts/check-metrics.py`, which parses
/// it with the Prometheus project's own OpenMetrics parser (Debian's
/// python3-prometheus-client): every documented family served, nothing undocumented. Panics
/// with the checker's report when they differ. Returns the report, or `None` when python3 or
/// its parser is missing outside CI (in CI that fails the test).
pub fn check_scrape_against_readme(scrape: &str, of: ScrapeOf) -> Option<String> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let Some(python) = python_with_parser() else {
        let why = "python3 with prometheus_client (Debian: python3-prometheus-client) is missing";
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("SKIPPED: {why}");
        return None;
    };
    let mut checker = Command::new(python);
    checker
        .arg(format!("{root}/scripts/check-metrics.py"))
        .arg(format!("{root}/README.md"));
    if of == ScrapeOf::Local {
        checker.arg("--local");
    }
    let mut child = (checker.stdin(Stdio::piped()).stdout(Stdio::piped()))
        .spawn()
        .expect("the metrics checker starts");
    (child.stdin.take().expect("piped"))
        .write_all(scrape.as_bytes())
        .expect("the scrape reaches the checker");
    let output = child.wait_with_output().expect("the metrics checker ends");
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{report}\n{scrape}");
    Some(report)
}

/// Debian's interpreter first (where the package installs the parser): a `python3` earlier on
/// the PATH (pyenv, a virtualenv) may not see it.
fn python_with_parser() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"].into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import prometheus_client.openmetrics.parser"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    })
}

#[cfg(test)]
mod tests {
    use super::metric_sample;

    #[test]
    fn a_sample_is_found_by_its_whole_name() {
        let scrape = "# TYPE herald_leader gauge\nherald_leader 1\n\
                      herald_hooks_total{status=\"200\"} 3 1700000000\nherald_leader_x 7\n";
        assert_eq!(metric_sample(scrape, "herald_leader"), Some(1.0));
        assert_eq!(
            metric_sample(scrape, r#"herald_hooks_total{status="200"}"#),
            Some(3.0)
        );
        assert_eq!(metric_sample(scrape, "herald_hooks_total"), None);
        assert_eq!(metric_sample(scrape, "herald_missing"), None);
    }
}
