//! `https://` URLs against a small Python server running `git http-backend` with
//! basic auth and a throwaway CA made by the `openssl` CLI.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use herald_git::{
    Auth, GitError, IdleConnections, ListOptions, Remote, RemoteRef, SecretString, Tls,
    WireProtocol, checkout, list_refs, list_refs_matching, list_refs_reusing, list_refs_with,
};
use herald_testkit::git_http::HttpBackend;
use support::pki::Pki;
use support::{
    ChildGuard, Fixture, SilentServer, assert_checked_out, assert_matching_listings,
    assert_times_out, find_program, free_port,
};

const USER: &str = "alice";
const PASSWORD: &str = "correct-horse-battery";
const MUST_FINISH_WITHIN: Duration = Duration::from_secs(60);

/// The HTTPS test server; killed on drop.
struct HttpsServer {
    guard: ChildGuard,
    port: u16,
    pki: Pki,
}

impl HttpsServer {
    fn start(fixture: &Fixture, name: &str, subject_alt_name: &str) -> Option<Self> {
        let tools_present = support::require_tool("python3", find_program("python3").is_some())
            && support::require_tool("openssl", find_program("openssl").is_some())
            && support::require_tool(
                "git http-backend",
                support::git_helper("http-backend").is_some(),
            );
        if !tools_present {
            return None;
        }
        let dir = fixture.dir.path().join(name);
        let pki = Pki::generate(&dir, subject_alt_name);
        let port = free_port();
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/test-git-https-server.py");
        let mut command = Command::new("python3");
        command
            .arg(script)
            .arg("--port")
            .arg(port.to_string())
            .arg("--cert")
            .arg(&pki.cert)
            .arg("--key")
            .arg(&pki.key)
            .arg("--project-root")
            .arg(&fixture.root)
            .args(["--user", USER])
            // The password travels in the environment, never in arguments.
            .env("HERALD_TEST_HTTP_PASSWORD", PASSWORD);
        let mut guard =
            ChildGuard::spawn("https git server", &mut command, &dir.join("server.log"));
        support::wait_for_port(&mut guard, port);
        Some(Self { guard, port, pki })
    }

    fn url(&self) -> String {
        format!("https://127.0.0.1:{}/project.git", self.port)
    }

    fn remote(&self, auth: Auth, ca_pem: Option<String>) -> Remote {
        Remote {
            url: self.url(),
            auth,
            tls: Tls {
                ca_pem,
                insecure_skip_verify: false,
            },
        }
    }

    fn trusted(&self, auth: Auth) -> Remote {
        self.remote(auth, Some(self.pki.ca_pem.clone()))
    }
}

fn basic(password: &str) -> Auth {
    Auth::Basic {
        username: USER.into(),
        password: SecretString::from(password),
    }
}

fn finishes<T: Send + 'static>(operation: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(operation());
    });
    receiver
        .recv_timeout(MUST_FINISH_WITHIN)
        .expect("the operation did not finish (retrying forever?)")
}

#[test]
fn lists_and_checks_out_with_custom_ca_and_basic_auth() {
    let fixture = Fixture::new();
    let Some(server) = HttpsServer::start(&fixture, "https-ok", "IP:127.0.0.1") else {
        return;
    };
    let remote = server.trusted(basic(PASSWORD));
    let refs = list_refs(&remote).unwrap_or_else(|e| panic!("{e}\n{}", server.guard.log()));
    let pairs: Vec<(&str, &str)> = refs
        .iter()
        .map(|r| (r.name.as_str(), r.commit.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("refs/heads/feature", fixture.f1.as_str()),
            ("refs/heads/main", fixture.c3.as_str()),
            ("refs/tags/light", fixture.c1.as_str()),
            ("refs/tags/v1", fixture.c2.as_str()),
        ]
    );

    let dest = fixture.dest("https-tip");
    checkout(&remote, Some("refs/heads/main"), &fixture.c3, &dest)
        .unwrap_or_else(|e| panic!("{e}\n{}", server.guard.log()));
    assert_checked_out(&dest, &fixture.c3);
    assert!(
        dest.join(".git/shallow").exists(),
        "tip checkout should be shallow"
    );

    let dest = fixture.dest("https-older");
    checkout(&remote, Some("refs/heads/main"), &fixture.c1, &dest)
        .unwrap_or_else(|e| panic!("{e}\n{}", server.guard.log()));
    assert_checked_out(&dest, &fixture.c1);
}

