//! Which transport a `repoUri` uses, and whether Git can use it at all.
//!
//! herald-git does the real URL handling (through libgit2); this only rejects what would fail
//! or leak later, with a message that says how to fix it.

/// How a repository is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    Https,
    Http,
    /// `ssh://` or scp-like `user@host:path`.
    Ssh,
    /// `git://`: unauthenticated and unencrypted.
    Git,
    /// `file://` or an absolute path.
    File,
}

impl Transport {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Transport::Https => "https",
            Transport::Http => "http",
            Transport::Ssh => "ssh",
            Transport::Git => "git",
            Transport::File => "file",
        }
    }
}

const EMBEDDED_PASSWORD: &str = "the URI embeds a password; remove it and put the credentials \
     in a Secret referenced by auth.secretRef";

const SUPPORTED: &str = "use https://, http://, ssh://, git://, file:// or user@host:path";

/// Classifies `uri`, or says what is wrong with it.
pub(crate) fn classify(uri: &str) -> Result<Transport, String> {
    if uri.trim().is_empty() {
        return Err("repoUri must not be empty".into());
    }
    if uri.chars().any(char::is_control) {
        return Err("repoUri must not contain control characters".into());
    }
    if uri.trim() != uri {
        return Err("repoUri must not start or end with whitespace".into());
    }
    if let Some((scheme, rest)) = uri.split_once("://") {
        let transport = match scheme.to_ascii_lowercase().as_str() {
            "https" => Transport::Https,
            "http" => Transport::Http,
            "ssh" | "git+ssh" | "ssh+git" => Transport::Ssh,
            "git" => Transport::Git,
            "file" => Transport::File,
            _ => return Err(format!("unsupported scheme {scheme:?}: {SUPPORTED}")),
        };
        no_space_unless_local(uri, transport)?;
        hierarchical(transport, rest)?;
        return Ok(transport);
    }
    if uri.starts_with('/') {
        return Ok(Transport::File);
    }
    if uri == "." || uri == ".." || uri.starts_with("./") || uri.starts_with("../") {
        return Err(format!(
            "{uri:?} is a relative path: use an absolute path or a file:// URI (local mode \
             resolves ./ and ../ against the manifest's folder when it loads it)"
        ));
    }
    no_space_unless_local(uri, Transport::Ssh)?;
    // `user:password@host:path`: the first ':' sits inside the user info.
    let head = uri.split('/').next().unwrap_or_default();
    if head
        .split_once('@')
        .is_some_and(|(user, _)| user.contains(':'))
    {
        return Err(EMBEDDED_PASSWORD.into());
    }
    if let Some((authority, path)) = split_scp_like(uri) {
        authority_parts(authority, false)?;
        if path.is_empty() {
            return Err("the URI names no repository path after ':'".into());
        }
        return Ok(Transport::Ssh);
    }
    Err(format!(
        "{uri:?} has no scheme and is not an absolute path: {SUPPORTED}"
    ))
}

/// Local paths may contain spaces; network URIs may not (they would need %20).
fn no_space_unless_local(uri: &str, transport: Transport) -> Result<(), String> {
    if transport != Transport::File && uri.contains(char::is_whitespace) {
        return Err("repoUri must not contain whitespace".into());
    }
    Ok(())
}

/// Checks what follows `scheme://`.
fn hierarchical(transport: Transport, rest: &str) -> Result<(), String> {
    let (authority, path) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, ""),
    };
    if transport == Transport::File {
        if !authority.is_empty() && !authority.eq_ignore_ascii_case("localhost") {
            return Err("file:// URIs must not name a host: write file:///absolute/path".into());
        }
        if path.len() <= 1 {
            return Err("file:// URI names no path".into());
        }
        return Ok(());
    }
    authority_parts(authority, true)?;
    if path.trim_matches('/').is_empty() {
        return Err("the URI names no repository path".into());
    }
    Ok(())
}

/// Checks `[user@]host[:port]` (scp-like URIs have no port).
fn authority_parts(authority: &str, allow_port: bool) -> Result<(), String> {
    let host_port = match authority.rsplit_once('@') {
        Some((userinfo, _)) if userinfo.contains(':') => {
            return Err(EMBEDDED_PASSWORD.into());
        }
        Some(("", _)) => return Err("the user name before '@' is empty".into()),
        Some((_, host_port)) => host_port,
        None => authority,
    };
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, after) = bracketed
            .split_once(']')
            .ok_or("unterminated '[' in the host")?;
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err("unexpected text after ']' in the host".into()),
            },
        }
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err("the URI names no host".into());
    }
    match port {
        Some(port) if !allow_port => Err(format!("unexpected ':' in host {host}:{port}")),
        Some(port) if port.parse::<u16>().map_or(true, |p| p == 0) => {
            Err(format!("invalid port {port:?}"))
        }
        _ => Ok(()),
    }
}

