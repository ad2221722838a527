//! The server under test: `herald local` on a fresh folder, store and Git repository.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hmac::Mac;

/// The secret the bench trigger verifies GitHub signatures with.
const SECRET: &[u8] = b"bench-secret-0123456789";
/// The trigger on `main` that watches no files (so its deliveries' file lists are not read).
pub const TRIGGER: &str = "bench";
/// The same trigger with a files filter every delivery matches (so the lists are read).
pub const FILES_TRIGGER: &str = "bench-files";
/// The URL of `trigger`'s hook for the bench repository, on the server at `listen`.
pub fn hook_url(listen: SocketAddr, trigger: &str) -> String {
    format!("http://{listen}/hooks/default/{trigger}/repo")
}

/// Delivery ids are recorded scoped to their trigger ([`TRIGGER`] in the kill test).
pub const DELIVERY_PREFIX: &str = "default/bench/";
/// How long the server may take to become ready.
const READY_DEADLINE: Duration = Duration::from_secs(30);
/// The size of each delivery's body.
const BODY_SIZE: usize = 8 * 1024;

/// A prepared folder: manifests, a Git repository, the store's path, a port.
pub struct Bench {
    dir: tempfile::TempDir,
    listen: SocketAddr,
    /// The signed push every delivery carries.
    pub body: Vec<u8>,
    pub signature: String,
}

/// A running server; killed when dropped.
pub struct Server {
    child: Child,
    pub listen: SocketAddr,
}

impl Bench {
    /// Creates the repository, the manifests and the delivery body.
    pub fn prepare() -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temp dir: {e}"))?;
        let repo = dir.path().join("repo");
        let head = init_repo(&repo)?;
        let manifests = dir.path().join("manifests");
        std::fs::create_dir_all(&manifests).map_err(|e| e.to_string())?;
        std::fs::write(manifests.join("bench.yaml"), manifests_yaml(&repo))
            .map_err(|e| format!("writing manifests: {e}"))?;
        let body = push_body(&head);
        let signature = sign(&body);
        Ok(Self {
            listen: free_address()?,
            dir,
            body,
            signature,
        })
    }

    /// The scratch folder (manifests, repository, store).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Where the server listens.
    pub fn listen(&self) -> SocketAddr {
        self.listen
    }

    /// The body, written to a file for generators that read one.
    pub fn body_file(&self) -> Result<PathBuf, String> {
        let path = self.dir.path().join("body.json");
        std::fs::write(&path, &self.body).map_err(|e| format!("writing {path:?}: {e}"))?;
        Ok(path)
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("state/herald.db")
    }

    /// Starts `herald local` and waits until it is ready.
    pub fn start(&self) -> Result<Server, String> {
        let child = Command::new(binary())
            .arg("local")
            .arg(self.dir.path().join("manifests"))
            .arg("--db")
            .arg(self.db())
            .arg("--listen")
            .arg(self.listen.to_string())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("starting herald: {e}"))?;
        let server = Server {
            child,
            listen: self.listen,
        };
        server.wait_ready()?;
        Ok(server)
    }

    /// The acknowledged deliveries the store does not hold.
    pub async fn missing(&self, acknowledged: &[String]) -> Result<Vec<String>, String> {
        let store = herald_store::Store::open(&self.db())
            .await
            .map_err(|e| format!("opening the store: {e}"))?;
        let mut missing = Vec::new();
        for id in acknowledged {
            let key = format!("{DELIVERY_PREFIX}{id}");
            let found = store
                .delivery_event(&key)
                .await
                .map_err(|e| e.to_string())?;
            if found.is_none() {
                missing.push(id.clone());
            }
        }
        store.close().await;
        Ok(missing)
    }
}

/// The `herald` binary to measure: this build's, or `HERALD_BENCH_BINARY` (e.g. one built
/// from an earlier commit, to compare two versions on the same machine in one sitting).
pub fn binary() -> PathBuf {
    std::env::var_os("HERALD_BENCH_BINARY").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_herald")),
        PathBuf::from,
    )
}

