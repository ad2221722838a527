//! Payload parsing: which refs moved to which commits, and which files changed.

use serde_json::Value;

use super::Provider;
use super::commits::CommitList;
use super::headers::{Headers, header_str};
use super::pruned::{self, Payload};

/// What a verified delivery asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookEvent {
    /// One or more refs moved: branches and tags alike (see [`Push::kind`]). GitHub, Gitea and
    /// GitLab send one ref per delivery; Bitbucket can send several, so this is a list, in payload
    /// order, and never empty.
    Push(Vec<Push>),
    /// The sender is checking the hook (GitHub `ping`, Bitbucket Server `diagnostics:ping`).
    Ping,
    /// A well-formed event Herald does not act on; answer 2xx and say so.
    Ignored {
        /// The event name as the sender gave it (`pull_request`, `Merge Request Hook`, …).
        event: String,
    },
    /// `generic` / `generic-hmac`: the body is not read; fire the trigger for the refs it watches.
    Unspecified,
}

/// Whether a ref is a branch or a tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefKind {
    /// `refs/heads/…`
    Branch,
    /// `refs/tags/…`
    Tag,
    /// Any other ref (`refs/notes/…`, `refs/pull/…`).
    Other,
}

/// One ref update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// The full ref: `refs/heads/main`, `refs/tags/v1.2.0`.
    pub git_ref: String,
    /// The commit the ref now points at: 40 (or, for SHA-256 repositories, 64) lower-case hex
    /// digits; all zeros when the ref was deleted.
    pub revision: String,
    /// The ref was deleted.
    pub deleted: bool,
    /// Files added, modified or removed by the pushed commits, each once, in payload order.
    /// `None` means unknown — the provider sends no file lists (Bitbucket), or the list is
    /// incomplete (new branch, forced push, tag, more commits than the payload carries): a file
    /// filter must then treat the push as possibly touching anything.
    pub changed_files: Option<Vec<String>>,
    /// The repository the push is for, to match against a trigger's source.
    pub repository: Option<Repository>,
}

impl Push {
    /// Branch, tag or other, from [`Push::git_ref`].
    pub fn kind(&self) -> RefKind {
        if self.git_ref.starts_with("refs/heads/") {
            RefKind::Branch
        } else if self.git_ref.starts_with("refs/tags/") {
            RefKind::Tag
        } else {
            RefKind::Other
        }
    }

    /// The ref without `refs/heads/` or `refs/tags/`.
    pub fn short_ref(&self) -> &str {
        self.git_ref
            .strip_prefix("refs/heads/")
            .or_else(|| self.git_ref.strip_prefix("refs/tags/"))
            .unwrap_or(&self.git_ref)
    }
}

/// The repository named in a payload.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Repository {
    /// `owner/name` (GitHub, Gitea, Bitbucket Cloud), `group/sub/project` (GitLab),
    /// `PROJECT/slug` (Bitbucket Server).
    pub full_name: Option<String>,
    /// Clone and web URLs the payload gives, HTTPS and SSH, without duplicates.
    pub urls: Vec<String>,
}

impl Repository {
    /// Whether `url` (a source's clone URL, HTTPS, `ssh://` or `git@host:path`) names this
    /// repository: equal to one of [`Repository::urls`] ignoring scheme, user, a trailing `.git`
    /// or `/` and case; or, when the payload gives no URL, ending in `/<full_name>`.
    pub fn matches_url(&self, url: &str) -> bool {
        let want = normalize_url(url);
        if want.is_empty() {
            return false;
        }
        if !self.urls.is_empty() {
            return self.urls.iter().any(|u| normalize_url(u) == want);
        }
        self.full_name.as_deref().is_some_and(|n| {
            let n = n.trim_matches('/').to_ascii_lowercase();
            !n.is_empty() && want.ends_with(&format!("/{n}"))
        })
    }
}

fn normalize_url(url: &str) -> String {
    let mut s = url.trim();
    if let Some(i) = s.find("://") {
        s = &s[i + 3..];
    }
    // user@ (or user:password@) before the host
    let host_end = s.find('/').unwrap_or(s.len());
    if let Some(at) = s[..host_end].rfind('@') {
        s = &s[at + 1..];
    }
    let mut out = s.to_ascii_lowercase();
    // scp-like host:path (not host:port/path)
    if let Some(colon) = out.find(':') {
        let slash = out.find('/').unwrap_or(out.len());
        if colon < slash {
            let port = &out[colon + 1..slash];
            if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
                out.replace_range(colon..colon + 1, "/");
            }
        }
    }
    let trimmed = out.trim_end_matches('/');
    let trimmed = trimmed.strip_suffix(".git").unwrap_or(trimmed);
    trimmed.trim_end_matches('/').to_owned()
}

