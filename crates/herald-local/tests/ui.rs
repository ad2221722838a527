//! The dashboard at `/ui/`, as a person sees it: a real headless chromium (Debian's `chromium`
//! and `chromium-driver`) against a running `herald local` with real runs. Each page loads with
//! no console errors and shows the run just created; the Run page updates live (no reload)
//! when the run finishes; HTML in a branch name or an output renders as text; the pages read
//! without JavaScript, fit a narrow screen and are reachable by keyboard. A screenshot of
//! each page is written under `target/ui-screenshots/` for review.

mod support;

use std::path::PathBuf;

use herald_api::RunPhase;
use herald_testkit::browser::Browser;
use support::{DEADLINE, LocalHerald, Manifests, TestRepo, setup_with_action};

/// A branch whose name is HTML: every page must show it as text.
const BRANCH: &str = "feat/<i>x</i>";

/// build (an output, and HTML in its log) -> test (waits for the test's gate file).
const ACTION: &str = r#"  steps:
  - name: build
    command: [sh, -c, 'echo "tag=v1" >> "$HERALD_OUTPUT"; echo "<img src=x onerror=alert(1)>"']
    outputs: [tag]
  - name: test
    needs: [build]
    env: [{name: GATE, value: "{gate}"}]
    command: [sh, -c, 'for i in $(seq 600); do [ -e "$GATE" ] && exit 0; sleep 0.1; done; exit 7']
"#;

fn screenshots() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../target/ui-screenshots"
    ))
}

