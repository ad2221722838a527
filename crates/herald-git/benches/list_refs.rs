//! Polling one watched ref of a repository with 20,000 refs (10,000 tags, 10,000
//! `refs/pull/N/head`, plus `main`), over real servers: `git http-backend` behind a tiny
//! keep-alive HTTP/1.1 server (plain, and HTTPS with a throwaway CA), and `git daemon`. For each, the old path (`list_refs`: libgit2,
//! protocol v0, every ref) and the new one (`list_refs_matching`: protocol v2 `ls-refs`
//! with `ref-prefix`) are measured in the same run, and the new one again over a connection
//! kept from the previous check (`list_refs_reusing`, as the engine polls), per check:
//! - bytes received, counted at the socket by a proxy in front of the server;
//! - Herald's CPU time: this thread's run time from `/proc/thread-self/schedstat`
//!   (the servers and the proxy run in other processes and threads);
//! - wall time.
//!
//! `cargo bench -p herald-git --bench list_refs`; knobs: `HERALD_BENCH_V0_CHECKS`
//! (default 30), `HERALD_BENCH_V2_CHECKS` (default 300).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use herald_git::{
    Auth, IdleConnections, ListOptions, Remote, RemoteRef, Tls, list_refs, list_refs_matching,
    list_refs_reusing,
};
use herald_testkit::git_http::HttpBackend;
use support::counting_proxy::CountingProxy;
use support::pki::Pki;
use support::{ChildGuard, free_port, git};

const PULL_HEADS: usize = 10_000;
/// Lightweight tags; one annotated tag, `v1.2.0`, makes the 10,000th.
const LIGHT_TAGS: usize = 9_999;

fn main() {
    let v0_checks = knob("HERALD_BENCH_V0_CHECKS", 30);
    let v2_checks = knob("HERALD_BENCH_V2_CHECKS", 300);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repos");
    std::fs::create_dir(&root).unwrap();
    let started = Instant::now();
    let main_commit = build_repository(&root.join("busy.git"));
    build_small_repository(&root.join("small.git"));
    eprintln!(
        "built the repositories in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let http = HttpBackend::start(&root, true).expect("git http-backend is installed");
    let pki = Pki::generate(&dir.path().join("pki"), "IP:127.0.0.1");
    let https = HttpBackend::start_tls(&root, true, &pki.cert, &pki.key)
        .expect("git http-backend is installed");
    let daemon = start_daemon(&root, dir.path());
    let servers = [
        ("HTTP", CountingProxy::start(http.port), "http"),
        ("HTTPS", CountingProxy::start(https.port), "https"),
        ("git daemon", CountingProxy::start(daemon.1), "git"),
    ];
    let mut table = String::from(
        "| server | path | refs in repo | bytes received / check | bytes sent / check | CPU ms / check | wall ms / check |\n\
         |---|---|---:|---:|---:|---:|---:|\n",
    );
    for (name, proxy, scheme) in &servers {
        // The proxy's address is the certificate's (127.0.0.1), so TLS is checked as usual.
        let remote = |repo: &str| Remote {
            url: format!("{scheme}://127.0.0.1:{}/{repo}", proxy.port),
            auth: Auth::None,
            tls: Tls {
                ca_pem: Some(pki.ca_pem.clone()),
                insecure_skip_verify: false,
            },
        };
        let busy = remote("busy.git");
        let small = remote("small.git");
        let watched = vec!["refs/heads/main".to_owned()];
        let tag = vec!["refs/tags/v1.2.0".to_owned()];
        check_results(&busy, &main_commit);
        let kept = IdleConnections::new(1);
        let rows = [
            ("v0 `list_refs`", "20,001", &busy, Poll::Every, v0_checks),
            ("v0 `list_refs`", "1", &small, Poll::Every, v2_checks),
            (
                "v2 `list_refs_matching` (main)",
                "20,001",
                &busy,
                Poll::Watched(&watched),
                v2_checks,
            ),
            (
                "v2 `list_refs_matching` (tag)",
                "20,001",
                &busy,
                Poll::Watched(&tag),
                v2_checks,
            ),
            (
                "v2 `list_refs_reusing` (main), kept connection",
                "20,001",
                &busy,
                Poll::Kept(&watched, &kept),
                v2_checks,
            ),
        ];
        for (path, refs, remote, poll, checks) in rows {
            let m = measure(proxy, checks, || match poll {
                Poll::Every => drop(list_refs(remote).unwrap()),
                Poll::Watched(prefixes) => drop(list_refs_matching(remote, prefixes).unwrap()),
                Poll::Kept(prefixes, idle) => {
                    let options = ListOptions::prefixes(prefixes.iter().cloned());
                    drop(list_refs_reusing(remote, &options, idle).unwrap());
                }
            });
            writeln!(
                table,
                "| {name} | {path} | {refs} | {} | {} | {:.3} | {:.3} |",
                thousands(m.received),
                thousands(m.sent),
                m.cpu.as_secs_f64() * 1e3,
                m.wall.as_secs_f64() * 1e3
            )
            .unwrap();
        }
    }
    println!("{table}");
    drop(daemon);
}

/// How a check lists.
#[derive(Clone, Copy)]
enum Poll<'a> {
    /// Every ref, libgit2 (protocol v0).
    Every,
    /// The watched refs (protocol v2 where offered), a connection per check.
    Watched(&'a [String]),
    /// The same over a connection kept from the previous check.
    Kept(&'a [String], &'a IdleConnections),
}

/// Per-check averages.
struct Measured {
    received: u64,
    sent: u64,
    cpu: Duration,
    wall: Duration,
}

fn measure(proxy: &CountingProxy, checks: usize, check: impl Fn()) -> Measured {
    check(); // warm-up: connections, page cache, lazily loaded libraries
    let (received_before, sent_before) = proxy.totals();
    let cpu_before = thread_cpu();
    let wall_before = Instant::now();
    for _ in 0..checks {
        check();
    }
    let wall = wall_before.elapsed();
    let cpu = thread_cpu() - cpu_before;
    let (received_after, sent_after) = proxy.totals();
    let n = checks as u64;
    let per_check = |d: Duration| d / u32::try_from(checks).unwrap();
    Measured {
        received: (received_after - received_before) / n,
        sent: (sent_after - sent_before) / n,
        cpu: per_check(cpu),
        wall: per_check(wall),
    }
}

/// This thread's CPU time (user and system), in nanoseconds, from the scheduler.
fn thread_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
    let nanos = text.split_whitespace().next().unwrap().parse().unwrap();
    Duration::from_nanos(nanos)
}

