//! The registry is asked once per image per interval, however many ImageUpdates follow it:
//! a listing younger than the asker's interval is shared, and askers that arrive while one is
//! in flight wait for it instead of asking too.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a listing is keyed by: the repository and whose credentials asked (two Secrets may see
/// different tags of one repository).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TagKey {
    pub repository: String,
    pub credentials: Option<(String, String)>,
}

type Slot = Arc<tokio::sync::Mutex<Option<(Instant, Arc<Vec<String>>)>>>;

/// Recent tag listings. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct TagCache {
    slots: Arc<Mutex<HashMap<TagKey, Slot>>>,
}

impl TagCache {
    /// The tags for `key`: a listing younger than `max_age`, or a fresh one from `list`.
    /// A failed listing is not kept, so the next asker tries again.
    pub async fn get<F, Fut, E>(
        &self,
        key: TagKey,
        max_age: Duration,
        list: F,
    ) -> Result<Arc<Vec<String>>, E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<String>, E>>,
    {
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
            slots.retain(|_, slot| Arc::strong_count(slot) > 1 || !is_stale(slot, max_age));
            slots.entry(key).or_default().clone()
        };
        let mut listing = slot.lock().await;
        if let Some((at, tags)) = listing.as_ref()
            && at.elapsed() < max_age
        {
            return Ok(tags.clone());
        }
        let tags = Arc::new(list().await?);
        *listing = Some((Instant::now(), tags.clone()));
        Ok(tags)
    }
}

/// A slot nobody holds whose listing is older than `max_age` (or that never got one): dropped
/// so deleted ImageUpdates leave nothing behind.
fn is_stale(slot: &Slot, max_age: Duration) -> bool {
    slot.try_lock()
        .map(|listing| {
            listing
                .as_ref()
                .is_none_or(|(at, _)| at.elapsed() >= max_age)
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn key(repository: &str) -> TagKey {
        TagKey {
            repository: repository.into(),
            credentials: None,
        }
    }

    #[tokio::test]
    async fn concurrent_askers_share_one_listing() {
        let cache = TagCache::default();
        let calls = Arc::new(AtomicUsize::new(0));
        let ask = |cache: TagCache, calls: Arc<AtomicUsize>| async move {
            cache
                .get(key("r/web"), Duration::from_secs(60), || async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    tokio::task::yield_now().await;
                    Ok::<_, ()>(vec!["1.0.0".to_owned()])
                })
                .await
        };
        let answers = futures_join(cache.clone(), calls.clone(), ask).await;
        assert!(
            answers
                .iter()
                .all(|a| a.as_deref() == Ok(&vec!["1.0.0".to_owned()]))
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    async fn futures_join<F, Fut>(
        cache: TagCache,
        calls: Arc<AtomicUsize>,
        ask: F,
    ) -> Vec<Result<Arc<Vec<String>>, ()>>
    where
        F: Fn(TagCache, Arc<AtomicUsize>) -> Fut,
        Fut: std::future::Future<Output = Result<Arc<Vec<String>>, ()>> + Send + 'static,
    {
        let tasks: Vec<_> = (0..10)
            .map(|_| tokio::spawn(ask(cache.clone(), calls.clone())))
            .collect();
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.expect("task"));
        }
        answers
    }

    #[tokio::test]
    async fn old_listings_and_failures_are_asked_again() {
        let cache = TagCache::default();
        let failed = cache
            .get(key("r/web"), Duration::from_secs(60), || async {
                Err("down")
            })
            .await;
        assert_eq!(failed, Err("down"));
        let first = cache
            .get(key("r/web"), Duration::from_secs(60), || async {
                Ok::<_, &str>(vec!["1".into()])
            })
            .await;
        assert_eq!(first.as_deref(), Ok(&vec!["1".to_owned()]));
        let fresh = cache
            .get(key("r/web"), Duration::ZERO, || async {
                Ok::<_, &str>(vec!["2".into()])
            })
            .await;
        assert_eq!(fresh.as_deref(), Ok(&vec!["2".to_owned()]));
        let other = cache
            .get(key("r/api"), Duration::from_secs(60), || async {
                Ok::<_, &str>(vec!["3".into()])
            })
            .await;
        assert_eq!(other.as_deref(), Ok(&vec!["3".to_owned()]));
    }
}