#[allow(clippy::unwrap_used)]
#[tokio::test]
async fn the_dashboard_shows_runs_live_and_safely_in_a_real_browser() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let repo = TestRepo::new();
    repo.git(&["checkout", "-q", "-b", BRANCH]);
    let head = repo.commit("a change to look at");
    let gate = tempfile::tempdir().unwrap();
    let gate_file = gate.path().join("open");
    let action = ACTION.replace("{gate}", gate_file.to_str().unwrap());
    let manifests = Manifests::new();
    let setup = setup_with_action(&repo.url(), &action, true, "1s").replace(
        "reference: {branch: main}",
        &format!("reference: {{branch: \"{BRANCH}\"}}"),
    );
    manifests.write("all.yaml", &setup);
    let herald = LocalHerald::start(&manifests).await;
    let run = herald
        .wait_for_runs("the run executing its test step", |runs| {
            runs.iter().any(|r| r.phase == RunPhase::Running)
        })
        .await
        .remove(0);
    let base = format!("http://{}", herald.listen);
    let shots = screenshots();

    // Overview: the trigger, its last check, the run.
    browser.goto(&format!("{base}/ui/")).await.unwrap();
    let overview = browser.text("main").await.unwrap();
    assert!(overview.contains("default/every"), "{overview}");
    assert!(overview.contains("every 1s"), "{overview}");
    browser
        .screenshot(&shots.join("overview.png"))
        .await
        .unwrap();
    assert_eq!(
        browser.console_errors().await.unwrap(),
        Vec::<String>::new()
    );

    // Runs: the run, its branch as text.
    browser
        .goto(&format!("{base}/ui/runs?trigger=every"))
        .await
        .unwrap();
    let runs = browser.text("main").await.unwrap();
    assert!(runs.contains(&run.name), "{runs}");
    assert!(
        runs.contains("feat/<i>x</i>"),
        "the branch shows as typed: {runs}"
    );
    let injected = browser
        .execute(
            "return document.querySelectorAll('main i, main img').length",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        injected, 0,
        "no element made from a branch name or an output"
    );
    browser.screenshot(&shots.join("runs.png")).await.unwrap();

    // Run: running, then succeeded without a reload once the gate opens.
    let run_url = format!("{base}/ui/runs/{}", run.name);
    browser.goto(&run_url).await.unwrap();
    let title = browser.text("main h1").await.unwrap();
    assert!(title.contains("Running"), "{title}");
    let page = browser.text("main").await.unwrap();
    assert!(
        page.contains("<img src=x onerror=alert(1)>"),
        "the output shows as text: {page}"
    );
    assert!(
        page.contains("tag") && page.contains("v1"),
        "the build step's output: {page}"
    );
    browser
        .execute("window.heraldMarker = 'kept'", vec![])
        .await
        .unwrap();
    std::fs::write(&gate_file, "").unwrap();
    let live = browser
        .wait_for_text("main h1", "Succeeded", DEADLINE)
        .await
        .unwrap();
    assert!(live.contains(&run.name));
    let marker = browser
        .execute("return window.heraldMarker || null", vec![])
        .await
        .unwrap();
    assert_eq!(marker, "kept", "updated in place, not reloaded");
    let nodes = browser.find_all_texts("svg .node .name").await.unwrap();
    assert_eq!(nodes, ["build", "test"], "the step graph");
    browser.screenshot(&shots.join("run.png")).await.unwrap();
    assert_eq!(
        browser.console_errors().await.unwrap(),
        Vec::<String>::new()
    );

    // Keyboard: the first Tab reaches the skip link, the next the navigation.
    let first = browser.press_tab().await.unwrap();
    assert!(first.text.contains("Skip to content"), "{first:?}");
    let second = browser.press_tab().await.unwrap();
    assert_eq!(second.text, "Herald", "{second:?}");

    // A narrow screen: nothing wider than the window but the scrolling tables.
    browser.set_window_size(380, 800).await.unwrap();
    let overflow = browser
        .execute(
            "return document.documentElement.scrollWidth - window.innerWidth",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        overflow.as_i64().unwrap() <= 0,
        "the page is {overflow} px too wide"
    );
    browser
        .screenshot(&shots.join("run-narrow.png"))
        .await
        .unwrap();
    browser.set_window_size(1280, 900).await.unwrap();

    // Revision: detected, the run created and ended, Flux not heard from.
    browser
        .goto(&format!("{base}/ui/revisions/{head}"))
        .await
        .unwrap();
    let journey = browser.find_all_texts(".journey .stage").await.unwrap();
    assert_eq!(journey, ["detected", "run", "run"], "in order");
    let verdict = browser.text(".verdict").await.unwrap();
    assert!(verdict.starts_with("pending"), "{verdict}");
    browser
        .screenshot(&shots.join("revision.png"))
        .await
        .unwrap();

    // Events: the query API's filters as a shareable URL.
    browser
        .goto(&format!(
            "{base}/ui/events?kind=run.transition&involvedName={}",
            run.name
        ))
        .await
        .unwrap();
    let reasons = browser
        .find_all_texts("tbody tr td:nth-child(4)")
        .await
        .unwrap();
    assert_eq!(
        reasons.first().map(String::as_str),
        Some("Completed"),
        "newest first: {reasons:?}"
    );
    browser.screenshot(&shots.join("events.png")).await.unwrap();
    assert_eq!(
        browser.console_errors().await.unwrap(),
        Vec::<String>::new()
    );

    // Without JavaScript every page still reads.
    let Some(plain) = Browser::start_without_javascript().await else {
        return;
    };
    plain.goto(&run_url).await.unwrap();
    let title = plain.text("main h1").await.unwrap();
    assert!(title.contains("Succeeded"), "{title}");
    herald.stop().await;
}

#[allow(clippy::unwrap_used)]
#[tokio::test]
async fn pages_answer_html_with_their_status_and_security_headers() {
    let manifests = Manifests::new();
    let repo = TestRepo::new();
    manifests.write(
        "all.yaml",
        &setup_with_action(
            &repo.url(),
            "  actionJob:\n    command: [sh, -c, 'true']\n",
            true,
            "1h",
        ),
    );
    let herald = LocalHerald::start(&manifests).await;
    let client = support::client();
    let get = |path: &str| client.get(format!("http://{}{path}", herald.listen)).send();
    let page = get("/ui/").await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    for (path, status, says) in [
        ("/ui/runs/nope", 404, "There is no run named"),
        ("/ui/runs?phase=done", 400, "is not one of"),
        ("/ui/runs?colour=red", 400, "unknown field"),
        ("/ui/events?kind=nope", 400, "kind"),
        ("/ui/elsewhere", 404, "There is no such page"),
    ] {
        let answer = get(path).await.unwrap();
        assert_eq!(answer.status(), status, "{path}");
        let kind = answer.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(kind.starts_with("text/html"), "{path}: {kind}");
        let body = answer.text().await.unwrap();
        assert!(body.contains(says), "{path}: {body}");
    }
    let live = get("/ui/live").await.unwrap();
    assert_eq!(live.headers()["content-type"], "text/event-stream");
    drop(live);
    herald.stop().await;
}
