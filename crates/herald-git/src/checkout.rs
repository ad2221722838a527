//! Fetching exactly one revision as shallowly as possible and checking it out.

use std::cell::RefCell;
use std::path::Path;

use git2::build::CheckoutBuilder;
use git2::{AutotagOption, FetchOptions, Oid, RemoteRedirect, Repository};

use crate::callbacks::remote_callbacks;
use crate::error::GitError;
use crate::remote::{Remote, is_full_commit_id};
use crate::session::{CallState, Session};

/// Where fetched objects are anchored while looking for the revision; removed afterwards.
const FETCH_NAMESPACE: &str = "refs/herald-fetch/";

/// How deep the second try at the requested ref goes before fetching all of its history.
/// Covers the common case of a branch that moved on a few commits since it was listed.
const DEEPEN_DEPTH: i32 = 50;

/// libgit2's `GIT_FETCH_DEPTH_UNSHALLOW`: fetch the missing history of a shallow repository.
const UNSHALLOW: i32 = i32::MAX;

/// Full history (the only mode libgit2's local transport supports).
const FULL: i32 = 0;

/// One fetch tried while looking for the revision.
#[derive(Debug)]
struct FetchAttempt {
    refspecs: Vec<String>,
    depth: i32,
    /// Servers may refuse some attempts (e.g. fetching an unadvertised commit id);
    /// such a refusal means "try the next way", not failure.
    may_be_refused: bool,
}

/// Shallow-fetch (depth 1) and check out exactly `revision` (a full commit id) into
/// `dest`, an empty or non-existent directory, leaving a normal working tree with a
/// detached HEAD at `revision`.
///
/// `refname` (a full ref name such as `refs/heads/main`, or `HEAD`) is what to fetch.
/// If its tip is not `revision`, the commit id is fetched directly and then the ref
/// deeper, and finally its whole history; [`GitError::RevisionNotFound`] if the commit
/// still is not there. Blocking.
///
/// On error `dest` may hold a partial repository; callers should discard it.
pub fn checkout(
    remote: &Remote,
    refname: Option<&str>,
    revision: &str,
    dest: &Path,
) -> Result<(), GitError> {
    let session = Session::new(remote)?;
    let oid = parse_revision(&session, revision)?;
    if let Some(refname) = refname {
        check_refname(&session, refname)?;
    }
    prepare_destination(dest)?;
    let repo = Repository::init(dest).map_err(|e| GitError::Io {
        context: format!("initialising a repository in {}", dest.display()),
        source: std::io::Error::other(e.message().to_owned()),
    })?;
    let attempts = plan_fetches(session.is_local(), refname, revision);
    let mut tried = Vec::new();
    for attempt in &attempts {
        match fetch(&session, &repo, attempt) {
            Ok(()) => tried.push(describe(attempt)),
            Err(err) if attempt.may_be_refused && !err.is_connection_failure() => {
                tracing::debug!(url = %session.display_url, error = %err, "fetch refused; trying the next way");
                tried.push(format!("{} (refused by the server)", describe(attempt)));
                continue;
            }
            Err(err) => return Err(err),
        }
        if repo.find_commit(oid).is_ok() {
            check_out_detached(&session, &repo, oid)?;
            remove_fetch_refs(&repo);
            tracing::debug!(url = %session.display_url, %revision, fetched = ?tried, "checked out revision");
            return Ok(());
        }
    }
    Err(GitError::RevisionNotFound {
        url: session.display_url.clone(),
        revision: revision.to_owned(),
        detail: format!("no such commit after fetching {}", tried.join(", then ")),
    })
}

fn parse_revision(session: &Session<'_>, revision: &str) -> Result<Oid, GitError> {
    if !is_full_commit_id(revision) {
        return Err(session.invalid(format!(
            "revision {revision:?} is not a full 40-hex commit id"
        )));
    }
    Oid::from_str(revision).map_err(|e| session.invalid(e.message().to_owned()))
}

fn check_refname(session: &Session<'_>, refname: &str) -> Result<(), GitError> {
    let valid = refname == "HEAD"
        || (refname.starts_with("refs/") && git2::Reference::is_valid_name(refname));
    if valid {
        Ok(())
    } else {
        Err(session.invalid(format!(
            "{refname:?} is not a full ref name (like refs/heads/main)"
        )))
    }
}

