//! Classifying and picking apart remote URLs.
//!
//! libgit2 does the real URL handling; this module only extracts what Herald needs
//! to make security decisions (which transport, which host and port the host key or
//! certificate belongs to) and rejects URLs that would leak secrets.

use crate::error::GitError;

/// How a remote is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// `file://` URL or plain path: libgit2's local transport.
    Local,
    /// `git://` (unauthenticated, unencrypted).
    Git,
    /// `ssh://` or scp-like `user@host:path`.
    Ssh,
    /// `http://`.
    Http,
    /// `https://`.
    Https,
}

impl Transport {
    fn from_scheme(scheme: &str) -> Option<Self> {
        match scheme.to_ascii_lowercase().as_str() {
            "file" => Some(Transport::Local),
            "git" => Some(Transport::Git),
            "ssh" | "git+ssh" | "ssh+git" => Some(Transport::Ssh),
            "http" => Some(Transport::Http),
            "https" => Some(Transport::Https),
            _ => None,
        }
    }

    fn default_port(self) -> Option<u16> {
        match self {
            Transport::Local => None,
            Transport::Git => Some(9418),
            Transport::Ssh => Some(22),
            Transport::Http => Some(80),
            Transport::Https => Some(443),
        }
    }
}

/// The parts of a remote URL that security checks need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RemoteUrl {
    pub transport: Transport,
    /// Lower-cased host name or IP address (without IPv6 brackets); `None` for local.
    pub host: Option<String>,
    /// Explicit or default port; `None` for local.
    pub port: Option<u16>,
    /// User name embedded in the URL (`user@host`), if any.
    pub username: Option<String>,
    /// What follows the authority: `/srv/repo.git` for `ssh://host/srv/repo.git`,
    /// `org/repo.git` for scp-like `host:org/repo.git`; empty for local remotes.
    pub path: String,
}

impl RemoteUrl {
    /// Parse `url`, rejecting unsupported schemes and embedded passwords.
    pub fn parse(url: &str) -> Result<Self, GitError> {
        let invalid = |reason: &str| GitError::InvalidUrl {
            url: redact_url(url),
            reason: reason.to_owned(),
        };
        if url.trim().is_empty() {
            return Err(invalid("the URL is empty"));
        }
        if url.chars().any(char::is_control) {
            return Err(invalid("the URL contains control characters"));
        }
        if let Some((scheme, rest)) = url.split_once("://") {
            let transport = Transport::from_scheme(scheme)
                .ok_or_else(|| invalid("unsupported scheme (use file, git, ssh, http or https)"))?;
            return parse_hierarchical(transport, rest).map_err(|reason| invalid(&reason));
        }
        if let Some(scp) = split_scp_like(url) {
            let mut parsed =
                parse_authority(Transport::Ssh, scp).map_err(|reason| invalid(&reason))?;
            // The colon after the authority separates the path.
            url[scp.len() + 1..].clone_into(&mut parsed.path);
            return Ok(parsed);
        }
        Ok(Self {
            transport: Transport::Local,
            host: None,
            port: None,
            username: None,
            path: String::new(),
        })
    }

    /// The name OpenSSH uses for this host in `known_hosts`: `host` on port 22,
    /// `[host]:port` otherwise.
    pub fn known_hosts_name(&self) -> String {
        let host = self.host.as_deref().unwrap_or_default();
        match self.port {
            Some(port) if port != 22 => format!("[{host}]:{port}"),
            _ => host.to_owned(),
        }
    }
}

/// Parse the part after `scheme://`.
fn parse_hierarchical(transport: Transport, rest: &str) -> Result<RemoteUrl, String> {
    let authority = rest.split('/').next().unwrap_or_default();
    if transport == Transport::Local {
        if !authority.is_empty() && !authority.eq_ignore_ascii_case("localhost") {
            return Err("file URLs must not name a remote host".to_owned());
        }
        return Ok(RemoteUrl {
            transport,
            host: None,
            port: None,
            username: None,
            path: String::new(),
        });
    }
    let mut parsed = parse_authority(transport, authority)?;
    rest[authority.len()..].clone_into(&mut parsed.path);
    Ok(parsed)
}

/// Parse `[user@]host[:port]`; for scp-like URLs the caller passes `[user@]host`.
fn parse_authority(transport: Transport, authority: &str) -> Result<RemoteUrl, String> {
    let (username, host_port) = match authority.rsplit_once('@') {
        Some((userinfo, host_port)) => {
            if userinfo.contains(':') {
                return Err(
                    "the URL embeds a password; put credentials into the auth settings instead"
                        .to_owned(),
                );
            }
            (Some(userinfo.to_owned()), host_port)
        }
        None => (None, authority),
    };
    let (host, port) = split_host_port(host_port)?;
    if host.is_empty() {
        return Err("the URL has no host".to_owned());
    }
    Ok(RemoteUrl {
        transport,
        host: Some(host.to_ascii_lowercase()),
        port: port.or(transport.default_port()),
        username: username.filter(|u| !u.is_empty()),
        path: String::new(),
    })
}

/// Split `host`, `host:port`, `[v6]` or `[v6]:port`.
fn split_host_port(host_port: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or_else(|| "unterminated '[' in host".to_owned())?;
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err("unexpected text after ']' in host".to_owned()),
            },
        }
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    let port = match port {
        None | Some("") => None,
        Some(port) => Some(
            port.parse::<u16>()
                .map_err(|_| format!("invalid port {port:?}"))?,
        ),
    };
    Ok((host, port))
}

