//! Load from `wrk` (Debian's `wrk` package), when it is installed: written in C, it leaves
//! more of the two cores to the server than the Rust generator does.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::figures::Figures;

/// Sends the signed body with a fresh `X-GitHub-Delivery` per request (thread id + counter).
const HOOK_SCRIPT: &str = r#"
local next_thread = 0
function setup(thread)
  next_thread = next_thread + 1
  thread:set("thread_id", next_thread)
end
function init(args)
  local file = assert(io.open(args[1], "rb"))
  wrk.method = "POST"
  wrk.body = file:read("*a")
  file:close()
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-GitHub-Event"] = "push"
  wrk.headers["X-Hub-Signature-256"] = args[2]
  prefix = "wrk-" .. args[3] .. "-" .. thread_id .. "-"
  counter = 0
end
function request()
  counter = counter + 1
  wrk.headers["X-GitHub-Delivery"] = prefix .. counter
  return wrk.format()
end
"#;

/// Whether `wrk` can be run.
pub fn available() -> bool {
    Command::new("wrk")
        .arg("--version")
        .output()
        .is_ok_and(|o| !o.stdout.is_empty() || !o.stderr.is_empty())
}

/// What `wrk` is asked to load.
pub enum Wrk<'a> {
    Health,
    Hook {
        trigger: &'a str,
        body: &'a Path,
        signature: &'a str,
        /// Sets these deliveries' ids apart from other runs'.
        run: &'a str,
    },
}

/// Runs `wrk` for `length` with `connections` over two threads and reads its figures.
pub fn run(
    listen: SocketAddr,
    target: &Wrk<'_>,
    length: Duration,
    connections: usize,
    scratch: &Path,
) -> Result<Figures, String> {
    let mut command = Command::new("wrk");
    command
        .args(["--latency", "-t2", "-c"])
        .arg(connections.to_string())
        .arg("-d")
        .arg(format!("{}s", length.as_secs().max(1)));
    match target {
        Wrk::Health => {
            command.arg(format!("http://{listen}/healthz"));
        }
        Wrk::Hook {
            trigger,
            body,
            signature,
            run,
        } => {
            let script = scratch.join("hook.lua");
            std::fs::write(&script, HOOK_SCRIPT).map_err(|e| format!("writing {script:?}: {e}"))?;
            command
                .arg("-s")
                .arg(&script)
                .arg(crate::server::hook_url(listen, trigger))
                .arg("--")
                .arg(body)
                .arg(signature)
                .arg(run);
        }
    }
    let out = command.output().map_err(|e| format!("running wrk: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "wrk failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    parse(&text).ok_or_else(|| format!("cannot read wrk's output:\n{text}"))
}

/// Reads `Requests/sec`, the 50% and 99% latencies and the error lines of `wrk --latency`.
fn parse(text: &str) -> Option<Figures> {
    let value = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|l| l.strip_prefix(prefix))
            .map(str::trim)
    };
    let errors: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("Non-2xx") || l.starts_with("Socket errors"))
        .collect();
    let requests = text
        .lines()
        .find(|l| l.contains("requests in"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(Figures {
        requests,
        per_second: value("Requests/sec:")?.parse().ok()?,
        p50_ms: millis(value("50%")?)?,
        p99_ms: millis(value("99%")?)?,
        errors: if errors.is_empty() {
            "none".into()
        } else {
            errors.join("; ")
        },
    })
}

/// `123.45us`, `1.20ms`, `2.00s` in milliseconds.
fn millis(text: &str) -> Option<f64> {
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|n| n * scale)
}