/// Create `dest` if needed and insist that it is an empty directory.
fn prepare_destination(dest: &Path) -> Result<(), GitError> {
    let io_error = |context: &str, source| GitError::Io {
        context: format!("{context} {}", dest.display()),
        source,
    };
    std::fs::create_dir_all(dest).map_err(|e| io_error("creating", e))?;
    let mut entries = std::fs::read_dir(dest).map_err(|e| io_error("reading", e))?;
    if entries.next().is_some() {
        let source = std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "the checkout destination is not empty",
        );
        return Err(io_error("preparing", source));
    }
    Ok(())
}

/// Cheapest first: the ref's tip, the commit itself, a deeper ref, the full ref history.
fn plan_fetches(is_local: bool, refname: Option<&str>, revision: &str) -> Vec<FetchAttempt> {
    let ref_spec = |refname: &str| vec![format!("+{refname}:{FETCH_NAMESPACE}ref")];
    let commit_spec = vec![format!("+{revision}:{FETCH_NAMESPACE}commit")];
    let everything = vec![
        format!("+refs/heads/*:{FETCH_NAMESPACE}heads/*"),
        format!("+refs/tags/*:{FETCH_NAMESPACE}tags/*"),
    ];
    let attempt = |refspecs: Vec<String>, depth, may_be_refused| FetchAttempt {
        refspecs,
        depth,
        may_be_refused,
    };
    if is_local {
        // The local transport cannot do shallow fetches but serves any commit id.
        let mut attempts = Vec::new();
        if let Some(refname) = refname {
            attempts.push(attempt(ref_spec(refname), FULL, false));
        }
        attempts.push(attempt(commit_spec, FULL, true));
        return attempts;
    }
    match refname {
        Some(refname) => vec![
            attempt(ref_spec(refname), 1, false),
            attempt(commit_spec, 1, true),
            attempt(ref_spec(refname), DEEPEN_DEPTH, false),
            attempt(ref_spec(refname), UNSHALLOW, false),
        ],
        None => vec![
            attempt(commit_spec, 1, true),
            attempt(everything, FULL, false),
        ],
    }
}

fn describe(attempt: &FetchAttempt) -> String {
    let sources: Vec<&str> = attempt
        .refspecs
        .iter()
        .map(|spec| {
            let spec = spec.trim_start_matches('+');
            spec.split(':').next().unwrap_or(spec)
        })
        .collect();
    let depth = match attempt.depth {
        FULL | UNSHALLOW => "full history".to_owned(),
        depth => format!("depth {depth}"),
    };
    format!("{} ({depth})", sources.join(" and "))
}

fn fetch(session: &Session<'_>, repo: &Repository, attempt: &FetchAttempt) -> Result<(), GitError> {
    let step = format!("fetching {}", describe(attempt));
    let state = RefCell::new(CallState::default());
    let mut git_remote = repo
        .remote_anonymous(&session.remote.url)
        .map_err(|e| session.error(&e, &state, &step))?;
    let mut options = FetchOptions::new();
    options
        .remote_callbacks(remote_callbacks(session, &state, &step))
        .depth(attempt.depth)
        .download_tags(AutotagOption::None)
        .update_fetchhead(false)
        .follow_redirects(RemoteRedirect::Initial);
    git_remote
        .fetch(&attempt.refspecs, Some(&mut options), None)
        .map_err(|e| session.error(&e, &state, &step))
}

fn check_out_detached(session: &Session<'_>, repo: &Repository, oid: Oid) -> Result<(), GitError> {
    let step = "checking out the working tree";
    let to_error = |e: git2::Error| GitError::Io {
        context: format!("{step} of {} at {oid}", session.display_url),
        source: std::io::Error::other(e.message().to_owned()),
    };
    repo.set_head_detached(oid).map_err(to_error)?;
    repo.checkout_head(Some(CheckoutBuilder::new().force()))
        .map_err(to_error)
}

/// The scratch refs are an implementation detail; HEAD alone keeps the commit.
fn remove_fetch_refs(repo: &Repository) {
    let Ok(references) = repo.references_glob(&format!("{FETCH_NAMESPACE}*")) else {
        return;
    };
    for mut reference in references.flatten() {
        if let Err(e) = reference.delete() {
            tracing::debug!(error = %e.message(), "could not remove a scratch ref");
        }
    }
}
