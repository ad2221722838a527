//! The browser's console log, which fantoccini has no method for: chromedriver's own
//! `POST /session/{id}/se/log` (its W3C-mode form of the legacy `GET .../log`). Each call
//! returns the entries since the previous one, so a test sees only what its own steps logged.

use fantoccini::Client;
use fantoccini::wd::WebDriverCompatibleCommand;
use reqwest::Method; // http::Method, as fantoccini's trait takes it
use serde::Deserialize;
use url::{ParseError, Url};

/// chromedriver's "get log" command for the `browser` log (console messages, failed loads).
#[derive(Debug)]
struct GetBrowserLog;

impl WebDriverCompatibleCommand for GetBrowserLog {
    fn endpoint(&self, base_url: &Url, session_id: Option<&str>) -> Result<Url, ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &Url) -> (Method, Option<String>) {
        (Method::POST, Some(r#"{"type":"browser"}"#.to_owned()))
    }
}

/// One log entry as chromedriver reports it.
#[derive(Debug, Deserialize)]
pub(super) struct Entry {
    pub level: String,
    pub message: String,
}

/// The browser log entries since the last call (chromedriver clears what it returns).
pub(super) async fn take_entries(client: &Client) -> anyhow::Result<Vec<Entry>> {
    let value = client.issue_cmd(GetBrowserLog).await?;
    Ok(serde_json::from_value(value)?)
}