/// Both paths see the same refs (the annotated tag peeled) before anything is timed.
fn check_results(remote: &Remote, main_commit: &str) {
    let all = list_refs(remote).unwrap();
    assert_eq!(all.len(), 1 + PULL_HEADS + LIGHT_TAGS + 1);
    let watched = list_refs_matching(remote, &["refs/heads/main".to_owned()]).unwrap();
    let expected = RemoteRef {
        name: "refs/heads/main".into(),
        commit: main_commit.to_owned(),
    };
    assert_eq!(watched, [expected]);
    let tag = list_refs_matching(remote, &["refs/tags/v1.2.0".to_owned()]).unwrap();
    assert_eq!(tag.len(), 1);
    assert_eq!(tag[0].commit, main_commit, "the annotated tag is peeled");
    assert!(all.contains(&tag[0]));
}

/// The busy repository, written with one `git fast-import` run; returns main's commit.
fn build_repository(bare: &Path) -> String {
    git(
        bare.parent().unwrap(),
        &["init", "-q", "--bare", bare.to_str().unwrap()],
    );
    let mut stream = String::from(
        "commit refs/heads/main\nmark :1\ncommitter Herald Bench <bench@example.invalid> 1700000000 +0000\n\
         data 6\nfirst\nM 644 inline README.md\ndata 6\nhello\n\n",
    );
    for n in 1..=PULL_HEADS {
        writeln!(stream, "reset refs/pull/{n}/head\nfrom :1\n").unwrap();
    }
    for n in 0..LIGHT_TAGS {
        writeln!(stream, "reset refs/tags/t{n}\nfrom :1\n").unwrap();
    }
    stream.push_str(
        "tag v1.2.0\nfrom :1\ntagger Herald Bench <bench@example.invalid> 1700000000 +0000\n\
         data 8\nrelease\n\n",
    );
    fast_import(bare, &stream);
    git(bare, &["pack-refs", "--all"]);
    git(bare, &["rev-parse", "refs/heads/main"])
}

fn build_small_repository(bare: &Path) {
    git(
        bare.parent().unwrap(),
        &["init", "-q", "--bare", bare.to_str().unwrap()],
    );
    fast_import(
        bare,
        "commit refs/heads/main\ncommitter Herald Bench <bench@example.invalid> 1700000000 +0000\n\
         data 6\nfirst\n\n",
    );
}

fn fast_import(bare: &Path, stream: &str) {
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(bare)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stream.as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success(), "git fast-import failed");
}

fn start_daemon(root: &Path, scratch: &Path) -> (ChildGuard, u16) {
    let port = free_port();
    let root_text = root.to_str().unwrap();
    let mut command = Command::new(support::git_helper("daemon").expect("git daemon is installed"));
    command.args([
        "--export-all",
        "--reuseaddr",
        "--listen=127.0.0.1",
        &format!("--port={port}"),
        &format!("--base-path={root_text}"),
        root_text,
    ]);
    let mut guard = ChildGuard::spawn("git daemon", &mut command, &scratch.join("daemon.log"));
    support::wait_for_port(&mut guard, port);
    (guard, port)
}

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
