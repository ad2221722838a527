//! herald-registry against a real registry: Debian's `docker-registry` (distribution 2.8), open
//! and behind htpasswd, with images the tests push over its HTTP API.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use herald_image::Repository;
use herald_registry::{
    Anonymous, CredentialError, Credentials, DockerConfig, RegistryClient, RegistryError,
};
use herald_testkit::registry::{
    DOCKER_MANIFEST, OCI_MANIFEST, PASSWORD, USER, htpasswd_registry, open_registry, push_image,
};

fn client() -> RegistryClient {
    RegistryClient::new().expect("client")
}

fn tags(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

fn basic(username: &str, password: &str) -> Credentials {
    Credentials::Basic {
        username: username.into(),
        password: password.into(),
    }
}

#[tokio::test]
async fn lists_every_tag_of_a_repository_with_thirty() {
    let Some(registry) = open_registry() else {
        return;
    };
    let pushed: Vec<String> = (0..30).map(|i| format!("1.0.{i}")).collect();
    push_image(registry, "many/tags", &pushed, DOCKER_MANIFEST).await;

    let listed = client()
        .list_tags(&registry.repository("many/tags"), &Anonymous)
        .await
        .expect("list tags");

    assert_eq!(listed.len(), 30, "{listed:?}");
    let listed: BTreeSet<String> = listed.into_iter().collect();
    assert_eq!(listed, pushed.into_iter().collect::<BTreeSet<_>>());
}

#[tokio::test]
async fn a_pushed_tag_exists_and_a_missing_one_does_not() {
    let Some(registry) = open_registry() else {
        return;
    };
    push_image(registry, "docker/app", &tags(&["v1"]), DOCKER_MANIFEST).await;
    let repository = registry.repository("docker/app");
    let client = client();

    let exists = client.manifest_exists(&repository, "v1", &Anonymous).await;
    let missing = client.manifest_exists(&repository, "v2", &Anonymous).await;

    assert!(exists.expect("check v1"));
    assert!(!missing.expect("check v2"));
}

/// The seed's bug: without the OCI media types in `Accept`, the registry answers 404 for a tag
/// whose manifest is OCI. The bare HEAD below shows the registry does; the client finds it.
#[tokio::test]
async fn a_tag_with_an_oci_manifest_is_found() {
    let Some(registry) = open_registry() else {
        return;
    };
    push_image(registry, "oci/app", &tags(&["2.0.0"]), OCI_MANIFEST).await;
    let bare = reqwest::Client::new()
        .head(format!(
            "http://{}/v2/oci/app/manifests/2.0.0",
            registry.host
        ))
        .send()
        .await
        .expect("bare HEAD");
    assert_eq!(
        bare.status(),
        reqwest::StatusCode::NOT_FOUND,
        "the registry changed"
    );

    let exists = client()
        .manifest_exists(&registry.repository("oci/app"), "2.0.0", &Anonymous)
        .await;

    assert!(exists.expect("check"));
}

#[tokio::test]
async fn an_unknown_repository_is_not_found() {
    let Some(registry) = open_registry() else {
        return;
    };

    let error = client()
        .list_tags(&registry.repository("no/such/repo"), &Anonymous)
        .await
        .expect_err("unknown repository");

    assert!(matches!(error, RegistryError::NotFound { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains(&registry.host) && message.contains("no/such/repo"),
        "{message}"
    );
}

#[tokio::test]
async fn basic_auth_with_the_right_credentials_works() {
    let Some(registry) = htpasswd_registry() else {
        return;
    };
    push_image(registry, "private/app", &tags(&["v1", "v2"]), OCI_MANIFEST).await;
    let repository = registry.repository("private/app");
    let client = client();
    let source = |_: &Repository| async { Ok(Some(basic(USER, PASSWORD))) };

    let listed = client.list_tags(&repository, &source).await.expect("list");
    let exists = client.manifest_exists(&repository, "v2", &source).await;

    assert_eq!(
        listed.into_iter().collect::<BTreeSet<_>>(),
        tags(&["v1", "v2"]).into_iter().collect()
    );
    assert!(exists.expect("check"));
}

#[tokio::test]
async fn wrong_or_no_credentials_are_unauthorized_and_never_shown() {
    let Some(registry) = htpasswd_registry() else {
        return;
    };
    let repository = registry.repository("private/app");
    let wrong = |_: &Repository| async { Ok(Some(basic(USER, "wrong-password-123"))) };

    let error = client()
        .manifest_exists(&repository, "v1", &wrong)
        .await
        .expect_err("wrong password");
    let anonymous = client()
        .list_tags(&repository, &Anonymous)
        .await
        .expect_err("anonymous");

    assert!(
        matches!(error, RegistryError::Unauthorized { status: 401, .. }),
        "{error}"
    );
    assert!(
        matches!(anonymous, RegistryError::Unauthorized { .. }),
        "{anonymous}"
    );
    let message = format!("{error} {error:?}");
    assert!(
        message.contains(&registry.host) && message.contains("private/app"),
        "{message}"
    );
    assert!(!message.contains("wrong-password-123"), "{message}");
}

/// Short-lived credentials: the source's first answer is stale, the registry refuses it, the
/// client asks the source again and succeeds with the fresh answer.
#[tokio::test]
async fn credentials_are_read_again_after_a_401() {
    let Some(registry) = htpasswd_registry() else {
        return;
    };
    push_image(registry, "rotating/app", &tags(&["v1"]), DOCKER_MANIFEST).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let source = {
        let calls = Arc::clone(&calls);
        move |_: &Repository| {
            let call = calls.fetch_add(1, Ordering::SeqCst);
            async move {
                let password = if call == 0 { "expired" } else { PASSWORD };
                Ok::<_, CredentialError>(Some(basic(USER, password)))
            }
        }
    };

    let exists = client()
        .manifest_exists(&registry.repository("rotating/app"), "v1", &source)
        .await;

    assert!(exists.expect("check"));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// A `.dockerconfigjson` is a source: its `auth` for the registry's host is used, and the
/// credential helper it names is not run.
#[tokio::test]
async fn a_docker_config_gives_the_credentials() {
    let Some(registry) = htpasswd_registry() else {
        return;
    };
    push_image(registry, "config/app", &tags(&["v1"]), DOCKER_MANIFEST).await;
    let auth = base64_of(&format!("{USER}:{PASSWORD}"));
    let config = format!(
        r#"{{"credsStore": "no-such-helper", "auths": {{"http://{}": {{"auth": "{auth}"}}}}}}"#,
        registry.host
    );
    let config = DockerConfig::parse(config.as_bytes()).expect("config");

    let exists = client()
        .manifest_exists(&registry.repository("config/app"), "v1", &config)
        .await;

    assert!(exists.expect("check"));
    assert_eq!(config.ignored().len(), 1, "{:?}", config.ignored());
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}
