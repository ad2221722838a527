//! Many tasks writing to one store at once.

mod common;

use herald_api::RunPhase;
use herald_store::RunFilter;

use common::{new_run, open, trigger};

const TASKS: usize = 32;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_create_of_one_name_yields_one_new() {
    let t = open().await;
    let mut handles = Vec::new();
    for i in 0..TASKS {
        let store = t.store.clone();
        handles.push(tokio::spawn(async move {
            // Each task proposes a different revision; only the winner's is kept.
            store
                .create_run(&new_run("same", "nightly", &format!("rev{i}")))
                .await
        }));
    }
    let mut results = Vec::new();
    for handle in handles {
        results.push(handle.await.expect("task").expect("create"));
    }
    let new: Vec<_> = results.iter().filter(|c| c.is_new()).collect();
    assert_eq!(new.len(), 1, "exactly one task creates the run");
    let winner = new[0].record().clone();
    assert!(results.iter().all(|c| *c.record() == winner));

    let detail = t
        .store
        .get_run_by_name("same")
        .await
        .expect("get")
        .expect("found");
    assert_eq!(detail.history.len(), 1);
    assert_eq!(detail.run, winner);
    let seen = t
        .store
        .last_seen(&trigger("nightly"), "repo")
        .await
        .expect("last seen");
    assert_eq!(seen.as_deref(), Some(winner.revision.as_str()));
    assert_eq!(
        t.store
            .list_runs(&RunFilter::default())
            .await
            .expect("list")
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_of_distinct_runs_all_succeed() {
    let t = open().await;
    let mut handles = Vec::new();
    for i in 0..TASKS {
        let store = t.store.clone();
        handles.push(tokio::spawn(async move {
            let id = store
                .create_run(&new_run(&format!("run{i}"), "nightly", "aaa"))
                .await?
                .record()
                .id;
            store
                .transition(id, RunPhase::Running, "Started", None)
                .await?;
            store
                .transition(id, RunPhase::Succeeded, "Done", None)
                .await
        }));
    }
    let mut ids = Vec::new();
    for handle in handles {
        ids.push(handle.await.expect("task").expect("run").id);
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), TASKS);
    let done = t
        .store
        .runs_in_phases(&[RunPhase::Succeeded])
        .await
        .expect("done");
    assert_eq!(done.len(), TASKS);
}
