//! Git over SSH for tests: Debian's OpenSSH `sshd` on a loopback port, started once per test
//! binary with a throwaway ed25519 host key and one authorized ed25519 client key, serving bare
//! repositories under its own root through the real `git-upload-pack` / `git-receive-pack`.
//!
//! ```no_run
//! let Some(server) = herald_testkit::SshGitServer::start() else {
//!     return; // skipped locally when sshd is missing (a panic under `CI`)
//! };
//! let bare = server.add_bare_repo("manifests");
//! let url = server.url("manifests"); // ssh://<user>@127.0.0.1:<port>/<root>/manifests.git
//! let key = server.client_private_key(); // OpenSSH PEM
//! let known_hosts = server.known_hosts(); // [127.0.0.1]:<port> ssh-ed25519 ...
//! ```
//!
//! sshd authenticates a real account, so the URL names the user the tests run as (root in a
//! container, where sshd's `/run/sshd` is created; any user otherwise: sshd then runs
//! unprivileged). A shell that owns sshd stops it and removes its directory when the test
//! binary exits (its stdin closes), as the registry fixture's does.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::git;

/// How long sshd may take to start answering.
const STARTUP_DEADLINE: Duration = Duration::from_secs(20);

/// A running sshd serving bare repositories.
#[derive(Debug)]
pub struct SshGitServer {
    port: u16,
    user: String,
    root: PathBuf,
    dir: PathBuf,
    host_public_key: String,
    client_private_key: String,
    _owner: Mutex<(Child, ChildStdin)>,
}

