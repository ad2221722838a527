//! Parsing and matching OpenSSH `known_hosts` text.
//!
//! Supported: plain host patterns (with `*`/`?` wildcards and `!` negation),
//! `[host]:port` names, comma-separated host lists, hashed `|1|salt|hash` entries and
//! the `@revoked` marker. `@cert-authority` lines are skipped because libgit2 hands us
//! the raw host key only, never a host certificate, so a CA could not be checked.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// Parsed `known_hosts` entries.
#[derive(Debug, Clone, Default)]
pub(crate) struct KnownHosts {
    entries: Vec<Entry>,
    /// Human-readable reasons for lines that were ignored.
    pub skipped: Vec<String>,
}

#[derive(Debug, Clone)]
struct Entry {
    hosts: HostPatterns,
    key_type: String,
    key: Vec<u8>,
    revoked: bool,
}

#[derive(Debug, Clone)]
enum HostPatterns {
    /// `|1|base64(salt)|base64(HMAC-SHA1(salt, host))`.
    Hashed { salt: Vec<u8>, hash: Vec<u8> },
    /// Comma-separated patterns, each possibly negated with `!`.
    Plain(Vec<Pattern>),
}

#[derive(Debug, Clone)]
struct Pattern {
    negated: bool,
    glob: String,
}

/// The outcome of checking a presented host key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A non-revoked entry for this host has exactly this key.
    Trusted,
    /// The key is listed as `@revoked` for this host.
    Revoked,
    /// The host is listed, but with other keys. `same_type` says whether one of them
    /// has the presented key's type (i.e. the key changed) or not (another type).
    Mismatch {
        same_type: bool,
        known_types: Vec<String>,
    },
    /// No entry matches this host.
    Unknown,
}

impl KnownHosts {
    /// Parse `known_hosts` text; unusable lines are recorded in `skipped`.
    pub fn parse(text: &str) -> Self {
        let mut known = KnownHosts::default();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match parse_line(line) {
                Ok(entry) => known.entries.push(entry),
                Err(reason) => known.skipped.push(format!("line {}: {reason}", index + 1)),
            }
        }
        known
    }

    /// Whether no usable entry was found.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Check `key` (the raw SSH wire-format public key blob) presented by `host_name`
    /// (`host` or `[host]:port`, as produced by `RemoteUrl::known_hosts_name`).
    pub fn check(&self, host_name: &str, key_type: &str, key: &[u8]) -> Verdict {
        let host_name = host_name.to_ascii_lowercase();
        let matching: Vec<&Entry> = self
            .entries
            .iter()
            .filter(|entry| entry.hosts.matches(&host_name))
            .collect();
        if matching
            .iter()
            .any(|entry| entry.revoked && entry.key == key)
        {
            return Verdict::Revoked;
        }
        let trusted: Vec<&&Entry> = matching.iter().filter(|entry| !entry.revoked).collect();
        if trusted.iter().any(|entry| entry.key == key) {
            return Verdict::Trusted;
        }
        if trusted.is_empty() {
            return Verdict::Unknown;
        }
        let mut known_types: Vec<String> = trusted.iter().map(|e| e.key_type.clone()).collect();
        known_types.sort();
        known_types.dedup();
        Verdict::Mismatch {
            same_type: known_types.iter().any(|t| t == key_type),
            known_types,
        }
    }
}

fn parse_line(line: &str) -> Result<Entry, String> {
    let mut fields = line.split_whitespace();
    let mut first = fields.next().ok_or("empty line")?;
    let mut revoked = false;
    if let Some(marker) = first.strip_prefix('@') {
        match marker {
            "revoked" => revoked = true,
            "cert-authority" => {
                return Err(
                    "@cert-authority is not supported (only plain host keys can be checked)"
                        .to_owned(),
                );
            }
            other => return Err(format!("unknown marker @{other}")),
        }
        first = fields.next().ok_or("missing host patterns after marker")?;
    }
    let key_type = fields.next().ok_or("missing key type")?;
    let key_base64 = fields.next().ok_or("missing key")?;
    let key = BASE64
        .decode(key_base64)
        .map_err(|_| "key is not valid base64".to_owned())?;
    if key_type_of_blob(&key).as_deref() != Some(key_type) {
        return Err(format!("key blob does not match key type {key_type}"));
    }
    Ok(Entry {
        hosts: HostPatterns::parse(first)?,
        key_type: key_type.to_owned(),
        key,
        revoked,
    })
}