/// Git reads `[user@]host:path` as SSH when a ':' comes before any '/'. Returns
/// (`[user@]host`, `path`).
fn split_scp_like(uri: &str) -> Option<(&str, &str)> {
    // A bracketed host may contain colons itself: `[::1]:repo`, `git@[::1]:repo`.
    let search_from = if uri.starts_with('[') || uri.contains("@[") {
        uri.find(']')?
    } else {
        0
    };
    let colon = search_from + uri[search_from..].find(':')?;
    if uri.find('/').is_some_and(|slash| slash < colon) {
        return None;
    }
    Some((&uri[..colon], &uri[colon + 1..]))
}

/// An `http(s)://host...` URL with nothing that would be mangled on the way.
pub(crate) fn http_url(url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or("use an https:// or http:// URL")?;
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("the URL must not contain spaces or control characters".into());
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err("the URL has no host".into());
    }
    if authority.contains('@') {
        return Err(
            "the URL embeds credentials; put them in the Secret's `token` key instead".into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_forms() {
        for (uri, transport) in [
            ("https://github.com/org/repo.git", Transport::Https),
            ("HTTPS://github.com/org/repo", Transport::Https),
            ("https://git.example.com:8443/org/repo", Transport::Https),
            (
                "https://x-access-token@github.com/org/repo",
                Transport::Https,
            ),
            ("http://127.0.0.1:8080/repo.git", Transport::Http),
            ("http://[::1]:8080/repo.git", Transport::Http),
            ("ssh://git@github.com/org/repo.git", Transport::Ssh),
            ("ssh://git@host:2222/srv/repo", Transport::Ssh),
            ("git+ssh://host/repo", Transport::Ssh),
            ("git@github.com:org/repo.git", Transport::Ssh),
            ("host.example:repo", Transport::Ssh),
            ("git@[::1]:repo", Transport::Ssh),
            ("git://localhost:9418/repo", Transport::Git),
            ("file:///srv/git/repo", Transport::File),
            ("file://localhost/srv/git/repo", Transport::File),
            ("/srv/git/repo.git", Transport::File),
            ("file:///home/me/my repos/app", Transport::File),
            ("/home/me/my repos/app", Transport::File),
        ] {
            assert_eq!(classify(uri), Ok(transport), "{uri}");
        }
    }

    #[track_caller]
    fn rejected(uri: &str, expect: &str) {
        match classify(uri) {
            Ok(t) => panic!("{uri:?} was accepted as {t:?}"),
            Err(e) => assert!(e.contains(expect), "{uri:?}: {e:?} lacks {expect:?}"),
        }
    }

    #[test]
    fn rejected_forms() {
        rejected("", "must not be empty");
        rejected("   ", "must not be empty");
        rejected("https://host/repo name", "whitespace");
        rejected(" https://host/repo", "whitespace");
        rejected("file:///srv/repo\n", "control characters");
        rejected("git@host:my repo", "whitespace");
        rejected("ftp://host/repo", "unsupported scheme \"ftp\"");
        rejected("s3://bucket/repo", "unsupported scheme");
        rejected("github.com/org/repo", "no scheme");
        rejected("repo", "no scheme");
        rejected("./repo", "relative path");
        rejected("../..", "relative path");
        rejected("https://user:hunter2@host/repo", "auth.secretRef");
        rejected("ssh://git:pw@host/repo", "password");
        rejected("git:pw@host:repo", "password");
        rejected("https:///repo", "no host");
        rejected("https://host", "no repository path");
        rejected("https://host/", "no repository path");
        rejected("https://host:http/repo", "invalid port");
        rejected("https://host:0/repo", "invalid port");
        rejected("https://[::1/repo", "unterminated");
        rejected("file://server/share/repo", "must not name a host");
        rejected("file://", "no path");
        rejected("git@github.com:", "no repository path");
        rejected("@host:repo", "user name before '@' is empty");
        rejected("https://@host/repo", "user name before '@' is empty");
        rejected("git@:repo", "no host");
    }

    #[test]
    fn password_is_not_echoed() {
        let e = classify("https://user:hunter2@host/repo").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
        let e = classify("git:hunter2@host:repo").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
    }
}