#[test]
fn token_is_sent_as_basic_auth_password() {
    let fixture = Fixture::new();
    let Some(server) = HttpsServer::start(&fixture, "https-token", "IP:127.0.0.1") else {
        return;
    };
    let auth = Auth::Token {
        username: USER.into(),
        token: SecretString::from(PASSWORD),
    };
    let refs = list_refs(&server.trusted(auth)).unwrap();
    assert_eq!(refs.len(), 4);
}

#[test]
fn without_the_ca_the_certificate_is_rejected() {
    let fixture = Fixture::new();
    let Some(server) = HttpsServer::start(&fixture, "https-no-ca", "IP:127.0.0.1") else {
        return;
    };
    let err = list_refs(&server.remote(basic(PASSWORD), None)).unwrap_err();
    assert!(matches!(err, GitError::Tls { .. }), "{err:?}");
    assert_eq!(err.category(), "tls");

    let unrelated = Pki::generate(&fixture.dir.path().join("unrelated-ca"), "IP:127.0.0.1");
    let err = list_refs(&server.remote(basic(PASSWORD), Some(unrelated.ca_pem))).unwrap_err();
    assert!(matches!(err, GitError::Tls { .. }), "{err:?}");
    assert!(err.to_string().contains("CA bundle"), "{err}");
}

#[test]
fn certificate_for_another_host_is_rejected_despite_a_trusted_ca() {
    let fixture = Fixture::new();
    let Some(server) = HttpsServer::start(&fixture, "https-wrong-name", "DNS:git.example.invalid")
    else {
        return;
    };
    let err = list_refs(&server.trusted(basic(PASSWORD))).unwrap_err();
    assert!(matches!(err, GitError::Tls { .. }), "{err:?}");
}

#[test]
fn insecure_skip_verify_accepts_any_certificate() {
    let fixture = Fixture::new();
    let Some(server) = HttpsServer::start(&fixture, "https-insecure", "IP:127.0.0.1") else {
        return;
    };
    let mut remote = server.remote(basic(PASSWORD), None);
    remote.tls.insecure_skip_verify = true;
    assert_eq!(list_refs(&remote).unwrap().len(), 4);
}

#[test]
fn wrong_password_fails_with_auth_error_and_terminates() {
    let fixture = Fixture::new();
    let Some(server) = HttpsServer::start(&fixture, "https-bad-pw", "IP:127.0.0.1") else {
        return;
    };
    let remote = server.trusted(basic("not-the-password"));
    let list_remote = remote.clone();
    let err = finishes(move || list_refs(&list_remote)).unwrap_err();
    assert!(matches!(err, GitError::Auth { .. }), "{err:?}");
    assert_eq!(err.category(), "auth");
    let text = format!("{err} {err:?}");
    assert!(!text.contains("not-the-password"), "{text}");

    let dest = fixture.dest("https-denied");
    let c3 = fixture.c3.clone();
    let err = finishes(move || checkout(&remote, Some("refs/heads/main"), &c3, &dest)).unwrap_err();
    assert!(matches!(err, GitError::Auth { .. }), "{err:?}");
}

#[test]
fn missing_credentials_fail_with_auth_error() {
    let fixture = Fixture::new();
    let Some(server) = HttpsServer::start(&fixture, "https-anon", "IP:127.0.0.1") else {
        return;
    };
    let err = finishes(move || list_refs(&server.trusted(Auth::None))).unwrap_err();
    assert!(matches!(err, GitError::Auth { .. }), "{err:?}");
}

#[test]
fn invalid_ca_bundle_is_a_tls_error() {
    let remote = Remote {
        url: format!("https://127.0.0.1:{}/project.git", free_port()),
        auth: Auth::None,
        tls: Tls {
            ca_pem: Some("-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n".into()),
            insecure_skip_verify: false,
        },
    };
    let err = list_refs(&remote).unwrap_err();
    assert_eq!(err.category(), "tls", "{err:?}");
}