impl HostPatterns {
    fn parse(field: &str) -> Result<Self, String> {
        if let Some(hashed) = field.strip_prefix("|1|") {
            let (salt, hash) = hashed
                .split_once('|')
                .ok_or("hashed host entry lacks '|' between salt and hash")?;
            let decode = |part: &str| {
                BASE64
                    .decode(part)
                    .map_err(|_| "hashed host entry is not valid base64".to_owned())
            };
            return Ok(HostPatterns::Hashed {
                salt: decode(salt)?,
                hash: decode(hash)?,
            });
        }
        if field.starts_with('|') {
            return Err("unsupported host hash format (only |1| is known)".to_owned());
        }
        let patterns = field
            .split(',')
            .filter(|p| !p.is_empty())
            .map(|p| match p.strip_prefix('!') {
                Some(glob) => Pattern {
                    negated: true,
                    glob: glob.to_ascii_lowercase(),
                },
                None => Pattern {
                    negated: false,
                    glob: p.to_ascii_lowercase(),
                },
            })
            .collect();
        Ok(HostPatterns::Plain(patterns))
    }

    fn matches(&self, host_name: &str) -> bool {
        match self {
            HostPatterns::Hashed { salt, hash } => hashed_host_matches(salt, hash, host_name),
            // OpenSSH: any negated match vetoes the line; otherwise one positive match is enough.
            HostPatterns::Plain(patterns) => {
                let mut positive = false;
                for pattern in patterns {
                    if glob_matches(&pattern.glob, host_name) {
                        if pattern.negated {
                            return false;
                        }
                        positive = true;
                    }
                }
                positive
            }
        }
    }
}

fn hashed_host_matches(salt: &[u8], hash: &[u8], host_name: &str) -> bool {
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(salt) else {
        return false;
    };
    mac.update(host_name.as_bytes());
    // verify_slice compares in constant time.
    mac.verify_slice(hash).is_ok()
}

/// Glob match with `*` (any run) and `?` (one character), as in ssh_config patterns.
fn glob_matches(glob: &str, text: &str) -> bool {
    let glob: Vec<char> = glob.chars().collect();
    let text: Vec<char> = text.chars().collect();
    let (mut g, mut t) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while t < text.len() {
        match glob.get(g) {
            Some('*') => {
                backtrack = Some((g, t));
                g += 1;
            }
            Some(&c) if c == '?' || c == text[t] => {
                g += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((star_g, star_t)) => {
                    g = star_g + 1;
                    t = star_t + 1;
                    backtrack = Some((star_g, star_t + 1));
                }
                None => return false,
            },
        }
    }
    glob[g..].iter().all(|&c| c == '*')
}

