//! Shared fixtures for the integration tests: real repositories built with the `git`
//! CLI, free ports, waiting for servers, and child processes that die with the test.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // each test file uses a subset

use std::fs;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub mod counting_proxy;
pub mod pki;

/// How long a test server may take to start accepting connections.
pub const STARTUP_DEADLINE: Duration = Duration::from_secs(20);

/// Whether a required external tool is present. When it is missing the test is
/// skipped locally (returns false after printing a notice) but fails under CI.
pub fn require_tool(tool: &str, available: bool) -> bool {
    if available {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("required test tool `{tool}` is missing; install it in the CI image");
    }
    eprintln!("SKIPPED: `{tool}` is not installed; skipping this test");
    false
}

/// The full path of `program` if it is on PATH (or in the sbin directories, where
/// Debian puts `sshd`).
pub fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// The path of git's helper program `git-<name>` (e.g. daemon, http-backend).
/// Starting helpers directly (not via `git <name>`) keeps the process we kill on
/// drop the one that does the work, so no orphan survives the test.
pub fn git_helper(name: &str) -> Option<PathBuf> {
    let output = Command::new("git").arg("--exec-path").output().ok()?;
    let exec_path = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let helper = Path::new(&exec_path).join(format!("git-{name}"));
    helper.is_file().then_some(helper)
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap().port()
}

/// Poll until `port` on 127.0.0.1 accepts connections, the child exits, or the deadline passes.
pub fn wait_for_port(child: &mut ChildGuard, port: u16) {
    let deadline = Instant::now() + STARTUP_DEADLINE;
    let address = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port).into();
    loop {
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return;
        }
        if let Some(status) = child.child.try_wait().unwrap() {
            panic!(
                "{} exited with {status} before listening on port {port}:\n{}",
                child.name,
                child.log()
            );
        }
        assert!(
            Instant::now() < deadline,
            "{} did not listen on port {port} within {STARTUP_DEADLINE:?}:\n{}",
            child.name,
            child.log()
        );
        // Polling interval, not synchronisation: the loop re-checks the condition.
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A server that accepts connections and then never says a word: what a hung Git
/// server looks like to a client. Its thread holds the connections open until the
/// test process ends.
#[derive(Debug)]
pub struct SilentServer {
    pub port: u16,
}

impl SilentServer {
    pub fn start() -> Self {
        let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let mut held = Vec::new();
            for stream in listener.incoming().flatten() {
                held.push(stream);
            }
        });
        Self { port }
    }
}

/// A directory holding a `git` wrapper that removes `GIT_PROTOCOL` from the environment
/// before running the real git. Put first on a server's PATH (git daemon runs
/// `git upload-pack` through PATH), it makes a real server that never offers v2.
pub fn v0_only_git_dir(parent: &Path) -> PathBuf {
    let real_git = find_program("git").expect("git is on PATH");
    let dir = parent.join("v0-only-git");
    fs::create_dir_all(&dir).unwrap();
    let wrapper = dir.join("git");
    fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nunset GIT_PROTOCOL\nexec '{}' \"$@\"\n",
            real_git.display()
        ),
    )
    .unwrap();
    run("chmod", &["+x", wrapper.to_str().unwrap()], &dir);
    dir
}

/// `dir` in front of the current PATH.
pub fn path_with_first(dir: &Path) -> std::ffi::OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(dir.to_owned()).chain(std::env::split_paths(&path)))
        .unwrap()
}

/// A child process that is killed (and reaped) when dropped. Its stderr goes to a
/// log file that failing assertions can show.
#[derive(Debug)]
pub struct ChildGuard {
    pub name: String,
    pub child: Child,
    log_path: PathBuf,
}

impl ChildGuard {
    /// Spawn `command` with stdout/stderr appended to `log_path`.
    pub fn spawn(name: &str, command: &mut Command, log_path: &Path) -> Self {
        let log = fs::File::create(log_path).unwrap();
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Self {
            name: name.to_owned(),
            child,
            log_path: log_path.to_owned(),
        }
    }

