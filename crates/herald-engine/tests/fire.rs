//! The one fire path, tested once with in-memory run state and sources: every decision both
//! modes rely on (onChangeOnly, files, tags, redelivery, restart, hand firings, failures).
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use herald_api::{
    ActionKind, ActionRef, GitReference, RunCause, SourceKind, TriggerKind, TriggerSources,
    WatchOn, reasons,
};
use herald_core::hooks::Push;
use herald_core::{Firing, Selected, SourceChoiceError};
use herald_engine::{
    Created, Failure, HookOutcomes, Outcome, RunStore, SourceError, SourceHealth, SourceReader,
    TriggerDef, delivery_firing, fire_source, fire_sources,
};
use herald_server::{FireError, FiredRun, Metrics, RunLabels};
use herald_store::{NewEvent, NewRun};

const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

/// Runs by name, and the last seen revision per source, as a store keeps them.
#[derive(Default)]
struct MemoryRuns {
    runs: Mutex<BTreeMap<String, NewRun>>,
    seen: Mutex<BTreeMap<String, String>>,
    broken: bool,
    health: SourceHealth,
    events: Mutex<Vec<NewEvent>>,
}

impl MemoryRuns {
    fn count(&self) -> usize {
        self.runs.lock().unwrap().len()
    }

    /// As after a crash between storing a run and recording its revision as seen.
    fn forget_seen(&self) {
        self.seen.lock().unwrap().clear();
    }
}

impl RunStore for MemoryRuns {
    type Run = NewRun;
    type Error = String;

    async fn last_seen(&self, _: &TriggerDef<'_>, source: &str) -> Result<Option<String>, String> {
        Ok(self.seen.lock().unwrap().get(source).cloned())
    }

    async fn create(&self, run: &NewRun) -> Result<Created<NewRun>, String> {
        if self.broken {
            return Err("the disk is full".into());
        }
        let mut runs = self.runs.lock().unwrap();
        if let Some(existing) = runs.get(&run.name) {
            return Ok(Created::Existing(existing.clone()));
        }
        runs.insert(run.name.clone(), run.clone());
        if run.record_last_seen {
            let mut seen = self.seen.lock().unwrap();
            seen.insert(run.source.clone(), run.revision.clone());
        }
        Ok(Created::New(run.clone()))
    }

    fn source_health(&self) -> &SourceHealth {
        &self.health
    }

    async fn record_event(&self, event: NewEvent) {
        self.events.lock().unwrap().push(event);
    }
}

/// Each source's `main` at a revision; a source not listed is unreachable. Counts the
/// listings asked for, and holds the names of suspended sources.
#[derive(Default)]
struct MemorySources {
    heads: Mutex<BTreeMap<String, String>>,
    suspended: Mutex<BTreeSet<String>>,
    listings: AtomicUsize,
}

impl MemorySources {
    fn new(heads: &[(&str, &str)]) -> Self {
        let heads = heads
            .iter()
            .map(|(s, r)| ((*s).to_owned(), (*r).to_owned()));
        Self {
            heads: Mutex::new(heads.collect()),
            ..Self::default()
        }
    }

    fn suspend(&self, source: &str, suspended: bool) {
        let mut names = self.suspended.lock().unwrap();
        if suspended {
            names.insert(source.to_owned());
        } else {
            names.remove(source);
        }
    }

    fn listings(&self) -> usize {
        self.listings.load(Ordering::SeqCst)
    }

    fn commit(&self, source: &str, revision: &str) {
        self.heads
            .lock()
            .unwrap()
            .insert(source.into(), revision.into());
    }
}

impl SourceReader for MemorySources {
    async fn current(
        &self,
        _: &TriggerDef<'_>,
        source: &str,
        _: &GitReference,
    ) -> Result<Selected, SourceError> {
        self.listings.fetch_add(1, Ordering::SeqCst);
        let heads = self.heads.lock().unwrap();
        let unreachable =
            || SourceError::new(reasons::UNREACHABLE, format!("cannot reach {source}"));
        let revision = heads.get(source).ok_or_else(unreachable)?;
        Ok(Selected {
            git_ref: Some("refs/heads/main".into()),
            revision: revision.clone(),
        })
    }