/// The key type name stored at the start of an SSH public key blob.
pub(crate) fn key_type_of_blob(blob: &[u8]) -> Option<String> {
    let len_bytes: [u8; 4] = blob.get(..4)?.try_into().ok()?;
    let len = usize::try_from(u32::from_be_bytes(len_bytes)).ok()?;
    let name = blob.get(4..4usize.checked_add(len)?)?;
    String::from_utf8(name.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A syntactically valid key blob: string(key_type) followed by `payload`.
    fn blob(key_type: &str, payload: &[u8]) -> Vec<u8> {
        let mut out = (key_type.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(key_type.as_bytes());
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    fn line(hosts: &str, key_type: &str, payload: &[u8]) -> String {
        format!(
            "{hosts} {key_type} {}",
            BASE64.encode(blob(key_type, payload))
        )
    }

    fn hashed(host: &str, salt: &[u8]) -> String {
        let mut mac = Hmac::<Sha1>::new_from_slice(salt).expect("any key length works");
        mac.update(host.as_bytes());
        let hash = mac.finalize().into_bytes();
        format!("|1|{}|{}", BASE64.encode(salt), BASE64.encode(hash))
    }

    const ED: &str = "ssh-ed25519";

    #[test]
    fn plain_host_matches() {
        let known = KnownHosts::parse(&line("example.com", ED, b"k1"));
        assert_eq!(
            known.check("example.com", ED, &blob(ED, b"k1")),
            Verdict::Trusted
        );
        assert_eq!(
            known.check("EXAMPLE.com", ED, &blob(ED, b"k1")),
            Verdict::Trusted
        );
        assert_eq!(
            known.check("other.com", ED, &blob(ED, b"k1")),
            Verdict::Unknown
        );
    }

    #[test]
    fn bracketed_port_is_distinct_from_default_port() {
        let known = KnownHosts::parse(&line("[127.0.0.1]:2222", ED, b"k1"));
        assert_eq!(
            known.check("[127.0.0.1]:2222", ED, &blob(ED, b"k1")),
            Verdict::Trusted
        );
        assert_eq!(
            known.check("127.0.0.1", ED, &blob(ED, b"k1")),
            Verdict::Unknown
        );
        assert_eq!(
            known.check("[127.0.0.1]:2223", ED, &blob(ED, b"k1")),
            Verdict::Unknown
        );
    }

    #[test]
    fn comma_separated_hosts_and_comments() {
        let text = format!(
            "# a comment\n\n{}\n",
            line("github.com,140.82.112.3", ED, b"gh")
        );
        let known = KnownHosts::parse(&text);
        assert!(known.skipped.is_empty(), "{:?}", known.skipped);
        assert_eq!(
            known.check("140.82.112.3", ED, &blob(ED, b"gh")),
            Verdict::Trusted
        );
        assert_eq!(
            known.check("github.com", ED, &blob(ED, b"gh")),
            Verdict::Trusted
        );
    }

    #[test]
    fn hashed_entries() {
        let text = line(
            &hashed("[git.example.com]:2222", b"0123456789abcdefghij"),
            ED,
            b"k",
        );
        let known = KnownHosts::parse(&text);
        assert_eq!(
            known.check("[git.example.com]:2222", ED, &blob(ED, b"k")),
            Verdict::Trusted
        );
        assert_eq!(
            known.check("git.example.com", ED, &blob(ED, b"k")),
            Verdict::Unknown
        );
    }

    #[test]
    fn hashed_entry_from_ssh_keygen() {
        // Produced by `ssh-keygen -H` for host "localhost".
        let text = "|1|iXPiid9zRd3Vj6wsFo0M8GCFkYs=|2GPImWKbe+jmct+SoN3ejVliz4g= ssh-ed25519 \
                    AAAAC3NzaC1lZDI1NTE5AAAAIDvIHCtDHpQzQ5MigrfxO8Olx9i9fCXNj8hxtq6p6GxC";
        let known = KnownHosts::parse(text);
        assert!(known.skipped.is_empty(), "{:?}", known.skipped);
        let key = BASE64
            .decode("AAAAC3NzaC1lZDI1NTE5AAAAIDvIHCtDHpQzQ5MigrfxO8Olx9i9fCXNj8hxtq6p6GxC")
            .expect("valid base64");
        assert_eq!(known.check("localhost", ED, &key), Verdict::Trusted);
        assert_eq!(known.check("otherhost", ED, &key), Verdict::Unknown);
    }

    #[test]
    fn changed_key_is_a_mismatch() {
        let known = KnownHosts::parse(&line("example.com", ED, b"old"));
        assert_eq!(
            known.check("example.com", ED, &blob(ED, b"new")),
            Verdict::Mismatch {
                same_type: true,
                known_types: vec![ED.to_owned()]
            }
        );
    }

    #[test]
    fn other_key_type_is_a_mismatch_naming_known_types() {
        let known = KnownHosts::parse(&line("example.com", "ssh-rsa", b"rsa"));
        assert_eq!(
            known.check("example.com", ED, &blob(ED, b"ed")),
            Verdict::Mismatch {
                same_type: false,
                known_types: vec!["ssh-rsa".to_owned()]
            }
        );
    }

    #[test]
    fn wildcards_and_negation() {
        let text = line("*.example.com,!bad.example.com", ED, b"k");
        let known = KnownHosts::parse(&text);
        assert_eq!(
            known.check("git.example.com", ED, &blob(ED, b"k")),
            Verdict::Trusted
        );
        assert_eq!(
            known.check("bad.example.com", ED, &blob(ED, b"k")),
            Verdict::Unknown
        );
        assert_eq!(
            known.check("example.org", ED, &blob(ED, b"k")),
            Verdict::Unknown
        );
        assert!(glob_matches("git?.example.com", "git1.example.com"));
        assert!(!glob_matches("git?.example.com", "git.example.com"));
        assert!(glob_matches("*", "anything"));
        assert!(glob_matches("a*b*c", "aXbYbZc"));
    }

    #[test]
    fn revoked_keys_are_rejected_even_if_also_trusted() {
        let text = format!(
            "{}\n@revoked {}\n",
            line("example.com", ED, b"k"),
            line("*", ED, b"k")
        );
        let known = KnownHosts::parse(&text);
        assert_eq!(
            known.check("example.com", ED, &blob(ED, b"k")),
            Verdict::Revoked
        );
    }

    #[test]
    fn unsupported_lines_are_skipped_with_reasons() {
        let text = format!(
            "@cert-authority *.example.com {k}\n\
             @weird host {k}\n\
             host ssh-ed25519 !!notbase64!!\n\
             host ssh-rsa {k}\n\
             onlyhost\n\
             {good}\n",
            k = BASE64.encode(blob(ED, b"k")),
            good = line("good.example.com", ED, b"k"),
        );
        let known = KnownHosts::parse(&text);
        assert_eq!(known.skipped.len(), 5, "{:?}", known.skipped);
        assert!(known.skipped[0].contains("cert-authority"));
        assert!(known.skipped[3].contains("does not match key type"));
        assert!(!known.is_empty());
        assert_eq!(
            known.check("good.example.com", ED, &blob(ED, b"k")),
            Verdict::Trusted
        );
    }

    #[test]
    fn key_type_is_read_from_blob() {
        assert_eq!(key_type_of_blob(&blob(ED, b"x")).as_deref(), Some(ED));
        assert_eq!(key_type_of_blob(b"\0\0"), None);
        assert_eq!(key_type_of_blob(b"\0\0\0\x09ssh"), None);
    }
}
