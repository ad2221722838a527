//! Smart-HTTP connections kept open between listings. Polling a server again then costs two
//! requests, not a TCP connect (and over HTTPS a TLS handshake) as well: at 500 triggers on
//! one host the connects were an eighth of Herald's CPU.
//!
//! A kept connection goes only to a listing of the same origin with the same trust settings
//! (CA bundle, verification off or on), since its certificate was checked against those; the
//! credentials are per request (HTTP basic) and play no part.

use std::collections::VecDeque;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::http_client::{Connection, Origin};
use crate::session::Session;

/// How long a connection is kept unused by default: servers close idle ones after 5 s
/// (Apache) to 75 s (nginx), and a kept one is checked before it is used anyway.
pub const DEFAULT_KEEP_IDLE: Duration = Duration::from_secs(30);

/// Connections kept open for later listings, at most `capacity` of them, each at most
/// [`DEFAULT_KEEP_IDLE`] unused. Shared by the threads that list; [`IdleConnections::none`]
/// keeps nothing.
pub struct IdleConnections {
    capacity: usize,
    keep_idle: Duration,
    kept: Mutex<VecDeque<Kept>>,
}

struct Kept {
    key: ConnectionKey,
    connection: Connection,
    since: Instant,
}

/// What a connection may be reused for.
struct ConnectionKey {
    origin: Origin,
    /// Over HTTPS: whether verification was off, and the CA bundle the certificate was
    /// checked against.
    trust: Option<(bool, Option<String>)>,
}

impl ConnectionKey {
    fn new(origin: &Origin, session: &Session<'_>) -> Self {
        Self {
            origin: origin.clone(),
            trust: trust(origin, session).map(|(insecure, ca)| (insecure, ca.map(str::to_owned))),
        }
    }

    /// Whether a connection to `origin` for `session` may be this one (without building a
    /// key, which would copy the CA bundle on every poll).
    fn serves(&self, origin: &Origin, session: &Session<'_>) -> bool {
        let own = self
            .trust
            .as_ref()
            .map(|(insecure, ca)| (*insecure, ca.as_deref()));
        &self.origin == origin && own == trust(origin, session)
    }
}

/// The trust settings a connection to `origin` is checked with: none over plain HTTP.
fn trust<'s>(origin: &Origin, session: &'s Session<'_>) -> Option<(bool, Option<&'s str>)> {
    let tls = &session.remote.tls;
    origin
        .tls
        .then_some((tls.insecure_skip_verify, tls.ca_pem.as_deref()))
}

impl IdleConnections {
    /// Keeps at most `capacity` connections.
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            keep_idle: DEFAULT_KEEP_IDLE,
            kept: Mutex::default(),
        }
    }

    /// Keeps none: every listing connects afresh.
    pub fn none() -> Self {
        Self::new(0)
    }

    /// Keeps a connection at most `keep_idle` unused instead of [`DEFAULT_KEEP_IDLE`].
    pub fn keeping_idle_for(mut self, keep_idle: Duration) -> Self {
        self.keep_idle = keep_idle;
        self
    }

    /// How many connections are kept now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most recently kept connection to `origin` for `session`'s trust settings that is
    /// still open, if any.
    pub(crate) fn take(&self, origin: &Origin, session: &Session<'_>) -> Option<Connection> {
        loop {
            let kept = {
                let mut kept = self.lock();
                let keep_idle = self.keep_idle;
                kept.retain(|k| k.since.elapsed() <= keep_idle);
                let at = kept.iter().rposition(|k| k.key.serves(origin, session))?;
                kept.remove(at)?
            };
            // Checked outside the lock: a socket call per candidate.
            if kept.connection.is_reusable() {
                return Some(kept.connection);
            }
        }
    }

    /// Keeps `connection`, made with `session`'s trust settings, for a later listing, dropping
    /// the oldest beyond the capacity.
    pub(crate) fn keep(&self, connection: Connection, session: &Session<'_>) {
        if self.capacity == 0 {
            return;
        }
        let key = ConnectionKey::new(&connection.origin, session);
        let mut kept = self.lock();
        kept.push_back(Kept {
            key,
            connection,
            since: Instant::now(),
        });
        while kept.len() > self.capacity {
            kept.pop_front();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Kept>> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for IdleConnections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdleConnections")
            .field("capacity", &self.capacity)
            .field("keep_idle", &self.keep_idle)
            .field("kept", &self.len())
            .finish()
    }
}
