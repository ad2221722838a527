//! Local processes for a run's steps: the run's checkout, a worktree per step attempt, and a
//! process group per attempt with its deadline.

use std::path::{Component, Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use herald_api::{RunPhase, reasons};
use herald_git::Remote;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::AsyncReadExt;

/// Most output kept per run: its tail, which is where failures show.
pub const OUTPUT_LIMIT: usize = 64 * 1024;

/// How long a step's process group has between SIGTERM and SIGKILL at its deadline or when
/// it is cancelled.
pub const STOP_GRACE: Duration = Duration::from_secs(10);

/// How a process run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessOutcome {
    /// `Succeeded`, `Failed`, `TimedOut` or `Cancelled`.
    pub phase: RunPhase,
    pub exit_code: Option<i32>,
    /// Short machine reason, from [`reasons`].
    pub reason: &'static str,
    pub message: String,
    /// Interleaved stdout and stderr, the last [`OUTPUT_LIMIT`] bytes.
    pub output: String,
}

impl ProcessOutcome {
    pub(crate) fn failed(reason: &'static str, message: String) -> Self {
        Self {
            phase: RunPhase::Failed,
            exit_code: None,
            reason,
            message,
            output: String::new(),
        }
    }
}

/// Fetch `revision` of `remote` into a fresh folder under `work_root`: the run's one checkout,
/// which its steps' worktrees share.
pub async fn prepare_checkout(
    remote: &Remote,
    git_ref: Option<&str>,
    revision: &str,
    work_root: &Path,
) -> Result<tempfile::TempDir, String> {
    std::fs::create_dir_all(work_root)
        .map_err(|e| format!("cannot create {}: {e}", work_root.display()))?;
    let dir = tempfile::Builder::new()
        .prefix("run-")
        .tempdir_in(work_root)
        .map_err(|e| format!("cannot create a work folder: {e}"))?;
    let remote = remote.clone();
    let git_ref = git_ref.map(str::to_owned);
    let rev = revision.to_owned();
    let dest = dir.path().join("checkout");
    // libgit2 blocks: keep it off the async workers.
    tokio::task::spawn_blocking(move || {
        herald_git::checkout(&remote, git_ref.as_deref(), &rev, &dest)
    })
    .await
    .map_err(|e| format!("checkout task failed: {e}"))?
    .map_err(|e| format!("checkout of {revision} failed: {e}"))?;
    Ok(dir)
}

/// A worktree of the run's checkout for one step attempt, at `dest`.
pub async fn add_worktree(checkout: PathBuf, name: String, dest: PathBuf) -> Result<(), String> {
    tokio::task::spawn_blocking(move || herald_git::add_worktree(&checkout, &name, &dest))
        .await
        .map_err(|e| format!("worktree task failed: {e}"))?
        .map_err(|e| e.to_string())
}

/// The action's working folder: `workdir` inside the checkout, never outside it.
pub fn working_dir(checkout: &Path, workdir: Option<&str>) -> Result<PathBuf, String> {
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

/// What one process runs, where, and for how long.
#[derive(Debug)]
pub struct Command<'a> {
    pub command: &'a [String],
    pub args: &'a [String],
    pub workdir: &'a Path,
    pub env: &'a [(String, String)],
    pub deadline: Duration,
}

/// Runs a command in its own process group until it exits, its deadline passes or `cancel`
/// resolves; then nothing it started outlives it.
pub async fn run_command(
    spec: Command<'_>,
    cancel: impl std::future::Future<Output = ()>,
) -> ProcessOutcome {
    let Some((program, leading_args)) = spec.command.split_first() else {
        return ProcessOutcome::failed("StartFailed", "the step has no command".into());
    };
    let (reader, writer) = match std::io::pipe() {
        Ok(pair) => pair,
        Err(e) => {
            return ProcessOutcome::failed("StartFailed", format!("cannot create a pipe: {e}"));
        }
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(leading_args)
        .args(spec.args)
        .current_dir(spec.workdir)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
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
    let ended = tokio::select! {
        status = child.wait() => Ended::Exited(status),
        () = tokio::time::sleep(spec.deadline) => Ended::Deadline,
        () = cancel => Ended::Cancelled,
    };
    if !matches!(ended, Ended::Exited(_)) {
        stop_gracefully(&mut child, group).await;
    }
    // Whether it finished or was stopped, nothing it started may outlive it (as in a Pod),
    // and leftovers would hold the output pipe open.
    if let Some(group) = group {
        let _ = killpg(group, Signal::SIGKILL);
    }
    let output = output.await.unwrap_or_default();
    outcome(ended, spec.deadline, output)
}

enum Ended {
    Exited(std::io::Result<std::process::ExitStatus>),
    Deadline,
    Cancelled,
}

/// SIGTERM to the group, then SIGKILL once [`STOP_GRACE`] has passed.
async fn stop_gracefully(child: &mut tokio::process::Child, group: Option<Pid>) {
    if let Some(group) = group {
        let _ = killpg(group, Signal::SIGTERM);
    }
    if tokio::time::timeout(STOP_GRACE, child.wait())
        .await
        .is_err()
    {
        if let Some(group) = group {
            let _ = killpg(group, Signal::SIGKILL);
        }
        let _ = child.wait().await;
    }
}

fn outcome(ended: Ended, deadline: Duration, output: String) -> ProcessOutcome {
    match ended {
        Ended::Deadline => ProcessOutcome {
            phase: RunPhase::TimedOut,
            exit_code: None,
            reason: reasons::RUN_DEADLINE_EXCEEDED,
            message: format!(
                "stopped after its timeout of {}",
                humantime::format_duration(deadline)
            ),
            output,
        },
        Ended::Cancelled => ProcessOutcome {
            phase: RunPhase::Cancelled,
            exit_code: None,
            reason: reasons::STEP_RUN_CANCELLED,
            message: "stopped: the run's graph was halted".into(),
            output,
        },
        Ended::Exited(Err(e)) => ProcessOutcome {
            output,
            ..ProcessOutcome::failed(reasons::RUN_ERROR, format!("wait failed: {e}"))
        },
        Ended::Exited(Ok(status)) => ProcessOutcome {
            phase: if status.success() {
                RunPhase::Succeeded
            } else {
                RunPhase::Failed
            },
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