/// Why a payload could not be understood; the text is safe to send back with a 400.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The event-type header is absent (or not text).
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// The body is not JSON (or not a JSON object).
    #[error("malformed JSON: {0}")]
    Json(String),
    /// A form-encoded body (GitHub, Gitea) without a usable `payload` field.
    #[error("malformed form body: {0}")]
    Form(String),
    /// A field the event needs is absent or null; named by its path (`changes[0].ref.id`).
    #[error("missing field `{0}`")]
    MissingField(String),
    /// A field has the wrong JSON type.
    #[error("field `{field}` must be {expected}")]
    InvalidField {
        /// Its path.
        field: String,
        /// What it must be.
        expected: &'static str,
    },
    /// A commit id field is not 40 or 64 hex digits.
    #[error("field `{0}` is not a commit id (40 or 64 hex digits)")]
    BadRevision(String),
    /// A ref field is not a full ref (`refs/…`) or branch/tag name.
    #[error("field `{0}` is not a valid Git ref")]
    BadRef(String),
}

type Result<T> = std::result::Result<T, ParseError>;

/// Read what a delivery says. Call only after [`verify`](super::verify) succeeded.
///
/// The event type comes from the provider's header (`X-GitHub-Event`, `X-Gitea-Event` /
/// `X-Forgejo-Event` / `X-Gogs-Event`, `X-Gitlab-Event`, `X-Event-Key`); events other than pushes
/// and pings are [`HookEvent::Ignored`] without reading the body. GitHub and Gitea bodies may be
/// JSON or form-encoded (`payload=<json>`, GitHub's default content type). `generic` and
/// `generic-hmac` never read the body and give [`HookEvent::Unspecified`]. Never panics, whatever
/// the input.
pub fn parse<H: Headers + ?Sized>(
    provider: Provider,
    headers: &H,
    body: &[u8],
) -> Result<HookEvent> {
    parse_with(provider, headers, body, pruned::from_slice)
}

/// [`parse`] without reading which files the commits changed: every [`Push::changed_files`]
/// is `None`, and a malformed file list is not an error. For triggers that watch no files,
/// which need nothing else, at about half the cost for a typical push.
pub fn parse_refs<H: Headers + ?Sized>(
    provider: Provider,
    headers: &H,
    body: &[u8],
) -> Result<HookEvent> {
    parse_with(provider, headers, body, pruned::without_files)
}

/// Reads a JSON payload.
type Reader = fn(&[u8]) -> serde_json::Result<Payload>;

/// [`parse`], reading JSON with `read`.
fn parse_with<H: Headers + ?Sized>(
    provider: Provider,
    headers: &H,
    body: &[u8],
    read: Reader,
) -> Result<HookEvent> {
    match provider {
        Provider::Github => {
            let event = event_header(headers, &["x-github-event"])?;
            match event {
                "push" => {
                    let v = json_body(headers, body, true, read)?;
                    Ok(HookEvent::Push(vec![github_like(v, Some(2048), None)?]))
                }
                "ping" => Ok(HookEvent::Ping),
                other => Ok(ignored(other)),
            }
        }
        Provider::Gitea => {
            let event = event_header(
                headers,
                &["x-gitea-event", "x-forgejo-event", "x-gogs-event"],
            )?;
            match event {
                "push" => {
                    let v = json_body(headers, body, true, read)?;
                    Ok(HookEvent::Push(vec![github_like(
                        v,
                        None,
                        Some("total_commits"),
                    )?]))
                }
                "ping" => Ok(HookEvent::Ping),
                other => Ok(ignored(other)),
            }
        }
        Provider::Gitlab => {
            let event = event_header(headers, &["x-gitlab-event"])?;
            match event {
                "Push Hook" | "Tag Push Hook" => {
                    let v = json_body(headers, body, false, read)?;
                    Ok(HookEvent::Push(vec![gitlab(v)?]))
                }
                "System Hook" => {
                    let v = json_body(headers, body, false, read)?;
                    let name = opt_str(&v.fields, "event_name")
                        .or_else(|| opt_str(&v.fields, "object_kind"))
                        .unwrap_or("");
                    match name {
                        "push" | "tag_push" => Ok(HookEvent::Push(vec![gitlab(v)?])),
                        other => Ok(ignored(&format!("System Hook: {other}"))),
                    }
                }
                other => Ok(ignored(other)),
            }
        }
        Provider::BitbucketServer => {
            let event = event_header(headers, &["x-event-key"])?;
            match event {
                "repo:refs_changed" => {
                    let v = json_body(headers, body, false, read)?;
                    bitbucket_server(&v.fields, event)
                }
                "diagnostics:ping" => Ok(HookEvent::Ping),
                other => Ok(ignored(other)),
            }
        }
        Provider::BitbucketCloud => {
            let event = event_header(headers, &["x-event-key"])?;
            match event {
                "repo:push" => {
                    let v = json_body(headers, body, false, read)?;
                    bitbucket_cloud(&v.fields, event)
                }
                other => Ok(ignored(other)),
            }
        }
        Provider::Generic | Provider::GenericHmac => Ok(HookEvent::Unspecified),
    }
}