impl SshGitServer {
    /// The test binary's server, started on first use. `None` (with a notice) when `sshd`,
    /// `ssh-keygen` or `git` is missing; a panic instead when `CI` is set, so CI never passes
    /// by skipping.
    pub fn start() -> Option<&'static Self> {
        static SERVER: OnceLock<Option<SshGitServer>> = OnceLock::new();
        SERVER.get_or_init(Self::launch).as_ref()
    }

    /// The port sshd listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The account the URLs log in as (the user the tests run as).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// A new bare repository `<root>/<name>.git` with `main` as its default branch, empty.
    /// Panics if it exists already: tests share the server, so each names its own.
    pub fn add_bare_repo(&self, name: &str) -> PathBuf {
        let path = self.repo_path(name);
        assert!(!path.exists(), "{} exists already", path.display());
        git(
            &self.root,
            &[
                "init",
                "-q",
                "--bare",
                "-b",
                "main",
                path.to_str().expect("utf-8 path"),
            ],
        );
        path
    }

    /// [`add_bare_repo`](Self::add_bare_repo) with one commit on `main` holding `files`
    /// (relative path, content); returns the repository and the commit id.
    pub fn add_seeded_repo(&self, name: &str, files: &[(&str, &str)]) -> (PathBuf, String) {
        let bare = self.add_bare_repo(name);
        let work = tempfile::tempdir().expect("tempdir");
        let work = work.path();
        git(work, &["init", "-q", "-b", "main"]);
        for (file, content) in files {
            let path = work.join(file);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
            std::fs::write(path, content).expect("write a seeded file");
        }
        git(work, &["add", "-A"]);
        git(work, &["commit", "-q", "--allow-empty", "-m", "seed"]);
        git(
            work,
            &[
                "push",
                "-q",
                bare.to_str().expect("utf-8 path"),
                "main:refs/heads/main",
            ],
        );
        let commit = git(work, &["rev-parse", "HEAD"]);
        (bare, commit)
    }

    /// Where the repository `name` is (or would be) on disk.
    pub fn repo_path(&self, name: &str) -> PathBuf {
        self.root.join(format!("{name}.git"))
    }

    /// `ssh://<user>@127.0.0.1:<port><root>/<name>.git`.
    pub fn url(&self, name: &str) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            self.user,
            self.port,
            self.repo_path(name).display()
        )
    }

    /// The authorized client key, OpenSSH PEM (what a Secret's `ssh-privatekey` holds).
    pub fn client_private_key(&self) -> String {
        self.client_private_key.clone()
    }

    /// The `known_hosts` line for this server: `[127.0.0.1]:<port> ssh-ed25519 AAAA...`.
    pub fn known_hosts(&self) -> String {
        format!("[127.0.0.1]:{} {}\n", self.port, self.host_public_key)
    }

    /// What sshd logged so far (for failing assertions).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
    }

    fn launch() -> Option<Self> {
        let sshd = find_program("sshd");
        for (tool, found) in [
            ("sshd", sshd.is_some()),
            ("ssh-keygen", find_program("ssh-keygen").is_some()),
            ("git", find_program("git").is_some()),
        ] {
            if !found {
                let msg = format!(
                    "{tool} not found: install the Debian packages openssh-server, openssh-client and git"
                );
                assert!(std::env::var_os("CI").is_none(), "{msg}");
                eprintln!("SKIPPING ssh git tests: {msg}");
                return None;
            }
        }
        let sshd = sshd.expect("checked above");
        let dir = tempfile::tempdir().expect("tempdir").keep();
        let root = dir.join("repos");
        std::fs::create_dir(&root).expect("mkdir repos");
        let host_public_key = keygen(&dir, "host_key");
        let client_public_key = keygen(&dir, "client_key");
        let client_private_key =
            std::fs::read_to_string(dir.join("client_key")).expect("read the client key");
        std::fs::write(
            dir.join("authorized_keys"),
            format!("{client_public_key}\n"),
        )
        .expect("write authorized_keys");
        let user = output("id", &["-un"]);
        let port = free_port();
        std::fs::write(dir.join("sshd_config"), sshd_config(&dir, port, &user))
            .expect("write sshd_config");
        // sshd insists on its privilege separation directory when started as root.
        let _ = std::fs::create_dir_all("/run/sshd");
        let mut child = Command::new("sh")
            .args(["-c", OWNER, "sh"])
            .arg(&sshd)
            .arg(&dir)
            .stdin(Stdio::piped())
            .spawn()
            .expect("spawn sh");
        let stdin = child.stdin.take().expect("stdin");
        let server = Self {
            port,
            user,
            root,
            dir,
            host_public_key,
            client_private_key,
            _owner: Mutex::new((child, stdin)),
        };
        server.wait_until_serving();
        Some(server)
    }

    /// Wait for sshd's identification string (`SSH-2.0-...`).
    fn wait_until_serving(&self) {
        let deadline = Instant::now() + STARTUP_DEADLINE;
        let address = SocketAddrV4::new(Ipv4Addr::LOCALHOST, self.port).into();
        while Instant::now() < deadline {
            if let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_secs(1)) {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut banner = [0u8; 4];
                if stream.read_exact(&mut banner).is_ok() && &banner == b"SSH-" {
                    let _ = stream.write_all(b"SSH-2.0-herald-testkit-probe\r\n");
                    return;
                }
            }
            // Polling interval, not synchronisation: the loop checks again.
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!(
            "sshd did not serve on 127.0.0.1:{} within {STARTUP_DEADLINE:?}; its log:\n{}",
            self.port,
            self.log()
        );
    }
}

/// Starts sshd in the foreground of a child, waits on stdin (closed when the test binary
/// exits), then stops it and removes its directory: statics are never dropped.
const OWNER: &str = r#"
sshd=$1
dir=$2
"$sshd" -D -e -f "$dir/sshd_config" >"$dir/sshd.log" 2>&1 &
pid=$!
read _ignored
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
rm -rf "$dir"
"#;

