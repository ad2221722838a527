//! Creating, listing and reading runs against a real SQLite file.

mod common;

use herald_api::{RunCause, RunPhase, TriggerKind};
use herald_store::{CREATED_REASON, Created, RunFilter, TriggerKey};

use common::{new_run, open, trigger};

#[tokio::test]
async fn create_is_idempotent_on_name() {
    let t = open().await;
    let first = t
        .store
        .create_run(&new_run("r1", "nightly", "aaa"))
        .await
        .expect("create");
    assert!(first.is_new());
    let run = first.record().clone();
    assert_eq!(run.name, "r1");
    assert_eq!(run.trigger_kind, TriggerKind::ScheduleTrigger);
    assert_eq!(run.trigger, "nightly");
    assert_eq!(run.revision, "aaa");
    assert_eq!(run.git_ref.as_deref(), Some("refs/heads/main"));
    assert_eq!(run.cause, RunCause::Change);
    assert_eq!(run.phase, RunPhase::Pending);
    assert_eq!(
        (run.started_at, run.finished_at, run.exit_code),
        (None, None, None)
    );

    // Same name, other fields changed: the stored run wins, nothing is rewritten.
    let again = t
        .store
        .create_run(&new_run("r1", "nightly", "bbb"))
        .await
        .expect("re-create");
    assert!(
        matches!(&again, Created::Existing(r) if *r == run),
        "{again:?}"
    );

    let detail = t.store.get_run(run.id).await.expect("get").expect("found");
    assert_eq!(detail.run, run);
    assert_eq!(detail.history.len(), 1);
    assert_eq!(detail.history[0].phase, RunPhase::Pending);
    assert_eq!(detail.history[0].reason, CREATED_REASON);
    assert_eq!(detail.history[0].at, run.created_at);
    assert_eq!(detail.output, None);
}

#[tokio::test]
async fn last_seen_follows_created_runs_only() {
    let t = open().await;
    let nightly = trigger("nightly");
    assert_eq!(
        t.store.last_seen(&nightly, "repo").await.expect("read"),
        None
    );

    t.store
        .create_run(&new_run("r1", "nightly", "aaa"))
        .await
        .expect("create r1");
    assert_eq!(
        t.store
            .last_seen(&nightly, "repo")
            .await
            .expect("read")
            .as_deref(),
        Some("aaa")
    );

    t.store
        .create_run(&new_run("r2", "nightly", "bbb"))
        .await
        .expect("create r2");
    assert_eq!(
        t.store
            .last_seen(&nightly, "repo")
            .await
            .expect("read")
            .as_deref(),
        Some("bbb")
    );

    // An existing run changes nothing, last seen included.
    let again = t
        .store
        .create_run(&new_run("r1", "nightly", "aaa"))
        .await
        .expect("again");
    assert!(!again.is_new());
    assert_eq!(
        t.store
            .last_seen(&nightly, "repo")
            .await
            .expect("read")
            .as_deref(),
        Some("bbb")
    );

    // A manual run does not move last seen.
    let mut manual = new_run("r3", "nightly", "ccc");
    manual.cause = RunCause::Manual;
    manual.record_last_seen = false;
    assert!(t.store.create_run(&manual).await.expect("manual").is_new());
    assert_eq!(
        t.store
            .last_seen(&nightly, "repo")
            .await
            .expect("read")
            .as_deref(),
        Some("bbb")
    );

    // The key is (kind, namespace, name, source).
    let other_kind = TriggerKey {
        kind: TriggerKind::WebhookTrigger,
        ..nightly.clone()
    };
    let other_ns = TriggerKey {
        namespace: "team".into(),
        ..nightly.clone()
    };
    assert_eq!(
        t.store.last_seen(&other_kind, "repo").await.expect("read"),
        None
    );
    assert_eq!(
        t.store.last_seen(&other_ns, "repo").await.expect("read"),
        None
    );
    assert_eq!(
        t.store.last_seen(&nightly, "other").await.expect("read"),
        None
    );
}

#[tokio::test]
async fn missing_runs_read_as_none() {
    let t = open().await;
    assert_eq!(t.store.get_run(1).await.expect("get"), None);
    assert_eq!(t.store.get_run_by_name("nope").await.expect("get"), None);
    assert!(
        t.store
            .list_runs(&RunFilter::default())
            .await
            .expect("list")
            .is_empty()
    );
}

