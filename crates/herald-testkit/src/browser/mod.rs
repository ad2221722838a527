//! A real headless browser for tests: Debian's `chromium`, driven over WebDriver through
//! `chromedriver` (packages `chromium` and `chromium-driver`).
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! use herald_testkit::browser::Browser;
//! let Some(browser) = Browser::start().await else {
//!     return Ok(()); // skipped locally when chromium is missing (a panic under `CI`)
//! };
//! browser.goto("http://127.0.0.1:8080/ui/").await?;
//! assert!(browser.console_errors().await?.is_empty());
//! # Ok(())
//! # }
//! ```
//!
//! Each [`Browser`] has its own chromedriver, profile and session; all of it ends when the
//! `Browser` is dropped.

mod driver;
mod log;
mod page;

use anyhow::{Context, Result};
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tempfile::TempDir;

use driver::{Binaries, Driver};

pub use page::Focused;

/// The window size every session starts with, so screenshots and layouts are reproducible.
const WINDOW_SIZE: &str = "--window-size=1280,900";

/// A headless chromium session with its own chromedriver and throwaway profile.
#[derive(Debug)]
pub struct Browser {
    client: Client,
    session: Option<String>,
    driver: Driver,
    _profile: TempDir,
}

impl Browser {
    /// Starts chromedriver and opens a session with JavaScript on.
    ///
    /// `None` (with a notice) when chromium or chromedriver is missing; a panic instead when
    /// `CI` is set, so CI never passes by skipping. Panics when they are there but fail.
    pub async fn start() -> Option<Browser> {
        Self::start_with(json!({})).await
    }

    /// As [`Browser::start`], with JavaScript disabled by the profile's content settings:
    /// for checking that a page is readable without scripts.
    pub async fn start_without_javascript() -> Option<Browser> {
        let prefs = json!({ "profile.managed_default_content_settings.javascript": 2 });
        Self::start_with(prefs).await
    }

    async fn start_with(prefs: Value) -> Option<Browser> {
        let Some(binaries) = driver::find_binaries() else {
            let why = "chromium or chromedriver is missing (Debian: chromium, chromium-driver)";
            assert!(std::env::var_os("CI").is_none(), "{why}");
            eprintln!("SKIPPED: {why}");
            return None;
        };
        let browser = Self::launch(&binaries, prefs).await;
        Some(browser.expect("start chromium through chromedriver"))
    }

    async fn launch(binaries: &Binaries, prefs: Value) -> Result<Browser> {
        let profile = tempfile::tempdir()?;
        let driver = Driver::start(&binaries.driver, &profile.path().join("driver.log")).await?;
        let capabilities = capabilities(binaries, &profile, prefs);
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url())
            .await
            .context("open a WebDriver session")?;
        let session = client.session_id().await?;
        Ok(Browser {
            client,
            session,
            driver,
            _profile: profile,
        })
    }

    /// The fantoccini client, for what the helpers here do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// Headless chromium as root (no sandbox), without a GPU or a large /dev/shm, with its profile
/// in `profile`, and console messages kept for [`Browser::console_errors`].
fn capabilities(
    binaries: &Binaries,
    profile: &TempDir,
    prefs: Value,
) -> serde_json::Map<String, Value> {
    let user_data = profile.path().join("chromium");
    let caps = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": binaries.chromium,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                WINDOW_SIZE,
                format!("--user-data-dir={}", user_data.display()),
            ],
            "prefs": prefs,
        },
        "goog:loggingPrefs": { "browser": "ALL" },
    });
    match caps {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}

impl Drop for Browser {
    /// Quits the browser through chromedriver, then [`Driver`]'s drop kills what is left.
    fn drop(&mut self) {
        if let Some(session) = &self.session {
            self.driver.delete_session(session);
        }
    }
}
