//! Commit statuses: a run's transition as the status of its revision at GitHub, GitLab or
//! Gitea, with the run's name as the context and a link to it.
//!
//! The repository is named by its web address (Flux's convention: `https://github.com/org/app`)
//! or, without one, by the run's source URL; SSH URLs (`git@host:org/app.git`) name the same
//! repository. The API is found from it as each host documents: `api.github.com` for
//! github.com and `<host>/api/v3` for GitHub Enterprise, `<host>/api/v4` for GitLab,
//! `<host>/api/v1` for Gitea and Forgejo.

use herald_api::{NotifierType, NotifyOn};
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderName, HeaderValue};

use crate::message::Message;
use crate::webhook::{Target, WebhookError};

/// GitHub's limit on a status's description.
const DESCRIPTION_CHARS: usize = 140;

/// A status request, ready to post.
#[derive(Debug)]
pub struct StatusRequest {
    pub target: Target,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: serde_json::Value,
}

/// Why a status cannot be set.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The repository's address names no `owner/repository`.
    #[error("cannot tell the repository from {what}: {reason}")]
    Repository { what: &'static str, reason: String },
    /// The notice carries no revision.
    #[error("the notice names no commit")]
    NoRevision,
    /// The token cannot be sent in a header (a newline, say).
    #[error("the token in the Secret's `token` key is not a valid header value")]
    Token,
    /// The API URL built from the address is unusable.
    #[error(transparent)]
    Url(#[from] WebhookError),
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
    pub fn parse(url: &str, what: &'static str) -> Result<Self, StatusError> {
        let bad = |reason: &str| StatusError::Repository {
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

/// The request setting `message`'s status on `repository` for `kind`, authenticated by `token`.
pub fn request(
    kind: NotifierType,
    repository: &Repository,
    token: &str,
    message: &Message,
) -> Result<StatusRequest, StatusError> {
    let notice = &message.notice;
    let sha = notice.revision.as_deref().ok_or(StatusError::NoRevision)?;
    let context = match &notice.step {
        Some(step) => format!("{}/{step}", notice.object.name),
        None => notice.object.name.clone(),
    };
    let description: String = notice
        .message
        .as_deref()
        .unwrap_or(&notice.headline())
        .chars()
        .take(DESCRIPTION_CHARS)
        .collect();
    let link = message.link.clone();
    let header = |value: String| HeaderValue::from_str(&value).map_err(|_| StatusError::Token);
    let (url, headers, body) = match kind {
        NotifierType::Gitlab => (
            format!(
                "{}/api/v4/projects/{}/statuses/{sha}",
                repository.origin,
                repository.path.replace('/', "%2F")
            ),
            vec![(
                HeaderName::from_static("private-token"),
                header(token.to_owned())?,
            )],
            serde_json::json!({
                "state": gitlab_state(notice.event),
                "name": context,
                "target_url": link,
                "description": description,
            }),
        ),
        NotifierType::Gitea => (
            format!(
                "{}/api/v1/repos/{}/statuses/{sha}",
                repository.origin, repository.path
            ),
            vec![(AUTHORIZATION, header(format!("token {token}"))?)],
            serde_json::json!({
                "state": github_state(notice.event),
                "context": context,
                "target_url": link,
                "description": description,
            }),
        ),
        _ => (
            format!(
                "{}/repos/{}/statuses/{sha}",
                github_api(&repository.origin),
                repository.path
            ),
            vec![
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
            serde_json::json!({
                "state": github_state(notice.event),
                "context": context,
                "target_url": link,
                "description": description,
            }),
        ),
    };
    Ok(StatusRequest {
        target: Target::new(&url)?,
        headers,
        body,
    })
}

/// github.com's API is on its own host; Enterprise's under `/api/v3`.
fn github_api(origin: &str) -> String {
    if origin == "https://github.com" || origin == "https://www.github.com" {
        "https://api.github.com".to_owned()
    } else {
        format!("{origin}/api/v3")
    }
}

/// GitHub's and Gitea's states: `pending`, `success`, `failure`, `error`.
fn github_state(on: NotifyOn) -> &'static str {
    match on {
        NotifyOn::RunSucceeded | NotifyOn::StepSucceeded => "success",
        NotifyOn::RunFailed
        | NotifyOn::RunTimedOut
        | NotifyOn::StepFailed
        | NotifyOn::StepTimedOut => "failure",
        NotifyOn::RunCancelled => "error",
        _ => "pending",
    }
}

/// GitLab's: `running` once started, `success`, `failed`, `canceled`.
fn gitlab_state(on: NotifyOn) -> &'static str {
    match github_state(on) {
        "success" => "success",
        "failure" => "failed",
        "error" => "canceled",
        _ => "running",
    }
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
    fn github_com_s_api_is_its_own_host() {
        assert_eq!(github_api("https://github.com"), "https://api.github.com");
        assert_eq!(
            github_api("https://ghe.example"),
            "https://ghe.example/api/v3"
        );
    }

    #[test]
    fn states_follow_each_host_s_words() {
        assert_eq!(github_state(NotifyOn::RunStarted), "pending");
        assert_eq!(github_state(NotifyOn::RunTimedOut), "failure");
        assert_eq!(gitlab_state(NotifyOn::RunStarted), "running");
        assert_eq!(gitlab_state(NotifyOn::RunFailed), "failed");
        assert_eq!(gitlab_state(NotifyOn::RunCancelled), "canceled");
    }
}
