//! Authentication: send a call with what the registry asked for last time (nothing, Basic or a
//! Bearer token), learn its challenge from a 401, and when it still refuses, read the
//! credentials once more and try again: short-lived credentials (ECR's) then keep working.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Instant;

use base64::Engine as _;
use herald_image::Repository;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use reqwest::{Response, StatusCode, Url};

use crate::challenge::{self, Challenge};
use crate::client::{Call, RegistryClient, protocol};
use crate::credentials::{CredentialSource, Credentials};
use crate::error::RegistryError;
use crate::token::{TokenKey, TokenResponse};

/// The outcome of one authorised attempt.
enum Attempt {
    Done(Response),
    Refused(StatusCode),
}

/// What to send in `Authorization`, or that the token server refused the credentials.
enum Auth {
    None,
    Header(HeaderValue),
    Refused(StatusCode),
}

impl RegistryClient {
    /// Send `call`, reading credentials from `source`, and again after a refusal.
    pub(crate) async fn send(
        &self,
        call: &Call<'_>,
        source: &impl CredentialSource,
    ) -> Result<Response, RegistryError> {
        let credentials = read(call.repository, source).await?;
        if let Attempt::Done(response) = self.attempt(call, credentials.as_ref()).await? {
            return Ok(response);
        }
        tracing::debug!(
            registry = call.repository.registry(),
            repository = call.repository.path(),
            "registry refused; reading credentials again"
        );
        let credentials = read(call.repository, source).await?;
        match self.attempt(call, credentials.as_ref()).await? {
            Attempt::Done(response) => Ok(response),
            Attempt::Refused(status) => Err(RegistryError::Unauthorized {
                registry: call.repository.registry().to_owned(),
                repository: call.repository.path().to_owned(),
                status: status.as_u16(),
            }),
        }
    }

    /// One attempt with one set of credentials: with the challenge known for this host, and
    /// once more when a 401 brings a challenge not known before.
    async fn attempt(
        &self,
        call: &Call<'_>,
        credentials: Option<&Credentials>,
    ) -> Result<Attempt, RegistryError> {
        let host = call.repository.api_host();
        let known = self.known_challenge(host);
        let auth = match &known {
            Some(challenge) => self.authorization(call, challenge, credentials).await?,
            None => Auth::None,
        };
        let response = match auth {
            Auth::Refused(status) => return Ok(Attempt::Refused(status)),
            auth => self.execute(call, &auth).await?,
        };
        if !is_refusal(response.status()) {
            return Ok(Attempt::Done(response));
        }
        let status = response.status();
        self.forget_token(call, credentials);
        let Some(challenge) = challenge::from_headers(response.headers()) else {
            return Ok(Attempt::Refused(status));
        };
        if known.as_ref() == Some(&challenge) {
            return Ok(Attempt::Refused(status));
        }
        self.remember(host, challenge.clone());
        let response = match self.authorization(call, &challenge, credentials).await? {
            Auth::Refused(status) => return Ok(Attempt::Refused(status)),
            auth => self.execute(call, &auth).await?,
        };
        if is_refusal(response.status()) {
            self.forget_token(call, credentials);
            return Ok(Attempt::Refused(response.status()));
        }
        Ok(Attempt::Done(response))
    }

    async fn execute(&self, call: &Call<'_>, auth: &Auth) -> Result<Response, RegistryError> {
        let mut request = self
            .http
            .request(call.method.clone(), call.url.clone())
            .header(ACCEPT, call.accept);
        if let Auth::Header(value) = auth {
            request = request.header(AUTHORIZATION, value.clone());
        }
        request
            .send()
            .await
            .map_err(|error| unreachable(call.repository, &error))
    }

    /// The `Authorization` header a challenge asks for: Basic from the credentials, or a
    /// Bearer token from the cache or the token server.
    async fn authorization(
        &self,
        call: &Call<'_>,
        challenge: &Challenge,
        credentials: Option<&Credentials>,
    ) -> Result<Auth, RegistryError> {
        let Challenge::Bearer { realm, service, .. } = challenge else {
            return Ok(match credentials {
                Some(Credentials::Basic { username, password }) => {
                    Auth::Header(basic(username, password))
                }
                _ => Auth::None,
            });
        };
        let key = token_key(call.repository, credentials);
        if let Some(token) = self.tokens.get(&key) {
            return Ok(Auth::Header(bearer(&token)));
        }
        let realm = Url::parse(realm)
            .map_err(|error| protocol(call.repository, format!("a bad token realm: {error}")))?;
        self.check_scheme(call.repository, &realm)?;
        let request = TokenRequest {
            realm,
            service: service.as_deref(),
            scope: &key.scope,
        };
        let response = self
            .token_response(call.repository, &request, credentials)
            .await?;
        if is_refusal(response.status()) {
            return Ok(Auth::Refused(response.status()));
        }
        if !response.status().is_success() {
            let what = format!("the token server answered {}", response.status());
            return Err(protocol(call.repository, what));
        }
        let answer: TokenResponse = response.json().await.map_err(|error| {
            protocol(
                call.repository,
                format!("a token answer that is not JSON: {error}"),
            )
        })?;
        let (token, expires) = answer.into_token(Instant::now()).ok_or_else(|| {
            protocol(call.repository, "a token answer without a token".to_owned())
        })?;
        let header = bearer(&token);
        self.tokens.put(key, token, expires);
        Ok(Auth::Header(header))
    }

