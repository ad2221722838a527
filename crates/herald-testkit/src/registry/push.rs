//! Pushing a small image over the distribution API, as `docker push` would: two blobs (a
//! config and a layer), then a manifest under each tag.

use reqwest::{Client, RequestBuilder, StatusCode, header};
use sha2::{Digest, Sha256};

use super::Registry;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// Push one image to `registry` at `name` under every tag in `tags`, with a manifest of
/// `media_type` (OCI or Docker v2 schema 2).
pub async fn push_image(registry: &Registry, name: &str, tags: &[String], media_type: &str) {
    let http = Client::new();
    let token = match &registry.token_server {
        Some(server) => Some(push_token(&http, registry, &server.realm, name).await),
        None => None,
    };
    let pusher = Pusher {
        http,
        registry,
        name,
        token,
    };
    let oci = media_type == OCI_MANIFEST;
    let config = format!(r#"{{"architecture":"amd64","os":"linux","name":"{name}"}}"#);
    let layer = format!("a layer of {name}").into_bytes();
    let config = pusher.blob(config.as_bytes()).await;
    let layer = pusher.blob(&layer).await;
    let (config_type, layer_type) = if oci {
        (
            "application/vnd.oci.image.config.v1+json",
            "application/vnd.oci.image.layer.v1.tar+gzip",
        )
    } else {
        (
            "application/vnd.docker.container.image.v1+json",
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
        )
    };
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": config_type, "digest": config.0, "size": config.1},
        "layers": [{"mediaType": layer_type, "digest": layer.0, "size": layer.1}],
    })
    .to_string();
    for tag in tags {
        pusher.manifest(tag, media_type, &manifest).await;
    }
}

/// A token with push rights from the registry's token server, asked for as a client would.
async fn push_token(http: &Client, registry: &Registry, realm: &str, name: &str) -> String {
    let (user, password) = registry.basic.clone().expect("token mode has credentials");
    let response = http
        .get(realm)
        .query(&[
            ("service", "herald-test-registry".to_owned()),
            ("scope", format!("repository:{name}:pull,push")),
        ])
        .basic_auth(user, Some(password))
        .send()
        .await
        .expect("ask for a push token");
    assert_eq!(response.status(), StatusCode::OK, "push token");
    let answer: serde_json::Value = response.json().await.expect("token JSON");
    answer["token"].as_str().expect("token").to_owned()
}

struct Pusher<'a> {
    http: Client,
    registry: &'a Registry,
    name: &'a str,
    token: Option<String>,
}

impl Pusher<'_> {
    fn authed(&self, request: RequestBuilder) -> RequestBuilder {
        match (&self.token, &self.registry.basic) {
            (Some(token), _) => request.bearer_auth(token),
            (None, Some((user, password))) => request.basic_auth(user, Some(password)),
            (None, None) => request,
        }
    }

    /// POST an upload, then PUT the bytes to its location with the digest: (digest, size).
    async fn blob(&self, bytes: &[u8]) -> (String, usize) {
        let digest = format!("sha256:{:x}", Sha256::digest(bytes));
        let start = format!(
            "http://{}/v2/{}/blobs/uploads/",
            self.registry.host, self.name
        );
        let response = self
            .authed(self.http.post(&start))
            .send()
            .await
            .expect("start upload");
        assert_eq!(response.status(), StatusCode::ACCEPTED, "start upload");
        let location = response
            .headers()
            .get(header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .expect("upload location");
        let mut url = reqwest::Url::parse(&start)
            .and_then(|base| base.join(location))
            .expect("upload url");
        url.query_pairs_mut().append_pair("digest", &digest);
        let response = self
            .authed(self.http.put(url))
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(bytes.to_vec())
            .send()
            .await
            .expect("upload blob");
        assert_eq!(response.status(), StatusCode::CREATED, "upload blob");
        (digest, bytes.len())
    }

    async fn manifest(&self, tag: &str, media_type: &str, manifest: &str) {
        let url = format!(
            "http://{}/v2/{}/manifests/{tag}",
            self.registry.host, self.name
        );
        let response = self
            .authed(self.http.put(url))
            .header(header::CONTENT_TYPE, media_type)
            .body(manifest.to_owned())
            .send()
            .await
            .expect("put manifest");
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        assert_eq!(status, StatusCode::CREATED, "put manifest {tag}: {body}");
    }
}
