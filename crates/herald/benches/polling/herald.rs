//! The process under test: the real `herald` binary, in local or cluster mode.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

/// How long Herald may take to answer `/healthz`.
const SERVING_DEADLINE: Duration = Duration::from_secs(60);

/// A running Herald; killed when dropped.
#[derive(Debug)]
pub struct Herald {
    child: Child,
    pub pid: u32,
    pub listen: SocketAddr,
    log: PathBuf,
    probes: reqwest::Client,
}

/// The `herald` binary to measure: this build's, or `HERALD_BENCH_BINARY` (one built from
/// another commit, to compare two versions on the same machine in one sitting).
pub fn binary() -> PathBuf {
    std::env::var_os("HERALD_BENCH_BINARY").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_herald")),
        PathBuf::from,
    )
}

/// `herald local DIR --db DB`, its log (warnings and errors) in `log`.
pub fn start_local(manifests: &Path, db: &Path, log: &Path) -> anyhow::Result<Herald> {
    let listen = free_address()?;
    let mut command = Command::new(binary());
    command
        .arg("local")
        .arg(manifests)
        .arg("--db")
        .arg(db)
        .arg("--listen")
        .arg(listen.to_string());
    spawn(command, listen, log)
}

/// `herald run --namespace NS` against the cluster of `kubeconfig`, its store at `store`.
pub fn start_cluster(
    kubeconfig: &Path,
    namespace: &str,
    store: &Path,
    log: &Path,
) -> anyhow::Result<Herald> {
    let listen = free_address()?;
    let mut command = Command::new(binary());
    command
        .args(["run", "--namespace", namespace, "--listen"])
        .arg(listen.to_string())
        .arg("--store")
        .arg(store)
        .env("KUBECONFIG", kubeconfig)
        // Never pulled: no kubelet runs the Jobs.
        .env("HERALD_CLONER_IMAGE", "herald-cloner:bench");
    spawn(command, listen, log)
}

fn spawn(mut command: Command, listen: SocketAddr, log: &Path) -> anyhow::Result<Herald> {
    let file = std::fs::File::create(log).with_context(|| format!("creating {log:?}"))?;
    let child = command
        .env("RUST_LOG", "warn")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .with_context(|| format!("starting {:?}", binary()))?;
    Ok(Herald {
        pid: child.id(),
        child,
        listen,
        log: log.to_owned(),
        probes: reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?,
    })
}

impl Herald {
    /// Polls `/healthz` until it answers 200: the process serves. Readiness is measured
    /// apart ([`Herald::is_ready`]), since a Herald that polls but never reports ready is a
    /// finding, not a reason to stop measuring.
    pub async fn wait_serving(&mut self) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + SERVING_DEADLINE;
        let mut every = tokio::time::interval(Duration::from_millis(100));
        while tokio::time::Instant::now() < deadline {
            every.tick().await;
            self.check_alive()?;
            if self.probe("healthz").await {
                return Ok(());
            }
        }
        bail!(
            "herald did not serve /healthz within {SERVING_DEADLINE:?}; its log ends:\n{}",
            self.log_tail()
        )
    }

    /// Whether `/readyz` answers 200 now.
    pub async fn is_ready(&self) -> bool {
        self.probe("readyz").await
    }

    async fn probe(&self, path: &str) -> bool {
        let url = format!("http://{}/{path}", self.listen);
        let answer = self.probes.get(&url).send().await;
        answer.is_ok_and(|r| r.status().is_success())
    }

    /// Fails when the process has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "herald exited ({status}); its log ends:\n{}",
                self.log_tail()
            );
        }
        Ok(())
    }

    /// Warning and error lines logged so far.
    pub fn warnings(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .map(|text| {
                text.lines()
                    .filter(|l| l.contains("WARN") || l.contains("ERROR"))
                    .count()
            })
            .unwrap_or(0)
    }

    /// The last lines of the log, for an error message.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// SIGKILL and reap: nothing of it is measured after this.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Herald {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_address() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}
