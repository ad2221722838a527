//! `kill -9` of a process writing events through group commit: every event it acknowledged is
//! in the store afterwards, and the store opens cleanly.
//!
//! The writer is this test binary run again with [`CHILD_ENV`] set and filtered to
//! [`child_writer`]; it prints `ack <id> <delivery id>` for each event once `record_event`
//! has returned. The parent kills it with SIGKILL while it writes, then reopens the store.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use herald_store::{EventKind, NewEvent, Store};

mod common;

/// Set in the child: the store URL to write to.
const CHILD_ENV: &str = "HERALD_STORE_CRASH_CHILD";
/// Concurrent writers in the child.
const WRITERS: usize = 32;
/// Events each writer records at most (so a child never killed still ends).
const PER_WRITER: usize = 50_000;
/// Acknowledgements the parent waits for before killing the child.
const KILL_AFTER: usize = 3_000;
/// How long the child may take to acknowledge them.
const DEADLINE: Duration = Duration::from_secs(120);

#[test]
fn sqlite_acknowledged_events_survive_kill_9() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("herald.db").display());
    crash_and_check(&url);
    let integrity = runtime().block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&url).await.expect("connect");
        let row: (String,) = sqlx::query_as("PRAGMA integrity_check")
            .fetch_one(&pool)
            .await
            .expect("integrity check");
        row.0
    });
    assert_eq!(integrity, "ok");
}

#[test]
fn postgres_acknowledged_events_survive_kill_9() {
    let Some(cluster) = herald_testkit::postgres::postgres() else {
        return;
    };
    let url = runtime().block_on(cluster.fresh_database());
    crash_and_check(&url);
}

/// The writer child; does nothing unless run by [`crash_and_check`].
#[test]
fn child_writer() {
    let Ok(url) = std::env::var(CHILD_ENV) else {
        return;
    };
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(write_until_killed(&url));
}

async fn write_until_killed(url: &str) {
    let store = Store::connect(url).await.expect("child: open the store");
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for n in 0..PER_WRITER {
                    let delivery = format!("crash-{w}-{n}");
                    let event = NewEvent {
                        delivery_id: Some(delivery.clone()),
                        source: Some("repo".into()),
                        message: Some(format!("writer {w} event {n}")),
                        ..NewEvent::new(EventKind::HookDelivery)
                    };
                    let recorded = store.record_event(&event).await.expect("child: record");
                    // Printed only after the store answered: an acknowledgement.
                    let mut out = std::io::stdout().lock();
                    if writeln!(out, "ack {} {delivery}", recorded.id).is_err() {
                        std::process::exit(1);
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.await.expect("child: writer");
    }
    println!("done");
}

/// Kills the child when the test fails before it does.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Runs the writer child on `url`, SIGKILLs it mid-load, and checks every acknowledged event.
fn crash_and_check(url: &str) {
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args(["child_writer", "--exact", "--test-threads=1"])
        .env(CHILD_ENV, url)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the writer child");
    let stdout = child.stdout.take().expect("stdout");
    let mut child = KillOnDrop(child);
    let (lines_tx, lines) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });

    let mut acks = Vec::new();
    let deadline = Instant::now() + DEADLINE;
    while acks.len() < KILL_AFTER {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|e| panic!("{} acknowledgements, then {e}", acks.len()));
        acks.extend(parse_ack(&line));
    }
    // Child::kill sends SIGKILL: no destructor, no flush, as `kill -9`.
    child.0.kill().expect("kill the writer child");
    let status = child.0.wait().expect("wait for the writer child");
    assert_eq!(status.signal(), Some(9), "killed mid-load, not finished");
    // Acknowledgements already in the pipe when it died count too.
    reader.join().expect("reader");
    acks.extend(lines.try_iter().filter_map(|l| parse_ack(&l)));

    let stored = runtime().block_on(async {
        let store = Store::connect(url)
            .await
            .expect("the store reopens cleanly");
        let stored = common::delivery_ids(&store).await;
        store.close().await;
        stored
    });
    let lost: Vec<_> = acks
        .iter()
        .filter(|(id, delivery)| stored.get(id) != Some(&Some(delivery.clone())))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged events lost, e.g. {:?}",
        lost.len(),
        acks.len(),
        &lost[..lost.len().min(5)]
    );
    eprintln!(
        "{} acknowledged events all found among {} stored",
        acks.len(),
        stored.len()
    );
}

fn parse_ack(line: &str) -> Option<(i64, String)> {
    let mut parts = line.strip_prefix("ack ")?.split(' ');
    let id = parts.next()?.parse().ok()?;
    Some((id, parts.next()?.to_owned()))
}
