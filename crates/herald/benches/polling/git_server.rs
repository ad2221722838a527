//! A smart-HTTP Git server on loopback: `git http-backend` run as CGI for each request (as a
//! web server in front of real repositories would), with every request counted and each
//! repository's `GET info/refs` timed: a check, by Herald or `git ls-remote`, is one of those.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, request::Parts};
use axum::response::{IntoResponse, Response};
use tokio::io::AsyncWriteExt;

/// Request bodies here are ls-refs commands and small fetch negotiations.
const MAX_BODY: usize = 1 << 20;

/// Why a request could not be answered by `git http-backend`.
#[derive(Debug, thiserror::Error)]
pub enum CgiError {
    #[error("running git http-backend: {0}")]
    Run(#[from] std::io::Error),
    #[error("git http-backend answered without CGI headers")]
    NoHeaders,
    #[error("git http-backend sent a bad header line: {0}")]
    BadHeader(String),
}

/// The server; stops when dropped.
#[derive(Debug)]
pub struct GitServer {
    pub addr: SocketAddr,
    pub log: Arc<RequestLog>,
    task: tokio::task::JoinHandle<()>,
}

/// What the server was asked, since it started.
#[derive(Debug, Default)]
pub struct RequestLog {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Arrival times of `GET .../info/refs` per repository path (`r17.git`).
    checks: HashMap<String, Vec<Instant>>,
    counts: Counts,
    /// `GET info/refs` by User-Agent: which Git client did the checks (libgit2, git, ...).
    agents: BTreeMap<String, u64>,
}

/// Requests by kind.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    /// `GET info/refs`: one per check (and one before each fetch).
    pub info_refs: u64,
    /// `POST git-upload-pack` carrying `command=ls-refs` (protocol v2 listing).
    pub ls_refs: u64,
    /// Other `POST git-upload-pack`: fetches (a run's checkout).
    pub fetches: u64,
    /// Answered 500 by this server (http-backend could not run, or answered nonsense).
    pub errors: u64,
}

impl Counts {
    pub fn since(self, earlier: Counts) -> Counts {
        Counts {
            info_refs: self.info_refs - earlier.info_refs,
            ls_refs: self.ls_refs - earlier.ls_refs,
            fetches: self.fetches - earlier.fetches,
            errors: self.errors - earlier.errors,
        }
    }
}

impl RequestLog {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere cannot leave the counters half-written: each update is one step.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn counts(&self) -> Counts {
        self.lock().counts
    }

    pub fn agents(&self) -> BTreeMap<String, u64> {
        self.lock().agents.clone()
    }

    /// Each repository's check times within `[from, to)`, for every repository ever checked.
    pub fn checks_between(&self, from: Instant, to: Instant) -> BTreeMap<String, Vec<Instant>> {
        self.lock()
            .checks
            .iter()
            .map(|(repo, times)| {
                let inside = times
                    .iter()
                    .copied()
                    .filter(|t| *t >= from && *t < to)
                    .collect();
                (repo.clone(), inside)
            })
            .collect()
    }

    /// How many repositories were checked at least `times` times since `since`.
    pub fn repos_checked(&self, times: usize, since: Instant) -> usize {
        self.lock()
            .checks
            .values()
            .filter(|t| t.iter().filter(|at| **at >= since).count() >= times)
            .count()
    }

    fn record(&self, parts: &Parts, body: &[u8], at: Instant) {
        let path = parts.uri.path();
        let mut inner = self.lock();
        if parts.method == Method::GET && path.ends_with("/info/refs") {
            inner.counts.info_refs += 1;
            let repo = path.trim_start_matches('/').split('/').next().unwrap_or("");
            inner.checks.entry(repo.to_owned()).or_default().push(at);
            let agent = parts
                .headers
                .get("user-agent")
                .and_then(|v| v.to_str().ok());
            *inner
                .agents
                .entry(agent.unwrap_or("-").to_owned())
                .or_default() += 1;
        } else if parts.method == Method::POST && path.ends_with("/git-upload-pack") {
            if contains(body, b"command=ls-refs") {
                inner.counts.ls_refs += 1;
            } else {
                inner.counts.fetches += 1;
            }
        }
    }

    fn error(&self) {
        self.lock().counts.errors += 1;
    }
}

impl GitServer {
    /// Serves the bare repositories under `root` on a free loopback port.
    pub async fn start(root: &Path) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let log = Arc::new(RequestLog::default());
        let shared = Arc::new(Shared {
            root: root.to_owned(),
            log: log.clone(),
        });
        let router = axum::Router::new().fallback(serve).with_state(shared);
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, router).await {
                eprintln!("git server stopped: {e}");
            }
        });
        Ok(Self { addr, log, task })
    }

    /// The clone URL of the bare repository `name` (`r17.git`).
    pub fn url(&self, name: &str) -> String {
        format!("http://{}/{name}", self.addr)
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Shared {
    root: PathBuf,
    log: Arc<RequestLog>,
}

async fn serve(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let at = Instant::now();
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    shared.log.record(&parts, &body, at);
    match cgi(&shared.root, &parts, body).await {
        Ok(response) => response,
        Err(e) => {
            shared.log.error();
            (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response()
        }
    }
}

/// Runs `git http-backend` for one request, as RFC 3875 describes.
async fn cgi(root: &Path, parts: &Parts, body: Bytes) -> Result<Response, CgiError> {
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let protocol = header("git-protocol");
    let mut child = tokio::process::Command::new("git")
        .arg("http-backend")
        .env("GIT_PROJECT_ROOT", root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", parts.method.as_str())
        .env("PATH_INFO", parts.uri.path())
        .env("QUERY_STRING", parts.uri.query().unwrap_or_default())
        .env("CONTENT_TYPE", header("content-type"))
        .env("CONTENT_LENGTH", body.len().to_string())
        .env("REMOTE_ADDR", "127.0.0.1")
        // Protocol v2 is asked for with this header; http-backend reads it from either name.
        .env("GIT_PROTOCOL", &protocol)
        .env("HTTP_GIT_PROTOCOL", &protocol)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(&body).await?;
    }
    let output = child.wait_with_output().await?;
    parse_cgi(&output.stdout)
}

/// A CGI answer: header lines (`Status:` sets the code), a blank line, the body.
fn parse_cgi(output: &[u8]) -> Result<Response, CgiError> {
    let (head, body) = split_head(output).ok_or(CgiError::NoHeaders)?;
    let head = String::from_utf8_lossy(head);
    let mut response = Response::builder();
    for line in head.lines().filter(|l| !l.is_empty()) {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| CgiError::BadHeader(line.to_owned()))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next().unwrap_or_default();
            let code = code
                .parse::<u16>()
                .map_err(|_| CgiError::BadHeader(line.to_owned()))?;
            response = response.status(code);
        } else {
            response = response.header(name, value);
        }
    }
    response
        .body(Body::from(body.to_vec()))
        .map_err(|e| CgiError::BadHeader(e.to_string()))
}

fn split_head(output: &[u8]) -> Option<(&[u8], &[u8])> {
    [&b"\r\n\r\n"[..], b"\n\n"].iter().find_map(|sep| {
        let at = output.windows(sep.len()).position(|w| w == *sep)?;
        Some((&output[..at], &output[at + sep.len()..]))
    })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
