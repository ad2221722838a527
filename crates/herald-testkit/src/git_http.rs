//! A tiny HTTP/1.1 server in the test process that runs the real `git http-backend` (CGI)
//! for every request, with keep-alive. Unlike `file://`, a push through it runs the
//! repository's hooks and receives push options. `forward_git_protocol: false` drops the
//! `Git-Protocol` header instead of handing it to the backend as `GIT_PROTOCOL`, which makes
//! the real backend answer in protocol v0: a server that does not offer v2.
//! [`HttpBackend::start_tls`] serves HTTPS with a PEM certificate and key;
//! [`HttpBackend::start_with`] runs a hook just before the first push is answered.
//!
//! ```no_run
//! # fn example(root: &std::path::Path) {
//! let Some(server) = herald_testkit::git_http::HttpBackend::start(root, true) else {
//!     return; // `git http-backend` is missing (a failure under CI)
//! };
//! let url = server.url("project.git");
//! # }
//! ```

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use openssl::ssl::{SslAcceptor, SslFiletype, SslMethod};

/// Run once, just before the first receive-pack advertisement is answered.
pub type BeforePush = Box<dyn FnOnce() + Send>;

/// The running server; its threads end with the test process.
#[derive(Debug)]
pub struct HttpBackend {
    pub port: u16,
    tls: bool,
    /// Requests answered so far.
    pub requests: Arc<AtomicU64>,
    /// Connections accepted so far.
    pub connections: Arc<AtomicU64>,
    /// The connections being served, by number, for [`HttpBackend::close_connections`].
    open: Arc<Mutex<Vec<(u64, TcpStream)>>>,
}

impl HttpBackend {
    /// Serve the repositories under `project_root` on a fresh loopback port, or `None`
    /// (skipped locally, a failure under CI) when `git http-backend` is missing.
    pub fn start(project_root: &Path, forward_git_protocol: bool) -> Option<Self> {
        Self::serve(project_root, forward_git_protocol, None, None)
    }

    /// The same over HTTPS with the server certificate (chain) at `cert_pem_path` and its
    /// private key at `key_pem_path`, both PEM.
    pub fn start_tls(
        project_root: &Path,
        forward_git_protocol: bool,
        cert_pem_path: &Path,
        key_pem_path: &Path,
    ) -> Option<Self> {
        let mut acceptor =
            SslAcceptor::mozilla_intermediate_v5(SslMethod::tls()).expect("a TLS acceptor");
        acceptor
            .set_private_key_file(key_pem_path, SslFiletype::PEM)
            .expect("the server's private key");
        acceptor
            .set_certificate_chain_file(cert_pem_path)
            .expect("the server's certificate");
        Self::serve(
            project_root,
            forward_git_protocol,
            Some(acceptor.build()),
            None,
        )
    }

    /// Serve over HTTP (forwarding `Git-Protocol`), running `before_push` when the first push
    /// asks for the refs: what another writer landing a commit between this writer's fetch
    /// and its push looks like.
    pub fn start_with(project_root: &Path, before_push: Option<BeforePush>) -> Option<Self> {
        Self::serve(project_root, true, None, before_push)
    }

    fn serve(
        project_root: &Path,
        forward_git_protocol: bool,
        acceptor: Option<SslAcceptor>,
        before_push: Option<BeforePush>,
    ) -> Option<Self> {
        let Some(backend) = git_helper("http-backend") else {
            let tool = "git http-backend";
            assert!(
                std::env::var_os("CI").is_none(),
                "required test tool `{tool}` is missing; install it in the CI image"
            );
            eprintln!("SKIPPED: `{tool}` is not installed; skipping this test");
            return None;
        };
        let listener =
            TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)).expect("a loopback port");
        let port = listener.local_addr().expect("the bound address").port();
        let requests = Arc::new(AtomicU64::new(0));
        let config = Arc::new(Config {
            backend,
            project_root: project_root.to_owned(),
            forward_git_protocol,
            requests: Arc::clone(&requests),
            before_push: Mutex::new(before_push),
        });
        let tls = acceptor.is_some();
        let acceptor = acceptor.map(Arc::new);
        let connections = Arc::new(AtomicU64::new(0));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (counted, kept) = (Arc::clone(&connections), Arc::clone(&open));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let number = counted.fetch_add(1, Ordering::Relaxed);
                if let Ok(handle) = stream.try_clone() {
                    lock(&kept).push((number, handle));
                }
                let config = Arc::clone(&config);
                let acceptor = acceptor.clone();
                let kept = Arc::clone(&kept);
                std::thread::spawn(move || {
                    match acceptor {
                        None => serve_connection(stream, &config),
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream) {
                                serve_connection(stream, &config);
                            }
                        }
                    }
                    // Served: the handle goes too, so the socket closes.
                    lock(&kept).retain(|(n, _)| *n != number);
                });
            }
        });
        Some(Self {
            port,
            tls,
            requests,
            connections,
            open,
        })
    }

    /// Closes every connection still open, as a server does with idle ones after its
    /// keep-alive timeout.
    pub fn close_connections(&self) {
        for (_, stream) in lock(&self.open).iter() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    /// The URL of `repository` (a path under the project root, e.g. `project.git`).
    pub fn url(&self, repository: &str) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}/{repository}", self.port)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The path of git's helper program `git-<name>`.
