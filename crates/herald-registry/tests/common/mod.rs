//! The real registry the tests run against: Debian's `docker-registry` (distribution 2.8),
//! started once per test binary and per auth mode, and images pushed to it over its HTTP API.

#![allow(dead_code)]

pub mod push;
pub mod token_server;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use herald_image::Repository;

pub const USER: &str = "herald";
pub const PASSWORD: &str = "s3cret-pass";

/// A running registry. The shell that owns it stops it and removes its directory when this
/// test binary exits (its stdin closes).
#[derive(Debug)]
pub struct Registry {
    pub host: String,
    pub basic: Option<(String, String)>,
    /// The token server's, when the registry is in token mode.
    pub token_server: Option<token_server::TokenServer>,
    _owner: Mutex<(Child, ChildStdin)>,
}

/// How the registry authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Open,
    Htpasswd,
    Token,
}

impl Registry {
    pub fn repository(&self, path: &str) -> Repository {
        Repository::parse(&format!("{}/{path}", self.host)).expect("repository")
    }
}

/// A registry anyone may pull from and push to.
pub fn open_registry() -> Option<&'static Registry> {
    static REGISTRY: OnceLock<Option<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(|| start(Mode::Open)).as_ref()
}

/// A registry behind htpasswd (Basic) auth, with one user: `USER` / `PASSWORD`.
pub fn htpasswd_registry() -> Option<&'static Registry> {
    static REGISTRY: OnceLock<Option<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(|| start(Mode::Htpasswd)).as_ref()
}

/// A registry behind token auth: its token server, served by the test, gives `USER` /
/// `PASSWORD` RS256 tokens signed with a self-signed certificate the registry trusts.
pub fn token_registry() -> Option<&'static Registry> {
    static REGISTRY: OnceLock<Option<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(|| start(Mode::Token)).as_ref()
}

/// `None` (with a notice) when the binaries are missing; a panic instead when `CI` is set, so
/// CI never passes by skipping.
fn start(mode: Mode) -> Option<Registry> {
    for binary in ["docker-registry", "htpasswd", "openssl"] {
        if find_binary(binary).is_none() {
            let msg = format!(
                "{binary} not found: install the Debian packages docker-registry, apache2-utils and openssl"
            );
            assert!(std::env::var_os("CI").is_none(), "{msg}");
            eprintln!("SKIPPING registry tests: {msg}");
            return None;
        }
    }
    let dir = tempfile::tempdir().expect("tempdir").keep();
    let port = free_port();
    let mut token_server = None;
    let auth = match mode {
        Mode::Open => String::new(),
        Mode::Htpasswd => {
            write_htpasswd(&dir.join("htpasswd"));
            format!(
                "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                dir.join("htpasswd").display()
            )
        }
        Mode::Token => {
            let server = token_server::TokenServer::start(&dir);
            let auth = server.registry_config();
            token_server = Some(server);
            auth
        }
    };
    let config = format!(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{auth}",
        dir.join("data").display()
    );
    std::fs::write(dir.join("config.yml"), config).expect("write config");
    let (child, stdin) = spawn_owner(&dir);
    let host = format!("127.0.0.1:{port}");
    wait_until_serving(&host, &dir);
    Some(Registry {
        host,
        basic: (mode != Mode::Open).then(|| (USER.to_owned(), PASSWORD.to_owned())),
        token_server,
        _owner: Mutex::new((child, stdin)),
    })
}

/// Starts the registry, waits on stdin (closed when the test binary exits), then stops it and
/// removes its directory: statics are never dropped, so the shell does the cleaning.
const OWNER: &str = r#"
dir=$1
docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
pid=$!
read _ignored
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
rm -rf "$dir"
"#;

fn spawn_owner(dir: &Path) -> (Child, ChildStdin) {
    let mut child = Command::new("sh")
        .args(["-c", OWNER, "sh"])
        .arg(dir)
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn sh");
    let stdin = child.stdin.take().expect("stdin");
    (child, stdin)
}

/// Poll `GET /v2/` until the registry answers (200, or 401 behind auth), for at most 20 s.
fn wait_until_serving(host: &str, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Some(status) = v2_status(host) {
            assert!(status == 200 || status == 401, "GET /v2/ answered {status}");
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = std::fs::read_to_string(dir.join("registry.log")).unwrap_or_default();
    panic!("docker-registry did not serve on {host} within 20 s; its log:\n{log}");
}

fn v2_status(host: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(host).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET /v2/ HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

fn write_htpasswd(path: &Path) {
    let output = Command::new("htpasswd")
        .args(["-Bbn", USER, PASSWORD])
        .output()
        .expect("run htpasswd");
    assert!(output.status.success(), "htpasswd failed");
    std::fs::write(path, output.stdout).expect("write htpasswd");
}

fn find_binary(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port()
}
