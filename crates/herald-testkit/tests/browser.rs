//! The browser harness against small pages served here: console errors, a script's change,
//! the same page without JavaScript, keyboard focus, screenshots and the DOM helpers.
//! Skipped locally when chromium is missing; a failure under `CI`.

use std::time::{Duration, Instant};

use herald_testkit::axum::Router;
use herald_testkit::axum::response::Html;
use herald_testkit::axum::routing::get;
use herald_testkit::browser::Browser;
use serde_json::json;

/// An empty icon, so no page logs a failed `/favicon.ico` load as an error.
const HEAD: &str = r#"<meta charset="utf-8"><link rel="icon" href="data:,">"#;

const CLEAN: &str = r#"<h1 id="title">Clean</h1>
<ul><li>one</li><li>two</li><li>three</li></ul>
<p>Text first, then <a id="first" href="/next">the first link</a> and <a href="/other">another</a>.</p>"#;

const BOOM: &str = r#"<h1>Boom</h1><script>console.error("boom")</script>"#;

/// `#now` is changed while the page loads, `#later` after it; without JavaScript neither is.
const SCRIPTED: &str = r#"<h1 id="now">original</h1><h2 id="later">waiting</h2>
<script>
document.getElementById("now").textContent = "changed by script";
setTimeout(() => { document.getElementById("later").textContent = "changed later"; }, 200);
</script>"#;

/// Serves the pages above on a free loopback port; returns the base URL.
async fn serve_pages() -> String {
    let page = |body: &'static str| {
        Html(format!(
            "<!doctype html><html><head>{HEAD}</head><body>{body}</body></html>"
        ))
    };
    let app = Router::new()
        .route("/clean", get(move || async move { page(CLEAN) }))
        .route("/boom", get(move || async move { page(BOOM) }))
        .route("/scripted", get(move || async move { page(SCRIPTED) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { herald_testkit::axum::serve(listener, app).await.ok() });
    base
}

/// Starts a browser and reports how long chromedriver plus the session took.
async fn timed(start: impl std::future::Future<Output = Option<Browser>>) -> Option<Browser> {
    let began = Instant::now();
    let browser = start.await?;
    eprintln!("browser ready in {:?}", began.elapsed());
    Some(browser)
}

#[tokio::test]
async fn console_errors_are_read_and_cleared() {
    let Some(browser) = timed(Browser::start()).await else {
        return;
    };
    let base = serve_pages().await;

    browser.goto(&format!("{base}/boom")).await.unwrap();
    let errors = browser.console_errors().await.unwrap();
    assert!(errors.iter().any(|e| e.contains("boom")), "{errors:?}");

    browser.goto(&format!("{base}/clean")).await.unwrap();
    assert_eq!(
        browser.console_errors().await.unwrap(),
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn scripts_change_the_page_and_waiting_sees_it() {
    let Some(browser) = timed(Browser::start()).await else {
        return;
    };
    let base = serve_pages().await;

    browser.goto(&format!("{base}/scripted")).await.unwrap();
    assert_eq!(browser.text("#now").await.unwrap(), "changed by script");
    let later = browser
        .wait_for_text("#later", "changed", Duration::from_secs(10))
        .await;
    assert_eq!(later.unwrap(), "changed later");
    assert!(browser.html().await.unwrap().contains("changed later"));

    let missing = browser
        .wait_for_text("#later", "never", Duration::from_millis(300))
        .await;
    assert!(missing.unwrap_err().to_string().contains("changed later"));
}

#[tokio::test]
async fn without_javascript_the_page_keeps_its_text() {
    let Some(browser) = timed(Browser::start_without_javascript()).await else {
        return;
    };
    let base = serve_pages().await;

    browser.goto(&format!("{base}/scripted")).await.unwrap();
    // The script would have run before the load event `goto` waits for.
    assert_eq!(browser.text("#now").await.unwrap(), "original");
    assert_eq!(browser.text("#later").await.unwrap(), "waiting");

    // Links stay reachable by keyboard without scripts.
    browser.goto(&format!("{base}/clean")).await.unwrap();
    assert_eq!(browser.press_tab().await.unwrap().text, "the first link");
}

#[tokio::test]
async fn tab_reaches_the_first_link() {
    let Some(browser) = timed(Browser::start()).await else {
        return;
    };
    let base = serve_pages().await;

    browser.goto(&format!("{base}/clean")).await.unwrap();
    let focused = browser.press_tab().await.unwrap();
    assert_eq!(
        (focused.tag.as_str(), focused.text.as_str()),
        ("a", "the first link")
    );
    assert_eq!(focused.href.as_deref(), Some("/next"));
    assert_eq!(browser.press_tab().await.unwrap().text, "another");
}

#[tokio::test]
async fn screenshot_is_a_png_and_dom_helpers_read_the_page() {
    let Some(browser) = timed(Browser::start()).await else {
        return;
    };
    let base = serve_pages().await;
    browser.goto(&format!("{base}/clean")).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shots/clean.png");
    browser.screenshot(&path).await.unwrap();
    let png = std::fs::read(&path).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "not a PNG: {:?}",
        &png[..8.min(png.len())]
    );

    assert_eq!(
        browser.find_all_texts("li").await.unwrap(),
        ["one", "two", "three"]
    );
    assert_eq!(
        browser.attr("#first", "href").await.unwrap().as_deref(),
        Some("/next")
    );
    assert_eq!(browser.attr("#first", "title").await.unwrap(), None);

    browser.set_window_size(390, 844).await.unwrap();
    let width = browser.execute("return window.innerWidth + arguments[0];", vec![json!(0)]);
    assert!(width.await.unwrap().as_u64().unwrap() <= 390);
}
