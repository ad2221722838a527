//! Image references, `[registry[:port]/]path[:tag][@digest]`, parsed and normalised so that two
//! spellings of one repository compare equal and two different repositories never do.
//!
//! Normalisation follows the Docker and OCI tooling: a missing registry is Docker Hub, Docker
//! Hub's aliases fold into `docker.io`, a one-segment Docker Hub path is an official image under
//! `library/`, and the registry host is lower-cased (hosts are case-insensitive; paths are not,
//! and the grammar allows only lower case there anyway). Matching is equality of the normalised
//! repository, never a prefix or a substring.

use std::fmt;

/// Docker Hub, as Herald names it after normalisation.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that serves Docker Hub's registry API (`docker.io` itself does not).
const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// The key Docker Hub's credentials sit under in a `.dockerconfigjson`, as `docker login` writes
/// it and `docker_credential` looks it up.
const DOCKER_HUB_CONFIG_KEY: &str = "https://index.docker.io/v1/";
/// Other names of Docker Hub, folded into [`DOCKER_HUB`].
const DOCKER_HUB_ALIASES: [&str; 3] = [DOCKER_HUB, "index.docker.io", DOCKER_HUB_API];
/// The distribution spec's limit on a repository name (registry included).
const MAX_NAME_LENGTH: usize = 255;
/// The distribution spec's limit on a tag.
const MAX_TAG_LENGTH: usize = 128;

/// Why a string is not an image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference {input:?}: {problem}")]
pub struct ReferenceError {
    /// The string as given.
    pub input: String,
    /// What is wrong with it.
    pub problem: ReferenceProblem,
}

/// The part of a reference that is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceProblem {
    #[error("it is empty")]
    Empty,
    #[error("it contains white space")]
    WhiteSpace,
    #[error("the registry {0:?} is not a host name with an optional port")]
    Registry(String),
    #[error(
        "the path component {0:?} is not lower-case letters and digits joined by '.', '_', '__' or '-'"
    )]
    PathComponent(String),
    #[error("the name is longer than {MAX_NAME_LENGTH} characters")]
    TooLong,
    #[error(
        "the tag {0:?} is not 1 to 128 of letters, digits, '_', '.' and '-', not starting with '.' or '-'"
    )]
    Tag(String),
    #[error("the digest {0:?} is not algorithm:hex (sha256 with 64 hex digits, sha512 with 128)")]
    Digest(String),
    #[error("a repository has no tag or digest, but {0:?} has one")]
    NotARepository(String),
}

/// A repository, normalised: `docker.io/library/nginx`, `ghcr.io/org/app`, `localhost:5000/x`.
/// Two `Repository` values are equal exactly when they name the same repository.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Repository {
    registry: String,
    path: String,
}

