//! The two calls Herald makes to a registry: list a repository's tags, and check that a tag's
//! manifest exists. Authentication is in `auth.rs`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use herald_image::Repository;
use reqwest::{Method, StatusCode, Url};
use serde::Deserialize;

use crate::challenge::Challenge;
use crate::credentials::CredentialSource;
use crate::error::RegistryError;
use crate::link;
use crate::token::TokenCache;

/// How many pages of tags are followed before giving up: a registry that links in a loop (or a
/// repository with a hundred thousand tags) must not keep a check busy for ever.
pub const DEFAULT_MAX_TAG_PAGES: usize = 100;

/// The largest tag list page read: about 150,000 tags of 50 bytes. A registry (or something
/// posing as one) that answers more must not make Herald hold it all.
pub const MAX_TAG_PAGE_BYTES: usize = 8 << 20;

/// Every manifest type Herald accepts, so the registry answers for an OCI image too: without
/// the OCI types in `Accept`, a registry answers 404 for a tag whose manifest is OCI.
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.docker.distribution.manifest.v2+json";

/// A client for the OCI distribution API. Cheap to clone; clones share the token cache and
/// what each registry asked for, so one client per process is enough.
#[derive(Debug, Clone)]
pub struct RegistryClient {
    pub(crate) http: reqwest::Client,
    insecure: HashSet<String>,
    max_tag_pages: usize,
    pub(crate) tokens: Arc<TokenCache>,
    pub(crate) challenges: Arc<Mutex<HashMap<String, Challenge>>>,
}

/// One request to make, with the repository it is for (for errors and credentials).
#[derive(Debug, Clone)]
pub(crate) struct Call<'a> {
    pub repository: &'a Repository,
    pub method: Method,
    pub url: Url,
    pub accept: &'static str,
}

#[derive(Deserialize)]
struct TagList {
    tags: Option<Vec<String>>,
}

impl RegistryClient {
    /// A client with rustls, the system's roots, and a 30 second timeout per request.
    pub fn new() -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self::with_http(http))
    }

    /// A client over the caller's `reqwest::Client` (its timeouts, proxies and roots).
    pub fn with_http(http: reqwest::Client) -> Self {
        Self {
            http,
            insecure: HashSet::new(),
            max_tag_pages: DEFAULT_MAX_TAG_PAGES,
            tokens: Arc::default(),
            challenges: Arc::default(),
        }
    }

    /// Speak plain http to `host` (`host` or `host:port`, as in `Repository::api_host`). Only
    /// loopback hosts get http without this.
    pub fn insecure(mut self, host: impl Into<String>) -> Self {
        self.insecure.insert(host.into());
        self
    }

    /// Change how many pages of tags are followed before `list_tags` fails.
    pub fn max_tag_pages(mut self, pages: usize) -> Self {
        self.max_tag_pages = pages;
        self
    }

    /// Every tag of `repository`, following `Link: <...>; rel="next"` pages, in the registry's
    /// order. `NotFound` when the registry does not know the repository.
    pub async fn list_tags(
        &self,
        repository: &Repository,
        source: &impl CredentialSource,
    ) -> Result<Vec<String>, RegistryError> {
        let mut url = self.api_url(repository, &format!("{}/tags/list", repository.path()))?;
        let mut tags = Vec::new();
        for _ in 0..self.max_tag_pages {
            let call = Call {
                repository,
                method: Method::GET,
                url,
                accept: "application/json",
            };
            let response = self.send(&call, source).await?;
            match response.status() {
                status if status.is_success() => {}
                StatusCode::NOT_FOUND => return Err(not_found(repository)),
                status => return Err(protocol(repository, format!("tags answered {status}"))),
            }
            let next = link::next(response.headers(), response.url())
                .map_err(|what| protocol(repository, what))?;
            let body = read_limited(repository, response, MAX_TAG_PAGE_BYTES).await?;
            let page: TagList = serde_json::from_slice(&body).map_err(|error| {
                protocol(repository, format!("a tag list that is not JSON: {error}"))
            })?;
            tags.extend(page.tags.unwrap_or_default());
            match next {
                Some(next) => url = self.checked_link(repository, &call.url, next)?,
                None => return Ok(tags),
            }
        }
        Err(protocol(
            repository,
            format!("the tag list has more than {} pages", self.max_tag_pages),
        ))
    }

    /// Whether `reference` (a tag or a digest) has a manifest in `repository`: a HEAD, or a
    /// GET when the registry does not allow HEAD (405).
    pub async fn manifest_exists(
        &self,
        repository: &Repository,
        reference: &str,
        source: &impl CredentialSource,
    ) -> Result<bool, RegistryError> {
        if !is_manifest_reference(reference) {
            let what = format!("{reference:?} is neither a tag nor a digest");
            return Err(protocol(repository, what));
        }
        let path = format!("{}/manifests/{reference}", repository.path());
        let mut call = Call {
            repository,
            method: Method::HEAD,
            url: self.api_url(repository, &path)?,
            accept: MANIFEST_ACCEPT,
        };
        let mut response = self.send(&call, source).await?;
        if response.status() == StatusCode::METHOD_NOT_ALLOWED {
            call.method = Method::GET;
            response = self.send(&call, source).await?;
        }
        match response.status() {
            status if status.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            status => Err(protocol(repository, format!("manifest answered {status}"))),
        }
    }

    /// `https://<api host>/v2/<path>`, or http for a loopback or insecure host.
    fn api_url(&self, repository: &Repository, path: &str) -> Result<Url, RegistryError> {
        let text = format!("https://{}/v2/{path}", repository.api_host());
        let mut url = Url::parse(&text)
            .map_err(|error| protocol(repository, format!("a bad registry URL: {error}")))?;
        if self.plain_http_allowed(&url) && url.set_scheme("http").is_err() {
            return Err(protocol(repository, "cannot use http".to_owned()));
        }
        Ok(url)
    }

    /// A next page must be on the same origin: credentials go with it.
    fn checked_link(
        &self,
        repository: &Repository,
        current: &Url,
        next: Url,
    ) -> Result<Url, RegistryError> {
        if next.origin() != current.origin() {
            let what = format!(
                "a Link to another origin ({})",
                next.origin().ascii_serialization()
            );
            return Err(protocol(repository, what));
        }
        Ok(next)
    }

    /// https always; http only to loopback or a host marked insecure.
    pub(crate) fn check_scheme(
        &self,
        repository: &Repository,
        url: &Url,
    ) -> Result<(), RegistryError> {
        match url.scheme() {
            "https" => Ok(()),
            "http" if self.plain_http_allowed(url) => Ok(()),
            scheme => Err(protocol(
                repository,
                format!(
                    "{scheme}:// to {} is not allowed (not loopback, not insecure)",
                    authority(url)
                ),
            )),
        }
    }

    fn plain_http_allowed(&self, url: &Url) -> bool {
        is_loopback(url) || self.insecure.contains(&authority(url))
    }
}

