//! A throwaway PostgreSQL cluster, started once per process.
//!
//! The server binaries are found through `HERALD_PG_BINDIR`, then `PATH`, then Debian's
//! versioned layout (`/usr/lib/postgresql/<major>/bin`). They refuse to run as root, so as
//! root everything runs as the `postgres` user (`runuser`). The cluster lives in a fresh temp
//! dir and is started by `sh`, which waits on a pipe from this process: when the process
//! exits, however it exits, the pipe closes, and the shell stops the server and removes the
//! dir. Nothing outlives the process.
//!
//! ```no_run
//! # async fn example() {
//! let Some(cluster) = herald_testkit::postgres::postgres() else { return };
//! let url = cluster.fresh_database().await;
//! // ... connect to `url` ...
//! # }
//! ```

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use sqlx::{Connection, Executor};

/// How long the cluster may take to accept connections.
const READY_DEADLINE: Duration = Duration::from_secs(60);

/// A running cluster.
#[derive(Debug)]
pub struct Postgres {
    port: u16,
    /// Held open for the life of the process; closing it stops the server.
    _stdin: Mutex<ChildStdin>,
    _child: Mutex<Child>,
}

impl Postgres {
    /// The URL of database `db` on the cluster (user `postgres`, trusted on loopback).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// The port the server listens on (loopback only).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A new, empty database; returns its URL.
    pub async fn fresh_database(&self) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("herald_test_{}_{n}", std::process::id());
        let mut conn = sqlx::postgres::PgConnection::connect(&self.url("postgres"))
            .await
            .expect("connect to the test cluster");
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create database");
        conn.close().await.expect("close");
        self.url(&name)
    }
}

/// The shared cluster, started on first use with `fsync=off` (tests need correctness, not
/// crash safety of the server); `None` when the binaries are missing (a skip notice is
/// printed). Panics when they are missing and `CI` is set.
pub fn postgres() -> Option<&'static Postgres> {
    static CLUSTER: OnceLock<Option<Postgres>> = OnceLock::new();
    CLUSTER.get_or_init(|| start(false)).as_ref()
}

/// A second cluster with PostgreSQL's durable defaults (`fsync=on`), for benchmarks that
/// measure durable writes. Started on first use, like [`postgres`].
pub fn durable_postgres() -> Option<&'static Postgres> {
    static CLUSTER: OnceLock<Option<Postgres>> = OnceLock::new();
    CLUSTER.get_or_init(|| start(true)).as_ref()
}

fn bindir() -> Option<PathBuf> {
    let has_server = |dir: &PathBuf| dir.join("postgres").is_file() && dir.join("initdb").is_file();
    if let Some(dir) = std::env::var_os("HERALD_PG_BINDIR").map(PathBuf::from) {
        return has_server(&dir).then_some(dir);
    }
    if let Some(dir) = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .find(has_server)
    {
        return Some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse().ok()?;
            Some((major, e.path().join("bin")))
        })
        .filter(|(_, dir)| has_server(dir))
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// The shell that owns the server: make a dir, initdb, start, report, wait on stdin, stop.
const SCRIPT: &str = r#"
set -e
bin=$1; port=$2; fsync=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
mkdir "$dir/sock"
"$bin/postgres" -D "$dir/data" -k "$dir/sock" -p "$port" -c listen_addresses=127.0.0.1 \
  -c fsync="$fsync" -c max_connections=200 >"$dir/server.log" 2>&1 &
pid=$!
echo started
set +e
read _ignored
kill "$pid" 2>/dev/null
wait "$pid"
"#;

fn start(durable: bool) -> Option<Postgres> {
    let Some(bin) = bindir() else {
        let msg = "PostgreSQL server binaries (initdb, postgres) not found: install postgresql \
                   (Debian: postgresql-15) or set HERALD_PG_BINDIR";
        assert!(std::env::var_os("CI").is_none(), "{msg}");
        eprintln!("SKIPPING PostgreSQL tests: {msg}");
        return None;
    };
    let port = free_port();
    let mut command = if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", "sh"]);
        c
    } else {
        Command::new("sh")
    };
    command
        .args(["-c", SCRIPT, "sh"])
        .arg(&bin)
        .arg(port.to_string())
        .arg(if durable { "on" } else { "off" })
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = command.spawn().expect("start the PostgreSQL shell");
    let stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read from the PostgreSQL shell");
    assert_eq!(line.trim(), "started", "initdb or postgres failed to start");
    // On its own thread: the caller may be inside a runtime already.
    std::thread::spawn(move || wait_ready(port))
        .join()
        .expect("PostgreSQL readiness");
    Some(Postgres {
        port,
        _stdin: Mutex::new(stdin),
        _child: Mutex::new(child),
    })
}

/// Polls until the server answers a real connection, failing after [`READY_DEADLINE`].
fn wait_ready(port: u16) {
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let deadline = Instant::now() + READY_DEADLINE;
    runtime.block_on(async {
        loop {
            match sqlx::postgres::PgConnection::connect(&url).await {
                Ok(conn) => {
                    let _ = conn.close().await;
                    return;
                }
                Err(e) if Instant::now() > deadline => {
                    panic!("PostgreSQL not ready on port {port} after {READY_DEADLINE:?}: {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    });
}
