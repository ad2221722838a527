//! The token server of a registry in token mode, served by the test: it checks Basic
//! credentials and answers an RS256 JWT with the signing certificate in its `x5c` header, as
//! distribution requires. The key and the self-signed certificate are made, and each token
//! signed, by the `openssl` CLI, so the tests need no JWT or RSA crate.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;

use super::{PASSWORD, USER};

const SERVICE: &str = "herald-test-registry";
const ISSUER: &str = "herald-test-token-server";

/// The token server of a registry in token mode.
#[derive(Debug, Clone)]
pub struct TokenServer {
    /// Where clients ask for tokens (`http://127.0.0.1:<port>/token`).
    pub realm: String,
    dir: PathBuf,
    /// The scope of every token asked for (granted or not), in order.
    scopes: Arc<Mutex<Vec<String>>>,
}

#[derive(Debug)]
struct Signer {
    key: PathBuf,
    certificate_der: String,
    scopes: Arc<Mutex<Vec<String>>>,
}

impl TokenServer {
    /// Make the key and certificate in `dir`, and serve on a thread of its own: the registry is
    /// shared by tests whose runtimes end with them.
    pub(crate) fn start(dir: &Path) -> Self {
        openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=herald-test-token",
                "-keyout",
            ],
            &[dir.join("key.pem"), "-out".into(), dir.join("cert.pem")],
        );
        let der = openssl_output(&["x509", "-outform", "DER", "-in"], &dir.join("cert.pem"));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let realm = format!("http://{}/token", listener.local_addr().expect("addr"));
        let scopes = Arc::new(Mutex::new(Vec::new()));
        let signer = Arc::new(Signer {
            key: dir.join("key.pem"),
            certificate_der: STANDARD.encode(der),
            scopes: Arc::clone(&scopes),
        });
        std::thread::spawn(move || serve(listener, signer));
        Self {
            realm,
            dir: dir.to_owned(),
            scopes,
        }
    }

    /// The registry's `auth:` section.
    pub(crate) fn registry_config(&self) -> String {
        format!(
            "auth:\n  token:\n    realm: {}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
            self.realm,
            self.dir.join("cert.pem").display()
        )
    }

    /// How many tokens were asked for with `scope`: tests share the server, so each counts
    /// its own repository's.
    pub fn calls_for(&self, scope: &str) -> usize {
        let scopes = self.scopes.lock().expect("lock");
        scopes.iter().filter(|asked| *asked == scope).count()
    }
}

fn serve(listener: std::net::TcpListener, signer: Arc<Signer>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
        let app = Router::new().route("/token", get(token)).with_state(signer);
        axum::serve(listener, app).await.expect("serve");
    });
}

async fn token(
    State(signer): State<Arc<Signer>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let scope = query.get("scope").cloned().unwrap_or_default();
    let jti = {
        let mut scopes = signer.scopes.lock().expect("lock");
        scopes.push(scope);
        scopes.len()
    };
    let expected = format!("Basic {}", STANDARD.encode(format!("{USER}:{PASSWORD}")));
    if headers
        .get(header::AUTHORIZATION)
        .is_none_or(|value| value != expected.as_str())
    {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let access: Vec<_> = query
        .get("scope")
        .and_then(|scope| scope.strip_prefix("repository:"))
        .and_then(|scope| scope.rsplit_once(':'))
        .map(|(name, actions)| json!({"type": "repository", "name": name, "actions": actions.split(',').collect::<Vec<_>>()}))
        .into_iter()
        .collect();
    let jwt = signer
        .sign(
            jti,
            &json!({"iss": ISSUER, "sub": USER, "aud": SERVICE, "access": access}),
        )
        .await;
    axum::Json(json!({"token": jwt, "expires_in": 300})).into_response()
}

impl Signer {
    /// An RS256 JWT of `claims` (with times and a jti added), signed by `openssl dgst`.
    async fn sign(&self, jti: usize, claims: &serde_json::Value) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let mut claims = claims.clone();
        claims["iat"] = json!(now);
        claims["nbf"] = json!(now - 10);
        claims["exp"] = json!(now + 300);
        claims["jti"] = json!(format!("{now}-{jti}"));
        let header = json!({"alg": "RS256", "typ": "JWT", "x5c": [self.certificate_der]});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = sign_with_openssl(&self.key, input.as_bytes()).await;
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

async fn sign_with_openssl(key: &Path, input: &[u8]) -> Vec<u8> {
    use tokio::io::AsyncWriteExt as _;
    let mut child = tokio::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn openssl");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input).await.expect("write");
    drop(stdin);
    let output = child.wait_with_output().await.expect("openssl dgst");
    assert!(output.status.success(), "openssl dgst failed");
    output.stdout
}

fn openssl(args: &[&str], more: &[PathBuf]) {
    let output = Command::new("openssl")
        .args(args)
        .args(more)
        .output()
        .expect("openssl");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn openssl_output(args: &[&str], path: &Path) -> Vec<u8> {
    let output = Command::new("openssl")
        .args(args)
        .arg(path)
        .output()
        .expect("openssl");
    assert!(output.status.success(), "openssl {args:?}");
    output.stdout
}