impl Server {
    fn wait_ready(&self) -> Result<(), String> {
        let started = Instant::now();
        while started.elapsed() < READY_DEADLINE {
            if let Ok(mut stream) = std::net::TcpStream::connect(self.listen) {
                use std::io::{Read, Write};
                let _ = stream
                    .write_all(b"GET /readyz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
                let mut answer = String::new();
                let _ = stream.read_to_string(&mut answer);
                if answer.starts_with("HTTP/1.1 200") {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("herald was not ready within {READY_DEADLINE:?}"))
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn stop(mut self) {
        self.kill();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_address() -> Result<SocketAddr, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener.local_addr().map_err(|e| e.to_string())
}

fn git(dir: &Path, args: &[&str]) -> Result<String, String> {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@example.com",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("git {args:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn init_repo(repo: &Path) -> Result<String, String> {
    std::fs::create_dir_all(repo).map_err(|e| e.to_string())?;
    git(repo, &["init", "-q", "-b", "main"])?;
    std::fs::write(repo.join("README.md"), "bench\n").map_err(|e| e.to_string())?;
    git(repo, &["add", "README.md"])?;
    git(repo, &["commit", "-q", "-m", "bench"])?;
    git(repo, &["rev-parse", "HEAD"])
}

/// Two triggers that run on new revisions of main, one with a files filter: after the first
/// delivery the rest find the revision already seen, as redundant deliveries of one change do.
fn manifests_yaml(repo: &Path) -> String {
    let secret = std::str::from_utf8(SECRET).unwrap_or_default();
    format!(
        r#"apiVersion: herald.dev/v1alpha1
kind: GitRepo
metadata: {{name: repo}}
spec: {{repoUri: "file://{repo}"}}
---
apiVersion: herald.dev/v1alpha1
kind: Action
metadata: {{name: noop}}
spec: {{actionJob: {{command: ["true"]}}}}
---
apiVersion: herald.dev/v1alpha1
kind: WebhookTrigger
metadata: {{name: bench}}
spec:
  sources: {{kind: GitRepo, names: [repo], watchOn: {{reference: {{branch: main}}, onChangeOnly: true}}}}
  webhook:
    provider: github
    authConfig: {{secretRef: {{name: bench-secret}}}}
  action: {{kind: Action, name: noop}}
---
apiVersion: herald.dev/v1alpha1
kind: WebhookTrigger
metadata: {{name: bench-files}}
spec:
  sources: {{kind: GitRepo, names: [repo], watchOn: {{reference: {{branch: main}}, onChangeOnly: true, files: ["src/**"]}}}}
  webhook:
    provider: github
    authConfig: {{secretRef: {{name: bench-secret}}}}
  action: {{kind: Action, name: noop}}
---
apiVersion: v1
kind: Secret
metadata: {{name: bench-secret}}
stringData: {{token: "{secret}"}}
"#,
        repo = repo.display()
    )
}

/// A GitHub push of `head` to main, padded with commits to [`BODY_SIZE`].
fn push_body(head: &str) -> Vec<u8> {
    let commit = |i: usize| {
        serde_json::json!({
            "id": head, "message": format!("change {i}: {}", "x".repeat(200)),
            "added": [], "removed": [], "modified": [format!("src/file{i}.rs")],
            "author": {"name": "Dev", "email": "dev@example.com", "username": "dev"},
        })
    };
    let mut commits = Vec::new();
    loop {
        let body = serde_json::json!({
            "ref": "refs/heads/main", "before": "0".repeat(40), "after": head,
            "created": false, "deleted": false, "forced": false,
            "repository": {"full_name": "acme/app", "clone_url": "https://example.com/acme/app.git"},
            "pusher": {"name": "dev", "email": "dev@example.com"},
            "commits": commits, "head_commit": {"id": head},
        });
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        if bytes.len() >= BODY_SIZE {
            return bytes;
        }
        commits.push(commit(commits.len()));
    }
}

fn sign(body: &[u8]) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}
