//! What the server says, whatever carries it: the v2 capability advertisement and the
//! `ls-refs` command (`gitprotocol-v2`), or the v0 ref advertisement of a server that
//! does not offer v2 (`gitprotocol-pack`).

use std::io::Read;

use super::pkt_line::{DELIM, FLUSH, Packet, PktReader, push_line};
use super::wire_error::WireError;
use crate::list::peel_advertised_refs;
use crate::remote::RemoteRef;

/// Sent as `agent=` when the server advertises the capability (it asks clients not to otherwise).
const AGENT: &str = concat!("herald-git/", env!("CARGO_PKG_VERSION"));

/// The v2 capabilities Herald cares about.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Capabilities {
    ls_refs: bool,
    agent: bool,
    object_format: Option<String>,
}

/// How the server opened the conversation.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Greeting {
    /// `version 2` and its capabilities: the refs must be asked for.
    V2(Capabilities),
    /// A v0 (or v1) advertisement: every ref, already here (peeled, `refs/` only).
    V0(Vec<RemoteRef>),
}

/// Read the server's first message, up to and including its flush packet.
pub(crate) fn read_greeting<R: Read>(reader: &mut PktReader<R>) -> Result<Greeting, WireError> {
    let mut first = first_line(reader)?;
    if first.as_deref() == Some(b"version 2".as_slice()) {
        return read_capabilities(reader).map(Greeting::V2);
    }
    if first.as_deref() == Some(b"version 1".as_slice()) {
        // v1 is v0 with this line in front.
        first = first_line(reader)?;
    }
    read_v0_advertisement(first, reader).map(Greeting::V0)
}

/// The first data line, or `None` for a flush (an empty v0 advertisement).
fn first_line<R: Read>(reader: &mut PktReader<R>) -> Result<Option<Vec<u8>>, WireError> {
    match reader.next_packet()? {
        Packet::Line(line) => Ok(Some(line.to_vec())),
        Packet::Flush => Ok(None),
        other => Err(WireError::protocol(format!(
            "unexpected {other:?} packet at the start of the advertisement"
        ))),
    }
}

fn read_capabilities<R: Read>(reader: &mut PktReader<R>) -> Result<Capabilities, WireError> {
    let mut capabilities = Capabilities::default();
    loop {
        let line = match reader.next_packet()? {
            Packet::Flush => return Ok(capabilities),
            Packet::Line(line) => String::from_utf8_lossy(line).into_owned(),
            other => {
                return Err(WireError::protocol(format!(
                    "unexpected {other:?} packet among the v2 capabilities"
                )));
            }
        };
        let (key, value) = line.split_once('=').unwrap_or((&line, ""));
        match key {
            "ls-refs" => capabilities.ls_refs = true,
            "agent" => capabilities.agent = true,
            "object-format" => capabilities.object_format = Some(value.to_owned()),
            _ => {}
        }
    }
}

fn read_v0_advertisement<R: Read>(
    first: Option<Vec<u8>>,
    reader: &mut PktReader<R>,
) -> Result<Vec<RemoteRef>, WireError> {
    let mut advertised = Vec::new();
    let Some(first) = first else {
        return Ok(Vec::new());
    };
    // Capabilities follow the first ref after a NUL.
    let first = first.split(|&b| b == 0).next().unwrap_or_default();
    push_v0_line(first, &mut advertised)?;
    loop {
        match reader.next_packet()? {
            Packet::Flush => break,
            Packet::Line(line) => push_v0_line(line, &mut advertised)?,
            other => {
                return Err(WireError::protocol(format!(
                    "unexpected {other:?} packet in the v0 advertisement"
                )));
            }
        }
    }
    Ok(peel_advertised_refs(advertised.into_iter()))
}

/// `<oid> SP <name>`; `shallow <oid>` lines and an empty repository's
/// `capabilities^{}` placeholder name no ref.
fn push_v0_line(line: &[u8], advertised: &mut Vec<(String, String)>) -> Result<(), WireError> {
    let Some((oid, name)) = split_utf8_pair(line)? else {
        return Ok(());
    };
    if oid == "shallow" || name == "capabilities^{}" {
        return Ok(());
    }
    check_object_id(oid)?;
    advertised.push((name.to_owned(), oid.to_owned()));
    Ok(())
}

