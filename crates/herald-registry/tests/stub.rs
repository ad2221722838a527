//! The parts a real `docker-registry` cannot show, against a small HTTP stub served by the
//! test. This file is a stub on purpose: distribution 2.8 ignores `n`/`last` and answers every
//! tag in one page without a `Link` header, so pagination (relative and absolute links, the
//! page cap) and HEAD refused with 405 can only be shown against a server that does them. The
//! Bearer flow against the real registry is in `token.rs`; here it is shown with OAuth2's
//! `access_token` answer and the `service`/`scope` the token server receives.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, head};
use herald_image::Repository;
use herald_registry::{Anonymous, Credentials, RegistryClient, RegistryError};
use serde_json::json;

const GOOD_TOKEN: &str = "Bearer stub-token";
/// Basic `bot:pw`.
const GOOD_BASIC: &str = "Basic Ym90OnB3";

#[derive(Default)]
struct Stub {
    base: String,
    token_calls: AtomicUsize,
    token_queries: Mutex<Vec<HashMap<String, String>>>,
    accepts: Mutex<Vec<String>>,
}

async fn serve() -> (Arc<Stub>, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let host = listener.local_addr().expect("addr").to_string();
    let stub = Arc::new(Stub {
        base: format!("http://{host}"),
        ..Stub::default()
    });
    let app = Router::new()
        .route("/v2/paged/tags/list", get(paged))
        .route("/v2/looping/tags/list", get(looping))
        .route("/v2/elsewhere/tags/list", get(elsewhere))
        .route("/v2/huge/tags/list", get(huge))
        .route(
            "/v2/nohead/manifests/{tag}",
            head(refuse_head).get(manifest),
        )
        .route("/v2/private/tags/list", get(private_tags))
        .route("/v2/private/manifests/{tag}", get(private_manifest))
        .route("/token", get(token).post(refresh))
        .with_state(Arc::clone(&stub));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (stub, host)
}

fn repository(host: &str, path: &str) -> Repository {
    Repository::parse(&format!("{host}/{path}")).expect("repository")
}

/// Three pages: the first links with a path only, the second with an absolute URL.
async fn paged(
    State(stub): State<Arc<Stub>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let (tags, link) = match query.get("last").map(String::as_str) {
        None => (
            vec!["a", "b"],
            Some("</v2/paged/tags/list?n=2&last=b>; rel=\"next\"".to_owned()),
        ),
        Some("b") => (
            vec!["c", "d"],
            Some(format!(
                "<{}/v2/paged/tags/list?n=2&last=d>; rel=\"next\"",
                stub.base
            )),
        ),
        Some(_) => (vec!["e"], None),
    };
    let mut headers = HeaderMap::new();
    if let Some(link) = link {
        headers.insert(header::LINK, link.parse().expect("link"));
    }
    (headers, axum::Json(json!({"name": "paged", "tags": tags}))).into_response()
}

/// Links to itself for ever.
async fn looping() -> Response {
    let headers = [(header::LINK, "</v2/looping/tags/list?last=x>; rel=\"next\"")];
    (
        headers,
        axum::Json(json!({"name": "looping", "tags": ["x"]})),
    )
        .into_response()
}

/// Links to another origin, where the credentials must not follow.
async fn elsewhere() -> Response {
    let headers = [(
        header::LINK,
        "<http://127.0.0.2:1/v2/elsewhere/tags/list?last=x>; rel=\"next\"",
    )];
    (
        headers,
        axum::Json(json!({"name": "elsewhere", "tags": ["x"]})),
    )
        .into_response()
}

/// A page over the limit, streamed without a length.
async fn huge() -> Response {
    let chunk = axum::body::Bytes::from(vec![b' '; 1 << 20]);
    let chunks = (0..=herald_registry::MAX_TAG_PAGE_BYTES >> 20)
        .map(move |_| Ok::<_, std::io::Error>(chunk.clone()));
    let body = axum::body::Body::from_stream(futures::stream::iter(chunks));
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn refuse_head() -> StatusCode {
    StatusCode::METHOD_NOT_ALLOWED
}

async fn manifest(State(stub): State<Arc<Stub>>, headers: HeaderMap) -> StatusCode {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    stub.accepts.lock().expect("lock").push(accept.to_owned());
    StatusCode::OK
}

fn challenge(stub: &Stub) -> Response {
    let value = format!(
        r#"Bearer realm="{}/token",service="stub-registry",scope="repository:private:pull""#,
        stub.base
    );
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, value)],
    )
        .into_response()
}

fn has_token(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .is_some_and(|value| value == GOOD_TOKEN)
}

async fn private_tags(State(stub): State<Arc<Stub>>, headers: HeaderMap) -> Response {
    if !has_token(&headers) {
        return challenge(&stub);
    }
    axum::Json(json!({"name": "private", "tags": ["v1"]})).into_response()
}

async fn private_manifest(State(stub): State<Arc<Stub>>, headers: HeaderMap) -> Response {
    if !has_token(&headers) {
        return challenge(&stub);
    }
    StatusCode::OK.into_response()
}