fn sshd_config(dir: &Path, port: u16, user: &str) -> String {
    format!(
        "Port {port}\n\
         ListenAddress 127.0.0.1\n\
         HostKey {host_key}\n\
         PidFile none\n\
         AuthorizedKeysFile {authorized}\n\
         StrictModes no\n\
         UsePAM no\n\
         PubkeyAuthentication yes\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         PermitRootLogin prohibit-password\n\
         AllowUsers {user}\n\
         AcceptEnv GIT_PROTOCOL\n\
         MaxStartups 100:30:200\n\
         MaxSessions 100\n\
         LogLevel VERBOSE\n",
        host_key = dir.join("host_key").display(),
        authorized = dir.join("authorized_keys").display(),
    )
}

/// Make an ed25519 key pair `dir/name` without a passphrase; its public key as `type base64`.
fn keygen(dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", name, "-f"])
        .arg(&path)
        .stdin(Stdio::null())
        .status()
        .expect("run ssh-keygen");
    assert!(status.success(), "ssh-keygen failed: {status}");
    let public = std::fs::read_to_string(path.with_extension("pub")).expect("read a public key");
    public
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

fn output(program: &str, args: &[&str]) -> String {
    let result = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(result.status.success(), "{program} {args:?} failed");
    String::from_utf8_lossy(&result.stdout).trim().to_owned()
}

/// `program` on PATH or in the sbin directories (where Debian puts sshd).
fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `git` CLI over ssh with the server's client key and known_hosts, host key checked.
    fn git_over_ssh(server: &SshGitServer, dir: &Path, args: &[&str]) -> String {
        let key = dir.join("id");
        std::fs::write(&key, server.client_private_key()).expect("write key");
        let status = Command::new("chmod")
            .arg("600")
            .arg(&key)
            .status()
            .expect("chmod");
        assert!(status.success());
        std::fs::write(dir.join("known_hosts"), server.known_hosts()).expect("write known_hosts");
        let ssh = format!(
            "ssh -i {} -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile={} -o BatchMode=yes",
            key.display(),
            dir.join("known_hosts").display()
        );
        let result = Command::new("git")
            .current_dir(dir)
            .args(["-c", "user.name=T", "-c", "user.email=t@example.invalid"])
            .args(args)
            .env("GIT_SSH_COMMAND", ssh)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .expect("run git");
        assert!(
            result.status.success(),
            "git {args:?}: {}\nsshd:\n{}",
            String::from_utf8_lossy(&result.stderr),
            server.log()
        );
        String::from_utf8_lossy(&result.stdout).trim().to_owned()
    }

    #[test]
    fn serves_seeded_and_empty_repositories_with_a_verified_host_key() {
        let Some(server) = SshGitServer::start() else {
            return;
        };
        let (bare, seed) = server.add_seeded_repo("seeded", &[("a/b.yaml", "x: 1\n")]);
        assert!(bare.join("HEAD").is_file());
        assert!(
            server
                .known_hosts()
                .starts_with(&format!("[127.0.0.1]:{} ssh-ed25519 ", server.port()))
        );
        assert!(server.client_private_key().contains("OPENSSH PRIVATE KEY"));
        let work = tempfile::tempdir().expect("tempdir");
        let listed = git_over_ssh(server, work.path(), &["ls-remote", &server.url("seeded")]);
        assert!(
            listed.contains(&format!("{seed}\trefs/heads/main")),
            "{listed}"
        );

        server.add_bare_repo("empty");
        let clone = work.path().join("clone");
        git_over_ssh(
            server,
            work.path(),
            &[
                "clone",
                "-q",
                &server.url("seeded"),
                clone.to_str().expect("utf-8"),
            ],
        );
        git_over_ssh(
            server,
            &clone,
            &["commit", "-q", "--allow-empty", "-m", "more"],
        );
        git_over_ssh(
            server,
            &clone,
            &["push", "-q", &server.url("empty"), "HEAD:refs/heads/main"],
        );
        let pushed = git(&server.repo_path("empty"), &["rev-parse", "main"]);
        assert_eq!(pushed, git(&clone, &["rev-parse", "HEAD"]));
    }
}