    /// Ask the token server: a GET (with Basic credentials if any) or, for an identity token,
    /// the OAuth2 refresh-token POST.
    async fn token_response(
        &self,
        repository: &Repository,
        request: &TokenRequest<'_>,
        credentials: Option<&Credentials>,
    ) -> Result<Response, RegistryError> {
        let builder = match credentials {
            Some(Credentials::IdentityToken(token)) => self
                .http
                .post(request.realm.clone())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(request.refresh_form(token)),
            Some(Credentials::Basic { username, password }) => self
                .http
                .get(request.url())
                .header(AUTHORIZATION, basic(username, password)),
            None => self.http.get(request.url()),
        };
        builder
            .send()
            .await
            .map_err(|error| unreachable(repository, &error))
    }

    fn known_challenge(&self, host: &str) -> Option<Challenge> {
        let challenges = self.challenges.lock().ok()?;
        challenges.get(host).cloned()
    }

    fn remember(&self, host: &str, challenge: Challenge) {
        if let Ok(mut challenges) = self.challenges.lock() {
            challenges.insert(host.to_owned(), challenge);
        }
    }

    fn forget_token(&self, call: &Call<'_>, credentials: Option<&Credentials>) {
        self.tokens.forget(&token_key(call.repository, credentials));
    }
}

/// Where and for what to ask for a token.
struct TokenRequest<'a> {
    realm: Url,
    service: Option<&'a str>,
    scope: &'a str,
}

impl TokenRequest<'_> {
    fn url(&self) -> Url {
        let mut url = self.realm.clone();
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = self.service {
                query.append_pair("service", service);
            }
            query.append_pair("scope", self.scope);
        }
        url
    }

    fn refresh_form(&self, refresh_token: &str) -> String {
        let mut form = Url::parse("http://form.invalid/").unwrap_or_else(|_| self.realm.clone());
        {
            let mut pairs = form.query_pairs_mut();
            pairs.clear();
            pairs.append_pair("grant_type", "refresh_token");
            pairs.append_pair("client_id", "herald");
            pairs.append_pair("refresh_token", refresh_token);
            if let Some(service) = self.service {
                pairs.append_pair("service", service);
            }
            pairs.append_pair("scope", self.scope);
        }
        form.query().unwrap_or_default().to_owned()
    }
}

/// Herald only reads: every call is for the repository's pull scope (a cached challenge from
/// another repository's call names that repository's scope, so its scope is not used).
fn token_key(repository: &Repository, credentials: Option<&Credentials>) -> TokenKey {
    TokenKey {
        registry: repository.api_host().to_owned(),
        scope: format!("repository:{}:pull", repository.path()),
        credentials: credentials.map_or(0, |credentials| {
            let mut hasher = DefaultHasher::new();
            credentials.hash(&mut hasher);
            hasher.finish()
        }),
    }
}

async fn read(
    repository: &Repository,
    source: &impl CredentialSource,
) -> Result<Option<Credentials>, RegistryError> {
    source
        .credentials(repository)
        .await
        .map_err(|error| RegistryError::Credentials {
            registry: repository.registry().to_owned(),
            repository: repository.path().to_owned(),
            reason: error.to_string(),
        })
}

fn is_refusal(status: StatusCode) -> bool {
    matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
}

fn basic(username: &str, password: &str) -> HeaderValue {
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    sensitive(&format!("Basic {encoded}"))
}

fn bearer(token: &str) -> HeaderValue {
    sensitive(&format!("Bearer {token}"))
}

/// A header marked sensitive (kept out of reqwest's own debug output). A value with bytes a
/// header cannot hold is sent as an empty header, which the registry refuses like a wrong one.
fn sensitive(value: &str) -> HeaderValue {
    let mut header = HeaderValue::from_str(value).unwrap_or(HeaderValue::from_static(""));
    header.set_sensitive(true);
    header
}

/// The error's chain, which names the URL (never a credential: none is ever in a URL).
fn unreachable(repository: &Repository, error: &reqwest::Error) -> RegistryError {
    let mut reason = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        reason.push_str(": ");
        reason.push_str(&cause.to_string());
        source = cause.source();
    }
    RegistryError::Unreachable {
        registry: repository.registry().to_owned(),
        repository: repository.path().to_owned(),
        reason,
    }
}
