//! Listing a remote's refs for the fire path: off the async workers on a few threads of its own,
//! within a deadline, and shared by every trigger that watches the same remote with the same
//! credentials while the last listing is fresh enough for the one asking.
//!
//! Unbounded `spawn_blocking` per check let a slow Git server pile up blocking threads (and
//! their allocator arenas): 500 triggers held about 500 threads and 400 MB. Here at most
//! `concurrency` listings run at once, on as many threads at most (`threads::Threads`, not
//! tokio's blocking pool, which keeps every thread a burst ever started); a listing past its
//! deadline is reported at once, and its thread keeps its slot until the transport gives up,
//! so a hanging server never makes more threads. Smart-HTTP connections stay open between
//! listings (`IdleConnections`), so a poll of a host polled a moment ago makes no connect.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use herald_api::reasons;
use herald_git::{Auth, GitError, IdleConnections, ListOptions, Remote, RemoteRef};
use prometheus_client::metrics::gauge::Gauge;
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use crate::threads::Threads;

/// Why a listing gave no refs.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("listing refs of {url} took longer than {deadline:?}")]
    Deadline { url: String, deadline: Duration },
    #[error("listing refs of {url} stopped unexpectedly: {detail}")]
    Aborted { url: String, detail: String },
}

impl ListError {
    /// The condition reason this failure is reported with.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Git(GitError::Auth { .. }) => reasons::AUTHENTICATION_FAILED,
            Self::Git(GitError::HostKey { changed: true, .. }) => reasons::HOST_KEY_CHANGED,
            Self::Git(GitError::HostKey { .. }) => reasons::HOST_KEY_UNKNOWN,
            Self::Git(GitError::Tls { .. }) => reasons::TLS_FAILED,
            Self::Git(GitError::RepositoryNotFound { .. } | GitError::RevisionNotFound { .. }) => {
                reasons::REF_NOT_FOUND
            }
            _ => reasons::UNREACHABLE,
        }
    }
}

/// A remote and the credentials offered to it, as a digest (never the secrets themselves).
type RemoteKey = [u8; 32];

/// The last successful listing of one remote.
#[derive(Debug)]
struct Listed {
    at: Instant,
    refs: Arc<Vec<RemoteRef>>,
}

/// Lists refs for both modes; cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct RefLister {
    permits: Arc<Semaphore>,
    /// As many threads as permits, so a listing given a permit finds its thread.
    threads: Threads,
    deadline: Duration,
    /// One slot per remote: holding its lock while listing makes concurrent askers wait for
    /// that listing instead of starting their own.
    recent: Mutex<Recent>,
    /// A slot whose listing is older than this, and that nobody holds, is dropped.
    forget_after: Duration,
    /// Listings waiting for a permit (`herald_git_listings_waiting` once reported).
    waiting: Gauge,
    /// Connections the listings leave open for the next listing of the same server.
    idle: Arc<IdleConnections>,
}

type Slot = Arc<tokio::sync::Mutex<Option<Listed>>>;

/// The remotes listed lately. Swept now and then, so remotes no longer watched (a trigger
/// deleted, credentials rotated: a new key each time) do not stay for the process' life.
#[derive(Debug, Default)]
struct Recent {
    slots: HashMap<RemoteKey, Slot>,
    swept: Option<Instant>,
}

/// One listing waiting for a permit, counted in a gauge until dropped.
struct Waiting<'a>(&'a Gauge);

