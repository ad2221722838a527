//! Running an action as a local process in a fresh checkout of the run's revision.

use std::path::{Component, Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use herald_api::{ActionJob, reasons};
use herald_core::WORKDIR_ENV;
use herald_git::Remote;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;
use tokio::process::Command;

/// Most output kept per run: its tail, which is where failures show.
pub const OUTPUT_LIMIT: usize = 64 * 1024;
/// Deadline when the action sets none, so a stuck process cannot hold a slot forever.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(3600);

/// Everything one process run needs.
#[derive(Debug)]
pub struct ProcessSpec<'a> {
    pub job: &'a ActionJob,
    pub remote: &'a Remote,
    pub git_ref: Option<&'a str>,
    pub revision: &'a str,
    /// `HERALD_*` and the action's own variables ([`WORKDIR_ENV`] is added here).
    pub env: Vec<(String, String)>,
    /// Folder under which the temporary checkout is made.
    pub work_root: &'a Path,
}

/// How a process run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessOutcome {
    pub succeeded: bool,
    pub exit_code: Option<i32>,
    /// Short machine reason: `Completed`, `Error`, `DeadlineExceeded`, `CheckoutFailed`, `StartFailed`.
    pub reason: &'static str,
    pub message: String,
    /// Interleaved stdout and stderr, the last [`OUTPUT_LIMIT`] bytes.
    pub output: String,
}

impl ProcessOutcome {
    fn failed(reason: &'static str, message: String) -> Self {
        Self {
            succeeded: false,
            exit_code: None,
            reason,
            message,
            output: String::new(),
        }
    }
}

/// Check out the revision into a temporary folder, run the action there, and clean up.
pub async fn run_process(spec: ProcessSpec<'_>) -> ProcessOutcome {
    let checkout = match prepare_checkout(&spec).await {
        Ok(dir) => dir,
        Err(message) => return ProcessOutcome::failed("CheckoutFailed", message),
    };
    let workdir = match working_dir(checkout.path(), spec.job.workdir.as_deref()) {
        Ok(dir) => dir,
        Err(message) => return ProcessOutcome::failed("StartFailed", message),
    };
    let deadline = spec
        .job
        .active_deadline_seconds
        .and_then(|s| u64::try_from(s).ok())
        .map_or(DEFAULT_DEADLINE, Duration::from_secs);
    let mut env = spec.env;
    env.push((WORKDIR_ENV.into(), checkout.path().display().to_string()));
    run_command(spec.job, &workdir, &env, deadline).await
}

async fn prepare_checkout(spec: &ProcessSpec<'_>) -> Result<tempfile::TempDir, String> {
    std::fs::create_dir_all(spec.work_root)
        .map_err(|e| format!("cannot create {}: {e}", spec.work_root.display()))?;
    let dir = tempfile::Builder::new()
        .prefix("run-")
        .tempdir_in(spec.work_root)
        .map_err(|e| format!("cannot create a work folder: {e}"))?;
    let remote = spec.remote.clone();
    let git_ref = spec.git_ref.map(str::to_owned);
    let revision = spec.revision.to_owned();
    let dest = dir.path().to_path_buf();
    // libgit2 blocks: keep it off the async workers.
    tokio::task::spawn_blocking(move || {
        herald_git::checkout(&remote, git_ref.as_deref(), &revision, &dest)
    })
    .await
    .map_err(|e| format!("checkout task failed: {e}"))?
    .map_err(|e| format!("checkout of {} failed: {e}", spec.revision))?;
    Ok(dir)
}

/// The action's working folder: `workdir` inside the checkout, never outside it.
fn working_dir(checkout: &Path, workdir: Option<&str>) -> Result<PathBuf, String> {
    let Some(rel) = workdir.filter(|w| !w.is_empty()) else {
        return Ok(checkout.to_path_buf());
    };
    let rel = Path::new(rel);
    if rel
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
    {
        return Err(format!(
            "workdir {} must be a relative path inside the checkout",
            rel.display()
        ));
    }
    let dir = checkout.join(rel);
    if !dir.is_dir() {
        return Err(format!(
            "workdir {} does not exist in the checkout",
            rel.display()
        ));
    }
    Ok(dir)
}

