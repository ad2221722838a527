//! Image write-back of 100 updates to one manifests repository (100 images in 100 files,
//! plus 900 other manifests so the scan is realistic), served by the real `git
//! http-backend` (or reached by path when it is missing; the output says which).
//!
//! Measured in the same run:
//! - batched: 100 concurrent `write`s with the default configuration (250 ms quiet window),
//!   from the LAST update's arrival to the pushed commit, and the commits it made;
//! - baseline: the same 100 updates one commit each (quiet window 0, each write awaited
//!   before the next), as tools that write back one update at a time do;
//! - the scan: reading the 1,000 files and `find_targets` for the 100 images.
//!
//! `cargo bench -p herald-automation --bench writeback`

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use herald_automation::writer::{WriteOutcome, WriterConfig, Writers};
use herald_image::{Repository, Watched};
use herald_testkit::git_http::HttpBackend;
use support::{Manifests, app_files, app_image, direct, set_tag, update};
use tokio::task::JoinSet;

const UPDATES: usize = 100;
/// Batched rounds (each sets the 100 images to a new tag); the baseline runs once.
const ROUNDS: usize = 5;
const OTHER_FILES: usize = 900;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let files = repository_files();
    let batched_repo = Manifests::new(&files);
    let baseline_repo = Manifests::new(&files);
    let (batched_url, transport, _s1) = serve(&batched_repo);
    let (baseline_url, _, _s2) = serve(&baseline_repo);
    println!(
        "transport: {transport}; {UPDATES} updates, {} files",
        files.len()
    );

    scan(&batched_repo);
    runtime.block_on(batched(&batched_repo, &batched_url));
    runtime.block_on(baseline(&baseline_repo, &baseline_url));
}

/// 100 Deployments with one automated image each, and 900 Services and ConfigMaps.
fn repository_files() -> Vec<(String, String)> {
    let mut files = app_files(UPDATES);
    for i in 0..OTHER_FILES {
        let content = if i % 2 == 0 {
            format!(
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: svc{i}\nspec:\n  ports:\n    - port: 80\n      targetPort: 8080\n  selector:\n    app: svc{i}\n"
            )
        } else {
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config{i}\ndata:\n  LOG_LEVEL: info\n  FEATURE_{i}: \"on\"\n"
            )
        };
        files.push((format!("platform/team{}/file{i}.yaml", i % 30), content));
    }
    files
}

fn serve(repo: &Manifests) -> (String, &'static str, Option<HttpBackend>) {
    match HttpBackend::start(&repo.root, true) {
        Some(server) => (
            server.url("manifests.git"),
            "git http-backend (HTTP)",
            Some(server),
        ),
        None => (repo.path_url(), "file:// (git http-backend missing)", None),
    }
}

/// Read every file of a checkout and find the 100 images' targets, 20 times.
fn scan(repo: &Manifests) {
    let work = repo.dir.path().join("scan");
    support::git(
        repo.dir.path(),
        &[
            "clone",
            "-q",
            repo.bare.to_str().unwrap(),
            work.to_str().unwrap(),
        ],
    );
    let watched = Watched::new(
        (0..UPDATES).map(|i| Repository::parse(&app_image(i)).unwrap()),
        [],
    );
    let mut times = Vec::new();
    let mut found = 0;
    for _ in 0..20 {
        let started = Instant::now();
        let files = read_all(&work);
        let report =
            herald_image::find_targets(files.iter().map(|(p, b)| (p.as_str(), b)), &watched);
        times.push(started.elapsed());
        found = report.files.len();
    }
    times.sort();
    println!(
        "scan: {} files read and scanned, {found} with targets: p50 {:.1} ms, max {:.1} ms",
        UPDATES + OTHER_FILES,
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1])
    );
}

fn read_all(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                if entry.file_name() != ".git" {
                    pending.push(path);
                }
            } else {
                files.push((path.display().to_string(), std::fs::read(&path).unwrap()));
            }
        }
    }
    files
}

/// A first write that changes nothing, so the measured writes find the clone cached.
async fn warm_up(writers: &Writers, url: &str) {
    let written = writers
        .write(
            direct(url, "main"),
            update("warm-up", vec![set_tag(0, "1.0.0")], &["."]),
        )
        .await
        .unwrap();
    assert_eq!(written.outcome, WriteOutcome::UpToDate);
}

async fn batched(repo: &Manifests, url: &str) {
    let writers = Writers::new(repo.cache(), WriterConfig::default());
    warm_up(&writers, url).await;
    for round in 0..ROUNDS {
        batched_round(repo, url, &writers, &format!("{}.0.0", round + 2)).await;
    }
}

async fn batched_round(repo: &Manifests, url: &str, writers: &Writers, tag: &str) {
    let before = repo.commit_count("main");
    let mut tasks = JoinSet::new();
    for i in 0..UPDATES {
        let writers = writers.clone();
        let destination = direct(url, "main");
        let update = update(&format!("apps/app{i}"), vec![set_tag(i, tag)], &["."]);
        tasks.spawn(async move {
            let arrived = Instant::now();
            let written = writers.write(destination, update).await.unwrap();
            (arrived, Instant::now(), written)
        });
    }
    let mut last_arrival = None::<Instant>;
    let mut last_answer = None::<Instant>;
    let mut waits = Vec::new();
    let mut commits = std::collections::BTreeSet::new();
    while let Some(joined) = tasks.join_next().await {
        let (arrived, answered, written) = joined.unwrap();
        let WriteOutcome::Pushed { commit, .. } = written.outcome else {
            panic!("not pushed: {:?}", written.outcome);
        };
        commits.insert(commit);
        waits.push(answered - arrived);
        last_arrival = Some(last_arrival.map_or(arrived, |t| t.max(arrived)));
        last_answer = Some(last_answer.map_or(answered, |t| t.max(answered)));
    }
    let landed = repo.commit_count("main") - before;
    waits.sort();
    let from_last = last_answer.unwrap() - last_arrival.unwrap();
    println!(
        "batched to {tag} (quiet window 250 ms): last arrival -> pushed commit {:.0} ms; per update p50 {:.0} ms; {landed} commit(s) on the branch, {} distinct commit id(s) answered",
        ms(from_last),
        ms(waits[waits.len() / 2]),
        commits.len()
    );
}

async fn baseline(repo: &Manifests, url: &str) {
    let config = WriterConfig {
        quiet_window: Duration::ZERO,
        ..WriterConfig::default()
    };
    let writers = Writers::new(repo.cache(), config);
    warm_up(&writers, url).await;
    let before = repo.commit_count("main");
    let started = Instant::now();
    let mut times = Vec::new();
    for i in 0..UPDATES {
        let update = update(&format!("apps/app{i}"), vec![set_tag(i, "2.0.0")], &["."]);
        let one = Instant::now();
        let written = writers.write(direct(url, "main"), update).await.unwrap();
        assert!(matches!(written.outcome, WriteOutcome::Pushed { .. }));
        times.push(one.elapsed());
    }
    let total = started.elapsed();
    let landed = repo.commit_count("main") - before;
    times.sort();
    println!(
        "baseline (one commit per update, each awaited): per update p50 {:.0} ms, p90 {:.0} ms; all {UPDATES} in {:.0} ms; {landed} commits on the branch",
        ms(times[times.len() / 2]),
        ms(times[times.len() * 9 / 10]),
        ms(total)
    );
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
