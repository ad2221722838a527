//! chromedriver as a child process on a free loopback port, in its own process group so the
//! browsers it starts die with it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use tokio::time::{Instant, sleep};

/// How long chromedriver may take to answer `/status` with `ready`.
const READY_WITHIN: Duration = Duration::from_secs(20);
/// How often `/status` is asked again while chromedriver starts.
const POLL_INTERVAL: Duration = Duration::from_millis(25);

/// The two programs a [`super::Browser`] runs.
pub(super) struct Binaries {
    pub driver: PathBuf,
    pub chromium: PathBuf,
}

/// chromedriver and chromium from `PATH`, else where Debian's packages put them.
pub(super) fn find_binaries() -> Option<Binaries> {
    Some(Binaries {
        driver: find("chromedriver")?,
        chromium: find("chromium")?,
    })
}

fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/bin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// A running chromedriver; killed with its process group (the browsers) when dropped.
#[derive(Debug)]
pub(super) struct Driver {
    child: Child,
    pub port: u16,
}

impl Driver {
    /// Starts chromedriver on a free port and waits until `/status` says it is ready.
    pub async fn start(binary: &Path, log: &Path) -> Result<Driver> {
        let port = free_port();
        let child = Command::new(binary)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawn {}", binary.display()))?;
        let mut driver = Driver { child, port };
        driver.wait_ready().await.with_context(|| {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            format!("chromedriver did not become ready; its log:\n{log}")
        })?;
        Ok(driver)
    }

    /// The WebDriver endpoint fantoccini connects to.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn wait_ready(&mut self) -> Result<()> {
        let status = format!("{}/status", self.url());
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()?;
        let deadline = Instant::now() + READY_WITHIN;
        while Instant::now() < deadline {
            if let Some(exit) = self.child.try_wait()? {
                bail!("chromedriver exited: {exit}");
            }
            if is_ready(&http, &status).await {
                return Ok(());
            }
            sleep(POLL_INTERVAL).await;
        }
        bail!("no ready answer from {status} within {READY_WITHIN:?}")
    }

    /// Ends a session synchronously (Drop cannot await): chromedriver then quits its browser
    /// cleanly. Best effort; the process group is killed afterwards anyway.
    pub fn delete_session(&self, session: &str) {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let request = format!(
            "DELETE /session/{session} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        );
        // chromedriver answers once the browser has quit; it keeps the connection open after,
        // so read only the status line.
        if stream.write_all(request.as_bytes()).is_ok() {
            let _ = stream.read_exact(&mut [0; 12]);
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id().and_then(|id| i32::try_from(id).ok()) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

async fn is_ready(http: &reqwest::Client, status: &str) -> bool {
    let Ok(response) = http.get(status).send().await else {
        return false;
    };
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    body["value"]["ready"] == true
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}
