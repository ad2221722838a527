//! TCP connections bounded by the listing's deadline.

use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};

use super::deadline::Deadline;

/// Connect to `host:port`, trying each resolved address with what is left of the deadline.
pub(crate) fn connect(host: &str, port: u16, deadline: &Deadline) -> io::Result<TcpStream> {
    // An address needs no resolver (which reads its configuration files every time).
    // Name resolution has no timeout of its own here; the resolver's applies.
    let addresses: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => (host, port).to_socket_addrs()?.collect(),
    };
    let mut last_error = io::Error::new(
        io::ErrorKind::NotFound,
        format!("{host} resolved to no address"),
    );
    for address in addresses {
        match TcpStream::connect_timeout(&address, deadline.remaining()?) {
            Ok(stream) => {
                // Requests are written whole; waiting to fill segments only adds latency.
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(err) => last_error = err,
        }
    }
    Err(last_error)
}

/// A TCP stream whose every read and write may take only what is left of the deadline,
/// so a server that answers slowly, byte by byte, still cannot outlast it.
#[derive(Debug)]
pub(crate) struct TimedTcp {
    stream: TcpStream,
    deadline: Deadline,
}

impl TimedTcp {
    pub fn new(stream: TcpStream, deadline: Deadline) -> Self {
        Self { stream, deadline }
    }

    /// Bounds the connection's reads and writes by another listing's deadline.
    pub fn set_deadline(&mut self, deadline: Deadline) {
        self.deadline = deadline;
    }

    /// Whether the connection is still open with nothing to read: a server that closed an
    /// idle connection has sent its FIN (a read would say end of file), and one that sent
    /// anything unasked is not speaking HTTP/1.1 as a kept-alive connection should.
    pub fn is_open_and_quiet(&self) -> bool {
        if self.stream.set_nonblocking(true).is_err() {
            return false;
        }
        let peeked = self.stream.peek(&mut [0; 1]);
        let restored = self.stream.set_nonblocking(false).is_ok();
        restored && matches!(peeked, Err(err) if err.kind() == io::ErrorKind::WouldBlock)
    }

    /// A second handle on the same connection (for reading while another writes).
    pub fn try_clone(&self) -> io::Result<Self> {
        Ok(Self {
            stream: self.stream.try_clone()?,
            deadline: self.deadline,
        })
    }
}

impl Read for TimedTcp {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream
            .set_read_timeout(Some(self.deadline.remaining()?))?;
        self.stream.read(buf)
    }
}

impl Write for TimedTcp {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream
            .set_write_timeout(Some(self.deadline.remaining()?))?;
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}
