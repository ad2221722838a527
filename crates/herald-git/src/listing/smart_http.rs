//! Smart HTTP (`gitprotocol-http`): `GET info/refs?service=git-upload-pack` with
//! `Git-Protocol: version=2`; a v2 server answers with its capabilities and gets the
//! `ls-refs` command in a `POST git-upload-pack`, a v0 server answers with every ref.
//!
//! Credentials follow the libgit2 path's rules: sent only after the server asks (401),
//! at most once per listing, only to the configured host and never after a redirect
//! away from HTTPS.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::WireProtocol;
use super::deadline::{Deadline, is_timeout};
use super::http_client::{Connection, Origin, Request, Response};
use super::idle::IdleConnections;
use super::pkt_line::{Packet, PktReader};
use super::protocol::{Greeting, ls_refs_request, read_greeting, read_ls_refs, select};
use super::tls_connect::TlsConnector;
use super::wire_error::WireError;
use crate::callbacks::check_same_server;
use crate::error::GitError;
use crate::remote::{Auth, RemoteRef};
use crate::secret::SecretString;
use crate::session::Session;
use crate::url::{RemoteUrl, Transport};

const STEP: &str = "listing refs";
const SERVICE_SUFFIX: &str = "/info/refs?service=git-upload-pack";
const ADVERTISEMENT: &str = "application/x-git-upload-pack-advertisement";
const RESULT: &str = "application/x-git-upload-pack-result";
/// As many redirects of the first request as git follows by default.
const MAX_REDIRECTS: u32 = 5;

const GET_HEADERS: &[(&str, &str)] = &[
    ("Accept", "*/*"),
    ("Git-Protocol", "version=2"),
    ("Pragma", "no-cache"),
];
const POST_HEADERS: &[(&str, &str)] = &[
    ("Content-Type", "application/x-git-upload-pack-request"),
    ("Accept", RESULT),
    ("Git-Protocol", "version=2"),
];

/// List the refs matching `prefixes` over smart HTTP(S), on a connection `idle` kept for
/// this server when there is one, and keeping this listing's there afterwards.
pub(crate) fn list(
    session: &Session<'_>,
    prefixes: &[String],
    deadline: &Deadline,
    idle: &IdleConnections,
) -> Result<(Vec<RemoteRef>, WireProtocol), WireError> {
    let mut client = Client::new(session, *deadline, idle);
    let mut url = RepoUrl::from_session(session);
    let advertisement = client.advertisement(&mut url)?;
    let listed = match parse_advertisement(&advertisement)? {
        Greeting::V2(capabilities) => {
            let command = ls_refs_request(&capabilities, prefixes)?;
            let answer = client.upload_pack(&url, &command)?;
            let refs = read_ls_refs(&mut PktReader::new(answer.as_slice()))?;
            (select(refs, prefixes), WireProtocol::V2)
        }
        Greeting::V0(refs) => (select(refs, prefixes), WireProtocol::V0),
    };
    client.keep_connection();
    Ok(listed)
}

/// The greeting inside an info/refs answer. v0 servers (and some v2 ones) put
/// `# service=git-upload-pack` and a flush before it.
fn parse_advertisement(body: &[u8]) -> Result<Greeting, WireError> {
    let mut reader = PktReader::new(body);
    if reader.next_packet()? == Packet::Line(b"# service=git-upload-pack") {
        if reader.next_packet()? != Packet::Flush {
            return Err(WireError::protocol("no flush after the service line"));
        }
        return read_greeting(&mut reader);
    }
    read_greeting(&mut PktReader::new(body))
}

/// Where the repository is: an origin and the path in front of `/info/refs`.
#[derive(Debug, Clone)]
struct RepoUrl {
    origin: Origin,
    base_path: String,
}

impl RepoUrl {
    fn from_session(session: &Session<'_>) -> Self {
        Self::from_parts(&session.url, &session.url.path)
    }

    fn from_parts(url: &RemoteUrl, path: &str) -> Self {
        let tls = url.transport == Transport::Https;
        Self {
            origin: Origin {
                tls,
                host: url.host.clone().unwrap_or_default(),
                port: url.port.unwrap_or(if tls { 443 } else { 80 }),
            },
            base_path: path.trim_end_matches('/').to_owned(),
        }
    }

    fn info_refs(&self) -> String {
        format!("{}{SERVICE_SUFFIX}", self.base_path)
    }

    fn upload_pack(&self) -> String {
        format!("{}/git-upload-pack", self.base_path)
    }

    /// The URL as text, for the same-server check before sending credentials.
    fn text(&self) -> String {
        let scheme = if self.origin.tls { "https" } else { "http" };
        let host = match self.origin.host.contains(':') {
            true => format!("[{}]", self.origin.host),
            false => self.origin.host.clone(),
        };
        format!("{scheme}://{host}:{}{}", self.origin.port, self.base_path)
    }