/// The `ls-refs` command asking for `prefixes` (all refs when empty), annotated tags peeled.
pub(crate) fn ls_refs_request(
    capabilities: &Capabilities,
    prefixes: &[String],
) -> Result<Vec<u8>, WireError> {
    if !capabilities.ls_refs {
        return Err(WireError::protocol(
            "the server speaks protocol v2 but does not offer ls-refs",
        ));
    }
    let mut out = Vec::with_capacity(96 + prefixes.iter().map(|p| p.len() + 16).sum::<usize>());
    push_line(&mut out, "command=ls-refs")?;
    if capabilities.agent {
        push_line(&mut out, &format!("agent={AGENT}"))?;
    }
    match capabilities.object_format.as_deref() {
        None => {}
        Some("sha1") => push_line(&mut out, "object-format=sha1")?,
        Some(other) => {
            return Err(WireError::protocol(format!(
                "the repository uses {other} object ids; only sha1 is supported"
            )));
        }
    }
    out.extend_from_slice(DELIM);
    push_line(&mut out, "peel")?;
    for prefix in prefixes {
        push_line(&mut out, &format!("ref-prefix {prefix}"))?;
    }
    out.extend_from_slice(FLUSH);
    Ok(out)
}

/// The `ls-refs` answer: `<oid> SP <name> [SP peeled:<oid>] ...`, up to a flush.
pub(crate) fn read_ls_refs<R: Read>(
    reader: &mut PktReader<R>,
) -> Result<Vec<RemoteRef>, WireError> {
    let mut refs = Vec::new();
    loop {
        match reader.next_packet()? {
            Packet::Flush => return Ok(refs),
            Packet::Line(line) => {
                if let Some(listed) = parse_ls_refs_line(line)? {
                    refs.push(listed);
                }
            }
            other => {
                return Err(WireError::protocol(format!(
                    "unexpected {other:?} packet in the ls-refs answer"
                )));
            }
        }
    }
}

fn parse_ls_refs_line(line: &[u8]) -> Result<Option<RemoteRef>, WireError> {
    let Some((oid, rest)) = split_utf8_pair(line)? else {
        return Ok(None);
    };
    let mut fields = rest.split(' ');
    let name = fields.next().unwrap_or_default();
    let mut commit = oid;
    for attribute in fields {
        if let Some(peeled) = attribute.strip_prefix("peeled:") {
            commit = peeled;
        }
    }
    check_object_id(oid)?;
    check_object_id(commit)?;
    Ok(Some(RemoteRef {
        name: name.to_owned(),
        commit: commit.to_owned(),
    }))
}

/// Split `<word> SP <rest>`. A ref name that is not UTF-8 cannot be a `RemoteRef`;
/// such a line is skipped (`None`) rather than failing the whole listing.
fn split_utf8_pair(line: &[u8]) -> Result<Option<(&str, &str)>, WireError> {
    let Ok(text) = std::str::from_utf8(line) else {
        tracing::debug!("skipping an advertised ref whose name is not UTF-8");
        return Ok(None);
    };
    text.split_once(' ')
        .map(Some)
        .ok_or_else(|| WireError::protocol(format!("malformed ref line {text:?}")))
}

fn check_object_id(oid: &str) -> Result<(), WireError> {
    if crate::remote::is_full_commit_id(oid) {
        return Ok(());
    }
    Err(WireError::protocol(format!("{oid:?} is not an object id")))
}

