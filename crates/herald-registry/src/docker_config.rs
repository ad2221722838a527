//! The `.dockerconfigjson` of a `kubernetes.io/dockerconfigjson` Secret. Only `auths` is read:
//! `credsStore` and `credHelpers` name programs to run, and Herald never runs a program named
//! in a Secret, so they are reported as ignored instead.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use herald_image::Repository;
use serde::Deserialize;

use crate::credentials::{CredentialError, CredentialSource, Credentials};

/// The credentials of a Docker config, by `auths` key. `Debug` shows the keys only.
#[derive(Clone, Default)]
pub struct DockerConfig {
    auths: BTreeMap<String, Credentials>,
    ignored: Vec<String>,
}

/// Why a Docker config could not be read. Never holds a value from the file, which may be a
/// secret: only positions and `auths` keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DockerConfigError {
    #[error(
        "the Docker config is not valid JSON of the expected shape (line {line}, column {column})"
    )]
    Json { line: usize, column: usize },
    #[error("the Docker config's `auth` for {key:?} is not base64 of user:password")]
    Auth { key: String },
}

#[derive(Deserialize)]
struct RawConfig {
    #[serde(default)]
    auths: BTreeMap<String, RawAuth>,
    #[serde(rename = "credsStore")]
    creds_store: Option<serde_json::Value>,
    #[serde(rename = "credHelpers")]
    cred_helpers: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawAuth {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
    identitytoken: Option<String>,
}

impl DockerConfig {
    /// Parse the bytes of a `.dockerconfigjson`.
    pub fn parse(bytes: &[u8]) -> Result<Self, DockerConfigError> {
        let raw: RawConfig =
            serde_json::from_slice(bytes).map_err(|error| DockerConfigError::Json {
                line: error.line(),
                column: error.column(),
            })?;
        let mut config = Self::default();
        if raw.creds_store.is_some() {
            config
                .ignored
                .push("credsStore (never executed)".to_owned());
        }
        if raw.cred_helpers.is_some() {
            config
                .ignored
                .push("credHelpers (never executed)".to_owned());
        }
        for (key, auth) in raw.auths {
            match credentials_of(&key, auth)? {
                Some(credentials) => {
                    config.auths.insert(key, credentials);
                }
                None => config
                    .ignored
                    .push(format!("auths[{key:?}]: no credentials")),
            }
        }
        Ok(config)
    }

    /// The credentials for `repository`'s registry. A key that is exactly the repository's
    /// credential key wins over other spellings of the same registry (`https://ghcr.io`).
    pub fn credentials_for(&self, repository: &Repository) -> Option<&Credentials> {
        self.auths.get(repository.credential_key()).or_else(|| {
            self.auths
                .iter()
                .find(|(key, _)| repository.credential_key_matches(key))
                .map(|(_, credentials)| credentials)
        })
    }

    /// What was in the file but is not used, for the object's status: credential helpers and
    /// `auths` entries without credentials.
    pub fn ignored(&self) -> &[String] {
        &self.ignored
    }
}

impl fmt::Debug for DockerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DockerConfig")
            .field("auths", &self.auths.keys().collect::<Vec<_>>())
            .field("ignored", &self.ignored)
            .finish()
    }
}

/// A parsed config is a fixed source: the caller re-reads the Secret and parses it again when
/// it wants fresh credentials.
impl CredentialSource for DockerConfig {
    async fn credentials(
        &self,
        repository: &Repository,
    ) -> Result<Option<Credentials>, CredentialError> {
        Ok(self.credentials_for(repository).cloned())
    }
}

/// `auth` (base64 of `user:password`) wins, as in the Docker CLI; then `username`/`password`;
/// then `identitytoken`.
fn credentials_of(key: &str, auth: RawAuth) -> Result<Option<Credentials>, DockerConfigError> {
    if let Some(encoded) = auth.auth.filter(|encoded| !encoded.is_empty()) {
        return decode_auth(&encoded)
            .map(Some)
            .ok_or_else(|| DockerConfigError::Auth {
                key: key.to_owned(),
            });
    }
    if let Some(token) = auth.identitytoken.filter(|token| !token.is_empty()) {
        return Ok(Some(Credentials::IdentityToken(token)));
    }
    Ok(match (auth.username, auth.password) {
        (Some(username), Some(password)) if !username.is_empty() => {
            Some(Credentials::Basic { username, password })
        }
        _ => None,
    })
}

fn decode_auth(encoded: &str) -> Option<Credentials> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (username, password) = text.split_once(':')?;
    Some(Credentials::Basic {
        username: username.to_owned(),
        password: password.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repository(name: &str) -> Repository {
        Repository::parse(name).expect("repository")
    }

    fn basic(username: &str, password: &str) -> Credentials {
        Credentials::Basic {
            username: username.into(),
            password: password.into(),
        }
    }

    #[test]
    fn reads_every_shape_of_auths() {
        let config = DockerConfig::parse(
            br#"{"auths": {
                "https://index.docker.io/v1/": {"auth": "dXNlcjpwYXNz"},
                "ghcr.io": {"username": "bot", "password": "p:w"},
                "registry.example.com:5000": {"identitytoken": "refresh"}
            }}"#,
        )
        .expect("parse");
        assert_eq!(
            config.credentials_for(&repository("nginx")),
            Some(&basic("user", "pass"))
        );
        assert_eq!(
            config.credentials_for(&repository("ghcr.io/org/app")),
            Some(&basic("bot", "p:w"))
        );
        assert_eq!(
            config.credentials_for(&repository("registry.example.com:5000/app")),
            Some(&Credentials::IdentityToken("refresh".into()))
        );
        assert_eq!(config.credentials_for(&repository("quay.io/x/y")), None);
        assert!(config.ignored().is_empty());
    }

    #[test]
    fn an_exact_key_wins_over_another_spelling() {
        let config = DockerConfig::parse(
            br#"{"auths": {"https://ghcr.io": {"auth": "YTpi"}, "ghcr.io": {"auth": "Yzpk"}}}"#,
        )
        .expect("parse");
        assert_eq!(
            config.credentials_for(&repository("ghcr.io/org/app")),
            Some(&basic("c", "d"))
        );
    }

    #[test]
    fn helpers_are_reported_and_never_used() {
        let config = DockerConfig::parse(
            br#"{"credsStore": "desktop", "credHelpers": {"ghcr.io": "evil"}, "auths": {"ghcr.io": {}}}"#,
        )
        .expect("parse");
        assert_eq!(config.credentials_for(&repository("ghcr.io/org/app")), None);
        assert_eq!(config.ignored().len(), 3, "{:?}", config.ignored());
    }

    #[test]
    fn errors_and_debug_hold_no_secret() {
        let error = DockerConfig::parse(br#"{"auths": {"ghcr.io": {"auth": "hunter2!!"}}}"#)
            .expect_err("bad base64");
        assert!(!error.to_string().contains("hunter2"), "{error}");
        let error = DockerConfig::parse(br#"{"auths": {"ghcr.io": {"password": ["hunter2"]}}}"#)
            .expect_err("bad shape");
        assert!(!error.to_string().contains("hunter2"), "{error}");
        let config =
            DockerConfig::parse(br#"{"auths": {"ghcr.io": {"auth": "dXNlcjpodW50ZXIy"}}}"#)
                .expect("parse");
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
