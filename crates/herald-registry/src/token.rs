//! Bearer tokens, cached per (registry, scope) until they expire or are refused, so a check
//! every interval does not ask the token server every time. The key also holds a hash of the
//! credentials the token was got with, so an object without credentials (or with others) never
//! rides on another object's token.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;

/// The distribution spec's default when a token server gives no `expires_in`.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(60);
/// Taken off a token's lifetime so it is not used in the last seconds before it expires.
const MARGIN: Duration = Duration::from_secs(10);

/// A token server's answer: Docker's `token` or OAuth2's `access_token`.
#[derive(Deserialize)]
pub struct TokenResponse {
    token: Option<String>,
    access_token: Option<String>,
    expires_in: Option<u64>,
}

impl TokenResponse {
    /// The token and when to stop using it; `None` when the answer holds no token.
    pub fn into_token(self, now: Instant) -> Option<(String, Instant)> {
        let token = self
            .token
            .filter(|token| !token.is_empty())
            .or(self.access_token)
            .filter(|token| !token.is_empty())?;
        let lifetime = self
            .expires_in
            .map_or(DEFAULT_LIFETIME, Duration::from_secs);
        Some((token, now + lifetime.saturating_sub(MARGIN)))
    }
}

/// What a token is cached under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenKey {
    pub registry: String,
    pub scope: String,
    /// A hash of the credentials (`0` when anonymous); kept in memory only.
    pub credentials: u64,
}

/// The cache. `Debug` shows how many tokens it holds, never a token.
#[derive(Default)]
pub struct TokenCache {
    tokens: Mutex<HashMap<TokenKey, (String, Instant)>>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.tokens.lock().map_or(0, |tokens| tokens.len());
        write!(f, "TokenCache({count} tokens)")
    }
}

impl TokenCache {
    /// A token for `key` that has not expired.
    pub fn get(&self, key: &TokenKey) -> Option<String> {
        let tokens = self.tokens.lock().ok()?;
        let (token, expires) = tokens.get(key)?;
        (Instant::now() < *expires).then(|| token.clone())
    }

    /// Keep a token, dropping expired ones so the map does not grow.
    pub fn put(&self, key: TokenKey, token: String, expires: Instant) {
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.retain(|_, (_, expires)| Instant::now() < *expires);
            tokens.insert(key, (token, expires));
        }
    }

    /// Drop a refused token, so the next call gets a fresh one.
    pub fn forget(&self, key: &TokenKey) {
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(json: &str) -> TokenResponse {
        serde_json::from_str(json).expect("json")
    }

    #[test]
    fn takes_token_or_access_token() {
        let now = Instant::now();
        let (token, _) = response(r#"{"access_token": "a"}"#)
            .into_token(now)
            .expect("token");
        assert_eq!(token, "a");
        let (token, expires) =
            response(r#"{"token": "t", "access_token": "a", "expires_in": 300}"#)
                .into_token(now)
                .expect("token");
        assert_eq!(
            (token.as_str(), expires),
            ("t", now + Duration::from_secs(290))
        );
        assert!(response("{}").into_token(now).is_none());
    }

    fn key(scope: &str) -> TokenKey {
        TokenKey {
            registry: "r".into(),
            scope: scope.into(),
            credentials: 0,
        }
    }

    #[test]
    fn cache_expires_and_forgets() {
        let cache = TokenCache::default();
        cache.put(
            key("s"),
            "t".into(),
            Instant::now() + Duration::from_secs(60),
        );
        assert_eq!(cache.get(&key("s")).as_deref(), Some("t"));
        assert_eq!(cache.get(&key("other")), None);
        cache.forget(&key("s"));
        assert_eq!(cache.get(&key("s")), None);
        cache.put(key("s"), "t".into(), Instant::now());
        assert_eq!(cache.get(&key("s")), None);
        assert_eq!(format!("{cache:?}"), "TokenCache(1 tokens)");
    }
}