    /// Everything the process logged so far.
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log_path).unwrap_or_default()
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run `git` with a fixed identity in `dir`; panics with stderr on failure.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = git_command(dir, args).output().unwrap();
    check_output("git", args, &output);
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

fn git_command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new("git");
    command
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Herald Test",
            "-c",
            "user.email=herald-test@example.invalid",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "tag.gpgsign=false",
        ])
        .args(args)
        // Keep the developer's own configuration out of the fixtures.
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null");
    command
}

/// Run an arbitrary command; panics with its output on failure.
pub fn run(program: &str, args: &[&str], dir: &Path) -> String {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    check_output(program, args, &output);
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn check_output(program: &str, args: &[&str], output: &Output) {
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A bare repository with known history, built with the git CLI:
///
/// ```text
/// main:    c1 -- c2 -- c3
/// feature:        \-- f1
/// tags:    light -> c1 (lightweight), v1 -> c2 (annotated)
/// ```
#[derive(Debug)]
pub struct Fixture {
    pub dir: TempDir,
    /// Absolute path of the bare repository (`<dir>/repos/project.git`).
    pub bare: PathBuf,
    /// Directory that contains the bare repository (for servers' base paths).
    pub root: PathBuf,
    pub c1: String,
    pub c2: String,
    pub c3: String,
    pub f1: String,
    /// Object id of the annotated tag itself (not the commit).
    pub v1_tag_object: String,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        fs::create_dir(&work).unwrap();
        git(&work, &["init", "-q"]);
        let c1 = commit_file(&work, "README.md", "one\n", "first");
        let c2 = commit_file(&work, "README.md", "two\n", "second");
        git(&work, &["checkout", "-q", "-b", "feature"]);
        let f1 = commit_file(&work, "feature.txt", "feature\n", "feature work");
        git(&work, &["checkout", "-q", "main"]);
        let c3 = commit_file(&work, "README.md", "three\n", "third");
        git(&work, &["tag", "light", &c1]);
        git(&work, &["tag", "-a", "v1", "-m", "release one", &c2]);
        let v1_tag_object = git(&work, &["rev-parse", "refs/tags/v1"]);
        let root = dir.path().join("repos");
        fs::create_dir(&root).unwrap();
        let bare = root.join("project.git");
        git(
            dir.path(),
            &[
                "clone",
                "-q",
                "--bare",
                work.to_str().unwrap(),
                bare.to_str().unwrap(),
            ],
        );
        Self {
            dir,
            bare,
            root,
            c1,
            c2,
            c3,
            f1,
            v1_tag_object,
        }
    }

    /// A fresh, not yet existing checkout destination inside the fixture's temp dir.
    pub fn dest(&self, name: &str) -> PathBuf {
        self.dir.path().join("checkouts").join(name)
    }

    /// A working clone of the bare repository on `main`, made locally with the git CLI (the
    /// caller's clone of a write-back; pushes from it go wherever the test points them).
    pub fn work_clone(&self, name: &str) -> PathBuf {
        let dest = self.dest(name);
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        let (bare, to) = (self.bare.to_str().unwrap(), dest.to_str().unwrap());
        git(self.dir.path(), &["clone", "-q", "-b", "main", bare, to]);
        dest
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

/// Write `content` to `file`, commit it and return the commit id.
pub fn commit_file(work: &Path, file: &str, content: &str, message: &str) -> String {
    fs::write(work.join(file), content).unwrap();
    git(work, &["add", file]);
    git(work, &["commit", "-q", "-m", message]);
    git(work, &["rev-parse", "HEAD"])
}

/// Add `count` empty commits on top of `branch` in a bare repository (fast, via
/// `git commit-tree` and `update-ref`) and return the new tip.
pub fn add_empty_commits(bare: &Path, branch: &str, count: usize) -> String {
    let mut tip = git(bare, &["rev-parse", branch]);
    let tree = git(bare, &["rev-parse", &format!("{tip}^{{tree}}")]);
    for index in 0..count {
        let message = format!("filler {index}");
        tip = git(bare, &["commit-tree", &tree, "-p", &tip, "-m", &message]);
    }
    git(bare, &["update-ref", branch, &tip]);
    tip
}

/// Assertions about a finished checkout: detached HEAD at `commit`, clean tree.
pub fn assert_checked_out(dest: &Path, commit: &str) {
    let head = git(dest, &["rev-parse", "HEAD"]);
    assert_eq!(head, commit, "HEAD of {}", dest.display());
    let symbolic = git_command(dest, &["symbolic-ref", "-q", "HEAD"])
        .output()
        .unwrap();
    assert!(!symbolic.status.success(), "HEAD should be detached");
    let status = git(dest, &["status", "--porcelain"]);
    assert!(status.is_empty(), "working tree not clean: {status}");
}

/// Contents of a file in a checkout.
pub fn read(dest: &Path, file: &str) -> String {
    fs::read_to_string(dest.join(file)).unwrap()
}

/// The listing checks every transport must pass against the fixture: a branch prefix,
/// an exact annotated tag (peeled to its commit), all tags, an unknown prefix (empty),
/// and no prefix (everything, as `list_refs` gives it), each over `expected` protocol.
pub fn assert_matching_listings(
    remote: &herald_git::Remote,
    fixture: &Fixture,
    expected: herald_git::WireProtocol,
) {
    use herald_git::{ListOptions, list_refs_with};
    let list = |prefixes: &[&str]| {
        let listing = list_refs_with(remote, &ListOptions::prefixes(prefixes.iter().copied()))
            .unwrap_or_else(|e| panic!("listing {prefixes:?}: {e}"));
        assert_eq!(listing.protocol, expected, "protocol for {prefixes:?}");
        listing
            .refs
            .into_iter()
            .map(|r| (r.name, r.commit))
            .collect::<Vec<_>>()
    };
    let pair = |name: &str, commit: &str| (name.to_owned(), commit.to_owned());
    assert_eq!(
        list(&["refs/heads/main"]),
        [pair("refs/heads/main", &fixture.c3)]
    );
    assert_eq!(list(&["refs/tags/v1"]), [pair("refs/tags/v1", &fixture.c2)]);
    assert_eq!(
        list(&["refs/tags/", "refs/heads/feature"]),
        [
            pair("refs/heads/feature", &fixture.f1),
            pair("refs/tags/light", &fixture.c1),
            pair("refs/tags/v1", &fixture.c2),
        ]
    );
    assert!(list(&["refs/heads/does-not-exist"]).is_empty());
    assert_eq!(
        list(&[]),
        [
            pair("refs/heads/feature", &fixture.f1),
            pair("refs/heads/main", &fixture.c3),
            pair("refs/tags/light", &fixture.c1),
            pair("refs/tags/v1", &fixture.c2),
        ]
    );
}

/// A listing against a server that never answers: it must fail as unreachable, after
/// the short timeout and well before the default one.
pub fn assert_times_out(remote: &herald_git::Remote) {
    let timeout = Duration::from_millis(400);
    let options = herald_git::ListOptions::prefixes(["refs/heads/main"]).with_timeout(timeout);
    let started = Instant::now();
    let err = herald_git::list_refs_with(remote, &options).unwrap_err();
    let took = started.elapsed();
    assert_eq!(err.category(), "unreachable", "{err:?}");
    assert!(err.to_string().contains("timeout"), "{err}");
    // Socket timers may fire a hair early; the point is that it waited about that long.
    assert!(
        took >= timeout * 3 / 4,
        "gave up after {took:?}, before the timeout"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
}
