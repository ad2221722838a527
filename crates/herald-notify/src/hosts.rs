//! The Git hosts' APIs Herald speaks (GitHub, GitLab, Gitea and Forgejo): where a
//! repository's API is, how to authenticate, and its hooks (created, kept in step and
//! removed for a WebhookTrigger's `register`). Commit statuses (`crate::status`) use the same.
//!
//! A repository is named by its web address (Flux's convention: `https://github.com/org/app`)
//! or a clone URL; SSH URLs (`git@host:org/app.git`) name the same repository. The API is
//! found from it as each host documents: `api.github.com` for github.com and
//! `<host>/api/v3` for GitHub Enterprise, `<host>/api/v4` for GitLab, `<host>/api/v1` for
//! Gitea and Forgejo.

use herald_api::GitHostApi;
use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderName, HeaderValue};

use crate::webhook::{Poster, Target, WebhookError};

/// Why a Git host's API cannot be asked, or what it answered.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The repository's address names no `owner/repository`.
    #[error("cannot tell the repository from {what}: {reason}")]
    Repository { what: &'static str, reason: String },
    /// The notice carries no revision.
    #[error("the notice names no commit")]
    NoRevision,
    /// The token cannot be sent in a header (a newline, say).
    #[error("the token in the Secret's `token` key is not a valid header value")]
    Token,
    /// The API could not be asked, or refused (its status and answer, never the token).
    #[error(transparent)]
    Url(#[from] WebhookError),
    /// The host answered something Herald cannot read.
    #[error("unexpected answer from the Git host: {reason}")]
    Answer { reason: String },
}

/// A repository on a host: `https://host[:port]` and its path (`org/app`, `group/sub/app`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repository {
    /// `scheme://host[:port]`.
    pub origin: String,
    /// `owner/name`, without `.git`.
    pub path: String,
}

impl Repository {
    /// From a web address or a clone URL (HTTPS, HTTP, `ssh://` or scp-like). An SSH URL's
    /// API is taken to be HTTPS on the same host.
    pub fn parse(url: &str, what: &'static str) -> Result<Self, HostError> {
        let bad = |reason: &str| HostError::Repository {
            what,
            reason: reason.to_owned(),
        };
        let url = url.trim();
        let (origin, rest) = if let Some((scheme, rest)) = url.split_once("://") {
            let (authority, path) = rest.split_once('/').ok_or_else(|| bad("no path"))?;
            let host = authority.rsplit('@').next().unwrap_or(authority);
            match scheme {
                "https" | "http" => (format!("{scheme}://{host}"), path),
                "ssh" | "git+ssh" | "ssh+git" => {
                    // An SSH port is not the web's.
                    let host = host.split(':').next().unwrap_or(host);
                    (format!("https://{host}"), path)
                }
                _ => return Err(bad("use an https:// or SSH address")),
            }
        } else if let Some((user_host, path)) = url.split_once(':') {
            let host = user_host.rsplit('@').next().unwrap_or(user_host);
            (format!("https://{host}"), path)
        } else {
            return Err(bad("use an https:// or SSH address"));
        };
        let path = rest
            .trim_matches('/')
            .trim_end_matches(".git")
            .trim_matches('/');
        if path.split('/').filter(|part| !part.is_empty()).count() < 2 {
            return Err(bad("the path must name an owner and a repository"));
        }
        Ok(Self {
            origin,
            path: path.to_owned(),
        })
    }
}

/// The base of `repository`'s API at `api` (statuses and hooks are under it).
pub fn api_base(api: GitHostApi, repository: &Repository) -> String {
    match api {
        GitHostApi::Github => {
            let origin = &repository.origin;
            let base = if origin == "https://github.com" || origin == "https://www.github.com" {
                "https://api.github.com".to_owned()
            } else {
                format!("{origin}/api/v3")
            };
            format!("{base}/repos/{}", repository.path)
        }
        GitHostApi::Gitlab => format!(
            "{}/api/v4/projects/{}",
            repository.origin,
            repository.path.replace('/', "%2F")
        ),
        GitHostApi::Gitea => format!("{}/api/v1/repos/{}", repository.origin, repository.path),
    }
}

/// How each host takes a token.
pub fn auth_headers(
    api: GitHostApi,
    token: &str,
) -> Result<Vec<(HeaderName, HeaderValue)>, HostError> {
    let header = |value: String| HeaderValue::from_str(&value).map_err(|_| HostError::Token);
    Ok(match api {
        GitHostApi::Github => vec![
            (AUTHORIZATION, header(format!("Bearer {token}"))?),
            (
                ACCEPT,
                HeaderValue::from_static("application/vnd.github+json"),
            ),
            (
                HeaderName::from_static("x-github-api-version"),
                HeaderValue::from_static("2022-11-28"),
            ),
        ],
        GitHostApi::Gitlab => vec![(
            HeaderName::from_static("private-token"),
            header(token.to_owned())?,
        )],
        GitHostApi::Gitea => vec![(AUTHORIZATION, header(format!("token {token}"))?)],
    })
}

/// A hook as Herald wants it at the host.
#[derive(Debug, Clone, Copy)]
pub struct Hook<'a> {
    /// Where the host posts (Herald's URL and the trigger's path).
    pub url: &'a str,
    /// What the host signs with (or sends as the token, GitLab).
    pub secret: &'a str,
}

/// A repository's hooks at one host, through one token.
#[derive(Debug)]
pub struct Hooks<'a> {
    pub poster: &'a Poster,
    pub api: GitHostApi,
    pub repository: Repository,
    pub token: &'a str,
}

