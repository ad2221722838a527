//! A small client for a running Herald's API (`herald events`, `herald wait`, `herald
//! reconcile`).

use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use reqwest::Url;
use serde_json::Value;

/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The API of the Herald at one base URL.
#[derive(Debug, Clone)]
pub struct ApiClient {
    base: Url,
    http: reqwest::Client,
}

impl ApiClient {
    /// A client for the server at `server` (`http://host:port`, maybe with a path prefix;
    /// `cli::ServerArgs` checked it is an http(s) URL).
    pub fn new(server: &Url) -> anyhow::Result<Self> {
        let mut base = server.clone();
        // A base without a trailing slash would lose its last segment when joined.
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("building the HTTP client")?;
        Ok(Self { base, http })
    }

    /// `GET /api/v1/events` with `query`: the page as the server sent it.
    pub async fn events(&self, query: &[(&str, String)]) -> anyhow::Result<Value> {
        let mut url = self.url(&["api", "v1", "events"])?;
        url.query_pairs_mut().extend_pairs(query);
        self.get(url).await
    }

    /// `GET /api/v1/revisions/{revision}`.
    pub async fn revision(&self, revision: &str) -> anyhow::Result<Value> {
        // One path segment, so `main/<sha>` is sent as `main%2F<sha>`.
        let url = self.url(&["api", "v1", "revisions", revision])?;
        self.get(url).await
    }

    /// `POST /api/v1/reconcile/{kind}/{namespace}/{name}`: the answer (`requestedAt`).
    pub async fn reconcile(
        &self,
        kind: &str,
        namespace: &str,
        name: &str,
        token: Option<&herald_server::Secret>,
    ) -> anyhow::Result<Value> {
        let url = self.url(&["api", "v1", "reconcile", kind, namespace, name])?;
        let mut request = self.http.post(url.clone());
        if let Some(token) = token {
            let token =
                std::str::from_utf8(token.expose()).context("the API token is not UTF-8")?;
            request = request.bearer_auth(token);
        }
        self.send(request, url).await
    }

    fn url(&self, segments: &[&str]) -> anyhow::Result<Url> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| anyhow!("{} cannot hold a path", self.base))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    async fn get(&self, url: Url) -> anyhow::Result<Value> {
        self.send(self.http.get(url.clone()), url).await
    }

    /// Sends `request` (to `url`); the JSON answer, or an error with the server's `error`.
    async fn send(&self, request: reqwest::RequestBuilder, url: Url) -> anyhow::Result<Value> {
        let response = request
            .send()
            .await
            .with_context(|| format!("cannot reach Herald at {}", self.base))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .with_context(|| format!("reading the answer of {url}"))?;
        let json: Option<Value> = serde_json::from_str(&body).ok();
        if !status.is_success() {
            let why = json
                .as_ref()
                .and_then(|j| j["error"].as_str())
                .map_or_else(|| body.trim().to_owned(), str::to_owned);
            bail!("{url} answered {status}: {why}");
        }
        json.with_context(|| format!("{url} answered {status} with a body that is not JSON"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(server: &str) -> ApiClient {
        ApiClient::new(&Url::parse(server).expect("a URL")).expect("a client")
    }

    #[test]
    fn paths_are_joined_and_revisions_are_one_segment() {
        let url = client("http://127.0.0.1:8080/herald")
            .url(&["api", "v1", "revisions", "main/0123"])
            .expect("joins");
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:8080/herald/api/v1/revisions/main%2F0123"
        );
        let url = client("http://127.0.0.1:8080")
            .url(&["api", "v1", "events"])
            .expect("joins");
        assert_eq!(url.as_str(), "http://127.0.0.1:8080/api/v1/events");
    }
}