async fn run_command(
    job: &ActionJob,
    workdir: &Path,
    env: &[(String, String)],
    deadline: Duration,
) -> ProcessOutcome {
    let Some((program, leading_args)) = job.command.split_first() else {
        return ProcessOutcome::failed("StartFailed", "the action has no command".into());
    };
    let (reader, writer) = match std::io::pipe() {
        Ok(pair) => pair,
        Err(e) => {
            return ProcessOutcome::failed("StartFailed", format!("cannot create a pipe: {e}"));
        }
    };
    let mut command = Command::new(program);
    command
        .args(leading_args)
        .args(&job.args)
        .current_dir(workdir)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        // Its own process group, so a deadline stops the children it started too.
        .process_group(0)
        .kill_on_drop(true);
    match writer.try_clone() {
        Ok(second) => command.stdout(writer).stderr(second),
        Err(e) => {
            return ProcessOutcome::failed("StartFailed", format!("cannot share the pipe: {e}"));
        }
    };
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            return ProcessOutcome::failed("StartFailed", format!("cannot start {program:?}: {e}"));
        }
    };
    // Our copies of the pipe's write end must close, or reading never ends.
    drop(command);
    let output = tokio::spawn(read_tail(reader));
    let group = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw);
    let status = tokio::time::timeout(deadline, child.wait()).await;
    // Whether it finished or ran out of time, nothing it started may outlive it (as in a
    // Pod), and leftovers would hold the output pipe open.
    if let Some(group) = group {
        let _ = killpg(group, Signal::SIGKILL);
    }
    if status.is_err() {
        let _ = child.wait().await;
    }
    let output = output.await.unwrap_or_default();
    match status {
        Err(_) => ProcessOutcome {
            succeeded: false,
            exit_code: None,
            reason: reasons::RUN_DEADLINE_EXCEEDED,
            message: format!("stopped after the deadline of {}s", deadline.as_secs()),
            output,
        },
        Ok(Err(e)) => ProcessOutcome {
            output,
            ..ProcessOutcome::failed(reasons::RUN_ERROR, format!("wait failed: {e}"))
        },
        Ok(Ok(status)) => ProcessOutcome {
            succeeded: status.success(),
            exit_code: status.code(),
            reason: if status.success() {
                reasons::RUN_COMPLETED
            } else {
                reasons::RUN_ERROR
            },
            message: match status.code() {
                Some(code) => format!("exited with code {code}"),
                None => format!("ended by a signal ({status})"),
            },
            output,
        },
    }
}

/// Read a pipe to its end, keeping only the last [`OUTPUT_LIMIT`] bytes.
async fn read_tail(reader: std::io::PipeReader) -> String {
    let owned = std::os::fd::OwnedFd::from(reader);
    let Ok(mut pipe) = tokio::net::unix::pipe::Receiver::from_owned_fd(owned) else {
        return String::new();
    };
    let mut tail: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    while let Ok(n) = pipe.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        tail.extend_from_slice(&chunk[..n]);
        if tail.len() > 2 * OUTPUT_LIMIT {
            tail.drain(..tail.len() - OUTPUT_LIMIT);
        }
    }
    if tail.len() > OUTPUT_LIMIT {
        tail.drain(..tail.len() - OUTPUT_LIMIT);
    }
    String::from_utf8_lossy(&tail).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workdir_stays_inside_the_checkout() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        assert_eq!(working_dir(dir.path(), None).unwrap(), dir.path());
        assert_eq!(
            working_dir(dir.path(), Some("sub")).unwrap(),
            dir.path().join("sub")
        );
        assert!(working_dir(dir.path(), Some("../etc")).is_err());
        assert!(working_dir(dir.path(), Some("/etc")).is_err());
        assert!(
            working_dir(dir.path(), Some("missing"))
                .unwrap_err()
                .contains("does not exist")
        );
    }
}