/// The token server: OAuth2's `access_token` (not Docker's `token`) for `bot:pw` only.
async fn token(
    State(stub): State<Arc<Stub>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    stub.token_calls.fetch_add(1, Ordering::SeqCst);
    stub.token_queries.lock().expect("lock").push(query);
    if headers
        .get(header::AUTHORIZATION)
        .is_none_or(|value| value != GOOD_BASIC)
    {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    axum::Json(json!({"access_token": "stub-token", "expires_in": 300})).into_response()
}

/// The OAuth2 refresh-token grant, for an `identitytoken` from a Docker config.
async fn refresh(State(stub): State<Arc<Stub>>, body: String) -> Response {
    stub.token_calls.fetch_add(1, Ordering::SeqCst);
    let form: HashMap<String, String> = body
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.replace("%3A", ":")))
        .collect();
    stub.token_queries.lock().expect("lock").push(form.clone());
    let granted = form
        .get("grant_type")
        .is_some_and(|grant| grant == "refresh_token")
        && form
            .get("refresh_token")
            .is_some_and(|token| token == "good-refresh");
    if !granted {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    axum::Json(json!({"token": "stub-token", "expires_in": 300})).into_response()
}

fn client() -> RegistryClient {
    RegistryClient::new().expect("client")
}

fn bot(password: &str) -> Credentials {
    Credentials::Basic {
        username: "bot".into(),
        password: password.into(),
    }
}

#[tokio::test]
async fn follows_relative_and_absolute_link_pages() {
    let (_stub, host) = serve().await;

    let tags = client()
        .list_tags(&repository(&host, "paged"), &Anonymous)
        .await
        .expect("list");

    assert_eq!(tags, ["a", "b", "c", "d", "e"]);
}

#[tokio::test]
async fn a_link_loop_stops_at_the_page_cap_with_a_clear_error() {
    let (_stub, host) = serve().await;

    let error = client()
        .max_tag_pages(5)
        .list_tags(&repository(&host, "looping"), &Anonymous)
        .await
        .expect_err("endless pages");

    assert!(matches!(error, RegistryError::Protocol { .. }), "{error}");
    assert!(error.to_string().contains("more than 5 pages"), "{error}");
}

#[tokio::test]
async fn a_tag_list_page_over_the_limit_is_refused() {
    let (_stub, host) = serve().await;
    let client = RegistryClient::new().expect("client");
    let error = client
        .list_tags(&repository(&host, "huge"), &Anonymous)
        .await
        .expect_err("too large");
    assert!(
        matches!(&error, RegistryError::Protocol { what, .. } if what.contains("over 8388608 bytes")),
        "{error}"
    );
}

#[tokio::test]
async fn a_link_to_another_origin_is_refused() {
    let (_stub, host) = serve().await;

    let error = client()
        .list_tags(&repository(&host, "elsewhere"), &Anonymous)
        .await
        .expect_err("other origin");

    assert!(error.to_string().contains("another origin"), "{error}");
}

#[tokio::test]
async fn a_head_refused_with_405_falls_back_to_get_with_the_media_types() {
    let (stub, host) = serve().await;

    let exists = client()
        .manifest_exists(&repository(&host, "nohead"), "v1", &Anonymous)
        .await;

    assert!(exists.expect("check"));
    let accepts = stub.accepts.lock().expect("lock").clone();
    assert_eq!(accepts.len(), 1);
    for media_type in [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ] {
        assert!(
            accepts[0].contains(media_type),
            "{media_type} not in {}",
            accepts[0]
        );
    }
}

#[tokio::test]
async fn a_bearer_token_is_fetched_once_and_reused() {
    let (stub, host) = serve().await;
    let repository = repository(&host, "private");
    let client = client();
    let source = |_: &Repository| async { Ok(Some(bot("pw"))) };

    let tags = client.list_tags(&repository, &source).await.expect("list");
    let exists = client.manifest_exists(&repository, "v1", &source).await;

    assert_eq!(tags, ["v1"]);
    assert!(exists.expect("check"));
    assert_eq!(
        stub.token_calls.load(Ordering::SeqCst),
        1,
        "the token is cached"
    );
    let queries = stub.token_queries.lock().expect("lock").clone();
    assert_eq!(
        queries[0].get("service").map(String::as_str),
        Some("stub-registry")
    );
    assert_eq!(
        queries[0].get("scope").map(String::as_str),
        Some("repository:private:pull")
    );
}

#[tokio::test]
async fn a_token_server_refusing_the_credentials_is_unauthorized() {
    let (stub, host) = serve().await;
    let source = |_: &Repository| async { Ok(Some(bot("wrong-pw-42"))) };

    let error = client()
        .list_tags(&repository(&host, "private"), &source)
        .await
        .expect_err("wrong password");

    assert!(
        matches!(error, RegistryError::Unauthorized { .. }),
        "{error}"
    );
    assert!(
        !format!("{error} {error:?}").contains("wrong-pw-42"),
        "{error}"
    );
    assert_eq!(
        stub.token_calls.load(Ordering::SeqCst),
        2,
        "asked again with re-read credentials"
    );
}

/// An `identitytoken` from a Docker config is exchanged with the refresh-token grant.
#[tokio::test]
async fn an_identity_token_is_exchanged_with_the_refresh_grant() {
    let (stub, host) = serve().await;
    let config = format!(r#"{{"auths": {{"{host}": {{"identitytoken": "good-refresh"}}}}}}"#);
    let config = herald_registry::DockerConfig::parse(config.as_bytes()).expect("config");

    let exists = client()
        .manifest_exists(&repository(&host, "private"), "v1", &config)
        .await;

    assert!(exists.expect("check"));
    let queries = stub.token_queries.lock().expect("lock").clone();
    assert_eq!(queries.len(), 1);
    assert_eq!(
        queries[0].get("scope").map(String::as_str),
        Some("repository:private:pull")
    );
}
