//! Git's pkt-line framing (`gitprotocol-common`): four hex digits giving the length of
//! the line including themselves, then the payload. `0000` is a flush packet, `0001` a
//! delimiter and `0002` a response end (protocol v2); lengths 1 to 3 are never data.

use std::io::Read;

use super::wire_error::WireError;

/// The longest packet, header included.
const MAX_PACKET: usize = 65520;
/// Length of the hex header.
const HEADER: usize = 4;

/// Ends a message (v0 advertisement, v2 capabilities, a v2 command or response).
pub(crate) const FLUSH: &[u8] = b"0000";
/// Separates a v2 command's capabilities from its arguments.
pub(crate) const DELIM: &[u8] = b"0001";

/// One packet as read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Packet<'a> {
    Flush,
    Delim,
    ResponseEnd,
    /// A data line, with one trailing LF removed.
    Line(&'a [u8]),
}

/// Reads packets from a (buffered) byte stream.
#[derive(Debug)]
pub(crate) struct PktReader<R> {
    inner: R,
    buf: Vec<u8>,
}

impl<R: Read> PktReader<R> {
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            buf: Vec::new(),
        }
    }

    /// The next packet. A data line starting with `ERR ` is the server reporting an
    /// error (allowed anywhere by the protocol) and comes back as [`WireError::Server`].
    pub fn next_packet(&mut self) -> Result<Packet<'_>, WireError> {
        let mut header = [0u8; HEADER];
        self.inner.read_exact(&mut header)?;
        let len = parse_length(header)?;
        match len {
            0 => return Ok(Packet::Flush),
            1 => return Ok(Packet::Delim),
            2 => return Ok(Packet::ResponseEnd),
            3 => return Err(WireError::protocol("invalid packet length 3")),
            _ if len > MAX_PACKET => {
                return Err(WireError::protocol(format!("packet of {len} bytes")));
            }
            _ => {}
        }
        self.buf.resize(len - HEADER, 0);
        self.inner.read_exact(&mut self.buf)?;
        let line = self.buf.strip_suffix(b"\n").unwrap_or(&self.buf);
        if let Some(message) = line.strip_prefix(b"ERR ") {
            return Err(WireError::Server(
                String::from_utf8_lossy(message).trim().to_owned(),
            ));
        }
        Ok(Packet::Line(line))
    }
}

fn parse_length(header: [u8; HEADER]) -> Result<usize, WireError> {
    let text = std::str::from_utf8(&header).ok();
    text.and_then(|hex| usize::from_str_radix(hex, 16).ok())
        .filter(|_| header.iter().all(u8::is_ascii_hexdigit))
        .ok_or_else(|| {
            WireError::protocol(format!(
                "expected a pkt-line length, got {:?}",
                String::from_utf8_lossy(&header)
            ))
        })
}

/// Append `line` plus LF as one data packet.
pub(crate) fn push_line(out: &mut Vec<u8>, line: &str) -> Result<(), WireError> {
    push_data(out, format!("{line}\n").as_bytes())
}

/// Append `payload` as one data packet.
pub(crate) fn push_data(out: &mut Vec<u8>, payload: &[u8]) -> Result<(), WireError> {
    let len = payload.len() + HEADER;
    if len > MAX_PACKET {
        return Err(WireError::protocol(format!(
            "a request line of {len} bytes does not fit in a packet"
        )));
    }
    out.extend_from_slice(format!("{len:04x}").as_bytes());
    out.extend_from_slice(payload);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packets(bytes: &[u8]) -> Vec<String> {
        let mut reader = PktReader::new(bytes);
        let mut seen = Vec::new();
        loop {
            match reader.next_packet() {
                Ok(Packet::Line(line)) => seen.push(String::from_utf8_lossy(line).into_owned()),
                Ok(other) => seen.push(format!("{other:?}")),
                Err(err) => {
                    seen.push(format!("error: {err}"));
                    return seen;
                }
            }
        }
    }

    #[test]
    fn reads_lines_and_special_packets() {
        assert_eq!(
            packets(b"000eversion 2\n000bls-refs00010000000200"),
            [
                "version 2",
                "ls-refs",
                "Delim",
                "Flush",
                "ResponseEnd",
                "error: failed to fill whole buffer"
            ]
        );
    }

    #[test]
    fn err_lines_and_bad_lengths_are_errors() {
        assert_eq!(packets(b"0015ERR no such repo\n"), ["error: no such repo"]);
        assert_eq!(packets(b"0003"), ["error: invalid packet length 3"]);
        assert_eq!(
            packets(b"zz01"),
            ["error: expected a pkt-line length, got \"zz01\""]
        );
        assert_eq!(
            packets(b"+001"),
            ["error: expected a pkt-line length, got \"+001\""]
        );
        assert_eq!(packets(b"fff1"), ["error: packet of 65521 bytes"]);
    }

    #[test]
    fn writes_lines() {
        let mut out = Vec::new();
        push_line(&mut out, "command=ls-refs").unwrap();
        out.extend_from_slice(DELIM);
        push_data(&mut out, b"a\0b").unwrap();
        out.extend_from_slice(FLUSH);
        assert_eq!(out, b"0014command=ls-refs\n00010007a\0b0000");
        assert!(push_data(&mut Vec::new(), &[b'x'; MAX_PACKET]).is_err());
    }
}