    fn suspended(&self, _: &TriggerDef<'_>, source: &str) -> bool {
        self.suspended.lock().unwrap().contains(source)
    }
}

struct Trigger {
    sources: TriggerSources,
    action: ActionRef,
}

impl Trigger {
    fn new(names: &[&str], on_change_only: bool, reference: GitReference, files: &[&str]) -> Self {
        Self {
            sources: TriggerSources {
                kind: SourceKind::GitRepo,
                names: names.iter().map(|n| (*n).to_owned()).collect(),
                watch_on: WatchOn {
                    on_change_only,
                    reference,
                    files: files.iter().map(|f| (*f).to_owned()).collect(),
                },
            },
            action: ActionRef {
                kind: ActionKind::Action,
                name: "build".into(),
            },
        }
    }

    fn on_main(on_change_only: bool) -> Self {
        Self::new(&["app"], on_change_only, branch("main"), &[])
    }

    fn def(&self) -> TriggerDef<'_> {
        TriggerDef {
            kind: TriggerKind::WebhookTrigger,
            namespace: "ci",
            name: "t",
            sources: &self.sources,
            action: &self.action,
            listing_max_age: std::time::Duration::ZERO,
        }
    }
}

fn branch(name: &str) -> GitReference {
    GitReference {
        branch: Some(name.into()),
        ..GitReference::default()
    }
}

fn push(git_ref: &str, revision: &str, files: Option<&[&str]>) -> Push {
    Push {
        git_ref: git_ref.into(),
        revision: revision.into(),
        deleted: revision.bytes().all(|b| b == b'0'),
        changed_files: files.map(|f| f.iter().map(|s| (*s).to_owned()).collect()),
        repository: None,
    }
}

fn tick(at: &str) -> Firing {
    Firing::Tick(at.into())
}

struct Rig {
    runs: MemoryRuns,
    sources: MemorySources,
    metrics: Metrics,
}

impl Rig {
    fn new() -> Self {
        Self {
            runs: MemoryRuns::default(),
            sources: MemorySources::new(&[("app", A), ("lib", A)]),
            metrics: Metrics::default(),
        }
    }

    async fn fire(&self, t: &Trigger, firing: &Firing, pushes: Option<&[Push]>) -> Outcome<NewRun> {
        let (runs, sources) = (&self.runs, &self.sources);
        fire_source(
            runs,
            sources,
            &self.metrics,
            &t.def(),
            "app",
            firing,
            pushes,
        )
        .await
    }

    fn created(&self, cause: RunCause) -> u64 {
        let labels = RunLabels {
            trigger_kind: "WebhookTrigger".into(),
            cause: cause.to_string(),
        };
        self.metrics.runs_created.get_or_create(&labels).get()
    }
}

fn new_run(outcome: Outcome<NewRun>) -> NewRun {
    match outcome {
        Outcome::Created(run) => run,
        other => panic!("expected a new run, got {other:?}"),
    }
}

fn skipped(outcome: Outcome<NewRun>) -> String {
    match outcome {
        Outcome::Skipped(reason) => reason,
        other => panic!("expected a skip, got {other:?}"),
    }
}

#[tokio::test]
async fn on_change_only_runs_each_revision_once() {
    let rig = Rig::new();
    let t = Trigger::on_main(true);
    let run = new_run(rig.fire(&t, &tick("t1"), None).await);
    assert_eq!((run.cause, run.revision.as_str()), (RunCause::Change, A));
    assert!(skipped(rig.fire(&t, &tick("t2"), None).await).contains("already seen"));
    rig.sources.commit("app", B);
    let next = new_run(rig.fire(&t, &tick("t3"), None).await);
    assert_eq!(next.revision, B);
    assert_eq!(rig.runs.count(), 2);
    assert_eq!(
        rig.created(RunCause::Change),
        2,
        "each new run is counted once"
    );
}