#[test]
fn password_in_url_is_rejected_without_echoing_it() {
    let remote = Remote::anonymous("https://alice:hunter2@127.0.0.1/project.git");
    let err = list_refs(&remote).unwrap_err();
    assert!(matches!(err, GitError::InvalidUrl { .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("hunter2"), "{err:?}");
}

fn main_branch() -> Vec<String> {
    vec!["refs/heads/main".to_owned()]
}

#[test]
fn lists_only_the_watched_refs_over_protocol_v2() {
    let fixture = Fixture::new();
    let Some(server) = HttpsServer::start(&fixture, "https-v2", "IP:127.0.0.1") else {
        return;
    };
    assert_matching_listings(&server.trusted(basic(PASSWORD)), &fixture, WireProtocol::V2);
    let auth = Auth::Token {
        username: USER.into(),
        token: SecretString::from(PASSWORD),
    };
    let refs = list_refs_matching(&server.trusted(auth), &main_branch()).unwrap();
    assert_eq!(refs.len(), 1);
}

#[test]
fn v2_listing_with_wrong_or_missing_credentials_is_an_auth_error() {
    let fixture = Fixture::new();
    let Some(server) = HttpsServer::start(&fixture, "https-v2-auth", "IP:127.0.0.1") else {
        return;
    };
    let remote = server.trusted(basic("not-the-password"));
    let err = finishes(move || list_refs_matching(&remote, &main_branch())).unwrap_err();
    assert!(matches!(err, GitError::Auth { .. }), "{err:?}");
    assert!(err.to_string().contains("rejected the password"), "{err}");
    assert!(
        !format!("{err} {err:?}").contains("not-the-password"),
        "{err:?}"
    );

    let remote = server.trusted(Auth::None);
    let err = finishes(move || list_refs_matching(&remote, &main_branch())).unwrap_err();
    assert!(matches!(err, GitError::Auth { .. }), "{err:?}");
    assert!(err.to_string().contains("none are configured"), "{err}");
}

#[test]
fn v2_listing_verifies_certificates_like_list_refs() {
    let fixture = Fixture::new();
    let Some(server) = HttpsServer::start(&fixture, "https-v2-tls", "IP:127.0.0.1") else {
        return;
    };
    let err =
        list_refs_matching(&server.remote(basic(PASSWORD), None), &main_branch()).unwrap_err();
    assert!(matches!(err, GitError::Tls { .. }), "{err:?}");

    let unrelated = Pki::generate(&fixture.dir.path().join("unrelated-ca-v2"), "IP:127.0.0.1");
    let remote = server.remote(basic(PASSWORD), Some(unrelated.ca_pem));
    let err = list_refs_matching(&remote, &main_branch()).unwrap_err();
    assert!(matches!(err, GitError::Tls { .. }), "{err:?}");
    assert!(err.to_string().contains("CA bundle"), "{err}");

    let mut insecure = server.remote(basic(PASSWORD), None);
    insecure.tls.insecure_skip_verify = true;
    assert_eq!(
        list_refs_matching(&insecure, &main_branch()).unwrap().len(),
        1
    );
}

#[test]
fn v2_listing_rejects_a_certificate_for_another_host() {
    let fixture = Fixture::new();
    let Some(server) = HttpsServer::start(&fixture, "https-v2-name", "DNS:git.example.invalid")
    else {
        return;
    };
    let err = list_refs_matching(&server.trusted(basic(PASSWORD)), &main_branch()).unwrap_err();
    assert!(matches!(err, GitError::Tls { .. }), "{err:?}");
}

#[test]
fn a_silent_https_server_fails_the_listing_at_its_deadline() {
    let silent = SilentServer::start();
    let remote = Remote {
        url: format!("https://127.0.0.1:{}/project.git", silent.port),
        auth: basic(PASSWORD),
        tls: Tls::default(),
    };
    assert_times_out(&remote);
}

#[test]
fn plain_http_lists_over_v2_and_falls_back_to_v0() {
    let fixture = Fixture::new();
    let Some(v2) = HttpBackend::start(&fixture.root, true) else {
        return;
    };
    let remote = Remote::anonymous(v2.url("project.git"));
    assert_matching_listings(&remote, &fixture, WireProtocol::V2);
    let err = list_refs_matching(&Remote::anonymous(v2.url("missing.git")), &[]).unwrap_err();
    assert!(
        matches!(err, GitError::RepositoryNotFound { .. }),
        "{err:?}"
    );

    let Some(v0) = HttpBackend::start(&fixture.root, false) else {
        return;
    };
    assert_matching_listings(
        &Remote::anonymous(v0.url("project.git")),
        &fixture,
        WireProtocol::V0,
    );
}

/// A server that answers every request with a redirect to `target` (a repository URL),
/// as hosts do for renamed repositories.
fn start_redirector(target: String) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let answer = format!(
                "HTTP/1.1 301 Moved Permanently\r\nLocation: {target}/info/refs?service=git-upload-pack\r\n\
                 Content-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = (&stream).write_all(answer.as_bytes());
        }
    });
    port
}

#[test]
fn follows_a_redirect_of_the_first_request() {
    let fixture = Fixture::new();
    let Some(backend) = HttpBackend::start(&fixture.root, true) else {
        return;
    };
    let port = start_redirector(backend.url("project.git"));
    let remote = Remote::anonymous(format!("http://127.0.0.1:{port}/old-name.git"));
    let refs = list_refs_matching(&remote, &main_branch()).unwrap();
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0].commit, fixture.c3);
}

