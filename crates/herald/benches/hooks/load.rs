//! The load generator: `connections` tasks, each sending one request after another.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::figures::Figures;
use crate::server::{self, Server};

/// How long the load runs before the server is killed.
const KILL_AFTER: Duration = Duration::from_secs(3);

/// What each request asks for.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// `GET /healthz`: the HTTP stack alone.
    Health,
    /// A signed push to `trigger`, with delivery ids counting up from `first`.
    Hook { trigger: &'static str, first: u64 },
}

/// The generator, bound to one server address and one signed body.
pub struct Load {
    client: reqwest::Client,
    listen: SocketAddr,
    connections: usize,
    body: &'static [u8],
    signature: String,
}

/// What one run measured.
#[derive(Debug, Default)]
pub struct Report {
    pub elapsed: Duration,
    pub latencies: Vec<Duration>,
    pub statuses: BTreeMap<u16, usize>,
    /// Delivery ids answered 2xx.
    pub acknowledged: Vec<String>,
}

impl Load {
    pub fn new(listen: SocketAddr, connections: usize, body: Vec<u8>, signature: String) -> Self {
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(connections)
            .timeout(Duration::from_secs(10))
            .build()
            .expect("HTTP client");
        Self {
            client,
            listen,
            connections,
            // Leaked once so every request shares it without copying.
            body: Vec::leak(body),
            signature,
        }
    }

    /// Runs `target` for `length` and prints a one-line progress note.
    pub async fn run(&self, target: Target, length: Duration, label: &str) -> Report {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = self.spawn(target, &stop);
        tokio::time::sleep(length).await;
        stop.store(true, Ordering::Relaxed);
        let report = collect(tasks, length).await;
        eprintln!("  {label}: {} requests", report.latencies.len());
        report
    }

    /// Runs hook load, SIGKILLs the server after [`KILL_AFTER`], and returns the deliveries
    /// acknowledged before it died and how long the load ran.
    pub async fn run_until_killed(
        &self,
        server: &mut Server,
        first: u64,
    ) -> (Vec<String>, Duration) {
        let stop = Arc::new(AtomicBool::new(false));
        let target = Target::Hook {
            trigger: server::TRIGGER,
            first,
        };
        let tasks = self.spawn(target, &stop);
        tokio::time::sleep(KILL_AFTER).await;
        server.kill();
        stop.store(true, Ordering::Relaxed);
        let report = collect(tasks, KILL_AFTER).await;
        (report.acknowledged, KILL_AFTER)
    }

    fn spawn(
        &self,
        target: Target,
        stop: &Arc<AtomicBool>,
    ) -> Vec<tokio::task::JoinHandle<Report>> {
        let next = Arc::new(AtomicU64::new(match target {
            Target::Hook { first, .. } => first,
            Target::Health => 0,
        }));
        (0..self.connections)
            .map(|_| {
                let worker = Worker {
                    client: self.client.clone(),
                    listen: self.listen,
                    body: self.body,
                    signature: self.signature.clone(),
                    target,
                    next: next.clone(),
                    stop: stop.clone(),
                };
                tokio::spawn(worker.run())
            })
            .collect()
    }
}

struct Worker {
    client: reqwest::Client,
    listen: SocketAddr,
    body: &'static [u8],
    signature: String,
    target: Target,
    next: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Worker {
    async fn run(self) -> Report {
        let mut report = Report::default();
        while !self.stop.load(Ordering::Relaxed) {
            let id = self.next.fetch_add(1, Ordering::Relaxed).to_string();
            let started = Instant::now();
            // 0: no answer (refused, reset, timed out).
            let status = self.send(&id).await.unwrap_or_default();
            report.latencies.push(started.elapsed());
            *report.statuses.entry(status).or_default() += 1;
            if (200..300).contains(&status) && matches!(self.target, Target::Hook { .. }) {
                report.acknowledged.push(id);
            }
        }
        report
    }

    async fn send(&self, id: &str) -> Result<u16, reqwest::Error> {
        let request = match self.target {
            Target::Health => self.client.get(format!("http://{}/healthz", self.listen)),
            Target::Hook { trigger, .. } => self
                .client
                .post(server::hook_url(self.listen, trigger))
                .header("content-type", "application/json")
                .header("x-github-event", "push")
                .header("x-github-delivery", id)
                .header("x-hub-signature-256", &self.signature)
                .body(self.body),
        };
        let response = request.send().await?;
        let status = response.status().as_u16();
        response.bytes().await?;
        Ok(status)
    }
}

async fn collect(tasks: Vec<tokio::task::JoinHandle<Report>>, length: Duration) -> Report {
    let mut total = Report {
        elapsed: length,
        ..Report::default()
    };
    for task in tasks {
        let Ok(part) = task.await else { continue };
        total.latencies.extend(part.latencies);
        total.acknowledged.extend(part.acknowledged);
        for (status, n) in part.statuses {
            *total.statuses.entry(status).or_default() += n;
        }
    }
    total.latencies.sort_unstable();
    total
}

impl Report {
    /// The figures of this run; `errors` counts answers other than 2xx by status (0: none).
    pub fn figures(&self) -> Figures {
        let errors: Vec<String> = self
            .statuses
            .iter()
            .filter(|(status, _)| !(200..300).contains(*status))
            .map(|(status, n)| format!("{n} x {status}"))
            .collect();
        Figures {
            requests: self.latencies.len() as u64,
            per_second: self.latencies.len() as f64 / self.elapsed.as_secs_f64(),
            p50_ms: self.percentile(0.50),
            p99_ms: self.percentile(0.99),
            errors: if errors.is_empty() {
                "none".into()
            } else {
                errors.join(", ")
            },
        }
    }

    fn percentile(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let at = ((self.latencies.len() - 1) as f64 * p).round() as usize;
        self.latencies[at].as_secs_f64() * 1000.0
    }
}