#[tokio::test]
async fn a_change_seen_by_a_tick_and_a_hook_is_one_run() {
    let rig = Rig::new();
    let t = Trigger::on_main(true);
    new_run(rig.fire(&t, &tick("t1"), None).await);
    let pushes = [push("refs/heads/main", A, None)];
    let hook = rig
        .fire(&t, &delivery_firing(Some("d1")), Some(&pushes))
        .await;
    assert!(skipped(hook).contains("already seen"));
    // A crash lost the last seen revision: the same change is the same run, not a second.
    rig.runs.forget_seen();
    let again = rig
        .fire(&t, &delivery_firing(Some("d2")), Some(&pushes))
        .await;
    assert!(matches!(again, Outcome::Existing(_)), "{again:?}");
    assert_eq!(rig.runs.count(), 1);
}

#[tokio::test]
async fn without_on_change_only_each_occasion_is_a_run_and_a_redelivery_is_the_same() {
    let rig = Rig::new();
    let t = Trigger::on_main(false);
    let pushes = [push("refs/heads/main", A, None)];
    let first = new_run(
        rig.fire(&t, &delivery_firing(Some("d1")), Some(&pushes))
            .await,
    );
    assert_eq!(first.cause, RunCause::Webhook);
    let again = rig
        .fire(&t, &delivery_firing(Some("d1")), Some(&pushes))
        .await;
    assert_eq!(
        again,
        Outcome::Existing(first.clone()),
        "a redelivery is the same run"
    );
    let other = new_run(
        rig.fire(&t, &delivery_firing(Some("d2")), Some(&pushes))
            .await,
    );
    assert_ne!(
        other.name, first.name,
        "a new delivery of the revision runs again"
    );
    let no_id = new_run(rig.fire(&t, &delivery_firing(None), Some(&pushes)).await);
    let no_id_again = new_run(rig.fire(&t, &delivery_firing(None), Some(&pushes)).await);
    assert_ne!(
        no_id.name, no_id_again.name,
        "without an id each delivery is its own"
    );
    let ticked = new_run(rig.fire(&t, &tick("t1"), None).await);
    assert_eq!(ticked.cause, RunCause::Schedule);
    assert_eq!(
        rig.fire(&t, &tick("t1"), None).await,
        Outcome::Existing(ticked)
    );
}

#[tokio::test]
async fn a_push_fires_only_for_the_watched_ref_and_files() {
    let rig = Rig::new();
    let t = Trigger::new(&["app"], false, branch("main"), &["src/**"]);
    let firing = delivery_firing(Some("files"));
    let docs = [push("refs/heads/main", A, Some(&["README.md"]))];
    assert_eq!(
        skipped(rig.fire(&t, &firing, Some(&docs)).await),
        "the push touches no watched ref or file"
    );
    let dev = [push("refs/heads/dev", A, Some(&["src/lib.rs"]))];
    skipped(rig.fire(&t, &firing, Some(&dev)).await);
    let deleted = [push("refs/heads/main", &"0".repeat(40), None)];
    assert!(skipped(rig.fire(&t, &firing, Some(&deleted)).await).contains("deleted"));
    let code = [push("refs/heads/main", B, Some(&["src/lib.rs"]))];
    let run = new_run(rig.fire(&t, &firing, Some(&code)).await);
    assert_eq!(
        (run.revision.as_str(), run.git_ref.as_deref()),
        (B, Some("refs/heads/main"))
    );
    assert_eq!(
        rig.runs.count(),
        1,
        "the payload's revision, without asking the remote"
    );
}

#[tokio::test]
async fn a_tag_trigger_takes_the_pushed_tag() {
    let rig = Rig::new();
    let tag = GitReference {
        tag: Some("v1.2.0".into()),
        ..GitReference::default()
    };
    let t = Trigger::new(&["app"], true, tag, &[]);
    let firing = delivery_firing(Some("tag"));
    skipped(
        rig.fire(&t, &firing, Some(&[push("refs/heads/main", A, None)]))
            .await,
    );
    let pushed = [push("refs/tags/v1.2.0", B, None)];
    let run = new_run(rig.fire(&t, &firing, Some(&pushed)).await);
    assert_eq!(run.git_ref.as_deref(), Some("refs/tags/v1.2.0"));
}