/// Keep `refs/...` names starting with one of `prefixes` (all when empty), sorted by
/// name. Applied to every answer: servers may send more than was asked for, and a v0
/// advertisement sends everything.
pub(crate) fn select(mut refs: Vec<RemoteRef>, prefixes: &[String]) -> Vec<RemoteRef> {
    refs.retain(|r| {
        r.name.starts_with("refs/")
            && (prefixes.is_empty() || prefixes.iter().any(|p| r.name.starts_with(p.as_str())))
    });
    refs.sort_by(|a, b| a.name.cmp(&b.name));
    refs.dedup_by(|a, b| a.name == b.name);
    refs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listing::pkt_line::push_data;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
    const C: &str = "cccccccccccccccccccccccccccccccccccccccc";

    fn packets(lines: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        for line in lines {
            match *line {
                "0000" => out.extend_from_slice(FLUSH),
                "0001" => out.extend_from_slice(DELIM),
                data => push_data(&mut out, format!("{data}\n").as_bytes()).unwrap(),
            }
        }
        out
    }

    fn greeting(lines: &[&str]) -> Result<Greeting, WireError> {
        read_greeting(&mut PktReader::new(packets(lines).as_slice()))
    }

    fn named(name: &str, commit: &str) -> RemoteRef {
        RemoteRef {
            name: name.into(),
            commit: commit.into(),
        }
    }

    #[test]
    fn reads_v2_capabilities() {
        let caps = greeting(&[
            "version 2",
            "agent=git/2.47.3",
            "ls-refs=unborn",
            "fetch=shallow wait-for-done",
            "object-format=sha1",
            "0000",
        ])
        .unwrap();
        let expected = Capabilities {
            ls_refs: true,
            agent: true,
            object_format: Some("sha1".into()),
        };
        assert_eq!(caps, Greeting::V2(expected));
    }

    #[test]
    fn reads_a_v0_advertisement_peeled() {
        let first = format!("{A} HEAD\0multi_ack side-band-64k agent=git/2.39");
        let main = format!("{A} refs/heads/main");
        let tag = format!("{B} refs/tags/v1");
        let peeled = format!("{C} refs/tags/v1^{{}}");
        let shallow = format!("shallow {C}");
        let greeting = greeting(&[&first, &main, &tag, &peeled, &shallow, "0000"]).unwrap();
        assert_eq!(
            greeting,
            Greeting::V0(vec![named("refs/heads/main", A), named("refs/tags/v1", C)])
        );
        let v1 = greeting_v1(&main);
        assert_eq!(v1, Greeting::V0(vec![named("refs/heads/main", A)]));
    }

    fn greeting_v1(first: &str) -> Greeting {
        greeting(&["version 1", first, "0000"]).unwrap()
    }

    #[test]
    fn empty_repositories_advertise_nothing() {
        let zero = "0".repeat(40);
        let placeholder = format!("{zero} capabilities^{{}}\0agent=git/2");
        assert_eq!(
            greeting(&[&placeholder, "0000"]).unwrap(),
            Greeting::V0(vec![])
        );
        assert_eq!(greeting(&["0000"]).unwrap(), Greeting::V0(vec![]));
    }

    #[test]
    fn server_errors_and_garbage_are_reported() {
        let err = greeting(&["ERR access denied or repository not exported: /x"]).unwrap_err();
        assert!(
            matches!(err, WireError::Server(ref m) if m.contains("not exported")),
            "{err}"
        );
        let err = greeting(&["not-an-oid refs/heads/main", "0000"]).unwrap_err();
        assert!(matches!(err, WireError::Protocol(_)), "{err}");
        let err = greeting(&["0001"]).unwrap_err();
        assert!(matches!(err, WireError::Protocol(_)), "{err}");
    }

    #[test]
    fn builds_the_ls_refs_command() {
        let caps = Capabilities {
            ls_refs: true,
            agent: false,
            object_format: None,
        };
        let request = ls_refs_request(&caps, &["refs/heads/main".into()]).unwrap();
        assert_eq!(
            String::from_utf8(request).unwrap(),
            "0014command=ls-refs\n00010009peel\n001fref-prefix refs/heads/main\n0000"
        );
        let with_agent = Capabilities {
            agent: true,
            object_format: Some("sha1".into()),
            ..caps
        };
        let request = String::from_utf8(ls_refs_request(&with_agent, &[]).unwrap()).unwrap();
        assert!(request.contains("agent=herald-git/"), "{request}");
        assert!(request.contains("object-format=sha1\n0001"), "{request}");
        assert!(request.ends_with("0009peel\n0000"), "{request}");
    }

    #[test]
    fn refuses_servers_without_ls_refs_or_with_sha256() {
        assert!(ls_refs_request(&Capabilities::default(), &[]).is_err());
        let sha256 = Capabilities {
            ls_refs: true,
            agent: false,
            object_format: Some("sha256".into()),
        };
        assert!(ls_refs_request(&sha256, &[]).is_err());
    }

    #[test]
    fn reads_ls_refs_with_peeled_tags() {
        let main = format!("{A} refs/heads/main");
        let tag = format!("{B} refs/tags/v1 peeled:{C}");
        let head = format!("{A} HEAD symref-target:refs/heads/main");
        let bytes = packets(&[&main, &tag, &head, "0000"]);
        let refs = read_ls_refs(&mut PktReader::new(bytes.as_slice())).unwrap();
        assert_eq!(
            refs,
            [
                named("refs/heads/main", A),
                named("refs/tags/v1", C),
                named("HEAD", A)
            ]
        );
        let bad = packets(&[&format!("{A} refs/tags/v1 peeled:nope"), "0000"]);
        assert!(read_ls_refs(&mut PktReader::new(bad.as_slice())).is_err());
    }

    #[test]
    fn selection_keeps_matching_refs_sorted() {
        let refs = vec![
            named("refs/tags/v1", C),
            named("HEAD", A),
            named("refs/heads/main", A),
            named("refs/heads/main-old", B),
            named("refs/pull/1/head", B),
            named("refs/heads/main", A),
        ];
        let picked = select(
            refs.clone(),
            &["refs/heads/main".into(), "refs/tags/".into()],
        );
        assert_eq!(
            picked,
            [
                named("refs/heads/main", A),
                named("refs/heads/main-old", B),
                named("refs/tags/v1", C)
            ]
        );
        assert_eq!(select(refs.clone(), &[]).len(), 4);
        assert!(select(refs, &["refs/heads/nope".into()]).is_empty());
    }
}