fn ignored(event: &str) -> HookEvent {
    // Bounded, printable: it ends up in a response and in the store.
    let event: String = event
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    HookEvent::Ignored { event }
}

fn event_header<'h, H: Headers + ?Sized>(
    headers: &'h H,
    names: &[&'static str],
) -> Result<&'h str> {
    names
        .iter()
        .find_map(|n| header_str(headers, n))
        .ok_or(ParseError::MissingHeader(names[0]))
}

fn json_body<H: Headers + ?Sized>(
    headers: &H,
    body: &[u8],
    form_ok: bool,
    read: Reader,
) -> Result<Payload> {
    let is_form = header_str(headers, "content-type").is_some_and(|ct| {
        ct.get(..33)
            .is_some_and(|p| p.eq_ignore_ascii_case("application/x-www-form-urlencoded"))
    });
    let payload;
    let json = if form_ok && is_form {
        payload = form_field(body, b"payload")?;
        &payload[..]
    } else {
        body
    };
    read(json).map_err(|e| ParseError::Json(e.to_string()))
}

/// The percent-decoded value of `name` in an `application/x-www-form-urlencoded` body.
fn form_field(body: &[u8], name: &[u8]) -> Result<Vec<u8>> {
    for pair in body.split(|&b| b == b'&') {
        let mut it = pair.splitn(2, |&b| b == b'=');
        let key = it.next().unwrap_or_default();
        if percent_decode(key)? == name {
            return percent_decode(it.next().unwrap_or_default());
        }
    }
    let hint = if body.trim_ascii_start().starts_with(b"{") {
        "; the body looks like JSON: send it with `Content-Type: application/json`"
    } else {
        ""
    };
    Err(ParseError::Form(format!(
        "the body was read as a form because its Content-Type is \
         application/x-www-form-urlencoded, and it has no `payload` field{hint}"
    )))
}

fn percent_decode(s: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = s.get(i + 1).and_then(|c| (*c as char).to_digit(16));
                let lo = s.get(i + 2).and_then(|c| (*c as char).to_digit(16));
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
                    _ => return Err(ParseError::Form("bad percent escape".into())),
                }
                i += 2;
            }
            _ => out.push(b),
        }
        i += 1;
    }
    Ok(out)
}

// ---- JSON navigation -------------------------------------------------------------------------

fn join(base: &str, rel: &str) -> String {
    if base.is_empty() {
        rel.to_owned()
    } else {
        format!("{base}.{rel}")
    }
}

/// `a.b.c` below `v`; JSON null counts as absent.
fn at<'v>(v: &'v Value, rel: &str) -> Option<&'v Value> {
    rel.split('.')
        .try_fold(v, |v, k| v.get(k))
        .filter(|v| !v.is_null())
}

fn req_str<'v>(v: &'v Value, base: &str, rel: &str) -> Result<&'v str> {
    match at(v, rel) {
        None => Err(ParseError::MissingField(join(base, rel))),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ParseError::InvalidField {
            field: join(base, rel),
            expected: "a string",
        }),
    }
}