#[tokio::test]
async fn a_hand_firing_always_runs_and_never_hides_a_change() {
    let rig = Rig::new();
    let t = Trigger::on_main(true);
    let manual = new_run(rig.fire(&t, &Firing::Manual("m1".into()), None).await);
    assert_eq!(manual.cause, RunCause::Manual);
    assert!(!manual.record_last_seen);
    let change = new_run(rig.fire(&t, &tick("t1"), None).await);
    assert_eq!(change.cause, RunCause::Change, "the change still runs");
    new_run(rig.fire(&t, &Firing::Manual("m2".into()), None).await);
}

#[tokio::test]
async fn a_failing_source_or_store_fails_only_its_own_outcome() {
    let rig = Rig::new();
    let t = Trigger::new(&["app", "gone", "lib"], false, branch("main"), &[]);
    let outcomes = fire_sources(
        &rig.runs,
        &rig.sources,
        &rig.metrics,
        &t.def(),
        None,
        true,
        &tick("t1"),
        None,
    )
    .await
    .unwrap();
    let kinds: Vec<(&str, &str)> = outcomes
        .iter()
        .map(|(s, o)| {
            let kind = match o {
                Outcome::Created(_) => "created",
                Outcome::Failed(Failure::Source(_)) => "source failed",
                _ => "other",
            };
            (s.as_str(), kind)
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("app", "created"),
            ("gone", "source failed"),
            ("lib", "created")
        ]
    );
    // The failing source is news once, however often it is checked while it fails.
    for occasion in ["t2", "t3"] {
        fire_sources(
            &rig.runs,
            &rig.sources,
            &rig.metrics,
            &t.def(),
            None,
            true,
            &tick(occasion),
            None,
        )
        .await
        .unwrap();
    }
    let events = rig.runs.events.lock().unwrap().clone();
    let news: Vec<_> = events
        .iter()
        .map(|e| {
            (
                e.kind.as_str(),
                e.involved_name.as_deref(),
                e.reason.as_deref(),
            )
        })
        .collect();
    assert_eq!(news, [("source.failed", Some("gone"), Some("Unreachable"))]);
    let broken = Rig {
        runs: MemoryRuns {
            broken: true,
            ..MemoryRuns::default()
        },
        ..Rig::new()
    };
    let outcome = broken
        .fire(&Trigger::on_main(false), &tick("t1"), None)
        .await;
    assert!(
        matches!(outcome, Outcome::Failed(Failure::Store(_))),
        "{outcome:?}"
    );
    assert_eq!(
        broken.created(RunCause::Schedule),
        0,
        "nothing stored, nothing counted"
    );
}

#[tokio::test]
async fn a_suspended_source_is_skipped_before_listing_and_resumes_where_it_stopped() {
    let rig = Rig::new();
    let t = Trigger::new(&["app", "lib"], true, branch("main"), &[]);
    let fire_all = |firing: Firing| {
        let (runs, sources, metrics, def) = (&rig.runs, &rig.sources, &rig.metrics, t.def());
        async move {
            let fired = fire_sources(runs, sources, metrics, &def, None, true, &firing, None);
            fired.await.unwrap()
        }
    };
    fire_all(tick("t1")).await;
    assert_eq!((rig.runs.count(), rig.sources.listings()), (2, 2));

    rig.sources.suspend("app", true);
    rig.sources.commit("app", B);
    rig.sources.commit("lib", B);
    let outcomes = fire_all(tick("t2")).await;
    assert_eq!(
        skipped(outcomes[0].1.clone()),
        "GitRepo ci/app is suspended"
    );
    assert!(matches!(outcomes[1].1, Outcome::Created(_)), "{outcomes:?}");
    assert_eq!(
        rig.sources.listings(),
        3,
        "the suspended source is not listed"
    );
    // Neither a hook's pushes nor a hand firing go past the suspension.
    let pushes = [push("refs/heads/main", B, None)];
    let hook = rig
        .fire(&t, &delivery_firing(Some("d1")), Some(&pushes))
        .await;
    assert!(skipped(hook).contains("suspended"));
    let manual = rig.fire(&t, &Firing::Manual("m1".into()), None).await;
    assert!(skipped(manual).contains("suspended"));
    assert_eq!(rig.runs.count(), 3);

    // Resumed, its last seen revision was kept: the change made meanwhile runs, once.
    rig.sources.suspend("app", false);
    let resumed = new_run(rig.fire(&t, &tick("t3"), None).await);
    assert_eq!(resumed.revision, B);
    assert!(skipped(rig.fire(&t, &tick("t4"), None).await).contains("already seen"));
}

