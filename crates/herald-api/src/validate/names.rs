//! Checks for names and small strings: Kubernetes object names, Secret keys, header names,
//! commit hashes and Git ref names. Each returns the reason as a sentence fragment that reads
//! after the field's name ("must not be empty").

/// Regular expressions for the CRD schema (RE2 syntax, as the API server uses). They mirror
/// the hand-written checks below, which give better messages.
pub(crate) mod patterns {
    /// A DNS-1123 subdomain: object and Secret names.
    pub(crate) const DNS1123_SUBDOMAIN: &str =
        r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
    /// A DNS-1123 label: namespaces.
    pub(crate) const DNS1123_LABEL: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
    /// A key of a Secret's `data`.
    pub(crate) const SECRET_KEY: &str = r"^[-._a-zA-Z0-9]+$";
    /// An HTTP header field name (RFC 9110 token).
    pub(crate) const HTTP_HEADER: &str = r"^[-!#$%&'*+.^_`|~0-9A-Za-z]+$";
    /// A full commit id.
    pub(crate) const COMMIT: &str = r"^[0-9a-f]{40}$";
    /// A full ref name.
    pub(crate) const FULL_REF: &str = r"^refs/";
}

/// Longest DNS-1123 subdomain.
const SUBDOMAIN_MAX: usize = 253;
/// Longest DNS-1123 label.
const LABEL_MAX: usize = 63;