    /// The repository a redirect of the info/refs request points at.
    fn redirected(&self, location: &str) -> Result<Self, WireError> {
        let bad = |why: &str| WireError::protocol(format!("redirect to {location:?} {why}"));
        let (origin, target) = if location.starts_with('/') {
            (self.origin.clone(), location.to_owned())
        } else {
            let parsed = RemoteUrl::parse(location).map_err(|_| bad("is not a usable URL"))?;
            if !matches!(parsed.transport, Transport::Http | Transport::Https) {
                return Err(bad("leaves HTTP"));
            }
            let next = Self::from_parts(&parsed, &parsed.path);
            (next.origin, parsed.path)
        };
        if self.origin.tls && !origin.tls {
            return Err(WireError::Io(std::io::Error::other(
                "refusing to follow a redirect from HTTPS to HTTP",
            )));
        }
        let base_path = target
            .strip_suffix(SERVICE_SUFFIX)
            .ok_or_else(|| bad("does not name the repository's info/refs"))?;
        Ok(Self {
            origin,
            base_path: base_path.to_owned(),
        })
    }
}

/// Requests of one listing: a kept-alive connection and the credentials state.
struct Client<'a> {
    session: &'a Session<'a>,
    deadline: Deadline,
    idle: &'a IdleConnections,
    connection: Option<Connection>,
    /// Made on the first HTTPS connection, shared by the others.
    tls: Option<TlsConnector>,
    /// `Basic ...`, once the server has asked for credentials.
    authorization: Option<SecretString>,
}

impl<'a> Client<'a> {
    fn new(session: &'a Session<'a>, deadline: Deadline, idle: &'a IdleConnections) -> Self {
        Self {
            session,
            deadline,
            idle,
            connection: None,
            tls: None,
            authorization: None,
        }
    }

    /// The info/refs answer, following redirects.
    fn advertisement(&mut self, url: &mut RepoUrl) -> Result<Vec<u8>, WireError> {
        let mut redirects = 0;
        loop {
            let response = self.authorized("GET", url, &url.info_refs(), GET_HEADERS, b"")?;
            match response.status {
                200 => return expect_type(response, ADVERTISEMENT),
                301 | 302 | 303 | 307 | 308 if redirects < MAX_REDIRECTS => {
                    redirects += 1;
                    let location = response.header("location").unwrap_or_default();
                    *url = url.redirected(location)?;
                    tracing::debug!(url = %self.session.display_url, to = %url.text(), "following a redirect");
                }
                status => return Err(self.status_error(status)),
            }
        }
    }

    /// The answer to `command` posted to git-upload-pack.
    fn upload_pack(&mut self, url: &RepoUrl, command: &[u8]) -> Result<Vec<u8>, WireError> {
        let response = self.authorized("POST", url, &url.upload_pack(), POST_HEADERS, command)?;
        match response.status {
            200 => expect_type(response, RESULT),
            status => Err(self.status_error(status)),
        }
    }

