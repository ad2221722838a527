//! The little HTTP/1.1 that smart HTTP needs: a GET and a POST with a small body,
//! answers framed by Content-Length, chunked encoding or the end of the connection,
//! and keep-alive so a listing's two requests can share one connection.

use std::io::{BufRead, BufReader, Read, Write};

use openssl::ssl::SslStream;

use super::deadline::Deadline;
use super::net::{TimedTcp, connect};
use super::tls_connect::TlsConnector;
use super::wire_error::WireError;
use crate::session::Session;

/// Largest answer accepted: a full v0 advertisement of a huge repository fits easily.
const MAX_BODY: usize = 256 << 20;
/// Largest status line plus headers accepted.
const MAX_HEAD: usize = 64 << 10;

/// Scheme, host and port of a URL: what a connection is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Origin {
    pub tls: bool,
    /// Host name or IP address, without IPv6 brackets.
    pub host: String,
    pub port: u16,
}

impl Origin {
    /// The `Host` header: brackets around IPv6 literals, the port unless it is the default.
    fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let default_port = if self.tls { 443 } else { 80 };
        if self.port == default_port {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }
}

/// One request. Header values may hold secrets: requests are never logged.
pub(crate) struct Request<'a> {
    pub method: &'static str,
    /// Path and query.
    pub target: &'a str,
    pub headers: &'a [(&'static str, &'a str)],
    pub body: &'a [u8],
}

