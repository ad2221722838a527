//! The engine's ref listings against real repositories: shared while fresh, bounded, and a
//! hanging server costs only its own check.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use herald_engine::RefLister;
use herald_git::Remote;
use herald_testkit::TestRepo;

fn main_of(refs: &[herald_git::RemoteRef]) -> String {
    refs.iter()
        .find(|r| r.name == "refs/heads/main")
        .unwrap()
        .commit
        .clone()
}

#[tokio::test]
async fn a_fresh_listing_is_shared_and_a_stale_one_is_not() {
    let repo = TestRepo::new();
    let remote = Remote::anonymous(repo.url());
    let lister = RefLister::new(2, Duration::from_secs(30));
    let first = lister.list(&remote, &[], Duration::ZERO).await.unwrap();
    let before = repo.head();
    assert_eq!(main_of(&first), before);
    let after = repo.commit("moved");
    let shared = lister
        .list(&remote, &[], Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        main_of(&shared),
        before,
        "a listing young enough answers again"
    );
    let fresh = lister.list(&remote, &[], Duration::ZERO).await.unwrap();
    assert_eq!(main_of(&fresh), after, "zero asks the remote now");
    // Another URL is another remote: never answered from this one's listing.
    let other = Remote::anonymous(repo.path().display().to_string());
    repo.commit("again");
    let listed = lister
        .list(&other, &[], Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(main_of(&listed), repo.head());
}

#[tokio::test]
async fn a_hanging_server_fails_its_own_listing_at_the_deadline_only() {
    let (port, release, held) = hung_server();
    let lister = RefLister::new(2, Duration::from_millis(300));
    let stuck = Remote::anonymous(format!("git://127.0.0.1:{port}/repo.git"));
    let repo = TestRepo::new();
    let healthy = Remote::anonymous(repo.url());
    let (stuck, healthy) = tokio::time::timeout(Duration::from_secs(20), async {
        tokio::join!(
            lister.list(&stuck, &[], Duration::ZERO),
            lister.list(&healthy, &[], Duration::ZERO)
        )
    })
    .await
    .expect("neither listing waits past its deadline");
    // The transport's own deadline ends it (an unreachable server), else the lister's.
    let stuck = stuck.unwrap_err();
    assert_eq!(stuck.reason(), "Unreachable", "{stuck}");
    assert!(stuck.to_string().contains("timeout"), "{stuck}");
    assert_eq!(main_of(&healthy.unwrap()), repo.head());
    release.send(()).unwrap();
    held.join().unwrap();
}

#[tokio::test]
async fn listings_of_remotes_no_longer_asked_for_are_forgotten() {
    let (watched, dropped) = (TestRepo::new(), TestRepo::new());
    let watched = Remote::anonymous(watched.url());
    let dropped = Remote::anonymous(dropped.url());
    let lister =
        RefLister::new(2, Duration::from_secs(30)).forgetting_after(Duration::from_millis(200));
    lister.list(&dropped, &[], Duration::ZERO).await.unwrap();
    lister.list(&watched, &[], Duration::ZERO).await.unwrap();
    assert_eq!(lister.remotes_kept(), 2);
    // Only `watched` is asked for from now on; `dropped` goes once its listing is old enough.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while lister.remotes_kept() > 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the unused listing was never forgotten"
        );
        lister.list(&watched, &[], Duration::ZERO).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(lister.remotes_kept(), 1);
    let again = lister.list(&dropped, &[], Duration::from_secs(60)).await;
    assert!(
        again.is_ok(),
        "a forgotten remote is listed again when asked"
    );
    assert_eq!(lister.remotes_kept(), 2);
}

#[tokio::test]
async fn listings_waiting_for_a_slot_are_counted() {
    // A server that accepts and never answers holds the only slot until the deadline.
    let (port, release, held) = hung_server();
    let waiting = prometheus_client::metrics::gauge::Gauge::<i64>::default();
    let lister = RefLister::new(1, Duration::from_millis(500)).reporting_waits_in(waiting.clone());
    let stuck = Remote::anonymous(format!("git://127.0.0.1:{port}/repo.git"));
    let repo = TestRepo::new();
    let healthy = Remote::anonymous(repo.url());
    let seen_waiting = async {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while waiting.get() != 1 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no listing was counted waiting"
            );
            tokio::task::yield_now().await;
        }
    };
    let (stuck, healthy, ()) = tokio::join!(
        lister.list(&stuck, &[], Duration::ZERO),
        async {
            // Asked second: it waits for the slot the stuck listing holds.
            tokio::task::yield_now().await;
            lister.list(&healthy, &[], Duration::ZERO).await
        },
        seen_waiting
    );
    assert!(stuck.is_err());
    assert_eq!(main_of(&healthy.unwrap()), repo.head());
    assert_eq!(waiting.get(), 0, "nothing counted once every listing ended");
    release.send(()).unwrap();
    held.join().unwrap();
}

/// A server that accepts connections and never answers, as a stuck Git server does: its
/// port, the sender that releases it (the connection is closed so a stuck listing ends), and
/// its thread.
fn hung_server() -> (
    u16,
    std::sync::mpsc::Sender<()>,
    std::thread::JoinHandle<()>,
) {
    let hung = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = hung.local_addr().unwrap().port();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let held = std::thread::spawn(move || {
        let connection = hung.incoming().next();
        let _ = released.recv();
        drop(connection);
    });
    (port, release, held)
}

#[tokio::test]
async fn polls_of_one_host_share_a_kept_connection() {
    // Two repositories on one smart-HTTP server (`git http-backend`), polled in turn.
    let (one, two) = (TestRepo::new(), TestRepo::new());
    let served = tempfile::tempdir().unwrap();
    for (repo, name) in [(&one, "one.git"), (&two, "two.git")] {
        let status = std::process::Command::new("git")
            .args(["clone", "-q", "--bare"])
            .arg(repo.path())
            .arg(served.path().join(name))
            .status()
            .unwrap();
        assert!(status.success());
    }
    let Some(server) = herald_testkit::git_http::HttpBackend::start(served.path(), true) else {
        return;
    };
    let lister = RefLister::new(2, Duration::from_secs(30));
    for _ in 0..3 {
        for (repo, name) in [(&one, "one.git"), (&two, "two.git")] {
            let remote = Remote::anonymous(server.url(name));
            let refs = lister.list(&remote, &[], Duration::ZERO).await.unwrap();
            assert_eq!(main_of(&refs), repo.head());
        }
    }
    let connections = server
        .connections
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(
        connections, 1,
        "six listings, one after another, one connection"
    );
}