    /// Send, answering one 401 with the configured credentials.
    fn authorized(
        &mut self,
        method: &'static str,
        url: &RepoUrl,
        target: &str,
        headers: &[(&'static str, &str)],
        body: &[u8],
    ) -> Result<Response, WireError> {
        loop {
            let response = self.send(method, url, target, headers, body)?;
            if response.status != 401 {
                return Ok(response);
            }
            self.answer_challenge(url, &response)?;
        }
    }

    /// Decide whether (and which) credentials to send after a 401; errors as the
    /// libgit2 path's credentials callback words them.
    fn answer_challenge(&mut self, url: &RepoUrl, response: &Response) -> Result<(), WireError> {
        let auth_error = |detail: String| {
            WireError::from(GitError::Auth {
                url: self.session.display_url.clone(),
                step: STEP.to_owned(),
                detail,
            })
        };
        check_same_server(self.session, &url.text()).map_err(auth_error)?;
        let (username, secret, what) = match &self.session.remote.auth {
            Auth::Basic { username, password } => (username, password, "password"),
            Auth::Token { username, token } => (username, token, "token"),
            Auth::None | Auth::Ssh { .. } => {
                return Err(auth_error(
                    "the server requires credentials but none are configured".to_owned(),
                ));
            }
        };
        if self.authorization.is_some() {
            return Err(auth_error(format!(
                "the server rejected the {what} for user {username:?}"
            )));
        }
        let mut challenges = response.headers("www-authenticate").peekable();
        let offers_basic = challenges.peek().is_none()
            || challenges.any(|c| c.trim_start().to_ascii_lowercase().starts_with("basic"));
        if !offers_basic {
            return Err(auth_error(
                "the server does not accept username/password authentication".to_owned(),
            ));
        }
        let pair = format!("{username}:{}", secret.expose());
        self.authorization = Some(SecretString::from(format!("Basic {}", BASE64.encode(pair))));
        Ok(())
    }

    /// One request, on the kept-alive connection when it goes to the same origin.
    fn send(
        &mut self,
        method: &'static str,
        url: &RepoUrl,
        target: &str,
        headers: &[(&'static str, &str)],
        body: &[u8],
    ) -> Result<Response, WireError> {
        let mut all_headers = headers.to_vec();
        // A copy, so that the request borrows nothing of the client that picks its connection.
        let authorization = self.authorization.clone();
        if let Some(authorization) = &authorization {
            all_headers.push(("Authorization", authorization.expose()));
        }
        let request = Request {
            method,
            target,
            headers: &all_headers,
            body,
        };
        let mut retried = false;
        loop {
            let (mut connection, reused) = self.connection_to(&url.origin, retried)?;
            match connection.exchange(&request) {
                Ok((response, reusable)) => {
                    if reusable {
                        self.connection = Some(connection);
                    }
                    return Ok(response);
                }
                // A kept-alive connection the server closed meanwhile: once more, afresh.
                Err(WireError::Io(err)) if reused && !retried && !is_timeout(&err) => {
                    retried = true;
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// A connection to `origin`, and whether it carried requests before: this listing's own,
    /// else (unless `afresh`) one kept from an earlier listing, else a new one.
    fn connection_to(
        &mut self,
        origin: &Origin,
        afresh: bool,
    ) -> Result<(Connection, bool), WireError> {
        if let Some(own) = self.connection.take() {
            if &own.origin == origin {
                return Ok((own, true));
            }
            // Redirected elsewhere: the connection may still serve a later listing.
            self.idle.keep(own, self.session);
        }
        if !afresh {
            if let Some(mut kept) = self.idle.take(origin, self.session) {
                kept.set_deadline(self.deadline);
                return Ok((kept, true));
            }
        }
        if origin.tls && self.tls.is_none() {
            self.tls = Some(TlsConnector::new(self.session)?);
        }
        let opened = Connection::open(
            self.session,
            origin.clone(),
            self.tls.as_ref().filter(|_| origin.tls),
            &self.deadline,
        )?;
        Ok((opened, false))
    }

    /// Leaves the connection, if it can carry more, for the next listing.
    fn keep_connection(&mut self) {
        if let Some(connection) = self.connection.take() {
            self.idle.keep(connection, self.session);
        }
    }

    fn status_error(&self, status: u16) -> WireError {
        let url = self.session.display_url.clone();
        let step = STEP.to_owned();
        let detail = format!("the server answered HTTP {status}");
        WireError::from(match status {
            403 => GitError::Auth { url, step, detail },
            404 => GitError::RepositoryNotFound { url, step, detail },
            300..=399 => GitError::Unreachable {
                url,
                step,
                detail: format!("{detail} (redirected more than {MAX_REDIRECTS} times?)"),
            },
            _ => GitError::Unreachable { url, step, detail },
        })
    }
}

/// The body, if the answer has the content type smart HTTP promises.
fn expect_type(response: Response, expected: &str) -> Result<Vec<u8>, WireError> {
    let content_type = response.header("content-type").unwrap_or_default();
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    if media_type.eq_ignore_ascii_case(expected) {
        return Ok(response.body);
    }
    Err(WireError::protocol(format!(
        "the server does not speak Git's smart HTTP protocol (content type {content_type:?}, \
         expected {expected})"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listing::pkt_line::{FLUSH, push_line};

    fn repo(url: &str) -> RepoUrl {
        let parsed = RemoteUrl::parse(url).unwrap();
        RepoUrl::from_parts(&parsed, &parsed.path)
    }

    #[test]
    fn targets_and_redirects() {
        let url = repo("https://git.example.com/org/repo.git/");
        assert_eq!(
            url.info_refs(),
            "/org/repo.git/info/refs?service=git-upload-pack"
        );
        assert_eq!(url.upload_pack(), "/org/repo.git/git-upload-pack");
        assert_eq!(url.text(), "https://git.example.com:443/org/repo.git");

        let moved = url
            .redirected("/new/repo.git/info/refs?service=git-upload-pack")
            .unwrap();
        assert_eq!(moved.base_path, "/new/repo.git");
        assert_eq!(moved.origin, url.origin);

        let elsewhere = url
            .redirected("https://mirror.example.net:8443/r.git/info/refs?service=git-upload-pack")
            .unwrap();
        assert_eq!(elsewhere.origin.host, "mirror.example.net");
        assert_eq!(elsewhere.origin.port, 8443);
        assert_eq!(elsewhere.base_path, "/r.git");

        assert!(
            url.redirected("http://git.example.com/r.git/info/refs?service=git-upload-pack")
                .is_err()
        );
        assert!(url.redirected("/login").is_err());
        assert!(
            url.redirected("ssh://h/r.git/info/refs?service=git-upload-pack")
                .is_err()
        );
    }

    #[test]
    fn service_line_is_optional() {
        let mut v0 = Vec::new();
        push_line(&mut v0, "# service=git-upload-pack").unwrap();
        v0.extend_from_slice(FLUSH);
        push_line(
            &mut v0,
            &format!("{} refs/heads/main\0caps", "a".repeat(40)),
        )
        .unwrap();
        v0.extend_from_slice(FLUSH);
        assert!(matches!(parse_advertisement(&v0).unwrap(), Greeting::V0(refs) if refs.len() == 1));

        let mut v2 = Vec::new();
        push_line(&mut v2, "version 2").unwrap();
        push_line(&mut v2, "ls-refs").unwrap();
        v2.extend_from_slice(FLUSH);
        assert!(matches!(parse_advertisement(&v2).unwrap(), Greeting::V2(_)));
    }
}