/// A complete answer.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Every header called `name` (case-insensitive).
    pub fn headers<'r>(&'r self, name: &'r str) -> impl Iterator<Item = &'r str> + 'r {
        self.headers
            .iter()
            .filter(move |(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

enum Stream {
    Plain(TimedTcp),
    Tls(Box<SslStream<TimedTcp>>),
}

impl Stream {
    fn tcp(&self) -> &TimedTcp {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_ref(),
        }
    }

    fn tcp_mut(&mut self) -> &mut TimedTcp {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_mut(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

/// An open connection to one origin.
pub(crate) struct Connection {
    pub origin: Origin,
    stream: BufReader<Stream>,
}

impl Connection {
    /// Connect; for HTTPS (`tls` given), handshake and check the certificate.
    pub fn open(
        session: &Session<'_>,
        origin: Origin,
        tls: Option<&TlsConnector>,
        deadline: &Deadline,
    ) -> Result<Self, WireError> {
        let tcp = TimedTcp::new(connect(&origin.host, origin.port, deadline)?, *deadline);
        let stream = match tls {
            Some(tls) => Stream::Tls(Box::new(tls.connect(session, &origin.host, tcp)?)),
            None => Stream::Plain(tcp),
        };
        Ok(Self {
            origin,
            stream: BufReader::with_capacity(16 << 10, stream),
        })
    }

    /// Whether the connection can carry another request: open, nothing unread.
    pub fn is_reusable(&self) -> bool {
        self.stream.buffer().is_empty() && self.stream.get_ref().tcp().is_open_and_quiet()
    }

    /// Bounds the connection's reads and writes by `deadline` (a later listing's).
    pub fn set_deadline(&mut self, deadline: Deadline) {
        self.stream.get_mut().tcp_mut().set_deadline(deadline);
    }

    /// Send `request` and read the whole answer. The flag says whether the connection
    /// may carry another request.
    pub fn exchange(&mut self, request: &Request<'_>) -> Result<(Response, bool), WireError> {
        let bytes = encode_request(&self.origin.host_header(), request);
        let stream = self.stream.get_mut();
        stream.write_all(&bytes)?;
        stream.flush()?;
        read_response(&mut self.stream)
    }
}

fn encode_request(host: &str, request: &Request<'_>) -> Vec<u8> {
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: git/2.0 (herald-git)\r\n",
        request.method, request.target
    );
    for (name, value) in request.headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    if request.method == "POST" {
        head.push_str(&format!("Content-Length: {}\r\n", request.body.len()));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(request.body);
    bytes
}

/// Read one answer (skipping `100 Continue`s).
fn read_response<R: BufRead>(reader: &mut R) -> Result<(Response, bool), WireError> {
    loop {
        let (status, version_1_1, headers) = read_head(reader)?;
        if (100..200).contains(&status) {
            continue;
        }
        let mut response = Response {
            status,
            headers,
            body: Vec::new(),
        };
        let connection = response.header("connection").unwrap_or_default();
        let mut reusable = if version_1_1 {
            !has_token(connection, "close")
        } else {
            has_token(connection, "keep-alive")
        };
        let chunked = response
            .header("transfer-encoding")
            .is_some_and(|te| has_token(te, "chunked"));
        let length = response.header("content-length").map(str::trim);
        response.body = if chunked {
            read_chunked(reader)?
        } else if let Some(length) = length {
            let length = length
                .parse::<usize>()
                .map_err(|_| WireError::protocol(format!("bad Content-Length {length:?}")))?;
            read_exact_body(reader, length)?
        } else if status == 204 || status == 304 {
            Vec::new()
        } else {
            // Framed by the end of the connection, which therefore cannot be reused.
            reusable = false;
            read_to_end_limited(reader)?
        };
        return Ok((response, reusable));
    }
}

type Head = (u16, bool, Vec<(String, String)>);

fn read_head<R: BufRead>(reader: &mut R) -> Result<Head, WireError> {
    let mut budget = MAX_HEAD;
    let status_line = read_line(reader, &mut budget)?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    let status = parts
        .next()
        .and_then(|code| code.parse::<u16>().ok())
        .filter(|_| version.starts_with("HTTP/1."))
        .ok_or_else(|| WireError::protocol(format!("bad HTTP status line {status_line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader, &mut budget)?;
        if line.is_empty() {
            return Ok((status, version == "HTTP/1.1", headers));
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| WireError::protocol(format!("bad HTTP header line {line:?}")))?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
}

/// One CRLF- (or LF-) terminated line, charged against `budget`.
fn read_line<R: BufRead>(reader: &mut R, budget: &mut usize) -> Result<String, WireError> {
    let mut line = Vec::new();
    let limit = u64::try_from(*budget).unwrap_or(u64::MAX);
    reader.by_ref().take(limit).read_until(b'\n', &mut line)?;
    if !line.ends_with(b"\n") {
        if line.len() >= *budget {
            return Err(WireError::protocol("HTTP header too large"));
        }
        return Err(WireError::Io(std::io::ErrorKind::UnexpectedEof.into()));
    }
    *budget -= line.len();
    let text = String::from_utf8_lossy(&line);
    Ok(text.trim_end_matches(['\r', '\n']).to_owned())
}

fn read_exact_body<R: Read>(reader: &mut R, length: usize) -> Result<Vec<u8>, WireError> {
    if length > MAX_BODY {
        return Err(WireError::protocol(format!("answer of {length} bytes")));
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(body)
}

fn read_chunked<R: BufRead>(reader: &mut R) -> Result<Vec<u8>, WireError> {
    let mut body = Vec::new();
    loop {
        let mut budget = MAX_HEAD;
        let size_line = read_line(reader, &mut budget)?;
        let size_text = size_line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| WireError::protocol(format!("bad chunk size {size_line:?}")))?;
        if size == 0 {
            // Trailers, up to the blank line.
            while !read_line(reader, &mut budget)?.is_empty() {}
            return Ok(body);
        }
        if body.len() + size > MAX_BODY {
            return Err(WireError::protocol("answer too large"));
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        if !read_line(reader, &mut budget)?.is_empty() {
            return Err(WireError::protocol("chunk not followed by CRLF"));
        }
    }
}

fn read_to_end_limited<R: Read>(reader: &mut R) -> Result<Vec<u8>, WireError> {
    let mut body = Vec::new();
    let limit = u64::try_from(MAX_BODY + 1).unwrap_or(u64::MAX);
    reader.take(limit).read_to_end(&mut body)?;
    if body.len() > MAX_BODY {
        return Err(WireError::protocol("answer too large"));
    }
    Ok(body)
}

/// Whether the comma-separated header value holds `token` (case-insensitive).
fn has_token(value: &str, token: &str) -> bool {
    value
        .split(',')
        .any(|part| part.trim().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<(Response, bool), WireError> {
        read_response(&mut BufReader::new(bytes))
    }

    #[test]
    fn content_length_and_keep_alive() {
        let (response, reusable) =
            parse(b"HTTP/1.1 200 OK\r\nContent-Type: x\r\nContent-Length: 3\r\n\r\nabcextra")
                .unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.header("content-type"), Some("x"));
        assert_eq!(response.body, b"abc");
        assert!(reusable);
        let (_, reusable) =
            parse(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").unwrap();
        assert!(!reusable);
        let (_, reusable) = parse(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").unwrap();
        assert!(!reusable);
    }

    #[test]
    fn chunked_and_until_close() {
        let (response, reusable) = parse(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n",
        )
        .unwrap();
        assert_eq!(response.body, b"abcde");
        assert!(reusable);
        let (response, reusable) = parse(b"HTTP/1.1 200 OK\n\nuntil the end").unwrap();
        assert_eq!(response.body, b"until the end");
        assert!(!reusable);
        let (response, _) =
            parse(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n").unwrap();
        assert_eq!(response.status, 204);
    }

    #[test]
    fn malformed_answers_are_protocol_errors() {
        for bad in [
            b"SSH-2.0-OpenSSH\r\n\r\n".as_slice(),
            b"HTTP/1.1 abc OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(matches!(err, WireError::Protocol(_)), "{err}");
        }
        let err = parse(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc").unwrap_err();
        assert!(matches!(err, WireError::Io(_)), "{err}");
        let err = parse(b"HTTP/1.1 200 OK\r\nHost").unwrap_err();
        assert!(matches!(err, WireError::Io(_)), "{err}");
    }

    #[test]
    fn requests_carry_host_and_length() {
        let origin = Origin {
            tls: true,
            host: "::1".into(),
            port: 8443,
        };
        let request = Request {
            method: "POST",
            target: "/r.git/git-upload-pack",
            headers: &[("Git-Protocol", "version=2")],
            body: b"0000",
        };
        let text = String::from_utf8(encode_request(&origin.host_header(), &request)).unwrap();
        assert!(text.starts_with("POST /r.git/git-upload-pack HTTP/1.1\r\nHost: [::1]:8443\r\n"));
        assert!(text.contains("Git-Protocol: version=2\r\n"), "{text}");
        assert!(text.ends_with("Content-Length: 4\r\n\r\n0000"), "{text}");
        let default = Origin {
            tls: false,
            host: "h".into(),
            port: 80,
        };
        assert_eq!(default.host_header(), "h");
    }
}