/// A parsed reference: its repository, the name as it was written (kept so that an edit writes
/// the file's own spelling back), and its tag and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    repository: Repository,
    written_name: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl Reference {
    /// Parse `[registry[:port]/]path[:tag][@digest]`.
    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        let fail = |problem| ReferenceError {
            input: input.to_owned(),
            problem,
        };
        if input.is_empty() {
            return Err(fail(ReferenceProblem::Empty));
        }
        if input.chars().any(char::is_whitespace) {
            return Err(fail(ReferenceProblem::WhiteSpace));
        }
        let (name_and_tag, digest) = match input.split_once('@') {
            Some((rest, digest)) => (rest, Some(checked_digest(digest).map_err(fail)?)),
            None => (input, None),
        };
        let (written_name, tag) = split_tag(name_and_tag);
        let tag = tag.map(checked_tag).transpose().map_err(fail)?;
        let repository = Repository::from_name(written_name).map_err(fail)?;
        Ok(Self {
            repository,
            written_name: written_name.to_owned(),
            tag,
            digest,
        })
    }

    /// The normalised repository.
    pub fn repository(&self) -> &Repository {
        &self.repository
    }

    /// The repository as it was written (`nginx` stays `nginx`).
    pub fn written_name(&self) -> &str {
        &self.written_name
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The reference written with its own spelling of the name and a new tag. The digest is
    /// dropped: it pins the old image, and a runtime given `name:tag@digest` pulls the digest,
    /// so keeping it would make the new tag a label that changes nothing.
    pub fn with_tag(&self, tag: &str) -> String {
        format!("{}:{tag}", self.written_name)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written_name)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl Repository {
    /// Parse a repository, which has neither tag nor digest.
    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        let reference = Reference::parse(input)?;
        if reference.tag.is_some() || reference.digest.is_some() {
            return Err(ReferenceError {
                input: input.to_owned(),
                problem: ReferenceProblem::NotARepository(input.to_owned()),
            });
        }
        Ok(reference.repository)
    }

    /// The normalised registry: `docker.io`, `ghcr.io`, `localhost:5000`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The path inside the registry: `library/nginx`, `org/app`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Whether `image` (a reference with or without tag or digest) names this repository.
    /// Exact: `example.com/app` matches neither `example.com/app-sidecar` nor
    /// `example.com/team/app`. A string that is not a reference matches nothing.
    pub fn matches(&self, image: &str) -> bool {
        Reference::parse(image).is_ok_and(|reference| reference.repository == *self)
    }

    /// The host (and port) to send registry API calls to.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// The key this repository's credentials are looked up under in a `.dockerconfigjson`.
    pub fn credential_key(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_CONFIG_KEY
        } else {
            &self.registry
        }
    }

    /// Whether a `.dockerconfigjson` `auths` key names this repository's registry. `docker
    /// login` writes keys in several shapes (`ghcr.io`, `https://ghcr.io`,
    /// `https://index.docker.io/v1/`), so the scheme and any path are ignored, as the Docker
    /// CLI does, and Docker Hub's aliases fold.
    pub fn credential_key_matches(&self, key: &str) -> bool {
        let without_scheme = key
            .strip_prefix("https://")
            .or_else(|| key.strip_prefix("http://"))
            .unwrap_or(key);
        let host = without_scheme
            .split_once('/')
            .map_or(without_scheme, |(host, _)| host);
        normalise_registry(host) == self.registry
    }

    /// Split a name (no tag, no digest) into a normalised registry and path.
    fn from_name(name: &str) -> Result<Self, ReferenceProblem> {
        if name.len() > MAX_NAME_LENGTH {
            return Err(ReferenceProblem::TooLong);
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, rest)) if looks_like_registry(first) => (checked_registry(first)?, rest),
            _ => (DOCKER_HUB.to_owned(), name),
        };
        for component in path.split('/') {
            if !is_path_component(component) {
                return Err(ReferenceProblem::PathComponent(component.to_owned()));
            }
        }
        let path = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_owned()
        };
        Ok(Self { registry, path })
    }
}

impl fmt::Display for Repository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.path)
    }
}

impl std::str::FromStr for Repository {
    type Err = ReferenceError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        Self::parse(input)
    }
}

/// The tag is what follows the last `:` after the last `/`; a `:` before that is a port.
fn split_tag(name_and_tag: &str) -> (&str, Option<&str>) {
    let last_component_start = name_and_tag.rfind('/').map_or(0, |slash| slash + 1);
    match name_and_tag[last_component_start..].rfind(':') {
        Some(colon) => {
            let colon = last_component_start + colon;
            (&name_and_tag[..colon], Some(&name_and_tag[colon + 1..]))
        }
        None => (name_and_tag, None),
    }
}

/// Docker's rule: the first component is a registry when it has a `.` or a `:`, is
/// `localhost`, or has an upper-case letter (which a path may not).
fn looks_like_registry(first: &str) -> bool {
    first.contains(['.', ':'])
        || first == "localhost"
        || first.starts_with('[')
        || first.chars().any(|c| c.is_ascii_uppercase())
}

fn checked_registry(registry: &str) -> Result<String, ReferenceProblem> {
    let invalid = || ReferenceProblem::Registry(registry.to_owned());
    let (host, port) = split_port(registry).ok_or_else(invalid)?;
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
    }
    if !is_host(host) {
        return Err(invalid());
    }
    Ok(normalise_registry(registry))
}

/// `host[:port]`, where the host may be a bracketed IPv6 address holding colons itself.
fn split_port(registry: &str) -> Option<(&str, Option<&str>)> {
    if registry.starts_with('[') {
        let close = registry.find(']')?;
        let (host, rest) = registry.split_at(close + 1);
        return match rest.strip_prefix(':') {
            Some(port) => Some((host, Some(port))),
            None if rest.is_empty() => Some((host, None)),
            None => None,
        };
    }
    Some(match registry.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (registry, None),
    })
}

fn is_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return !inner.is_empty() && inner.chars().all(|c| c.is_ascii_hexdigit() || c == ':');
    }
    !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// Lower-case the host and fold Docker Hub's aliases.