impl Hooks<'_> {
    /// Creates `hook`, or brings the one posting to its URL in step (its secret and events
    /// cannot be read back, so it is always written); the hook's id.
    pub async fn ensure(&self, hook: Hook<'_>) -> Result<i64, HostError> {
        let body = serde_json::to_vec(&self.body(hook)).map_err(|e| HostError::Answer {
            reason: e.to_string(),
        })?;
        match self.find(hook.url).await? {
            Some(id) => {
                let method = match self.api {
                    GitHostApi::Gitlab => Method::PUT,
                    GitHostApi::Github | GitHostApi::Gitea => Method::PATCH,
                };
                self.call(method, &format!("/{id}"), Some(body)).await?;
                Ok(id)
            }
            None => {
                let answer = self.call(Method::POST, "", Some(body)).await?;
                id_of(&answer)
            }
        }
    }

    /// Removes the hook posting to `url`; `false` when there was none.
    pub async fn remove(&self, url: &str) -> Result<bool, HostError> {
        let Some(id) = self.find(url).await? else {
            return Ok(false);
        };
        self.call(Method::DELETE, &format!("/{id}"), None).await?;
        Ok(true)
    }

    /// The id of the hook posting to `url`, if any (the first page of 100 hooks).
    async fn find(&self, url: &str) -> Result<Option<i64>, HostError> {
        let answer = self.call(Method::GET, "?per_page=100", None).await?;
        let hooks: Vec<serde_json::Value> =
            serde_json::from_slice(&answer).map_err(|e| HostError::Answer {
                reason: format!("the hook list is not a JSON array: {e}"),
            })?;
        Ok(hooks.iter().find_map(|hook| {
            // GitLab keeps the URL at the top; GitHub and Gitea in `config`.
            let posts_to = hook
                .get("url")
                .filter(|_| self.api == GitHostApi::Gitlab)
                .or_else(|| hook.get("config").and_then(|c| c.get("url")));
            (posts_to.and_then(|u| u.as_str()) == Some(url))
                .then(|| hook.get("id").and_then(serde_json::Value::as_i64))
                .flatten()
        }))
    }

    /// The hook as each host's API takes it: push (and tag) events, JSON, TLS verified.
    fn body(&self, hook: Hook<'_>) -> serde_json::Value {
        match self.api {
            GitHostApi::Github => serde_json::json!({
                "name": "web", "active": true, "events": ["push"],
                "config": {"url": hook.url, "content_type": "json", "secret": hook.secret,
                           "insecure_ssl": "0"},
            }),
            GitHostApi::Gitlab => serde_json::json!({
                "url": hook.url, "token": hook.secret, "push_events": true,
                "tag_push_events": true, "enable_ssl_verification": true,
            }),
            GitHostApi::Gitea => serde_json::json!({
                "type": "gitea", "active": true, "events": ["push"],
                "config": {"url": hook.url, "content_type": "json", "secret": hook.secret},
            }),
        }
    }

    async fn call(
        &self,
        method: Method,
        rest: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Vec<u8>, HostError> {
        let url = format!("{}/hooks{rest}", api_base(self.api, &self.repository));
        let target = Target::new(&url)?;
        let headers = auth_headers(self.api, self.token)?;
        Ok(self.poster.call(method, &target, &headers, body).await?)
    }
}

/// The `id` of a created hook.
fn id_of(answer: &[u8]) -> Result<i64, HostError> {
    serde_json::from_slice::<serde_json::Value>(answer)
        .ok()
        .and_then(|hook| hook.get("id").and_then(serde_json::Value::as_i64))
        .ok_or_else(|| HostError::Answer {
            reason: "the created hook has no id".to_owned(),
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn repositories_are_read_from_web_and_clone_urls() {
        for (url, origin, path) in [
            (
                "https://github.com/org/app",
                "https://github.com",
                "org/app",
            ),
            (
                "https://github.com/org/app.git/",
                "https://github.com",
                "org/app",
            ),
            (
                "https://user@gitlab.example:8443/group/sub/app.git",
                "https://gitlab.example:8443",
                "group/sub/app",
            ),
            (
                "http://127.0.0.1:3000/org/app",
                "http://127.0.0.1:3000",
                "org/app",
            ),
            (
                "git@github.com:org/app.git",
                "https://github.com",
                "org/app",
            ),
            (
                "ssh://git@gitea.example:2222/org/app.git",
                "https://gitea.example",
                "org/app",
            ),
        ] {
            assert_eq!(
                Repository::parse(url, "test").unwrap(),
                Repository {
                    origin: origin.into(),
                    path: path.into()
                },
                "{url}"
            );
        }
        for bad in [
            "https://github.com/org",
            "ftp://h/o/r",
            "/srv/git/app",
            "file:///srv/app",
        ] {
            assert!(Repository::parse(bad, "test").is_err(), "{bad}");
        }
    }

    #[test]
    fn each_host_s_api_is_found_from_the_repository() {
        let repo = |origin: &str, path: &str| Repository {
            origin: origin.into(),
            path: path.into(),
        };
        assert_eq!(
            api_base(GitHostApi::Github, &repo("https://github.com", "org/app")),
            "https://api.github.com/repos/org/app"
        );
        assert_eq!(
            api_base(GitHostApi::Github, &repo("https://ghe.example", "org/app")),
            "https://ghe.example/api/v3/repos/org/app"
        );
        assert_eq!(
            api_base(GitHostApi::Gitlab, &repo("https://gl.example", "g/sub/app")),
            "https://gl.example/api/v4/projects/g%2Fsub%2Fapp"
        );
        assert_eq!(
            api_base(GitHostApi::Gitea, &repo("http://127.0.0.1:3000", "org/app")),
            "http://127.0.0.1:3000/api/v1/repos/org/app"
        );
    }
}