/// `host` or `host:port`, as `Repository::api_host` spells it.
fn authority(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

fn is_loopback(url: &Url) -> bool {
    let host = url.host_str().unwrap_or_default();
    let ip = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || ip
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A tag (`[A-Za-z0-9_][A-Za-z0-9_.-]*`, at most 128) or a digest (`algorithm:hex`): nothing
/// that would change the URL's path or query.
fn is_manifest_reference(reference: &str) -> bool {
    !reference.is_empty()
        && reference.len() <= 256
        && !reference.starts_with(['.', '-', ':'])
        && reference
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | ':' | '+' | '='))
}

/// The body of `response`, refused as a protocol error once it passes `limit` bytes (whether
/// or not the answer said its length).
async fn read_limited(
    repository: &Repository,
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, RegistryError> {
    let too_large = || protocol(repository, format!("a tag list page over {limit} bytes"));
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|error| {
        protocol(
            repository,
            format!("reading a tag list: {}", error.without_url()),
        )
    })? {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

pub(crate) fn protocol(repository: &Repository, what: String) -> RegistryError {
    RegistryError::Protocol {
        registry: repository.registry().to_owned(),
        repository: repository.path().to_owned(),
        what,
    }
}

fn not_found(repository: &Repository) -> RegistryError {
    RegistryError::NotFound {
        registry: repository.registry().to_owned(),
        repository: repository.path().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repository(name: &str) -> Repository {
        Repository::parse(name).expect("repository")
    }

    #[test]
    fn http_only_for_loopback_or_insecure() {
        let client = RegistryClient::with_http(reqwest::Client::new()).insecure("reg.lan:5000");
        let url = |name: &str| {
            client
                .api_url(&repository(name), "x")
                .expect("url")
                .to_string()
        };
        assert_eq!(url("localhost:5000/a"), "http://localhost:5000/v2/x");
        assert_eq!(url("127.0.0.1:5000/a"), "http://127.0.0.1:5000/v2/x");
        assert_eq!(url("reg.lan:5000/a"), "http://reg.lan:5000/v2/x");
        assert_eq!(url("ghcr.io/a/b"), "https://ghcr.io/v2/x");
        assert_eq!(url("nginx"), "https://registry-1.docker.io/v2/x");
        let plain = Url::parse("http://ghcr.io/token").expect("url");
        assert!(
            client
                .check_scheme(&repository("ghcr.io/a/b"), &plain)
                .is_err()
        );
    }

    #[test]
    fn references_that_would_change_the_url_are_refused() {
        assert!(is_manifest_reference("v1.2.3-rc.1"));
        assert!(is_manifest_reference("sha256:0123abcd"));
        for bad in ["", "a/b", "a?b", "../x", "a b", "a#b"] {
            assert!(!is_manifest_reference(bad), "{bad}");
        }
    }
}
