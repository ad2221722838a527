//! Commit statuses: a run's transition as the status of its revision at GitHub, GitLab or
//! Gitea, with the run's name as the context and a link to it. The repository and the API
//! are found as [`crate::hosts`] says.

use herald_api::{GitHostApi, NotifyOn};
use reqwest::header::{HeaderName, HeaderValue};

use crate::hosts::{self, HostError, Repository};
use crate::message::Message;
use crate::webhook::Target;

/// GitHub's limit on a status's description.
const DESCRIPTION_CHARS: usize = 140;
/// A status request, ready to post.
#[derive(Debug)]
pub struct StatusRequest {
    pub target: Target,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: serde_json::Value,
}
/// The request setting `message`'s status on `repository` at `api`, authenticated by `token`.
pub fn request(
    api: GitHostApi,
    repository: &Repository,
    token: &str,
    message: &Message,
) -> Result<StatusRequest, HostError> {
    let notice = &message.notice;
    let sha = notice.revision.as_deref().ok_or(HostError::NoRevision)?;
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
    let (state, context_key) = match api {
        GitHostApi::Gitlab => (gitlab_state(notice.event), "name"),
        GitHostApi::Github | GitHostApi::Gitea => (github_state(notice.event), "context"),
    };
    let mut body = serde_json::json!({
        "state": state,
        "target_url": message.link,
        "description": description,
    });
    body[context_key] = context.into();
    Ok(StatusRequest {
        target: Target::new(&format!(
            "{}/statuses/{sha}",
            hosts::api_base(api, repository)
        ))?,
        headers: hosts::auth_headers(api, token)?,
        body,
    })
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
    fn states_follow_each_host_s_words() {
        assert_eq!(github_state(NotifyOn::RunStarted), "pending");
        assert_eq!(github_state(NotifyOn::RunTimedOut), "failure");
        assert_eq!(gitlab_state(NotifyOn::RunStarted), "running");
        assert_eq!(gitlab_state(NotifyOn::RunFailed), "failed");
        assert_eq!(gitlab_state(NotifyOn::RunCancelled), "canceled");
    }
}
