//! What tests do with a page: navigate, read, wait for a change, press Tab, take a picture.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use fantoccini::Locator;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use serde_json::Value;
use tokio::time::{Instant, sleep};

use super::{Browser, log};

/// How often [`Browser::wait_for_text`] reads the element again.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The element that has keyboard focus (`document.activeElement`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Focused {
    /// Lower-case tag name, e.g. `a` or `button`.
    pub tag: String,
    /// Its rendered text.
    pub text: String,
    /// Its `href` attribute, for links.
    pub href: Option<String>,
}

impl Browser {
    /// Loads `url` and waits for its load event.
    pub async fn goto(&self, url: &str) -> Result<()> {
        self.client
            .goto(url)
            .await
            .with_context(|| format!("load {url}"))
    }

    /// Resizes the window, e.g. to a phone's width for a narrow-screen check.
    pub async fn set_window_size(&self, width: u32, height: u32) -> Result<()> {
        Ok(self.client.set_window_size(width, height).await?)
    }

    /// The rendered text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> Result<String> {
        let element = self
            .client
            .find(Locator::Css(css))
            .await
            .with_context(|| css.to_owned())?;
        Ok(element.text().await?)
    }

    /// An attribute of the first element matching `css`; `None` when it has none.
    pub async fn attr(&self, css: &str, name: &str) -> Result<Option<String>> {
        let element = self
            .client
            .find(Locator::Css(css))
            .await
            .with_context(|| css.to_owned())?;
        Ok(element.attr(name).await?)
    }

    /// The page source as the browser holds it now (after scripts ran).
    pub async fn html(&self) -> Result<String> {
        Ok(self.client.source().await?)
    }

    /// The rendered texts of every element matching `css`, in document order.
    pub async fn find_all_texts(&self, css: &str) -> Result<Vec<String>> {
        let mut texts = Vec::new();
        for element in self.client.find_all(Locator::Css(css)).await? {
            texts.push(element.text().await?);
        }
        Ok(texts)
    }

    /// Reads `css`'s text until it contains `needle` and returns it; fails after `within`,
    /// naming what was last seen. Missing elements count as not yet there.
    pub async fn wait_for_text(&self, css: &str, needle: &str, within: Duration) -> Result<String> {
        let deadline = Instant::now() + within;
        loop {
            let seen = self.text(css).await;
            match &seen {
                Ok(text) if text.contains(needle) => return Ok(text.clone()),
                _ if Instant::now() >= deadline => {
                    bail!("{css} did not contain {needle:?} within {within:?}; last: {seen:?}")
                }
                _ => sleep(POLL_INTERVAL).await,
            }
        }
    }

    /// Runs `script` as a function body with `args` (`arguments[0]`, ...); returns its result.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value> {
        Ok(self.client.execute(script, args).await?)
    }

    /// Presses Tab once, as a keyboard user would, and returns what then has focus.
    pub async fn press_tab(&self) -> Result<Focused> {
        let tab = char::from(Key::Tab);
        let keys = KeyActions::new("keyboard".to_owned())
            .then(KeyAction::Down { value: tab })
            .then(KeyAction::Up { value: tab });
        self.client.perform_actions(keys).await?;
        self.focused().await
    }

    /// The element with keyboard focus, read through WebDriver (works without JavaScript).
    pub async fn focused(&self) -> Result<Focused> {
        let element = self.client.active_element().await?;
        Ok(Focused {
            tag: element.tag_name().await?.to_lowercase(),
            text: element.text().await?,
            href: element.attr("href").await?,
        })
    }

    /// Writes a PNG of the viewport to `path`, creating its directory.
    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        let png = self.client.screenshot().await?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        }
        std::fs::write(path, png).with_context(|| format!("write {}", path.display()))
    }

    /// Console messages of level SEVERE (errors, failed loads) since the last call.
    pub async fn console_errors(&self) -> Result<Vec<String>> {
        let entries = log::take_entries(&self.client).await?;
        let severe = entries.into_iter().filter(|e| e.level == "SEVERE");
        Ok(severe.map(|e| e.message).collect())
    }
}
