//! herald-registry against a real registry in token mode: Debian's `docker-registry` checks
//! RS256 tokens from a token server the test serves (see `herald_testkit::registry`).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use herald_image::Repository;
use herald_registry::{Anonymous, CredentialError, Credentials, RegistryClient, RegistryError};
use herald_testkit::registry::{OCI_MANIFEST, PASSWORD, USER, push_image, token_registry};

fn basic(password: &str) -> Credentials {
    Credentials::Basic {
        username: USER.into(),
        password: password.into(),
    }
}

fn client() -> RegistryClient {
    RegistryClient::new().expect("client")
}

/// One token serves both calls: the token server is asked once.
#[tokio::test]
async fn bearer_tokens_from_the_realm_are_used_and_cached() {
    let Some(registry) = token_registry() else {
        return;
    };
    let server = registry.token_server.as_ref().expect("token server");
    push_image(
        registry,
        "token/app",
        &["v1".to_owned(), "v2".to_owned()],
        OCI_MANIFEST,
    )
    .await;
    let repository = registry.repository("token/app");
    let client = client();
    let source = |_: &Repository| async { Ok(Some(basic(PASSWORD))) };
    let scope = "repository:token/app:pull";

    let mut tags = client.list_tags(&repository, &source).await.expect("list");
    let exists = client.manifest_exists(&repository, "v2", &source).await;
    let missing = client.manifest_exists(&repository, "v3", &source).await;

    tags.sort();
    assert_eq!(tags, ["v1", "v2"]);
    assert!(exists.expect("check v2"));
    assert!(!missing.expect("check v3"));
    assert_eq!(server.calls_for(scope), 1, "one token for the three calls");
}

#[tokio::test]
async fn wrong_or_no_credentials_are_unauthorized() {
    let Some(registry) = token_registry() else {
        return;
    };
    let repository = registry.repository("token/other");
    let wrong = |_: &Repository| async { Ok(Some(basic("not-the-password-7"))) };

    let error = client()
        .list_tags(&repository, &wrong)
        .await
        .expect_err("wrong password");
    let anonymous = client()
        .manifest_exists(&repository, "v1", &Anonymous)
        .await
        .expect_err("anonymous");

    assert!(
        matches!(error, RegistryError::Unauthorized { .. }),
        "{error}"
    );
    assert!(
        matches!(anonymous, RegistryError::Unauthorized { .. }),
        "{anonymous}"
    );
    assert!(!format!("{error} {error:?}").contains("not-the-password-7"));
    let forged = reqwest::Client::new()
        .get(format!("http://{}/v2/token/other/tags/list", registry.host))
        .bearer_auth("e30.e30.AAAA")
        .send()
        .await
        .expect("forged token");
    assert_eq!(
        forged.status(),
        reqwest::StatusCode::UNAUTHORIZED,
        "the registry checks signatures"
    );
}

/// The first credentials are refused at the token server; the second, read after that, work.
#[tokio::test]
async fn credentials_are_read_again_when_the_token_server_refuses() {
    let Some(registry) = token_registry() else {
        return;
    };
    push_image(registry, "token/rotating", &["v1".to_owned()], OCI_MANIFEST).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let source = {
        let calls = Arc::clone(&calls);
        move |_: &Repository| {
            let call = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                let password = if call == 0 { "expired" } else { PASSWORD };
                Ok::<_, CredentialError>(Some(basic(password)))
            }
        }
    };

    let exists = client()
        .manifest_exists(&registry.repository("token/rotating"), "v1", &source)
        .await;

    assert!(exists.expect("check"));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}