/// The in-process keep-alive HTTPS server with a throwaway CA made under `name`, or `None`
/// (skipped locally, a failure under CI) when a tool is missing.
fn tls_backend(fixture: &Fixture, name: &str) -> Option<(HttpBackend, Pki)> {
    if !support::require_tool("openssl", find_program("openssl").is_some()) {
        return None;
    }
    let pki = Pki::generate(&fixture.dir.path().join(name), "IP:127.0.0.1");
    let server = HttpBackend::start_tls(&fixture.root, true, &pki.cert, &pki.key)?;
    Some((server, pki))
}

#[test]
fn keep_alive_https_serves_a_listing_on_one_connection() {
    let fixture = Fixture::new();
    let Some((server, pki)) = tls_backend(&fixture, "keep-alive-pki") else {
        return;
    };
    let remote = Remote {
        url: server.url("project.git"),
        auth: Auth::None,
        tls: Tls {
            ca_pem: Some(pki.ca_pem.clone()),
            insecure_skip_verify: false,
        },
    };
    assert_matching_listings(&remote, &fixture, WireProtocol::V2);
    let err = list_refs_matching(&Remote::anonymous(server.url("project.git")), &[]).unwrap_err();
    assert!(matches!(err, GitError::Tls { .. }), "{err:?}");
}

fn accepted(server: &HttpBackend) -> u64 {
    server
        .connections
        .load(std::sync::atomic::Ordering::Relaxed)
}

fn list_reusing(remote: &Remote, idle: &IdleConnections) -> Result<Vec<RemoteRef>, GitError> {
    list_refs_reusing(remote, &ListOptions::prefixes(main_branch()), idle).map(|l| l.refs)
}

#[test]
fn kept_connections_carry_later_listings_and_closed_ones_are_replaced() {
    let fixture = Fixture::new();
    let Some(server) = HttpBackend::start(&fixture.root, true) else {
        return;
    };
    let remote = Remote::anonymous(server.url("project.git"));
    let idle = IdleConnections::new(4);
    for _ in 0..3 {
        let refs = list_reusing(&remote, &idle).unwrap();
        assert_eq!(refs[0].commit, fixture.c3);
    }
    assert_eq!(accepted(&server), 1, "three listings, one connection");
    assert_eq!(idle.len(), 1);

    // The server closes its idle connections (its keep-alive timeout): the next listing
    // notices before sending and connects afresh.
    server.close_connections();
    assert_eq!(list_reusing(&remote, &idle).unwrap()[0].commit, fixture.c3);
    assert_eq!(accepted(&server), 2);

    // Without a place to keep them, every listing connects.
    list_refs_with(&remote, &ListOptions::prefixes(main_branch())).unwrap();
    assert_eq!(accepted(&server), 3);
    let forgetful = IdleConnections::new(4).keeping_idle_for(Duration::ZERO);
    list_reusing(&remote, &forgetful).unwrap();
    list_reusing(&remote, &forgetful).unwrap();
    assert_eq!(
        accepted(&server),
        5,
        "a connection unused too long is not reused"
    );
}

#[test]
fn a_kept_https_connection_serves_only_listings_with_the_same_trust() {
    let fixture = Fixture::new();
    let Some((server, pki)) = tls_backend(&fixture, "kept-pki") else {
        return;
    };
    let idle = IdleConnections::new(4);
    let mut insecure = Remote::anonymous(server.url("project.git"));
    insecure.tls.insecure_skip_verify = true;
    list_reusing(&insecure, &idle).unwrap();
    assert_eq!((accepted(&server), idle.len()), (1, 1));

    // The connection kept by a listing that verified nothing is not one this listing,
    // which trusts only the system roots, may use: it connects and rejects the certificate.
    let strict = Remote::anonymous(server.url("project.git"));
    let err = list_reusing(&strict, &idle).unwrap_err();
    assert!(matches!(err, GitError::Tls { .. }), "{err:?}");
    assert_eq!(accepted(&server), 2);

    let trusting = Remote {
        tls: Tls {
            ca_pem: Some(pki.ca_pem.clone()),
            insecure_skip_verify: false,
        },
        ..strict
    };
    list_reusing(&trusting, &idle).unwrap();
    list_reusing(&trusting, &idle).unwrap();
    assert_eq!(
        accepted(&server),
        3,
        "the CA-verified connection is reused by its own kind"
    );
    list_reusing(&insecure, &idle).unwrap();
    assert_eq!(accepted(&server), 3, "and the first is still kept");
}
