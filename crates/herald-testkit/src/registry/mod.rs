//! A real OCI registry for tests: Debian's `docker-registry` (distribution 2.8) on a loopback
//! port, started once per test binary and per auth mode (open, htpasswd, token), and images
//! pushed to it over its HTTP API (no container engine needed).
//!
//! ```no_run
//! # async fn example() {
//! use herald_testkit::registry::{OCI_MANIFEST, htpasswd_registry, push_image};
//! let Some(registry) = htpasswd_registry() else {
//!     return; // skipped locally when docker-registry is missing (a panic under `CI`)
//! };
//! push_image(registry, "team/web", &["1.0.0".to_owned()], OCI_MANIFEST).await;
//! let secret = herald_testkit::registry::docker_config_json(registry);
//! # }
//! ```

mod push;
mod token_server;

pub use push::{DOCKER_MANIFEST, OCI_MANIFEST, push_image};
pub use token_server::TokenServer;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use herald_image::Repository;

/// The user of the htpasswd and token registries.
pub const USER: &str = "herald";
/// Its password.
pub const PASSWORD: &str = "s3cret-pass";

/// A running registry. The shell that owns it stops it and removes its directory when this
/// test binary exits (its stdin closes).
#[derive(Debug)]
pub struct Registry {
    /// `127.0.0.1:<port>`: what an image reference starts with.
    pub host: String,
    /// `(USER, PASSWORD)` unless the registry is open.
    pub basic: Option<(String, String)>,
    /// The token server's, when the registry is in token mode.
    pub token_server: Option<TokenServer>,
    /// The registry's output, access log included: what a test reads to count the requests
    /// the registry really served.
    log_path: PathBuf,
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
    /// Everything the registry printed so far, one access log line per request served
    /// (`"GET /v2/<name>/tags/list HTTP/1.1" 200 ...`).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The repository `path` (`team/web`) on this registry.
    pub fn repository(&self, path: &str) -> Repository {
        Repository::parse(&format!("{}/{path}", self.host)).expect("repository")
    }
}

/// The content of a `kubernetes.io/dockerconfigjson` Secret's `.dockerconfigjson` key for
/// `registry`: `{"auths": {"<host>": {"auth": base64(user:password)}}}` (no `auths` entry for
/// an open registry).
pub fn docker_config_json(registry: &Registry) -> String {
    let auths = match &registry.basic {
        Some((user, password)) => serde_json::json!({
            registry.host.as_str(): {"auth": STANDARD.encode(format!("{user}:{password}"))}
        }),
        None => serde_json::json!({}),
    };
    serde_json::json!({ "auths": auths }).to_string()
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
            let server = TokenServer::start(&dir);
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
        log_path: dir.join("registry.log"),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_json_holds_base64_user_and_password_by_host() {
        let registry = Registry {
            host: "127.0.0.1:5000".into(),
            basic: Some((USER.into(), PASSWORD.into())),
            token_server: None,
            log_path: PathBuf::new(),
            _owner: Mutex::new(sleeper()),
        };
        let config: serde_json::Value =
            serde_json::from_str(&docker_config_json(&registry)).expect("JSON");
        let auth = config["auths"]["127.0.0.1:5000"]["auth"]
            .as_str()
            .expect("auth");
        let decoded = STANDARD.decode(auth).expect("base64");
        assert_eq!(decoded, format!("{USER}:{PASSWORD}").as_bytes());
    }

    /// A child that ends when its stdin closes, to own a `Registry` made by hand.
    fn sleeper() -> (Child, ChildStdin) {
        let mut child = Command::new("sh")
            .args(["-c", "read _ignored"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("spawn sh");
        let stdin = child.stdin.take().expect("stdin");
        (child, stdin)
    }
}