#[tokio::test]
async fn list_filters_newest_first_with_limit() {
    let t = open().await;
    let mut ids = Vec::new();
    for (name, trig, ns) in [
        ("a", "nightly", "default"),
        ("b", "push", "default"),
        ("c", "nightly", "team"),
        ("d", "nightly", "default"),
        ("e", "push", "team"),
    ] {
        let mut new = new_run(name, trig, name);
        new.namespace = ns.into();
        ids.push(t.store.create_run(&new).await.expect("create").record().id);
    }
    t.store
        .transition(ids[1], RunPhase::Running, "Started", None)
        .await
        .expect("b runs");
    t.store
        .transition(ids[3], RunPhase::Running, "Started", None)
        .await
        .expect("d runs");

    let names = |runs: Vec<herald_store::RunRecord>| -> Vec<String> {
        runs.into_iter().map(|r| r.name).collect()
    };
    let all = t
        .store
        .list_runs(&RunFilter::default())
        .await
        .expect("list");
    assert_eq!(names(all), ["e", "d", "c", "b", "a"]);

    let filter = |namespace: Option<&str>, trigger: Option<&str>, phase, limit| RunFilter {
        namespace: namespace.map(Into::into),
        trigger: trigger.map(Into::into),
        phase,
        limit,
        ..RunFilter::default()
    };
    let cases = [
        (
            filter(Some("default"), None, None, None),
            vec!["d", "b", "a"],
        ),
        (
            filter(None, Some("nightly"), None, None),
            vec!["d", "c", "a"],
        ),
        (filter(Some("team"), Some("push"), None, None), vec!["e"]),
        (
            filter(None, None, Some(RunPhase::Running), None),
            vec!["d", "b"],
        ),
        (
            filter(
                Some("default"),
                Some("nightly"),
                Some(RunPhase::Pending),
                None,
            ),
            vec!["a"],
        ),
        (filter(None, None, None, Some(2)), vec!["e", "d"]),
        (filter(None, None, None, Some(0)), vec![]),
        (filter(Some("nowhere"), None, None, None), vec![]),
    ];
    for (f, want) in cases {
        let got = names(t.store.list_runs(&f).await.expect("list"));
        assert_eq!(got, want, "{f:?}");
    }
}

#[tokio::test]
async fn list_defaults_to_fifty() {
    let t = open().await;
    for i in 0..55 {
        t.store
            .create_run(&new_run(&format!("r{i:02}"), "nightly", "aaa"))
            .await
            .expect("create");
    }
    let runs = t
        .store
        .list_runs(&RunFilter::default())
        .await
        .expect("list");
    assert_eq!(runs.len(), RunFilter::DEFAULT_LIMIT as usize);
    assert_eq!(runs[0].name, "r54");
    assert_eq!(runs[49].name, "r05");
    let more = RunFilter {
        limit: Some(100),
        ..RunFilter::default()
    };
    assert_eq!(t.store.list_runs(&more).await.expect("list").len(), 55);
}

#[tokio::test]
async fn runs_in_phases_oldest_first() {
    let t = open().await;
    let mut ids = Vec::new();
    for name in ["a", "b", "c", "d"] {
        ids.push(
            t.store
                .create_run(&new_run(name, "nightly", name))
                .await
                .expect("create")
                .record()
                .id,
        );
    }
    t.store
        .transition(ids[0], RunPhase::Running, "Started", None)
        .await
        .expect("a runs");
    t.store
        .transition(ids[2], RunPhase::Running, "Started", None)
        .await
        .expect("c runs");
    t.store
        .transition(ids[2], RunPhase::Succeeded, "Done", None)
        .await
        .expect("c done");

    let ids_of =
        |runs: Vec<herald_store::RunRecord>| -> Vec<i64> { runs.iter().map(|r| r.id).collect() };
    let live = t
        .store
        .runs_in_phases(&[RunPhase::Pending, RunPhase::Running])
        .await
        .expect("live");
    assert_eq!(ids_of(live), [ids[0], ids[1], ids[3]]);
    let running = t
        .store
        .runs_in_phases(&[RunPhase::Running])
        .await
        .expect("running");
    assert_eq!(ids_of(running), [ids[0]]);
    let done = t
        .store
        .runs_in_phases(&[RunPhase::Succeeded, RunPhase::Failed])
        .await
        .expect("done");
    assert_eq!(ids_of(done), [ids[2]]);
    assert!(t.store.runs_in_phases(&[]).await.expect("none").is_empty());
}

#[tokio::test]
async fn the_latest_run_of_each_trigger_asked_for_and_runs_by_source() {
    let t = open().await;
    for (name, trig, ns, source) in [
        ("a", "nightly", "default", "repo"),
        ("b", "push", "default", "other"),
        ("c", "nightly", "default", "repo"),
        ("d", "nightly", "team", "repo"),
        ("e", "push", "default", "repo"),
    ] {
        let mut new = new_run(name, trig, name);
        new.namespace = ns.into();
        new.source = source.into();
        t.store.create_run(&new).await.expect("create");
    }
    let key = |ns: &str, name: &str| TriggerKey {
        kind: TriggerKind::ScheduleTrigger,
        namespace: ns.into(),
        name: name.into(),
    };
    let asked = [
        key("default", "nightly"),
        key("team", "nightly"),
        key("default", "push"),
        key("default", "never-ran"),
    ];
    let latest = t.store.latest_runs_of(&asked).await.expect("latest");
    let names: Vec<_> = latest.iter().map(|r| r.name.as_str()).collect();
    let newest_first = "one per namespace and trigger asked for, newest first";
    assert_eq!(names, ["e", "d", "c"], "{newest_first}");
    let many: Vec<TriggerKey> = (0..1200)
        .map(|i| key("default", &format!("t{i}")))
        .collect();
    let none = t
        .store
        .latest_runs_of(&many)
        .await
        .expect("asked in chunks");
    assert!(none.is_empty());

    let by_source = RunFilter {
        source: Some("other".into()),
        ..RunFilter::default()
    };
    let runs = t.store.list_runs(&by_source).await.expect("list");
    let names: Vec<_> = runs.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["b"]);
}
