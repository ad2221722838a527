//! The targets, judged for each measurement. A miss is printed, never an error.

use crate::hook_latency::HookLatency;
use crate::report::{
    apiserver_alone_per_min, apiserver_per_min, herald_cpu_per_min, mb, min_max, rss_spread,
};
use crate::settings::Mode;
use crate::setup::Measured;

/// The component Herald's Kubernetes Events are reported by.
const HERALD_EVENTS: &str = "herald/";

/// One target: met, missed, or not applicable / not measured (`None`).
struct Verdict {
    holds: Option<bool>,
    text: String,
}

pub fn print(results: &[Measured]) {
    for m in results {
        println!("\n{} mode, {} triggers:", m.mode.name(), m.triggers);
        if m.startup.ready.is_none() {
            println!("  note     /readyz never answered 200 during the warm-up");
        }
        if m.startup.settled.is_none() {
            println!("  note     the first runs had not settled: start-up is in the window");
        }
        if m.startup.incomplete {
            println!("  note     the warm-up ended before every repository was checked twice");
        }
        for v in verdicts(m) {
            let status = match v.holds {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "n/a",
            };
            println!("  {status:<8} {}", v.text);
        }
    }
}

fn verdicts(m: &Measured) -> Vec<Verdict> {
    let mut all = vec![rss(m), flat(m), cpu(m), lateness(m)];
    if m.mode == Mode::Cluster {
        all.push(writes(m));
        all.push(apiserver_cpu(m));
        all.push(hook_to_job(m));
        all.push(step_to_step(m));
    }
    all
}

fn hook_to_job(m: &Measured) -> Verdict {
    let what = "a verified push to its Job: p50 < 50 ms, p99 < 150 ms";
    let Some(hooks) = &m.hook_latency else {
        return not_measured(what);
    };
    let (p50, p99, max) = HookLatency::summary(&hooks.job);
    Verdict {
        holds: Some(p50 < 50.0 && p99 < 150.0),
        text: format!(
            "{what}: p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms ({} deliveries)",
            hooks.job.len()
        ),
    }
}

fn step_to_step(m: &Measured) -> Verdict {
    let what = "step N+1's Job within 200 ms (plus API latency) of step N's Job completing";
    let Some(steps) = &m.step_latency else {
        return not_measured(what);
    };
    let (p50, p99, max) = HookLatency::summary(&steps.next_job);
    let (_, api_p99, _) = HookLatency::summary(&steps.api_baseline);
    Verdict {
        holds: Some(p99 < 200.0 + api_p99),
        text: format!(
            "{what}: p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms ({} hand-overs; \
             a create seen in a watch p99 {api_p99:.1} ms)",
            steps.next_job.len()
        ),
    }
}

fn rss(m: &Measured) -> Verdict {
    let max = mb(min_max(&m.window.rss_kib).1);
    let limit = match m.triggers {
        ..=500 => Some(35.0),
        501..=1000 => Some(40.0),
        _ => None,
    };
    Verdict {
        holds: limit.map(|l| max <= l),
        text: match limit {
            Some(l) => format!("RSS <= {l} MB: max {max:.1} MB"),
            None => format!("RSS: max {max:.1} MB (targets are for 500 and 1,000 triggers)"),
        },
    }
}

fn flat(m: &Measured) -> Verdict {
    let spread = rss_spread(m);
    Verdict {
        holds: Some(spread <= 0.10),
        text: format!(
            "RSS flat within 10% over the window: spread {:.1}%",
            100.0 * spread
        ),
    }
}

fn cpu(m: &Measured) -> Verdict {
    let cpu = herald_cpu_per_min(m);
    Verdict {
        holds: (m.triggers <= 500).then_some(cpu <= 1.5),
        text: format!("Herald CPU <= 1.5 CPU-s/min at 500 triggers: {cpu:.2} CPU-s/min"),
    }
}

fn lateness(m: &Measured) -> Verdict {
    let l = &m.window.lateness;
    Verdict {
        holds: Some(l.p99_s <= 1.0 && l.unchecked == 0),
        text: format!(
            "every trigger checked within interval + 1 s (p99): p99 {:+.2} s, max {:+.2} s, \
             {} repos late, {} unchecked",
            l.p99_s, l.max_s, l.late_repos, l.unchecked
        ),
    }
}

fn writes(m: &Measured) -> Verdict {
    let what = "zero API writes in the window (unchanged repos)";
    let Some(reading) = &m.window.apiserver else {
        return not_measured(what);
    };
    let requests = &reading.requests;
    let leases = requests.total_writes() - requests.writes_without_leases();
    // Events are written by whoever records them: those of other controllers (the Job
    // controller's start-up backlog) are not Herald's, whatever the API server counts.
    let foreign: usize = m
        .events
        .iter()
        .filter(|(what, _)| !what.starts_with(HERALD_EVENTS))
        .map(|(_, n)| n)
        .sum();
    // Without the Herald-stopped baseline the control plane's own writes (its endpoints)
    // cannot be told from Herald's.
    let Some((alone, length)) = &m.apiserver_alone else {
        return not_measured(what);
    };
    let scale = m.window.length.as_secs_f64() / length.as_secs_f64();
    let herald = requests.writes_beyond(&alone.requests, scale, foreign as f64);
    Verdict {
        holds: Some(herald == 0.0),
        text: format!(
            "{what}: {herald:.0} by Herald besides {leases:.0} Lease renewals ({:.0} in all; \
             {foreign} Events of other controllers, the rest at the control plane's own rate)",
            requests.total_writes()
        ),
    }
}

fn apiserver_cpu(m: &Measured) -> Verdict {
    let (Some(with), Some(alone)) = (apiserver_per_min(m), apiserver_alone_per_min(m)) else {
        return not_measured("apiserver CPU <= the no-Herald baseline + 2 CPU-s/min");
    };
    Verdict {
        holds: Some(with <= alone + 2.0),
        text: format!(
            "apiserver CPU <= the no-Herald baseline + 2 CPU-s/min: {with:.2} vs {alone:.2} \
             (+{:.2})",
            with - alone
        ),
    }
}

fn not_measured(what: &str) -> Verdict {
    Verdict {
        holds: None,
        text: format!("{what}: not measured"),
    }
}
