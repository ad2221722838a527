use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

use anyhow::{Context, Result, anyhow, bail};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use tokio::sync::OnceCell;

const BINARIES: [&str; 3] = ["etcd", "kube-apiserver", "kube-controller-manager"];

/// The failure is kept too, so every test of a binary fails at once with the same message
/// instead of each one trying to start a cluster again.
static SHARED: OnceCell<Result<TestCluster, String>> = OnceCell::const_new();

/// A real control plane on loopback ports: etcd, kube-apiserver (RBAC on, a token user in
/// `system:masters`) and kube-controller-manager (Job, garbage-collector, namespace,
/// service-account controllers, ...). There is no scheduler and no kubelet: Pods stay Pending
/// until a test plays the kubelet with [`complete_pod`](crate::complete_pod).
#[derive(Debug)]
pub struct TestCluster {
    kubeconfig: PathBuf,
    config: Config,
    _supervisor: Supervisor,
}

/// `control-plane.sh run`, which stops the cluster and removes its files when its stdin closes.
/// The write end of that pipe lives only in this process, so the kernel closes it when the
/// process exits for any reason, including a panic, `exit` or SIGKILL, where no destructor runs.
#[derive(Debug)]
struct Supervisor {
    _process: Child,
    _lifeline: ChildStdin,
}

/// The cluster shared by all tests of this test binary, started on first use.
///
/// Fails when the control-plane binaries are missing (run `scripts/control-plane.sh build`) or
/// the cluster does not start; callers are expected to panic on the error.
pub async fn shared() -> Result<&'static TestCluster> {
    let cluster = SHARED
        .get_or_init(|| async { TestCluster::start().await.map_err(|e| format!("{e:#}")) })
        .await;
    cluster.as_ref().map_err(|e| anyhow!("{e}"))
}

impl TestCluster {
    async fn start() -> Result<Self> {
        let (supervisor, kubeconfig) = tokio::task::spawn_blocking(spawn_supervisor).await??;
        let kc = Kubeconfig::read_from(&kubeconfig)?;
        let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default()).await?;
        // Checked once here so that `client()` cannot fail later.
        Client::try_from(config.clone()).context("building a client for the test cluster")?;
        Ok(Self {
            kubeconfig,
            config,
            _supervisor: supervisor,
        })
    }

    /// A new client for the cluster, acting as a cluster admin.
    ///
    /// Call it from inside the test's tokio runtime, once per test: a client is bound to the
    /// runtime that created it and every `#[tokio::test]` has its own runtime.
    pub fn client(&self) -> Client {
        Client::try_from(self.config.clone()).expect("client config was checked at start")
    }

    /// The client configuration, e.g. to build a client with other settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The kubeconfig file, for processes under test (`KUBECONFIG=...`) or for `kubectl`.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig
    }
}

/// The repository's control-plane script; the harness runs it rather than repeating its flags.
fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/control-plane.sh")
}

fn spawn_supervisor() -> Result<(Supervisor, PathBuf)> {
    let bin = bin_dir()?;
    // Kept, not deleted on drop: the script removes its files and the directory when it stops.
    let dir = tempfile::Builder::new()
        .prefix("herald-k8s-")
        .tempdir()?
        .keep();
    let mut process = Command::new("bash")
        .arg(script())
        .args(["run", "--dir"])
        .arg(&dir)
        .env("HERALD_K8S_BIN", &bin)
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
            let supervisor = Supervisor {
                _process: process,
                _lifeline: lifeline,
            };
            return Ok((supervisor, PathBuf::from(kubeconfig)));
        }
        output.push_str(&line);
        output.push('\n');
    }
    let status = process.wait()?;
    bail!("the test control plane did not start ({status}):\n{output}")
}

/// Where the binaries are (`HERALD_K8S_BIN` or the build cache), checked to be all there.
fn bin_dir() -> Result<PathBuf> {
    let out = Command::new("bash").arg(script()).arg("bin-dir").output()?;
    if !out.status.success() {
        bail!(
            "scripts/control-plane.sh bin-dir failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let missing: Vec<_> = BINARIES.iter().filter(|b| !dir.join(b).is_file()).collect();
    if !missing.is_empty() {
        let who = if std::env::var_os("CI").is_some() {
            "CI must run"
        } else {
            "run"
        };
        bail!(
            "Kubernetes control-plane binaries {missing:?} not found in {}: {who} \
             `scripts/control-plane.sh build` first (about 5 minutes once, then cached)",
            dir.display()
        );
    }
    Ok(dir)
}