async fn choose(
    rig: &Rig,
    t: &Trigger,
    requested: Option<&str>,
    all_allowed: bool,
) -> Result<Vec<String>, SourceChoiceError> {
    let (runs, sources, metrics) = (&rig.runs, &rig.sources, &rig.metrics);
    let (firing, def) = (delivery_firing(None), t.def());
    let fired = fire_sources(
        runs,
        sources,
        metrics,
        &def,
        requested,
        all_allowed,
        &firing,
        None,
    );
    Ok(fired.await?.into_iter().map(|(source, _)| source).collect())
}

#[tokio::test]
async fn which_sources_a_firing_covers() {
    let rig = Rig::new();
    let two = Trigger::new(&["app", "lib"], false, branch("main"), &[]);
    let one = Trigger::on_main(false);
    assert_eq!(
        choose(&rig, &two, None, false).await,
        Err(SourceChoiceError::OneAtATime)
    );
    assert_eq!(
        choose(&rig, &two, None, true).await.unwrap(),
        ["app", "lib"],
        "multiSource"
    );
    assert_eq!(
        choose(&rig, &two, Some("lib"), false).await.unwrap(),
        ["lib"]
    );
    assert_eq!(
        choose(&rig, &one, None, false).await.unwrap(),
        ["app"],
        "the one source"
    );
    assert!(matches!(
        choose(&rig, &two, Some("nope"), false).await,
        Err(SourceChoiceError::Unknown { .. })
    ));
}

fn fired_run(source: &str, run: &NewRun, created: bool) -> FiredRun {
    FiredRun {
        id: None,
        name: run.name.clone(),
        source: source.to_owned(),
        revision: run.revision.clone(),
        created,
    }
}

#[test]
fn a_hooks_answer_gathers_every_source() {
    let run = |name: &str| NewRun {
        name: name.into(),
        namespace: "ci".into(),
        trigger: herald_store::TriggerKey {
            kind: TriggerKind::WebhookTrigger,
            namespace: "ci".into(),
            name: "t".into(),
        },
        source_kind: SourceKind::GitRepo,
        source: "app".into(),
        git_ref: None,
        revision: A.into(),
        action_kind: ActionKind::Action,
        action: "build".into(),
        cause: RunCause::Webhook,
        record_last_seen: true,
    };
    let source_failed = || {
        let why = SourceError::new(reasons::UNREACHABLE, "unreachable");
        Outcome::Failed(Failure::Source(why))
    };
    let mixed = HookOutcomes::gather(
        vec![
            ("app".into(), Outcome::Created(run("r1"))),
            ("lib".into(), source_failed()),
            ("doc".into(), Outcome::Skipped("no watched file".into())),
        ],
        fired_run,
    );
    let fired = mixed.answer.unwrap();
    assert_eq!((fired.runs.len(), fired.skipped.len()), (1, 1));
    assert_eq!(mixed.created.len(), 1);

    let unreadable =
        HookOutcomes::<NewRun>::gather(vec![("lib".into(), source_failed())], fired_run);
    assert!(matches!(unreadable.answer, Err(FireError::Source(_))));

    // A store failure fails the delivery, yet the run stored before it is still started.
    let unstored = HookOutcomes::gather(
        vec![
            ("app".into(), Outcome::Created(run("r2"))),
            (
                "lib".into(),
                Outcome::Failed(Failure::Store("locked".into())),
            ),
        ],
        fired_run,
    );
    assert!(matches!(unstored.answer, Err(FireError::Store(_))));
    assert_eq!(unstored.created.len(), 1);
}
