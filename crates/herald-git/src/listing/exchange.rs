//! The conversation over a full-duplex stream (git daemon, SSH): read the greeting, ask
//! `ls-refs` if the server speaks v2, then say goodbye with a flush.

use std::io::{Read, Write};

use super::WireProtocol;
use super::pkt_line::{FLUSH, PktReader};
use super::protocol::{Greeting, ls_refs_request, read_greeting, read_ls_refs, select};
use super::wire_error::WireError;
use crate::remote::RemoteRef;

/// List the refs matching `prefixes` over an upload-pack stream that has just started.
pub(crate) fn list_over_stream<R: Read, W: Write>(
    reader: R,
    writer: &mut W,
    prefixes: &[String],
) -> Result<(Vec<RemoteRef>, WireProtocol), WireError> {
    let mut reader = PktReader::new(reader);
    let (refs, protocol) = match read_greeting(&mut reader)? {
        Greeting::V2(capabilities) => {
            writer.write_all(&ls_refs_request(&capabilities, prefixes)?)?;
            writer.flush()?;
            (read_ls_refs(&mut reader)?, WireProtocol::V2)
        }
        Greeting::V0(refs) => (refs, WireProtocol::V0),
    };
    // A flush ends a v2 session, and tells a v0 upload-pack that nothing is wanted, so
    // the server exits cleanly. The refs are in hand: a failure here changes nothing.
    let _ = writer.write_all(FLUSH).and_then(|()| writer.flush());
    Ok((select(refs, prefixes), protocol))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

    #[test]
    fn asks_a_v2_server_and_says_goodbye() {
        let mut answer = Vec::new();
        for line in ["version 2\n", "ls-refs=unborn\n"] {
            crate::listing::pkt_line::push_data(&mut answer, line.as_bytes()).unwrap();
        }
        answer.extend_from_slice(FLUSH);
        let listed = format!("{A} refs/heads/main\n");
        crate::listing::pkt_line::push_data(&mut answer, listed.as_bytes()).unwrap();
        answer.extend_from_slice(FLUSH);
        let mut sent = Vec::new();
        let prefixes = vec!["refs/heads/main".to_owned()];
        let (refs, protocol) = list_over_stream(answer.as_slice(), &mut sent, &prefixes).unwrap();
        assert_eq!(protocol, WireProtocol::V2);
        assert_eq!(refs.len(), 1);
        let sent = String::from_utf8(sent).unwrap();
        assert!(sent.starts_with("0014command=ls-refs\n"), "{sent}");
        assert!(
            sent.ends_with("ref-prefix refs/heads/main\n00000000"),
            "{sent}"
        );
    }
}
