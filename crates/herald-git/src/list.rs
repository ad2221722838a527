//! Listing a remote's references without cloning (like `git ls-remote`).

use std::cell::RefCell;
use std::collections::BTreeMap;

use git2::Direction;

use crate::callbacks::remote_callbacks;
use crate::error::GitError;
use crate::remote::{Remote, RemoteRef};
use crate::session::{CallState, Session};

/// Suffix git uses to advertise the object an annotated tag points at.
const PEELED_SUFFIX: &str = "^{}";

/// List the remote's `refs/...` references, with annotated tags peeled to the
/// object they point at. `HEAD` is not included. Sorted by name. Blocking.
///
/// This downloads every ref the server has (libgit2 speaks protocol v0 only) and has no
/// deadline; to poll a few watched refs use [`crate::list_refs_matching`] or
/// [`crate::list_refs_with`], which ask a protocol v2 server for just those.
pub fn list_refs(remote: &Remote) -> Result<Vec<RemoteRef>, GitError> {
    let session = Session::new(remote)?;
    list_with_libgit2(&session)
}

/// [`list_refs`] for an already validated session.
pub(crate) fn list_with_libgit2(session: &Session<'_>) -> Result<Vec<RemoteRef>, GitError> {
    let step = "listing refs";
    let state = RefCell::new(CallState::default());
    let mut git_remote = git2::Remote::create_detached(session.remote.url.as_str())
        .map_err(|e| session.error(&e, &state, step))?;
    let callbacks = remote_callbacks(session, &state, step);
    let connection = git_remote
        .connect_auth(Direction::Fetch, Some(callbacks), None)
        .map_err(|e| session.error(&e, &state, step))?;
    let heads = connection
        .list()
        .map_err(|e| session.error(&e, &state, step))?;
    let advertised = heads
        .iter()
        .map(|head| (head.name().to_owned(), head.oid().to_string()));
    let refs = peel_advertised_refs(advertised);
    tracing::debug!(url = %session.display_url, count = refs.len(), "listed remote refs");
    Ok(refs)
}

/// Fold `name^{}` entries into `name` and drop everything outside `refs/`.
pub(crate) fn peel_advertised_refs(
    advertised: impl Iterator<Item = (String, String)>,
) -> Vec<RemoteRef> {
    let mut direct = BTreeMap::new();
    let mut peeled = BTreeMap::new();
    for (name, oid) in advertised {
        match name.strip_suffix(PEELED_SUFFIX) {
            Some(tag) => peeled.insert(tag.to_owned(), oid),
            None => direct.insert(name, oid),
        };
    }
    direct
        .into_iter()
        .filter(|(name, _)| name.starts_with("refs/"))
        .map(|(name, oid)| {
            let commit = peeled.remove(&name).unwrap_or(oid);
            RemoteRef { name, commit }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peels_annotated_tags_and_drops_head() {
        let advertised = [
            ("HEAD", "c1"),
            ("refs/heads/main", "c1"),
            ("refs/tags/v1", "t1"),
            ("refs/tags/v1^{}", "c0"),
            ("refs/tags/light", "c1"),
        ]
        .into_iter()
        .map(|(n, o)| (n.to_owned(), o.to_owned()));
        let refs = peel_advertised_refs(advertised);
        let pairs: Vec<(&str, &str)> = refs
            .iter()
            .map(|r| (r.name.as_str(), r.commit.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("refs/heads/main", "c1"),
                ("refs/tags/light", "c1"),
                ("refs/tags/v1", "c0"),
            ]
        );
    }
}
