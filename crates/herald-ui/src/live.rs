//! Live updates: one task per process watches the store's newest event id and tells every open
//! page (over server-sent events) that something changed; the page's script fetches itself
//! again. The store is read only while a page listens.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use herald_server::Closing;
use herald_store::Store;
use tokio::sync::watch;

/// How often the newest event id is read while someone listens: well inside the 1 s a change
/// may take to reach an open page.
const POLL: Duration = Duration::from_millis(250);

/// The newest event id, as last read.
#[derive(Debug, Clone)]
pub struct Live {
    newest: watch::Receiver<i64>,
    closing: Closing,
}

impl Live {
    /// Starts the watching task; it ends once every `Live` (and so the router) is gone.
    pub fn start(store: Store, closing: Closing) -> Self {
        let (sender, newest) = watch::channel(0);
        tokio::spawn(watch_store(store, sender));
        Self { newest, closing }
    }

    /// `GET /ui/live`: a `change` event (its data the newest event id) after each change,
    /// until the server closes.
    pub fn stream(&self) -> Sse<impl Stream<Item = Result<Event, Infallible>> + use<>> {
        let mut newest = self.newest.clone();
        newest.mark_unchanged();
        let closing = self.closing.clone();
        let changes = futures::stream::unfold(newest, move |mut newest| {
            let closing = closing.clone();
            async move {
                tokio::select! {
                    changed = newest.changed() => changed.ok()?,
                    () = closing.closed() => return None,
                }
                let id = *newest.borrow_and_update();
                let event = Event::default().event("change").data(id.to_string());
                Some((Ok(event), newest))
            }
        });
        Sse::new(changes).keep_alive(KeepAlive::default())
    }
}

async fn watch_store(store: Store, sender: watch::Sender<i64>) {
    let mut every = tokio::time::interval(POLL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        if sender.is_closed() {
            return;
        }
        // The router's own receiver is always there; more means a page is listening.
        if sender.receiver_count() < 2 {
            continue;
        }
        match store.newest_event_id().await {
            Ok(id) => {
                sender.send_if_modified(|newest| std::mem::replace(newest, id) != id);
            }
            Err(e) => tracing::debug!(error = %e, "live updates could not read the store"),
        }
    }
}