/// A DNS-1123 subdomain (what Kubernetes requires of most object names).
pub(crate) fn dns1123_subdomain(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.len() > SUBDOMAIN_MAX {
        return Err(format!(
            "{s:?} is {} characters long; the maximum is {SUBDOMAIN_MAX}",
            s.len()
        ));
    }
    if !s.split('.').all(is_label_shaped) {
        return Err(format!(
            "{s:?} is not a valid DNS-1123 subdomain: use lower-case letters, digits, '-' and \
             '.', starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

/// A DNS-1123 label (what Kubernetes requires of namespace names).
pub(crate) fn dns1123_label(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.len() > LABEL_MAX {
        return Err(format!(
            "{s:?} is {} characters long; the maximum is {LABEL_MAX}",
            s.len()
        ));
    }
    if !is_label_shaped(s) {
        return Err(format!(
            "{s:?} is not a valid DNS-1123 label: use lower-case letters, digits and '-', \
             starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

fn is_label_shaped(label: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    label.starts_with(alnum)
        && label.ends_with(alnum)
        && label.chars().all(|c| alnum(c) || c == '-')
}

/// A key in a Secret's `data`.
pub(crate) fn secret_key(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("key must not be empty".into());
    }
    if s.len() > SUBDOMAIN_MAX {
        return Err(format!("key is longer than {SUBDOMAIN_MAX} characters"));
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
    {
        return Err(format!(
            "{s:?} is not a valid Secret key: use letters, digits, '-', '_' and '.'"
        ));
    }
    Ok(())
}

/// An HTTP header name.
pub(crate) fn http_header_name(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("header name must not be empty".into());
    }
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if !s.chars().all(token) {
        return Err(format!(
            "{s:?} is not a valid HTTP header name: use letters, digits and !#$%&'*+-.^_`|~ \
             (no spaces or ':')"
        ));
    }
    Ok(())
}

/// A full commit id: 40 lower-case hex digits, as `git ls-remote` prints them.
pub(crate) fn commit_hash(s: &str) -> Result<(), String> {
    if s.len() == 40 && s.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')) {
        return Ok(());
    }
    let hint = if s.len() == 40 && s.chars().all(|c| c.is_ascii_hexdigit()) {
        "use lower-case hex digits"
    } else if s.len() < 40 && !s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit()) {
        "abbreviated ids are not accepted; give all 40 hex digits"
    } else {
        "a commit id is 40 lower-case hex digits"
    };
    Err(format!("{s:?} is not a full commit id: {hint}"))
}

/// Which kind of ref a short name is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefKind {
    Branch,
    Tag,
}

impl RefKind {
    fn noun(self) -> &'static str {
        match self {
            RefKind::Branch => "branch",
            RefKind::Tag => "tag",
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            RefKind::Branch => "refs/heads/",
            RefKind::Tag => "refs/tags/",
        }
    }
}

/// A branch or tag name as written in a trigger (`main`, `v1.2.0`), without `refs/...`.
pub(crate) fn short_ref_name(s: &str, kind: RefKind) -> Result<(), String> {
    let noun = kind.noun();
    let invalid = |why: &str| Err(format!("invalid {noun} name {s:?}: {why}"));
    if s.is_empty() {
        return Err(format!("{noun} name must not be empty"));
    }
    if let Some(short) = s.strip_prefix(kind.prefix()) {
        return invalid(&format!(
            "give the short name ({short:?}); Herald adds {:?} itself",
            kind.prefix()
        ));
    }
    if s.starts_with('-') {
        return invalid("must not start with '-'");
    }
    if kind == RefKind::Branch && s == "HEAD" {
        return invalid("HEAD is not a branch");
    }
    ref_name_rules(s).or_else(|why| invalid(&why))
}

/// A full ref name (`refs/heads/main`).
pub(crate) fn full_ref_name(s: &str) -> Result<(), String> {
    if !s.starts_with("refs/") {
        return Err(format!(
            "{s:?} is not a full ref name: it must start with \"refs/\""
        ));
    }
    ref_name_rules(s).map_err(|why| format!("invalid ref name {s:?}: {why}"))
}

/// The basic rules of `git check-ref-format`.
fn ref_name_rules(s: &str) -> Result<(), String> {
    if let Some(c) = s.chars().find(|c| c.is_ascii_control() || *c == ' ') {
        return Err(match c {
            ' ' => "must not contain spaces".into(),
            _ => "must not contain control characters".into(),
        });
    }
    if let Some(c) = s.chars().find(|c| "~^:?*[\\".contains(*c)) {
        return Err(format!("must not contain {c:?} (none of ~ ^ : ? * [ \\)"));
    }
    if s.contains("..") {
        return Err("must not contain \"..\"".into());
    }
    if s.contains("@{") {
        return Err("must not contain \"@{\"".into());
    }
    if s == "@" {
        return Err("must not be \"@\"".into());
    }
    if s.starts_with('/') || s.ends_with('/') || s.contains("//") {
        return Err("must not start or end with '/' or contain \"//\"".into());
    }
    if s.ends_with('.') {
        return Err("must not end with '.'".into());
    }
    for component in s.split('/') {
        if component.starts_with('.') {
            return Err("no '/'-separated part may start with '.'".into());
        }
        if component.ends_with(".lock") {
            return Err("no '/'-separated part may end with \".lock\"".into());
        }
    }
    Ok(())
}

/// An environment variable name as Kubernetes 1.20 accepts it.
pub(crate) fn env_var_name(s: &str) -> Result<(), String> {
    let first = |c: char| c.is_ascii_alphabetic() || matches!(c, '-' | '.' | '_');
    let rest = |c: char| first(c) || c.is_ascii_digit();
    match s.chars().next() {
        None => Err("must not be empty".into()),
        Some(c) if first(c) && s.chars().all(rest) => Ok(()),
        Some(_) => Err(format!(
            "{s:?} is not a valid environment variable name: use letters, digits, '_', '-' \
             and '.', not starting with a digit"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomains() {
        for ok in [
            "a",
            "my-repo",
            "repo.v2",
            "0abc",
            "a-b.c-d",
            &"a".repeat(253),
        ] {
            assert_eq!(dns1123_subdomain(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "My",
            "-a",
            "a-",
            "a..b",
            ".a",
            "a.",
            "a_b",
            "a b",
            &"a".repeat(254),
        ] {
            assert!(dns1123_subdomain(bad).is_err(), "{bad:?}");
        }
        assert_eq!(dns1123_subdomain(""), Err("must not be empty".into()));
    }

    #[test]
    fn labels() {
        assert_eq!(dns1123_label("team-a"), Ok(()));
        for bad in ["", "a.b", "A", "-a", &"a".repeat(64)] {
            assert!(dns1123_label(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn secret_keys() {
        for ok in [
            "token",
            "ssh-privatekey",
            "known_hosts",
            ".dockerconfigjson",
            "ca.crt",
        ] {
            assert_eq!(secret_key(ok), Ok(()), "{ok}");
        }
        for bad in ["", "a/b", "a b", "ключ"] {
            assert!(secret_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn header_names() {
        for ok in ["x-trigger-auth", "X-Gitlab-Token", "Authorization"] {
            assert_eq!(http_header_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", "x trigger", "x:y", "x\n", "\"quoted\""] {
            assert!(http_header_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn commit_hashes() {
        assert_eq!(commit_hash(&"a1".repeat(20)), Ok(()));
        let upper = commit_hash(&"A1".repeat(20)).unwrap_err();
        assert!(upper.contains("lower-case"), "{upper}");
        let short = commit_hash("abc1234").unwrap_err();
        assert!(short.contains("abbreviated"), "{short}");
        assert!(commit_hash("").is_err());
        assert!(commit_hash("main").is_err());
        assert!(commit_hash(&"g".repeat(40)).is_err());
    }

    #[test]
    fn short_ref_names() {
        for ok in [
            "main",
            "feature/x",
            "release-1.2",
            "v1.0.0",
            "a@b",
            "user/fix_1",
        ] {
            assert_eq!(short_ref_name(ok, RefKind::Branch), Ok(()), "{ok}");
            assert_eq!(short_ref_name(ok, RefKind::Tag), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "has space",
            "a..b",
            "-x",
            "a~1",
            "a^",
            "a:b",
            "a?",
            "a*",
            "a[",
            "a\\b",
            "/a",
            "a/",
            "a//b",
            ".hidden",
            "a/.b",
            "x.lock",
            "a.",
            "@",
            "a@{1}",
            "tab\there",
        ] {
            assert!(short_ref_name(bad, RefKind::Branch).is_err(), "{bad:?}");
        }
        let e = short_ref_name("refs/heads/main", RefKind::Branch).unwrap_err();
        assert!(e.contains("short name (\"main\")"), "{e}");
        assert!(short_ref_name("refs/tags/v1", RefKind::Tag).is_err());
        assert!(short_ref_name("HEAD", RefKind::Branch).is_err());
        assert_eq!(
            short_ref_name("a b", RefKind::Tag),
            Err("invalid tag name \"a b\": must not contain spaces".into())
        );
    }

    #[test]
    fn full_ref_names() {
        assert_eq!(full_ref_name("refs/heads/main"), Ok(()));
        assert_eq!(full_ref_name("refs/tags/v1.0"), Ok(()));
        assert!(full_ref_name("main").is_err());
        assert!(full_ref_name("refs/heads/a..b").is_err());
    }

    #[test]
    fn env_var_names() {
        for ok in ["HOME", "_x", "a.b-c", "GIT_SHA1"] {
            assert_eq!(env_var_name(ok), Ok(()), "{ok}");
        }
        for bad in ["", "1A", "A=B", "A B"] {
            assert!(env_var_name(bad).is_err(), "{bad:?}");
        }
    }
}