fn git_helper(name: &str) -> Option<PathBuf> {
    let output = Command::new("git").arg("--exec-path").output().ok()?;
    let exec_path = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let helper = Path::new(&exec_path).join(format!("git-{name}"));
    helper.is_file().then_some(helper)
}

struct Config {
    backend: PathBuf,
    project_root: PathBuf,
    forward_git_protocol: bool,
    requests: Arc<AtomicU64>,
    before_push: Mutex<Option<BeforePush>>,
}

struct Incoming {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Incoming {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

fn serve_connection(stream: impl Read + Write, config: &Config) {
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader) {
        let close = request
            .header("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"));
        let answer = run_backend(&request, config);
        config.requests.fetch_add(1, Ordering::Relaxed);
        let writer = reader.get_mut();
        if writer
            .write_all(&answer)
            .and_then(|()| writer.flush())
            .is_err()
            || close
        {
            return;
        }
    }
}

fn read_request(reader: &mut impl BufRead) -> Option<Incoming> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut request = Incoming {
        method,
        target,
        headers,
        body: Vec::new(),
    };
    if request
        .header("transfer-encoding")
        .is_some_and(|te| te.eq_ignore_ascii_case("chunked"))
    {
        request.body = read_chunked(reader)?;
    } else if let Some(length) = request.header("content-length") {
        let mut body = vec![0; length.parse().ok()?];
        reader.read_exact(&mut body).ok()?;
        request.body = body;
    }
    Some(request)
}

fn read_chunked(reader: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size).ok()?;
        let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
        let mut chunk = vec![0; size + 2];
        if size == 0 {
            let mut blank = String::new();
            reader.read_line(&mut blank).ok()?;
            return Some(body);
        }
        reader.read_exact(&mut chunk).ok()?;
        body.extend_from_slice(&chunk[..size]);
    }
}

/// Run the CGI and frame its output as an HTTP/1.1 answer with a Content-Length.
fn run_backend(request: &Incoming, config: &Config) -> Vec<u8> {
    let (path, query) = request
        .target
        .split_once('?')
        .unwrap_or((&request.target, ""));
    let mut command = Command::new(&config.backend);
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_PROJECT_ROOT", &config.project_root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("REQUEST_METHOD", &request.method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("CONTENT_TYPE", request.header("content-type").unwrap_or(""))
        .env("CONTENT_LENGTH", request.body.len().to_string())
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let (true, Some(version)) = (config.forward_git_protocol, request.header("git-protocol")) {
        command.env("GIT_PROTOCOL", version);
    }
    if query.contains("service=git-receive-pack") {
        let hook = config
            .before_push
            .lock()
            .expect("the hook's lock is not poisoned")
            .take();
        if let Some(hook) = hook {
            hook();
        }
    }
    let mut child = command.spawn().expect("git http-backend starts");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let body = request.body.clone();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&body);
    });
    let output = child.wait_with_output().expect("git http-backend's output");
    feeder.join().expect("the body was written");
    frame_cgi_output(&output.stdout)
}

fn frame_cgi_output(output: &[u8]) -> Vec<u8> {
    let split = output
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| (at, 4))
        .or_else(|| {
            output
                .windows(2)
                .position(|w| w == b"\n\n")
                .map(|at| (at, 2))
        });
    let (head, payload) = match split {
        Some((at, len)) => (&output[..at], &output[at + len..]),
        None => (&output[..0], output),
    };
    let mut status = "200 OK".to_owned();
    let mut headers = String::new();
    for line in String::from_utf8_lossy(head).lines() {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("status") {
            value.trim().clone_into(&mut status);
        } else {
            headers.push_str(&format!("{name}: {}\r\n", value.trim()));
        }
    }
    let mut answer = format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\n\r\n",
        payload.len()
    )
    .into_bytes();
    answer.extend_from_slice(payload);
    answer
}