fn opt_str<'v>(v: &'v Value, rel: &str) -> Option<&'v str> {
    at(v, rel).and_then(Value::as_str)
}

fn opt_bool(v: &Value, rel: &str) -> Option<bool> {
    at(v, rel).and_then(Value::as_bool)
}

fn req_array<'v>(v: &'v Value, base: &str, rel: &str) -> Result<&'v Vec<Value>> {
    match at(v, rel) {
        None => Err(ParseError::MissingField(join(base, rel))),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(ParseError::InvalidField {
            field: join(base, rel),
            expected: "an array",
        }),
    }
}

fn revision(s: &str, field: &str) -> Result<String> {
    let ok = (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit());
    if ok {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(ParseError::BadRevision(field.to_owned()))
    }
}

fn is_zero(rev: &str) -> bool {
    rev.bytes().all(|b| b == b'0')
}

const ZERO: &str = "0000000000000000000000000000000000000000";

fn full_ref(s: &str, field: &str) -> Result<String> {
    let ok = s.starts_with("refs/")
        && s.len() > 5
        && !s.bytes().any(|b| b.is_ascii_control() || b == b' ');
    if ok {
        Ok(s.to_owned())
    } else {
        Err(ParseError::BadRef(field.to_owned()))
    }
}

fn repository(v: &Value, full_name: Option<String>, url_fields: &[&str]) -> Option<Repository> {
    let mut urls: Vec<String> = Vec::new();
    for f in url_fields {
        if let Some(u) = opt_str(v, f) {
            push_unique(&mut urls, u);
        }
    }
    (full_name.is_some() || !urls.is_empty()).then_some(Repository { full_name, urls })
}

fn push_unique(urls: &mut Vec<String>, u: &str) {
    if !u.is_empty() && !urls.iter().any(|x| x == u) {
        urls.push(u.to_owned());
    }
}

/// The files the push changed (see [`CommitList::changed_files`]), with the pushed total read
/// from `total_field`.
fn changed_files(
    commits: CommitList,
    v: &Value,
    cap: Option<usize>,
    total_field: Option<&str>,
) -> Result<Option<Vec<String>>> {
    let total = total_field.and_then(|f| at(v, f)).and_then(Value::as_u64);
    commits.changed_files(cap, total)
}

// ---- providers -------------------------------------------------------------------------------

/// For a pushed tag, the commit it points at: an annotated tag's `after` is the tag object,
/// which cannot be checked out as a commit, while `commit_field` names the commit itself.
fn tagged_commit(v: &Value, git_ref: &str, commit_field: &str, after: String) -> String {
    if !git_ref.starts_with("refs/tags/") || is_zero(&after) {
        return after;
    }
    opt_str(v, commit_field)
        .and_then(|c| revision(c, commit_field).ok())
        .filter(|c| !is_zero(c))
        .unwrap_or(after)
}

/// GitHub and Gitea/Forgejo push payloads.
fn github_like(payload: Payload, cap: Option<usize>, total_field: Option<&str>) -> Result<Push> {
    let Payload {
        fields: ref v,
        commits,
    } = payload;
    let git_ref = full_ref(req_str(v, "", "ref")?, "ref")?;
    let revision = tagged_commit(
        v,
        &git_ref,
        "head_commit.id",
        revision(req_str(v, "", "after")?, "after")?,
    );
    let before_zero = opt_str(v, "before").is_none_or(is_zero);
    let deleted = opt_bool(v, "deleted").unwrap_or(false) || is_zero(&revision);
    let created = opt_bool(v, "created").unwrap_or(false) || before_zero;
    let forced = opt_bool(v, "forced").unwrap_or(false);
    let changed_files = if deleted || created || forced || git_ref.starts_with("refs/tags/") {
        None
    } else {
        changed_files(commits, v, cap, total_field)?
    };
    let full_name = opt_str(v, "repository.full_name").map(str::to_owned);
    let repository = repository(
        v,
        full_name,
        &[
            "repository.clone_url",
            "repository.ssh_url",
            "repository.html_url",
        ],
    );
    Ok(Push {
        git_ref,
        revision,
        deleted,
        changed_files,
        repository,
    })
}