/// Git treats `[user@]host:path` as SSH when a colon comes before any slash.
/// Returns the `[user@]host` part.
fn split_scp_like(url: &str) -> Option<&str> {
    // A bracketed host may itself contain colons: `[::1]:repo`.
    let search_from = if url.contains("@[") || url.starts_with('[') {
        url.find(']')?
    } else {
        0
    };
    let colon = search_from + url[search_from..].find(':')?;
    let slash = url.find('/');
    if slash.is_some_and(|slash| slash < colon) {
        return None;
    }
    Some(&url[..colon])
}

/// `url` with any `user:password@` replaced, for use in messages.
pub(crate) fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((userinfo, _)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            let after_at = &rest[userinfo.len() + 1..];
            format!("{scheme}://{user}:<redacted>@{after_at}")
        }
        _ => url.to_owned(),
    }
}

/// Whether `url` is reached over SSH (`ssh://` and its aliases, or scp-like
/// `user@host:path`), as every other call here reads it; `false` for a URL that does not
/// parse (the call that uses it reports why).
pub fn is_ssh_url(url: &str) -> bool {
    RemoteUrl::parse(url).is_ok_and(|parsed| parsed.transport == Transport::Ssh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_urls_are_told_from_the_rest() {
        for url in [
            "git@github.com:kainlite/gitops-operator.git",
            "ssh://git@example.com:2222/team/manifests.git",
            "git+ssh://example.com/team/manifests.git",
        ] {
            assert!(is_ssh_url(url), "{url}");
        }
        for url in [
            "file:///srv/git/app.git",
            "/srv/git/app.git",
            "https://example.com/team/app.git",
            "./relative/path:with-colon",
        ] {
            assert!(!is_ssh_url(url), "{url}");
        }
    }

    fn parse(url: &str) -> RemoteUrl {
        RemoteUrl::parse(url).unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    #[test]
    fn local_urls() {
        assert_eq!(parse("file:///srv/repo.git").transport, Transport::Local);
        assert_eq!(parse("/srv/repo.git").transport, Transport::Local);
        assert_eq!(parse("./repo").transport, Transport::Local);
        assert_eq!(parse("./dir:with/colon").transport, Transport::Local);
        assert!(RemoteUrl::parse("file://otherhost/repo").is_err());
    }

    #[test]
    fn ssh_urls() {
        let url = parse("ssh://deploy@Example.com:2222/srv/repo.git");
        assert_eq!(url.transport, Transport::Ssh);
        assert_eq!(url.host.as_deref(), Some("example.com"));
        assert_eq!(url.port, Some(2222));
        assert_eq!(url.username.as_deref(), Some("deploy"));
        assert_eq!(url.known_hosts_name(), "[example.com]:2222");

        let url = parse("git@github.com:org/repo.git");
        assert_eq!(url.transport, Transport::Ssh);
        assert_eq!(url.host.as_deref(), Some("github.com"));
        assert_eq!(url.port, Some(22));
        assert_eq!(url.username.as_deref(), Some("git"));
        assert_eq!(url.known_hosts_name(), "github.com");

        let url = parse("ssh://[::1]:2200/repo");
        assert_eq!(url.host.as_deref(), Some("::1"));
        assert_eq!(url.known_hosts_name(), "[::1]:2200");

        let url = parse("git@[::1]:repo");
        assert_eq!(url.host.as_deref(), Some("::1"));
        assert_eq!(url.port, Some(22));
        assert_eq!(url.path, "repo");
    }

    #[test]
    fn paths_follow_the_authority() {
        assert_eq!(parse("ssh://h:2222/srv/r.git").path, "/srv/r.git");
        assert_eq!(parse("git@github.com:org/r.git").path, "org/r.git");
        assert_eq!(parse("https://h/org/r.git").path, "/org/r.git");
        assert_eq!(parse("https://h").path, "");
        assert_eq!(parse("git://h:9418/r.git").path, "/r.git");
        assert_eq!(parse("file:///srv/r.git").path, "");
    }

    #[test]
    fn network_urls() {
        let url = parse("https://git.example.com/org/repo.git");
        assert_eq!(url.transport, Transport::Https);
        assert_eq!(url.port, Some(443));
        let url = parse("http://127.0.0.1:8080/repo");
        assert_eq!(url.transport, Transport::Http);
        assert_eq!(url.port, Some(8080));
        let url = parse("git://127.0.0.1:9419/repo");
        assert_eq!(url.transport, Transport::Git);
        assert_eq!(url.port, Some(9419));
    }

    #[test]
    fn rejects_bad_urls() {
        assert!(RemoteUrl::parse("").is_err());
        assert!(RemoteUrl::parse("ftp://host/repo").is_err());
        assert!(RemoteUrl::parse("https://host:notaport/repo").is_err());
        assert!(RemoteUrl::parse("https:///repo").is_err());
        assert!(RemoteUrl::parse("https://host/repo\n").is_err());
    }

    #[test]
    fn rejects_and_redacts_embedded_passwords() {
        let err = RemoteUrl::parse("https://alice:hunter2@host/repo")
            .expect_err("password must be rejected")
            .to_string();
        assert!(!err.contains("hunter2"), "{err}");
        assert_eq!(
            redact_url("https://alice:hunter2@host/repo"),
            "https://alice:<redacted>@host/repo"
        );
        assert_eq!(redact_url("https://host/a:b@c"), "https://host/a:b@c");
    }
}