fn normalise_registry(registry: &str) -> String {
    let lower = registry.to_ascii_lowercase();
    if DOCKER_HUB_ALIASES.contains(&lower.as_str()) {
        DOCKER_HUB.to_owned()
    } else {
        lower
    }
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`, the distribution spec's path component.
fn is_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let (Some(first), Some(last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if !alnum(first) || !alnum(last) {
        return false;
    }
    let mut separator = String::new();
    for &b in bytes {
        if alnum(&b) {
            if !matches!(separator.as_str(), "" | "." | "_" | "__") && !is_dashes(&separator) {
                return false;
            }
            separator.clear();
        } else if matches!(b, b'.' | b'_' | b'-') {
            separator.push(char::from(b));
        } else {
            return false;
        }
    }
    true
}

fn is_dashes(separator: &str) -> bool {
    !separator.is_empty() && separator.bytes().all(|b| b == b'-')
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`, the distribution spec's tag.
pub(crate) fn is_valid_tag(tag: &str) -> bool {
    let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    !tag.is_empty()
        && tag.len() <= MAX_TAG_LENGTH
        && !tag.starts_with(['.', '-'])
        && tag.chars().all(valid_char)
}

fn checked_tag(tag: &str) -> Result<String, ReferenceProblem> {
    if is_valid_tag(tag) {
        Ok(tag.to_owned())
    } else {
        Err(ReferenceProblem::Tag(tag.to_owned()))
    }
}

/// `algorithm:encoded`; the registered algorithms have a fixed length of lower-case hex.
fn checked_digest(digest: &str) -> Result<String, ReferenceProblem> {
    let invalid = || ReferenceProblem::Digest(digest.to_owned());
    let (algorithm, encoded) = digest.split_once(':').ok_or_else(invalid)?;
    let algorithm_ok = !algorithm.is_empty()
        && algorithm.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '.' | '_' | '-')
        });
    let hex_of = |length: usize| {
        encoded.len() == length
            && encoded
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    };
    let encoded_ok = match algorithm {
        "sha256" => hex_of(64),
        "sha512" => hex_of(128),
        _ => {
            encoded.len() >= 32
                && encoded
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '=' | '_' | '-'))
        }
    };
    if algorithm_ok && encoded_ok {
        Ok(digest.to_owned())
    } else {
        Err(invalid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn repo(input: &str) -> Repository {
        Repository::parse(input).unwrap()
    }

    fn problem(input: &str) -> ReferenceProblem {
        Reference::parse(input).unwrap_err().problem
    }

    #[test]
    fn docker_hub_spellings_are_one_repository() {
        let nginx = repo("nginx");
        for spelling in [
            "docker.io/nginx",
            "docker.io/library/nginx",
            "index.docker.io/library/nginx",
            "registry-1.docker.io/nginx",
            "DOCKER.IO/nginx",
            "library/nginx",
        ] {
            assert_eq!(repo(spelling), nginx, "{spelling}");
        }
        assert_eq!(nginx.to_string(), "docker.io/library/nginx");
        assert_eq!(nginx.registry(), "docker.io");
        assert_eq!(nginx.path(), "library/nginx");
    }

    #[test]
    fn docker_hub_user_repositories_get_no_library_prefix() {
        assert_eq!(repo("bitnami/redis").to_string(), "docker.io/bitnami/redis");
        assert_ne!(repo("bitnami/redis"), repo("library/redis"));
    }

    #[test]
    fn other_registries_keep_their_host_lower_cased_and_path_as_is() {
        assert_eq!(repo("GHCR.io/org/app").to_string(), "ghcr.io/org/app");
        assert_eq!(repo("localhost:5000/x").to_string(), "localhost:5000/x");
        assert_eq!(repo("127.0.0.1:5000/x").to_string(), "127.0.0.1:5000/x");
        assert_ne!(repo("localhost:5000/x"), repo("127.0.0.1:5000/x"));
        assert_eq!(repo("localhost/x").registry(), "localhost");
        assert_eq!(repo("[::1]:5000/x").registry(), "[::1]:5000");
        assert_eq!(
            repo("quay.io/app").path(),
            "app",
            "library/ is Docker Hub's alone"
        );
    }

    #[test]
    fn tag_and_digest_are_split_off() {
        let reference = Reference::parse(&format!("localhost:5000/team/app:1.2.3@{SHA}")).unwrap();
        assert_eq!(reference.repository(), &repo("localhost:5000/team/app"));
        assert_eq!(reference.written_name(), "localhost:5000/team/app");
        assert_eq!(reference.tag(), Some("1.2.3"));
        assert_eq!(reference.digest(), Some(SHA));

        let untagged = Reference::parse("localhost:5000/app").unwrap();
        assert_eq!(untagged.tag(), None, "the port is not a tag");

        let digest_only = Reference::parse(&format!("nginx@{SHA}")).unwrap();
        assert_eq!((digest_only.tag(), digest_only.digest()), (None, Some(SHA)));
    }

    #[test]
    fn a_new_tag_keeps_the_written_name_and_drops_the_digest() {
        let reference = Reference::parse(&format!("nginx:1.0@{SHA}")).unwrap();
        assert_eq!(reference.with_tag("1.1"), "nginx:1.1");
        assert_eq!(reference.to_string(), format!("nginx:1.0@{SHA}"));
    }

    #[test]
    fn matching_is_exact_never_by_prefix_or_substring() {
        let app = repo("example.com/app");
        assert!(app.matches("example.com/app"));
        assert!(app.matches("example.com/app:1.0"));
        assert!(app.matches("EXAMPLE.com/app:1.0"));
        assert!(!app.matches("example.com/app-sidecar:1.0"));
        assert!(!app.matches("example.com/team/app:1.0"));
        assert!(!app.matches("example.com/ap"));
        assert!(!app.matches("other.example.com/app"));
        assert!(!app.matches("not a reference"));
        assert!(repo("nginx").matches("docker.io/library/nginx:1.25"));
        assert!(!repo("nginx").matches("nginx-unprivileged:1.25"));
    }

    #[test]
    fn api_host_and_credential_key() {
        assert_eq!(repo("nginx").api_host(), "registry-1.docker.io");
        assert_eq!(
            repo("nginx").credential_key(),
            "https://index.docker.io/v1/"
        );
        assert_eq!(repo("ghcr.io/org/app").api_host(), "ghcr.io");
        assert_eq!(repo("localhost:5000/x").credential_key(), "localhost:5000");
    }

    #[test]
    fn credential_keys_match_in_every_shape_docker_writes() {
        let hub = repo("nginx");
        assert!(hub.credential_key_matches("https://index.docker.io/v1/"));
        assert!(hub.credential_key_matches("docker.io"));
        assert!(hub.credential_key_matches("registry-1.docker.io"));
        assert!(!hub.credential_key_matches("ghcr.io"));
        let local = repo("localhost:5000/x");
        assert!(local.credential_key_matches("http://localhost:5000"));
        assert!(local.credential_key_matches("localhost:5000"));
        assert!(!local.credential_key_matches("localhost"));
        assert!(!local.credential_key_matches("localhost:5001"));
    }

    #[test]
    fn malformed_references_say_what_is_wrong() {
        assert_eq!(problem(""), ReferenceProblem::Empty);
        assert_eq!(problem("nginx :1"), ReferenceProblem::WhiteSpace);
        assert_eq!(
            problem("Nginx"),
            ReferenceProblem::PathComponent("Nginx".into())
        );
        assert_eq!(
            problem("ghcr.io/Org/app"),
            ReferenceProblem::PathComponent("Org".into())
        );
        assert_eq!(
            problem("ghcr.io//app"),
            ReferenceProblem::PathComponent(String::new())
        );
        assert_eq!(
            problem("app-"),
            ReferenceProblem::PathComponent("app-".into())
        );
        assert_eq!(
            problem("a..b"),
            ReferenceProblem::PathComponent("a..b".into())
        );
        assert_eq!(problem("nginx:"), ReferenceProblem::Tag(String::new()));
        assert_eq!(problem("nginx:-x"), ReferenceProblem::Tag("-x".into()));
        assert_eq!(problem("nginx:a+b"), ReferenceProblem::Tag("a+b".into()));
        assert_eq!(
            problem("nginx@sha256:abc"),
            ReferenceProblem::Digest("sha256:abc".into())
        );
        assert_eq!(
            problem("nginx@latest"),
            ReferenceProblem::Digest("latest".into())
        );
        assert_eq!(
            problem("bad_host.io:x/app"),
            ReferenceProblem::Registry("bad_host.io:x".into())
        );
        assert_eq!(problem(&"a".repeat(300)), ReferenceProblem::TooLong);
        assert!(matches!(
            problem("{{ .Values.image }}"),
            ReferenceProblem::WhiteSpace
        ));
    }

    #[test]
    fn path_components_allow_the_spec_separators() {
        for ok in ["a", "a.b", "a_b", "a__b", "a-b", "a---b", "0app"] {
            assert!(is_path_component(ok), "{ok}");
        }
        for bad in ["a___b", "a._b", "_a", "a.", "a/b", "A"] {
            assert!(!is_path_component(bad), "{bad}");
        }
    }

    #[test]
    fn a_repository_has_no_tag() {
        let error = Repository::parse("nginx:1.0").unwrap_err();
        assert_eq!(
            error.problem,
            ReferenceProblem::NotARepository("nginx:1.0".into())
        );
        assert_eq!(
            error.to_string(),
            "invalid image reference \"nginx:1.0\": a repository has no tag or digest, but \"nginx:1.0\" has one"
        );
    }
}
