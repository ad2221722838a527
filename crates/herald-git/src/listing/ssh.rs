//! SSH through libssh2 (the library libgit2 uses for SSH here), so the host key check
//! (`host_key::check_host_key` on the raw key, against the caller's `known_hosts`) and
//! the in-memory key authentication are the libgit2 path's. `GIT_PROTOCOL=version=2`
//! is sent as an environment request; a server that refuses it (sshd without
//! `AcceptEnv GIT_PROTOCOL`) starts upload-pack in v0, which is handled too.

use std::io::{self, BufReader, Read, Write};

use super::WireProtocol;
use super::deadline::{Deadline, is_timeout};
use super::exchange::list_over_stream;
use super::git_daemon::upload_pack_path;
use super::net::connect;
use super::wire_error::WireError;
use crate::error::GitError;
use crate::host_key::check_host_key;
use crate::remote::{Auth, RemoteRef};
use crate::session::Session;

const DEFAULT_PORT: u16 = 22;
const STEP: &str = "listing refs";
/// libssh2's `LIBSSH2_ERROR_FILE`: the private key could not be read (or decrypted).
const LIBSSH2_ERROR_FILE: i32 = -16;
/// How much of upload-pack's stderr explains a failure.
const MAX_STDERR: u64 = 4096;

/// List the refs matching `prefixes` over SSH.
pub(crate) fn list(
    session: &Session<'_>,
    prefixes: &[String],
    deadline: &Deadline,
) -> Result<(Vec<RemoteRef>, WireProtocol), WireError> {
    let host = session.url.host.as_deref().unwrap_or_default();
    let port = session.url.port.unwrap_or(DEFAULT_PORT);
    let tcp = connect(host, port, deadline)?;
    let mut ssh = ssh2::Session::new().map_err(io::Error::from)?;
    ssh.set_tcp_stream(tcp);
    ssh.set_timeout(deadline.remaining_ms()?);
    ssh.handshake().map_err(io::Error::from)?;
    // Before any credential leaves: the host must be the one known_hosts names.
    check_host_key(session, ssh.host_key().map(|(key, _)| key))?;
    authenticate(session, &ssh, deadline)?;
    let listed = run_upload_pack(session, &ssh, prefixes, deadline);
    // Polite, not needed: the server ends the session on its own when the socket closes.
    if deadline.remaining_ms().is_ok() {
        let _ = ssh.disconnect(None, "done", None);
    }
    listed
}

/// Public key authentication with the in-memory key, worded as the libgit2 path's
/// credentials callback words its failures.
fn authenticate(
    session: &Session<'_>,
    ssh: &ssh2::Session,
    deadline: &Deadline,
) -> Result<(), WireError> {
    let auth_error = |detail: String| {
        WireError::from(GitError::Auth {
            url: session.display_url.clone(),
            step: STEP.to_owned(),
            detail,
        })
    };
    let Auth::Ssh {
        username,
        private_key,
        passphrase,
        ..
    } = &session.remote.auth
    else {
        return Err(auth_error(
            "the server requires credentials but none are configured".to_owned(),
        ));
    };
    // A user name written into the URL wins, as with the git command line.
    let user = session.url.username.as_deref().unwrap_or(username);
    ssh.set_timeout(deadline.remaining_ms()?);
    let methods = ssh.auth_methods(user).map(str::to_owned);
    if ssh.authenticated() {
        return Ok(());
    }
    let methods = methods.map_err(io::Error::from)?;
    if !methods.split(',').any(|method| method == "publickey") {
        return Err(auth_error(format!(
            "the server does not accept SSH public keys for user {user:?}"
        )));
    }
    ssh.set_timeout(deadline.remaining_ms()?);
    let passphrase = passphrase.as_ref().map(|p| p.expose());
    match ssh.userauth_pubkey_memory(user, None, private_key.expose(), passphrase) {
        Ok(()) => Ok(()),
        Err(err) if err.code() == ssh2::ErrorCode::Session(LIBSSH2_ERROR_FILE) => Err(auth_error(
            "the SSH private key could not be loaded".to_owned(),
        )),
        Err(err) => {
            let err = io::Error::from(err);
            if is_timeout(&err) {
                return Err(WireError::Io(err));
            }
            Err(auth_error(format!(
                "the server rejected the SSH key for user {user:?}"
            )))
        }
    }
}

fn run_upload_pack(
    session: &Session<'_>,
    ssh: &ssh2::Session,
    prefixes: &[String],
    deadline: &Deadline,
) -> Result<(Vec<RemoteRef>, WireProtocol), WireError> {
    ssh.set_timeout(deadline.remaining_ms()?);
    let mut channel = ssh.channel_session().map_err(io::Error::from)?;
    if channel.setenv("GIT_PROTOCOL", "version=2").is_err() {
        tracing::debug!(url = %session.display_url, "the SSH server refused GIT_PROTOCOL; expecting protocol v0");
    }
    ssh.set_timeout(deadline.remaining_ms()?);
    let command = format!(
        "git-upload-pack {}",
        shell_quote(upload_pack_path(&session.url.path))
    );
    channel.exec(&command).map_err(io::Error::from)?;
    let timed = |stream| TimedChannel {
        stream,
        ssh: ssh.clone(),
        deadline: *deadline,
    };
    let reader = BufReader::new(timed(channel.stream(0)));
    let mut writer = timed(channel.stream(0));
    match list_over_stream(reader, &mut writer, prefixes) {
        // upload-pack ended without answering: its stderr says why (no such repository, ...).
        Err(WireError::Io(err)) if !is_timeout(&err) => {
            let mut said = String::new();
            let _ = timed(channel.stderr())
                .take(MAX_STDERR)
                .read_to_string(&mut said);
            match said.trim() {
                "" => Err(WireError::Io(err)),
                said => Err(WireError::Server(said.to_owned())),
            }
        }
        listed => listed,
    }
}

/// Quote for the remote shell as git does (`sq_quote_buf`): `'` and `!` leave the quotes.
fn shell_quote(path: &str) -> String {
    let mut quoted = String::with_capacity(path.len() + 2);
    quoted.push('\'');
    for c in path.chars() {
        match c {
            '\'' | '!' => {
                quoted.push_str("'\\");
                quoted.push(c);
                quoted.push('\'');
            }
            _ => quoted.push(c),
        }
    }
    quoted.push('\'');
    quoted
}

/// A channel stream whose every read and write gets only what is left of the deadline
/// (libssh2's timeout applies per blocking call).
struct TimedChannel {
    stream: ssh2::Stream,
    ssh: ssh2::Session,
    deadline: Deadline,
}

impl Read for TimedChannel {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.ssh.set_timeout(self.deadline.remaining_ms()?);
        self.stream.read(buf)
    }
}

impl Write for TimedChannel {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.ssh.set_timeout(self.deadline.remaining_ms()?);
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.ssh.set_timeout(self.deadline.remaining_ms()?);
        self.stream.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_git() {
        assert_eq!(shell_quote("/srv/r.git"), "'/srv/r.git'");
        assert_eq!(shell_quote("it's!"), "'it'\\''s'\\!''");
    }
}