/// GitLab `Push Hook` / `Tag Push Hook` (and their system-hook forms).
fn gitlab(payload: Payload) -> Result<Push> {
    let Payload {
        fields: ref v,
        commits,
    } = payload;
    let git_ref = full_ref(req_str(v, "", "ref")?, "ref")?;
    let revision = tagged_commit(
        v,
        &git_ref,
        "checkout_sha",
        revision(req_str(v, "", "after")?, "after")?,
    );
    let deleted = is_zero(&revision);
    let created = opt_str(v, "before").is_none_or(is_zero);
    let changed_files = if deleted || created || git_ref.starts_with("refs/tags/") {
        None
    } else {
        changed_files(commits, v, None, Some("total_commits_count"))?
    };
    let full_name = opt_str(v, "project.path_with_namespace").map(str::to_owned);
    let repository = repository(
        v,
        full_name,
        &[
            "project.git_http_url",
            "project.git_ssh_url",
            "project.web_url",
            "repository.git_http_url",
            "repository.git_ssh_url",
            "repository.homepage",
        ],
    );
    Ok(Push {
        git_ref,
        revision,
        deleted,
        changed_files,
        repository,
    })
}

/// Bitbucket Server / Data Center `repo:refs_changed`: one [`Push`] per change.
fn bitbucket_server(v: &Value, event: &str) -> Result<HookEvent> {
    let changes = req_array(v, "", "changes")?;
    let full_name = match (
        opt_str(v, "repository.project.key"),
        opt_str(v, "repository.slug"),
    ) {
        (Some(k), Some(s)) => Some(format!("{k}/{s}")),
        _ => None,
    };
    let mut urls = Vec::new();
    for group in ["clone", "self"] {
        if let Some(Value::Array(links)) = at(v, &format!("repository.links.{group}")) {
            for l in links {
                if let Some(h) = opt_str(l, "href") {
                    push_unique(&mut urls, h);
                }
            }
        }
    }
    let repo = (full_name.is_some() || !urls.is_empty()).then_some(Repository { full_name, urls });
    let mut pushes = Vec::with_capacity(changes.len());
    for (i, c) in changes.iter().enumerate() {
        let base = format!("changes[{i}]");
        let git_ref = full_ref(req_str(c, &base, "ref.id")?, &join(&base, "ref.id"))?;
        let revision = revision(req_str(c, &base, "toHash")?, &join(&base, "toHash"))?;
        let deleted = opt_str(c, "type") == Some("DELETE") || is_zero(&revision);
        pushes.push(Push {
            git_ref,
            revision,
            deleted,
            changed_files: None,
            repository: repo.clone(),
        });
    }
    Ok(if pushes.is_empty() {
        ignored(event)
    } else {
        HookEvent::Push(pushes)
    })
}

