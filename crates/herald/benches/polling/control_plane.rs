//! The project's real control plane, `scripts/control-plane.sh run`, one per trigger count so
//! each measurement starts from an empty etcd (the test harness shares one per process).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::apiserver::Apiserver;

/// How long the script may take to stop the cluster once its stdin closes.
const STOP_DEADLINE: Duration = Duration::from_secs(30);

/// A running control plane. The script stops it and removes its files when its stdin
/// closes, which the kernel does when this process ends however it ends.
#[derive(Debug)]
pub struct ControlPlane {
    process: Child,
    lifeline: Option<ChildStdin>,
    dir: PathBuf,
    pub kubeconfig: PathBuf,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/control-plane.sh")
}

impl ControlPlane {
    /// Starts etcd, kube-apiserver and kube-controller-manager and waits until they are ready.
    pub async fn start() -> anyhow::Result<Self> {
        tokio::task::spawn_blocking(Self::start_blocking).await?
    }

    fn start_blocking() -> anyhow::Result<Self> {
        // Kept on drop: the script removes its files and the folder when it stops.
        let dir = tempfile::Builder::new()
            .prefix("herald-bench-k8s-")
            .tempdir()?
            .keep();
        let mut process = Command::new("bash")
            .arg(script())
            .args(["run", "--dir"])
            .arg(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("running scripts/control-plane.sh")?;
        let lifeline = process.stdin.take().context("no stdin pipe")?;
        let stdout = process.stdout.take().context("no stdout pipe")?;
        let mut output = String::new();
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            if let Some(kubeconfig) = line.strip_prefix("ready ") {
                return Ok(Self {
                    process,
                    lifeline: Some(lifeline),
                    dir,
                    kubeconfig: PathBuf::from(kubeconfig),
                });
            }
            output.push_str(&line);
            output.push('\n');
        }
        let status = process.wait()?;
        bail!(
            "the control plane did not start ({status}); scripts/control-plane.sh build builds \
             its binaries once:\n{output}"
        )
    }

    pub async fn client(&self) -> anyhow::Result<kube::Client> {
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig)?;
        let config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
        Ok(kube::Client::try_from(config)?)
    }

    /// The API server, found by the pid file the script writes.
    pub async fn apiserver(&self) -> anyhow::Result<Apiserver> {
        let pid_file = self.dir.join("apiserver.pid");
        let pid = std::fs::read_to_string(&pid_file)
            .with_context(|| format!("reading {pid_file:?}"))?
            .trim()
            .parse()
            .context("apiserver.pid")?;
        Ok(Apiserver {
            pid,
            client: self.client().await?,
        })
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        // Closing stdin is the script's signal to stop the cluster and remove its files.
        drop(self.lifeline.take());
        let deadline = Instant::now() + STOP_DEADLINE;
        while Instant::now() < deadline {
            if !matches!(self.process.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("control plane did not stop within {STOP_DEADLINE:?}; killing its script");
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}
