//! The bench's world: 1,000 triggers in a manifest folder and 100,000 runs in the store,
//! written straight into SQLite in one transaction (creating them one by one through Herald
//! would take minutes and measure something else).

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::Connection;

pub const TRIGGERS: usize = 1_000;
pub const RUNS: usize = 100_000;
/// One run in this many failed.
const FAILED_EVERY: usize = 20;

pub struct World {
    dir: tempfile::TempDir,
    pub listen: SocketAddr,
}

/// `herald local` over the world; killed when dropped.
pub struct Server {
    child: Child,
    pub pid: u32,
}

impl World {
    pub async fn build() -> Result<Self, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let manifests = dir.path().join("manifests");
        std::fs::create_dir_all(&manifests).map_err(|e| e.to_string())?;
        std::fs::write(manifests.join("world.yaml"), manifests_yaml())
            .map_err(|e| format!("writing manifests: {e}"))?;
        let world = Self {
            listen: free_address()?,
            dir,
        };
        // The schema is Herald's own: the store creates it, then the runs go in.
        let store = herald_store::Store::open(&world.db())
            .await
            .map_err(|e| format!("creating the store: {e}"))?;
        store.close().await;
        insert_runs(&world.db()).await?;
        Ok(world)
    }

    fn db(&self) -> PathBuf {
        self.dir.path().join("herald.db")
    }

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
        let pid = child.id();
        let server = Server { child, pid };
        wait_ready(self.listen)?;
        Ok(server)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `herald` binary to measure: this build's, or `HERALD_BENCH_BINARY`.
fn binary() -> PathBuf {
    std::env::var_os("HERALD_BENCH_BINARY").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_herald")),
        PathBuf::from,
    )
}

/// The name of trigger `i`, and of the source it reads.
pub fn trigger(i: usize) -> String {
    format!("t-{i:04}")
}

/// A revision per run, deterministic.
pub fn revision(run: usize) -> String {
    format!("{:040x}", run as u128 * 0x9e37_79b9_7f4a_7c15)
}

/// Cron triggers due once a year: listed, never checked during the bench.
fn manifests_yaml() -> String {
    let mut yaml = String::from(
        "apiVersion: herald.dev/v1alpha1\nkind: Action\nmetadata: {name: act}\n\
         spec: {actionJob: {command: [\"true\"]}}\n",
    );
    for i in 0..TRIGGERS {
        let name = trigger(i);
        yaml.push_str(&format!(
            "---\napiVersion: herald.dev/v1alpha1\nkind: GitRepo\nmetadata: {{name: {name}}}\n\
             spec: {{repoUri: \"https://git.example.com/team/{name}.git\"}}\n\
             ---\napiVersion: herald.dev/v1alpha1\nkind: ScheduleTrigger\nmetadata: {{name: {name}}}\n\
             spec:\n  sources: {{kind: GitRepo, names: [{name}], watchOn: {{reference: {{branch: main}}}}}}\n  \
             schedule: {{cron: \"0 0 1 1 *\"}}\n  action: {{kind: Action, name: act}}\n"
        ));
    }
    yaml
}

/// 100 runs per trigger, one a minute back from now, every 20th failed.
async fn insert_runs(db: &Path) -> Result<(), String> {
    let url = format!("sqlite:{}", db.display());
    let mut conn = sqlx::SqliteConnection::connect(&url)
        .await
        .map_err(|e| format!("opening {url}: {e}"))?;
    let mut tx = conn.begin().await.map_err(|e| e.to_string())?;
    let now = jiff::Timestamp::now().as_microsecond();
    for run in 0..RUNS {
        let trigger = trigger(run % TRIGGERS);
        let created = now - (RUNS - run) as i64 * 60_000_000;
        let phase = if run % FAILED_EVERY == 0 {
            "Failed"
        } else {
            "Succeeded"
        };
        sqlx::query(
            "INSERT INTO runs (name, namespace, trigger_kind, trigger_name, source_kind, \
             source_name, git_ref, revision, action_kind, action_name, cause, phase, created_at, \
             started_at, finished_at, exit_code, message) VALUES ($1, 'default', \
             'ScheduleTrigger', $2, 'GitRepo', $2, 'refs/heads/main', $3, 'Action', 'act', \
             'Change', $4, $5, $6, $7, $8, $9)",
        )
        .bind(format!("{trigger}-{run:06}"))
        .bind(&trigger)
        .bind(revision(run))
        .bind(phase)
        .bind(created)
        .bind(created + 1_000_000)
        .bind(created + 31_000_000)
        .bind(i32::from(phase == "Failed"))
        .bind(format!("exited with code {}", i32::from(phase == "Failed")))
        .execute(&mut *tx)
        .await
        .map_err(|e| format!("inserting run {run}: {e}"))?;
    }
    tx.commit().await.map_err(|e| e.to_string())
}

fn free_address() -> Result<SocketAddr, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener.local_addr().map_err(|e| e.to_string())
}

fn wait_ready(listen: SocketAddr) -> Result<(), String> {
    let deadline = Duration::from_secs(60);
    let started = Instant::now();
    while started.elapsed() < deadline {
        if let Ok(mut stream) = std::net::TcpStream::connect(listen) {
            use std::io::{Read, Write};
            let _ =
                stream.write_all(b"GET /readyz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            if answer.starts_with("HTTP/1.1 200") {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("herald was not ready within {deadline:?}"))
}