impl<'a> Waiting<'a> {
    fn on(gauge: &'a Gauge) -> Self {
        gauge.inc();
        Self(gauge)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// How long an unused listing is kept by default: longer than any listing is shared (half
/// of a schedule's interval) for intervals up to an hour.
const FORGET_AFTER: Duration = Duration::from_secs(30 * 60);

impl RefLister {
    /// At most `concurrency` listings at once (at least one), each given `deadline`.
    pub fn new(concurrency: usize, deadline: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            threads: Threads::new("herald-git", concurrency),
            deadline,
            recent: Mutex::default(),
            forget_after: FORGET_AFTER,
            waiting: Gauge::default(),
            // One per thread, and as many again for a second server polled as often.
            idle: Arc::new(IdleConnections::new(2 * concurrency.max(1))),
        }
    }

    /// Counts the listings waiting for a turn in `gauge` (the process's metric).
    pub fn reporting_waits_in(mut self, gauge: Gauge) -> Self {
        self.waiting = gauge;
        self
    }

    /// Drops unused listings older than `age` instead of [`FORGET_AFTER`].
    pub fn forgetting_after(mut self, age: Duration) -> Self {
        self.forget_after = age;
        self
    }

    /// How many remotes' listings are kept now.
    pub fn remotes_kept(&self) -> usize {
        self.recent
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .slots
            .len()
    }

    /// The refs of `remote` under `prefixes` (exact names are prefixes too; none lists every
    /// ref): a listing at most `max_age` old when there is one (zero asks the remote now),
    /// else a new one. Over HTTP(S), SSH and `git://` only the asked refs cross the wire
    /// (protocol v2), however many the repository holds.
    pub async fn list(
        &self,
        remote: &Remote,
        prefixes: &[String],
        max_age: Duration,
    ) -> Result<Arc<Vec<RemoteRef>>, ListError> {
        let slot = self.slot(remote_key(remote, prefixes));
        let mut last = slot.lock().await;
        if let Some(listed) = last.as_ref().filter(|l| l.at.elapsed() <= max_age) {
            return Ok(listed.refs.clone());
        }
        let refs = Arc::new(self.list_now(remote, prefixes).await?);
        *last = Some(Listed {
            at: Instant::now(),
            refs: refs.clone(),
        });
        Ok(refs)
    }

    fn slot(&self, key: RemoteKey) -> Slot {
        let mut recent = self.recent.lock().unwrap_or_else(|e| e.into_inner());
        if recent
            .swept
            .is_none_or(|at| at.elapsed() > self.forget_after / 4)
        {
            let forget_after = self.forget_after;
            recent
                .slots
                .retain(|_, slot| in_use_or_fresh(slot, forget_after));
            recent.swept = Some(Instant::now());
        }
        recent.slots.entry(key).or_default().clone()
    }

    async fn list_now(
        &self,
        remote: &Remote,
        prefixes: &[String],
    ) -> Result<Vec<RemoteRef>, ListError> {
        let url = remote.url.clone();
        let permit = {
            // Counted while waiting, however the wait ends (a cancelled asker included).
            let _waiting = Waiting::on(&self.waiting);
            self.permits.clone().acquire_owned().await
        }
        .map_err(|e| ListError::Aborted {
            url: url.clone(),
            detail: e.to_string(),
        })?;
        let owned = remote.clone();
        let options = ListOptions::prefixes(prefixes.iter().cloned()).with_timeout(self.deadline);
        let idle = Arc::clone(&self.idle);
        let listing = self.threads.run(move || {
            // The slot is freed when the listing really ends, not when its asker gives up.
            let _permit = permit;
            herald_git::list_refs_reusing(&owned, &options, &idle).map(|listed| listed.refs)
        });
        // The transport keeps the deadline itself; this one, a little later, covers a local
        // listing (libgit2 has no deadline of its own).
        let guard = self.deadline + Duration::from_secs(1);
        match tokio::time::timeout(guard, listing).await {
            Ok(Ok(listed)) => Ok(listed?),
            Ok(Err(e)) => Err(ListError::Aborted {
                url,
                detail: e.to_string(),
            }),
            Err(_) => Err(ListError::Deadline {
                url,
                deadline: self.deadline,
            }),
        }
    }
}

/// Whether a slot is held by an asker now (or being listed), or holds a listing younger than
/// `age`.
fn in_use_or_fresh(slot: &Slot, age: Duration) -> bool {
    if Arc::strong_count(slot) > 1 {
        return true;
    }
    slot.try_lock().map_or(true, |last| {
        last.as_ref().is_some_and(|l| l.at.elapsed() < age)
    })
}

/// Which refs of which remote, reached how: the prefixes, the URL, TLS settings and
/// credentials, digested.
fn remote_key(remote: &Remote, prefixes: &[String]) -> RemoteKey {
    let mut digest = Sha256::new();
    let mut part = |bytes: &[u8]| {
        digest.update((bytes.len() as u64).to_le_bytes());
        digest.update(bytes);
    };
    part(&(prefixes.len() as u64).to_le_bytes());
    prefixes.iter().for_each(|p| part(p.as_bytes()));
    part(remote.url.as_bytes());
    part(remote.tls.ca_pem.as_deref().unwrap_or("").as_bytes());
    part(&[u8::from(remote.tls.insecure_skip_verify)]);
    match &remote.auth {
        Auth::None => part(b"none"),
        Auth::Basic { username, password } => {
            part(b"basic");
            part(username.as_bytes());
            part(password.expose().as_bytes());
        }
        Auth::Token { username, token } => {
            part(b"token");
            part(username.as_bytes());
            part(token.expose().as_bytes());
        }
        Auth::Ssh {
            username,
            private_key,
            passphrase,
            known_hosts,
            allow_unknown_host,
        } => {
            part(b"ssh");
            part(username.as_bytes());
            part(private_key.expose().as_bytes());
            part(passphrase.as_ref().map_or("", |p| p.expose()).as_bytes());
            part(known_hosts.as_deref().unwrap_or("").as_bytes());
            part(&[u8::from(*allow_unknown_host)]);
        }
    }
    digest.finalize().into()
}

/// Why a reference could not be resolved against a remote.
#[derive(Debug, thiserror::Error)]
pub enum RevisionError {
    #[error(transparent)]
    List(#[from] ListError),
    #[error(transparent)]
    Select(#[from] herald_core::SelectError),
}

/// What `reference` points at on `remote` now: a pinned commit as it is, else the remote's
/// refs listed without cloning (or a listing at most `max_age` old).
pub async fn current_revision(
    lister: &RefLister,
    remote: &Remote,
    reference: &herald_api::GitReference,
    max_age: Duration,
) -> Result<herald_core::Selected, RevisionError> {
    let refs = match reference.commit {
        Some(_) => Vec::new(),
        None => lister
            .list(
                remote,
                &reference.full_ref().into_iter().collect::<Vec<_>>(),
                max_age,
            )
            .await?
            .iter()
            .map(|r| herald_core::RefTip {
                name: r.name.clone(),
                commit: r.commit.clone(),
            })
            .collect(),
    };
    Ok(herald_core::select_revision(reference, &refs)?)
}

impl RevisionError {
    /// The condition reason this failure is reported with.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::List(e) => e.reason(),
            Self::Select(_) => reasons::REF_NOT_FOUND,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_credentials_are_another_remote() {
        let anonymous = Remote::anonymous("https://git.example/app.git");
        let basic = |password: &str| Remote {
            auth: Auth::Basic {
                username: "ci".into(),
                password: password.into(),
            },
            ..anonymous.clone()
        };
        let key = |remote: &Remote| remote_key(remote, &[]);
        assert_eq!(key(&basic("a")), key(&basic("a")));
        assert_ne!(key(&basic("a")), key(&basic("b")));
        assert_ne!(key(&basic("a")), key(&anonymous));
        let main = ["refs/heads/main".to_owned()];
        assert_ne!(
            remote_key(&anonymous, &main),
            key(&anonymous),
            "other refs asked"
        );
        let insecure = Remote {
            tls: herald_git::Tls {
                ca_pem: None,
                insecure_skip_verify: true,
            },
            ..anonymous.clone()
        };
        assert_ne!(key(&insecure), key(&anonymous));
    }
}