/// Bitbucket Cloud `repo:push`: one [`Push`] per branch or tag change; Mercurial kinds skipped.
fn bitbucket_cloud(v: &Value, event: &str) -> Result<HookEvent> {
    let changes = req_array(v, "", "push.changes")?;
    let full_name = opt_str(v, "repository.full_name").map(str::to_owned);
    let repo = repository(v, full_name, &["repository.links.html.href"]);
    let mut pushes = Vec::with_capacity(changes.len());
    for (i, c) in changes.iter().enumerate() {
        let base = format!("push.changes[{i}]");
        let (side, side_name, deleted) = match (at(c, "new"), at(c, "old")) {
            (Some(new), _) => (new, "new", opt_bool(c, "closed").unwrap_or(false)),
            (None, Some(old)) => (old, "old", true),
            (None, None) => return Err(ParseError::MissingField(join(&base, "new"))),
        };
        let side_base = join(&base, side_name);
        let prefix = match req_str(side, &side_base, "type")? {
            "branch" => "refs/heads/",
            "tag" => "refs/tags/",
            _ => continue,
        };
        let name = req_str(side, &side_base, "name")?;
        let git_ref = full_ref(&format!("{prefix}{name}"), &join(&side_base, "name"))?;
        let revision = if side_name == "old" {
            ZERO.to_owned()
        } else {
            revision(
                req_str(side, &side_base, "target.hash")?,
                &join(&side_base, "target.hash"),
            )?
        };
        pushes.push(Push {
            git_ref,
            revision,
            deleted,
            changed_files: None,
            repository: repo.clone(),
        });
    }
    Ok(if pushes.is_empty() {
        ignored(event)
    } else {
        HookEvent::Push(pushes)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn urls_normalize() {
        for (a, b) in [
            ("https://github.com/Org/Repo.git", "git@github.com:org/repo"),
            ("ssh://git@host:7999/p/r.git", "host:7999/p/r/"),
            (
                "https://user:pw@gitlab.example/g/s/p",
                "gitlab.example/g/s/p.git",
            ),
        ] {
            assert_eq!(normalize_url(a), normalize_url(b), "{a} vs {b}");
        }
        assert_ne!(
            normalize_url("https://a/x/y"),
            normalize_url("https://b/x/y")
        );
        // never panics on odd input
        for odd in ["", ":", "a/b:c", "@", "://", "x://@:/", "é:ü/ö"] {
            let _ = normalize_url(odd);
        }
    }

    /// A `commits` list of any shape: commits with or without each file list, lists holding
    /// paths or not, and values that are not commits.
    fn commits() -> impl Strategy<Value = Value> {
        let path = prop_oneof![
            4 => prop::sample::select(vec!["a", "b", "src/c.rs", "d/e"]).prop_map(Value::from),
            1 => any::<i64>().prop_map(Value::from),
        ];
        let list = prop_oneof![
            6 => prop::collection::vec(path, 0..4).prop_map(Value::from),
            1 => Just(Value::Null),
            1 => Just(Value::from("not a list")),
        ];
        let commit = prop_oneof![
            8 => prop::collection::btree_map(
                prop::sample::select(vec!["added", "modified", "removed", "id", "message"]),
                list,
                0..6,
            )
            .prop_map(|m| json!(m)),
            1 => Just(json!("not a commit")),
            1 => Just(json!([1, {"added": []}])),
        ];
        prop_oneof![
            8 => prop::collection::vec(commit, 0..5).prop_map(Value::from),
            1 => Just(Value::Null),
            1 => Just(json!({"added": ["a"]})),
        ]
    }

    proptest! {
        /// Pruning while parsing gives the same event as reading the whole payload.
        #[test]
        fn pruned_reading_agrees_with_reading_everything(
            fixture in prop::sample::select(vec![
                (Provider::Github, "x-github-event", "push", include_str!("../../tests/fixtures/hooks/github/push.json")),
                (Provider::Gitea, "x-gitea-event", "push", include_str!("../../tests/fixtures/hooks/gitea/push.json")),
                (Provider::Gitlab, "x-gitlab-event", "Push Hook", include_str!("../../tests/fixtures/hooks/gitlab/push.json")),
                (Provider::BitbucketServer, "x-event-key", "repo:refs_changed", include_str!("../../tests/fixtures/hooks/bitbucket-server/refs_changed.json")),
                (Provider::BitbucketCloud, "x-event-key", "repo:push", include_str!("../../tests/fixtures/hooks/bitbucket-cloud/push.json")),
            ]),
            commits in commits(),
            total in prop::option::of(0u64..6),
        ) {
            let (provider, header, event, text) = fixture;
            let mut payload: Value = serde_json::from_str(text).expect("fixture is JSON");
            payload["commits"] = commits;
            for field in ["total_commits", "total_commits_count"] {
                payload[field] = total.map_or(Value::Null, Value::from);
            }
            let body = serde_json::to_vec(&payload).expect("serializes");
            let headers = vec![(header.to_owned(), event.as_bytes().to_vec())];
            let pruned = parse_with(provider, &headers, &body, pruned::from_slice);
            let whole = parse_with(provider, &headers, &body, Payload::whole);
            prop_assert_eq!(&pruned, &whole);
            // Without the file lists: the same pushes, none knowing its files.
            let refs = parse_refs(provider, &headers, &body);
            if let Ok(mut event) = pruned {
                if let HookEvent::Push(pushes) = &mut event {
                    pushes.iter_mut().for_each(|p| p.changed_files = None);
                }
                prop_assert_eq!(refs, Ok(event));
            }
        }
    }

    #[test]
    fn form_decoding() {
        assert_eq!(
            form_field(b"a=1&payload=%7B%22x%22+1%7D", b"payload").unwrap(),
            b"{\"x\" 1}"
        );
        assert!(form_field(b"payload=%zz", b"payload").is_err());
        assert!(form_field(b"other=1", b"payload").is_err());
        assert!(percent_decode(b"%4").is_err());
    }
}
