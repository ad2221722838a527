//! `git://`: one request line naming the service, the path, the host and, after a
//! second NUL, the extra parameter `version=2` (`gitprotocol-pack`, "Git Transport").
//! A daemon too old for v2 ignores it and sends its v0 advertisement.

use std::io::{BufReader, Write};

use super::WireProtocol;
use super::deadline::Deadline;
use super::exchange::list_over_stream;
use super::net::{TimedTcp, connect};
use super::pkt_line::push_data;
use super::wire_error::WireError;
use crate::remote::RemoteRef;
use crate::session::Session;
use crate::url::RemoteUrl;

const DEFAULT_PORT: u16 = 9418;

/// List the refs matching `prefixes` from a git daemon.
pub(crate) fn list(
    session: &Session<'_>,
    prefixes: &[String],
    deadline: &Deadline,
) -> Result<(Vec<RemoteRef>, WireProtocol), WireError> {
    let host = session.url.host.as_deref().unwrap_or_default();
    let port = session.url.port.unwrap_or(DEFAULT_PORT);
    let stream = TimedTcp::new(connect(host, port, deadline)?, *deadline);
    let mut writer = stream.try_clone()?;
    writer.write_all(&request_line(&session.url)?)?;
    list_over_stream(BufReader::new(stream), &mut writer, prefixes)
}

fn request_line(url: &RemoteUrl) -> Result<Vec<u8>, WireError> {
    let host = url.host.as_deref().unwrap_or_default();
    let host = match host.contains(':') {
        true => format!("[{host}]"),
        false => host.to_owned(),
    };
    let host = match url.port {
        Some(port) if port != DEFAULT_PORT => format!("{host}:{port}"),
        _ => host,
    };
    let path = upload_pack_path(&url.path);
    let mut line = Vec::new();
    push_data(
        &mut line,
        format!("git-upload-pack {path}\0host={host}\0\0version=2\0").as_bytes(),
    )?;
    Ok(line)
}

/// The repository path as git sends it: `/~user/repo` means `~user/repo`.
pub(crate) fn upload_pack_path(path: &str) -> &str {
    match path.strip_prefix('/') {
        Some(home) if home.starts_with('~') => home,
        _ => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_line_carries_version_2() {
        let url = RemoteUrl::parse("git://127.0.0.1:9555/r.git").unwrap();
        assert_eq!(
            request_line(&url).unwrap(),
            b"003agit-upload-pack /r.git\0host=127.0.0.1:9555\0\0version=2\0"
        );
        let url = RemoteUrl::parse("git://Example.com/~alice/r.git").unwrap();
        let line = String::from_utf8(request_line(&url).unwrap()).unwrap();
        assert!(line.ends_with("git-upload-pack ~alice/r.git\0host=example.com\0\0version=2\0"));
    }
}
