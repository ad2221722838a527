//! `ssh://` URLs against a real OpenSSH `sshd` on a loopback port, with throwaway
//! host and user keys.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use herald_git::{
    Auth, Author, GitError, PushOptions, PushOutcome, Remote, RemoteRef, RetryPolicy, SecretString,
    Tls, WireProtocol, WriteBackOutcome, checkout, commit_all, list_refs, list_refs_matching, push,
    push_with_retry,
};
use support::{
    ChildGuard, Fixture, SilentServer, assert_checked_out, assert_matching_listings,
    assert_times_out, find_program, free_port, run,
};

/// Upper bound for an operation that must fail rather than retry forever.
const MUST_FINISH_WITHIN: Duration = Duration::from_secs(60);

/// A throwaway key pair made by `ssh-keygen`.
struct KeyPair {
    private_pem: String,
    /// `type base64` from the `.pub` file, without the comment.
    public: String,
}

impl KeyPair {
    fn generate(dir: &Path, name: &str, passphrase: &str) -> Self {
        let path = dir.join(name);
        let path_str = path.to_str().unwrap();
        run(
            "ssh-keygen",
            &[
                "-q", "-t", "ed25519", "-N", passphrase, "-C", name, "-f", path_str,
            ],
            dir,
        );
        let public = fs::read_to_string(path.with_extension("pub")).unwrap();
        let public = public
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            private_pem: fs::read_to_string(&path).unwrap(),
            public,
        }
    }
}

/// An `sshd` that accepts `user_key` for the current user; killed on drop.
struct Sshd {
    _guard: ChildGuard,
    port: u16,
    user: String,
    host_key: KeyPair,
    user_key: KeyPair,
    dir: PathBuf,
}

impl Sshd {
    /// An sshd as commonly configured: it does not accept `GIT_PROTOCOL`, so git
    /// speaks protocol v0 through it.
    fn start(fixture: &Fixture) -> Option<Self> {
        Self::start_with(fixture, false)
    }

    /// With `accept_git_protocol`, sshd passes `GIT_PROTOCOL` on (`AcceptEnv`), as Git
    /// hosts do, so upload-pack can speak protocol v2.
    fn start_with(fixture: &Fixture, accept_git_protocol: bool) -> Option<Self> {
        let Some(sshd) = find_program("sshd") else {
            support::require_tool("sshd", false);
            return None;
        };
        if !support::require_tool("ssh-keygen", find_program("ssh-keygen").is_some()) {
            return None;
        }
        let dir = fixture.dir.path().join("sshd");
        fs::create_dir(&dir).unwrap();
        let host_key = KeyPair::generate(&dir, "host_key", "");
        let user_key = KeyPair::generate(&dir, "user_key", "");
        fs::write(
            dir.join("authorized_keys"),
            format!("{}\n", user_key.public),
        )
        .unwrap();
        let user = run("id", &["-un"], &dir);
        let port = free_port();
        let config = dir.join("sshd_config");
        let mut text = sshd_config(&dir, port, &user);
        if accept_git_protocol {
            text.push_str("AcceptEnv GIT_PROTOCOL\n");
        }
        fs::write(&config, text).unwrap();
        // sshd insists on its privilege separation directory when started as root.
        let _ = fs::create_dir_all("/run/sshd");
        let mut command = Command::new(sshd);
        command.arg("-D").arg("-e").arg("-f").arg(&config);
        let mut guard = ChildGuard::spawn("sshd", &mut command, &dir.join("sshd.log"));
        support::wait_for_port(&mut guard, port);
        Some(Self {
            _guard: guard,
            port,
            user,
            host_key,
            user_key,
            dir,
        })
    }

    fn url(&self, fixture: &Fixture) -> String {
        format!(
            "ssh://{}@127.0.0.1:{}{}",
            self.user,
            self.port,
            fixture.bare.display()
        )
    }

    fn known_hosts(&self) -> String {
        format!("[127.0.0.1]:{} {}\n", self.port, self.host_key.public)
    }

    fn remote(
        &self,
        fixture: &Fixture,
        known_hosts: Option<String>,
        allow_unknown: bool,
    ) -> Remote {
        Remote {
            url: self.url(fixture),
            auth: Auth::Ssh {
                username: "git".into(),
                private_key: SecretString::from(self.user_key.private_pem.clone()),
                passphrase: None,
                known_hosts,
                allow_unknown_host: allow_unknown,
            },
            tls: Tls::default(),
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(self.dir.join("sshd.log")).unwrap_or_default()
    }
}

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
         LogLevel VERBOSE\n",
        host_key = dir.join("host_key").display(),
        authorized = dir.join("authorized_keys").display(),
    )
}

/// Run `operation` on another thread and fail the test if it does not finish in time.
fn finishes<T: Send + 'static>(operation: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(operation());
    });
    receiver
        .recv_timeout(MUST_FINISH_WITHIN)
        .expect("the operation did not finish (retrying forever?)")
}

fn assert_no_secret(err: &GitError, key: &KeyPair) {
    let text = format!("{err} {err:?}");
    assert!(!text.contains("PRIVATE KEY"), "{text}");
    let body_line = key.private_pem.lines().nth(1).unwrap();
    assert!(!text.contains(body_line), "{text}");
}

#[test]
fn lists_and_checks_out_with_a_trusted_host_key() {
    let fixture = Fixture::new();
    let Some(sshd) = Sshd::start(&fixture) else {
        return;
    };
    let remote = sshd.remote(&fixture, Some(sshd.known_hosts()), false);
    let refs = list_refs(&remote).unwrap_or_else(|e| panic!("{e}\n{}", sshd.log()));
    assert!(refs.contains(&RemoteRef {
        name: "refs/tags/v1".into(),
        commit: fixture.c2.clone(),
    }));
    assert!(refs.contains(&RemoteRef {
        name: "refs/heads/main".into(),
        commit: fixture.c3.clone(),
    }));

    let dest = fixture.dest("ssh-tip");
    checkout(&remote, Some("refs/heads/main"), &fixture.c3, &dest).unwrap();
    assert_checked_out(&dest, &fixture.c3);

    let dest = fixture.dest("ssh-older");
    checkout(&remote, Some("refs/heads/main"), &fixture.c1, &dest).unwrap();
    assert_checked_out(&dest, &fixture.c1);
}

#[test]
fn username_comes_from_auth_when_the_url_has_none() {
    let fixture = Fixture::new();
    let Some(sshd) = Sshd::start(&fixture) else {
        return;
    };
    let mut remote = sshd.remote(&fixture, Some(sshd.known_hosts()), false);
    remote.url = format!("ssh://127.0.0.1:{}{}", sshd.port, fixture.bare.display());
    if let Auth::Ssh { username, .. } = &mut remote.auth {
        username.clone_from(&sshd.user);
    }
    let refs = list_refs(&remote).unwrap_or_else(|e| panic!("{e}\n{}", sshd.log()));
    assert_eq!(refs.len(), 4);
}

#[test]
fn hashed_known_hosts_entries_are_trusted() {
    let fixture = Fixture::new();
    let Some(sshd) = Sshd::start(&fixture) else {
        return;
    };
    let path = sshd.dir.join("known_hosts_hashed");
    fs::write(&path, sshd.known_hosts()).unwrap();
    run(
        "ssh-keygen",
        &["-q", "-H", "-f", path.to_str().unwrap()],
        &sshd.dir,
    );
    let hashed = fs::read_to_string(&path).unwrap();
    assert!(hashed.starts_with("|1|"), "{hashed}");
    let remote = sshd.remote(&fixture, Some(hashed), false);
    list_refs(&remote).unwrap_or_else(|e| panic!("{e}\n{}", sshd.log()));
}

#[test]
fn unknown_host_is_rejected() {
    let fixture = Fixture::new();
    let Some(sshd) = Sshd::start(&fixture) else {
        return;
    };
    let other_host = format!("[127.0.0.1]:{} {}\n", free_port(), sshd.host_key.public);
    let err = list_refs(&sshd.remote(&fixture, Some(other_host), false)).unwrap_err();
    assert!(
        matches!(err, GitError::HostKey { changed: false, .. }),
        "{err:?}"
    );
    assert_eq!(err.category(), "host_key");
    let text = err.to_string();
    assert!(
        text.contains(&format!("[127.0.0.1]:{}", sshd.port)),
        "{text}"
    );
    assert!(text.contains("ssh-ed25519"), "{text}");
    assert!(text.contains("not listed"), "{text}");
    assert_no_secret(&err, &sshd.user_key);
}

#[test]
fn missing_known_hosts_is_rejected_with_a_fix_hint() {
    let fixture = Fixture::new();
    let Some(sshd) = Sshd::start(&fixture) else {
        return;
    };
    let err = list_refs(&sshd.remote(&fixture, None, false)).unwrap_err();
    assert!(matches!(err, GitError::HostKey { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("ssh-keyscan"), "{text}");
    assert!(text.contains("allow_unknown_host"), "{text}");
}

#[test]
fn changed_host_key_is_rejected_even_if_unknown_hosts_are_allowed() {
    let fixture = Fixture::new();
    let Some(sshd) = Sshd::start(&fixture) else {
        return;
    };
    let impostor = KeyPair::generate(&sshd.dir, "impostor_key", "");
    let known_hosts = format!("[127.0.0.1]:{} {}\n", sshd.port, impostor.public);
    let err = list_refs(&sshd.remote(&fixture, Some(known_hosts), true)).unwrap_err();
    assert!(
        matches!(err, GitError::HostKey { changed: true, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("differs"), "{err}");
}

#[test]
fn allow_unknown_host_accepts_a_host_missing_from_known_hosts() {
    let fixture = Fixture::new();
    let Some(sshd) = Sshd::start(&fixture) else {
        return;
    };
    let remote = sshd.remote(&fixture, None, true);
    let refs = list_refs(&remote).unwrap_or_else(|e| panic!("{e}\n{}", sshd.log()));
    assert_eq!(refs.len(), 4);
    let dest = fixture.dest("allowed");
    checkout(&remote, Some("refs/heads/feature"), &fixture.f1, &dest).unwrap();
    assert_checked_out(&dest, &fixture.f1);
}

#[test]
fn wrong_user_key_fails_with_auth_error_and_terminates() {
    let fixture = Fixture::new();
    let Some(sshd) = Sshd::start(&fixture) else {
        return;
    };
    let stranger = KeyPair::generate(&sshd.dir, "stranger_key", "");
    let mut remote = sshd.remote(&fixture, Some(sshd.known_hosts()), false);
    if let Auth::Ssh { private_key, .. } = &mut remote.auth {
        *private_key = SecretString::from(stranger.private_pem.clone());
    }
    let list_remote = remote.clone();
    let err = finishes(move || list_refs(&list_remote)).unwrap_err();
    assert!(matches!(err, GitError::Auth { .. }), "{err:?}");
    assert_eq!(err.category(), "auth");
    assert_no_secret(&err, &stranger);

    let dest = fixture.dest("denied");
    let c3 = fixture.c3.clone();
    let err = finishes(move || checkout(&remote, Some("refs/heads/main"), &c3, &dest)).unwrap_err();
    assert!(matches!(err, GitError::Auth { .. }), "{err:?}");
}

#[test]
fn passphrase_protected_key_works() {
    let fixture = Fixture::new();
    let Some(sshd) = Sshd::start(&fixture) else {
        return;
    };
    let locked = KeyPair::generate(&sshd.dir, "locked_key", "correct horse");
    fs::write(
        sshd.dir.join("authorized_keys"),
        format!("{}\n", locked.public),
    )
    .unwrap();
    let mut remote = sshd.remote(&fixture, Some(sshd.known_hosts()), false);
    if let Auth::Ssh {
        private_key,
        passphrase,
        ..
    } = &mut remote.auth
    {
        *private_key = SecretString::from(locked.private_pem.clone());
        *passphrase = Some(SecretString::from("correct horse"));
    }
    list_refs(&remote).unwrap_or_else(|e| panic!("{e}\n{}", sshd.log()));

    if let Auth::Ssh { passphrase, .. } = &mut remote.auth {
        *passphrase = Some(SecretString::from("wrong horse"));
    }
    let err = finishes(move || list_refs(&remote)).unwrap_err();
    assert_eq!(err.category(), "auth", "{err:?}");
    assert!(!err.to_string().contains("wrong horse"), "{err}");
}

/// The prefixes Herald watches in these tests.
fn main_branch() -> Vec<String> {
    vec!["refs/heads/main".to_owned()]
}

#[test]
fn lists_only_the_watched_refs_over_protocol_v2() {
    let fixture = Fixture::new();
    let Some(sshd) = Sshd::start_with(&fixture, true) else {
        return;
    };
    let remote = sshd.remote(&fixture, Some(sshd.known_hosts()), false);
    assert_matching_listings(&remote, &fixture, WireProtocol::V2);
}

#[test]
fn a_server_refusing_git_protocol_is_listed_through_v0() {
    let fixture = Fixture::new();
    let Some(sshd) = Sshd::start(&fixture) else {
        return;
    };
    let remote = sshd.remote(&fixture, Some(sshd.known_hosts()), false);
    assert_matching_listings(&remote, &fixture, WireProtocol::V0);
}

#[test]
fn v2_listing_checks_host_keys_like_list_refs() {
    let fixture = Fixture::new();
    let Some(sshd) = Sshd::start_with(&fixture, true) else {
        return;
    };
    let other_host = format!("[127.0.0.1]:{} {}\n", free_port(), sshd.host_key.public);
    let err = list_refs_matching(
        &sshd.remote(&fixture, Some(other_host), false),
        &main_branch(),
    )
    .unwrap_err();
    assert!(matches!(err, GitError::HostKey { .. }), "{err:?}");
    assert!(err.to_string().contains("not listed"), "{err}");
    assert_no_secret(&err, &sshd.user_key);

    let err = list_refs_matching(&sshd.remote(&fixture, None, false), &main_branch()).unwrap_err();
    assert!(matches!(err, GitError::HostKey { .. }), "{err:?}");
    assert!(err.to_string().contains("ssh-keyscan"), "{err}");

    let impostor = KeyPair::generate(&sshd.dir, "impostor_key", "");
    let changed = format!("[127.0.0.1]:{} {}\n", sshd.port, impostor.public);
    let err = list_refs_matching(&sshd.remote(&fixture, Some(changed), true), &main_branch())
        .unwrap_err();
    assert!(matches!(err, GitError::HostKey { .. }), "{err:?}");
    assert!(err.to_string().contains("differs"), "{err}");

    let path = sshd.dir.join("known_hosts_hashed");
    fs::write(&path, sshd.known_hosts()).unwrap();
    run(
        "ssh-keygen",
        &["-q", "-H", "-f", path.to_str().unwrap()],
        &sshd.dir,
    );
    let hashed = fs::read_to_string(&path).unwrap();
    let refs = list_refs_matching(&sshd.remote(&fixture, Some(hashed), false), &main_branch())
        .unwrap_or_else(|e| panic!("{e}\n{}", sshd.log()));
    assert_eq!(refs.len(), 1);
    let refs = list_refs_matching(&sshd.remote(&fixture, None, true), &main_branch())
        .unwrap_or_else(|e| panic!("{e}\n{}", sshd.log()));
    assert_eq!(refs.len(), 1);
}

#[test]
fn v2_listing_with_a_wrong_key_or_passphrase_is_an_auth_error() {
    let fixture = Fixture::new();
    let Some(sshd) = Sshd::start_with(&fixture, true) else {
        return;
    };
    let stranger = KeyPair::generate(&sshd.dir, "stranger_key", "");
    let mut remote = sshd.remote(&fixture, Some(sshd.known_hosts()), false);
    if let Auth::Ssh { private_key, .. } = &mut remote.auth {
        *private_key = SecretString::from(stranger.private_pem.clone());
    }
    let err = finishes(move || list_refs_matching(&remote, &main_branch())).unwrap_err();
    assert!(matches!(err, GitError::Auth { .. }), "{err:?}");
    assert!(err.to_string().contains("rejected the SSH key"), "{err}");
    assert_no_secret(&err, &stranger);

    let locked = KeyPair::generate(&sshd.dir, "locked_key", "correct horse");
    fs::write(
        sshd.dir.join("authorized_keys"),
        format!("{}\n", locked.public),
    )
    .unwrap();
    let mut remote = sshd.remote(&fixture, Some(sshd.known_hosts()), false);
    if let Auth::Ssh {
        private_key,
        passphrase,
        ..
    } = &mut remote.auth
    {
        *private_key = SecretString::from(locked.private_pem.clone());
        *passphrase = Some(SecretString::from("correct horse"));
    }
    list_refs_matching(&remote, &main_branch()).unwrap_or_else(|e| panic!("{e}\n{}", sshd.log()));
    if let Auth::Ssh { passphrase, .. } = &mut remote.auth {
        *passphrase = Some(SecretString::from("wrong horse"));
    }
    let err = finishes(move || list_refs_matching(&remote, &main_branch())).unwrap_err();
    assert!(matches!(err, GitError::Auth { .. }), "{err:?}");
    assert!(!err.to_string().contains("wrong horse"), "{err}");
    assert_no_secret(&err, &locked);
}

#[test]
fn v2_listing_of_a_missing_repository_is_not_found() {
    let fixture = Fixture::new();
    let Some(sshd) = Sshd::start_with(&fixture, true) else {
        return;
    };
    let mut remote = sshd.remote(&fixture, Some(sshd.known_hosts()), false);
    remote.url = format!(
        "ssh://{}@127.0.0.1:{}/nowhere/missing.git",
        sshd.user, sshd.port
    );
    let err = list_refs_matching(&remote, &main_branch()).unwrap_err();
    assert!(
        matches!(err, GitError::RepositoryNotFound { .. }),
        "{err:?}"
    );
}

#[test]
fn v2_listing_without_credentials_fails_like_list_refs() {
    let fixture = Fixture::new();
    let Some(sshd) = Sshd::start_with(&fixture, true) else {
        return;
    };
    // Anonymous SSH has no known_hosts, so the host key check fails first, in both.
    let remote = Remote::anonymous(sshd.url(&fixture));
    let err = list_refs_matching(&remote, &main_branch()).unwrap_err();
    assert!(matches!(err, GitError::HostKey { .. }), "{err:?}");
    let err = list_refs(&remote).unwrap_err();
    assert!(matches!(err, GitError::HostKey { .. }), "{err:?}");
}

#[test]
fn a_silent_ssh_server_fails_the_listing_at_its_deadline() {
    let silent = SilentServer::start();
    let mut remote = Remote::anonymous(format!("ssh://git@127.0.0.1:{}/r.git", silent.port));
    remote.auth = Auth::Ssh {
        username: "git".into(),
        private_key: SecretString::from("unused"),
        passphrase: None,
        known_hosts: None,
        allow_unknown_host: false,
    };
    assert_times_out(&remote);
}

fn bot() -> Author {
    Author {
        name: "Herald Bot".into(),
        email: "herald-bot@example.invalid".into(),
    }
}

/// Set `key` in `values.yaml` to `value`, keeping the other lines: an intent that can
/// be re-applied on another writer's tip.
fn set_value(dir: &Path, key: &str, value: &str) -> Result<Option<String>, GitError> {
    let path = dir.join("values.yaml");
    let text = fs::read_to_string(&path).unwrap_or_default();
    let mut lines: Vec<String> = text
        .lines()
        .filter(|line| !line.starts_with(&format!("{key}:")))
        .map(str::to_owned)
        .collect();
    lines.push(format!("{key}: {value}"));
    lines.sort();
    fs::write(&path, lines.join("\n") + "\n").unwrap();
    Ok(Some(format!("Set {key} to {value}")))
}

#[test]
fn racing_write_backs_over_ssh_both_land_with_the_host_key_checked() {
    let fixture = Fixture::new();
    let Some(sshd) = Sshd::start(&fixture) else {
        return;
    };
    let remote = sshd.remote(&fixture, Some(sshd.known_hosts()), false);
    let first = fixture.work_clone("first");
    let second = fixture.work_clone("second");
    let policy = RetryPolicy {
        attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
    };
    let outcome = push_with_retry(&first, &remote, "main", &bot(), &policy, |dir| {
        set_value(dir, "a", "1")
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", sshd.log()));
    assert!(
        matches!(outcome, WriteBackOutcome::Pushed { attempts: 1, .. }),
        "{outcome:?}"
    );
    let outcome = push_with_retry(&second, &remote, "main", &bot(), &policy, |dir| {
        set_value(dir, "b", "2")
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", sshd.log()));
    let WriteBackOutcome::Pushed { commit, attempts } = outcome else {
        panic!("the stale writer must land after fetching over SSH, got {outcome:?}");
    };
    assert_eq!(attempts, 2);
    assert_eq!(support::git(&fixture.bare, &["rev-parse", "main"]), commit);
    assert_eq!(
        support::git(&fixture.bare, &["show", "main:values.yaml"]),
        "a: 1\nb: 2"
    );
}

#[test]
fn a_push_over_ssh_carries_push_options_and_reports_the_hooks_refusal() {
    let fixture = Fixture::new();
    let Some(sshd) = Sshd::start(&fixture) else {
        return;
    };
    let bare = &fixture.bare;
    support::git(bare, &["config", "receive.advertisePushOptions", "true"]);
    let record = fixture.dir.path().join("options.txt");
    let hook = bare.join("hooks").join("pre-receive");
    fs::write(
        &hook,
        format!(
            "#!/bin/sh\necho \"$GIT_PUSH_OPTION_COUNT $GIT_PUSH_OPTION_0\" > '{}'\n\
             echo 'refused by policy' >&2\nexit 1\n",
            record.display()
        ),
    )
    .unwrap();
    run("chmod", &["+x", hook.to_str().unwrap()], bare);
    let work = fixture.work_clone("work");
    set_value(&work, "a", "1").unwrap();
    commit_all(&work, &bot(), "Set a").unwrap().unwrap();
    let options = PushOptions {
        push_options: vec!["merge_request.create".into()],
        force: false,
    };
    let remote = sshd.remote(&fixture, Some(sshd.known_hosts()), false);
    let outcome = push(
        &work,
        &remote,
        "refs/heads/main",
        "refs/heads/main",
        &options,
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", sshd.log()));
    let PushOutcome::Rejected { reason } = outcome else {
        panic!("the hook refused the ref, got {outcome:?}");
    };
    assert!(reason.contains("refused by policy"), "{reason}");
    assert_eq!(
        fs::read_to_string(&record).unwrap(),
        "1 merge_request.create\n"
    );
    assert_eq!(support::git(bare, &["rev-parse", "main"]), fixture.c3);
}

#[test]
fn a_push_to_an_unknown_host_is_refused_before_anything_is_sent() {
    let fixture = Fixture::new();
    let Some(sshd) = Sshd::start(&fixture) else {
        return;
    };
    let work = fixture.work_clone("work");
    set_value(&work, "a", "1").unwrap();
    commit_all(&work, &bot(), "Set a").unwrap().unwrap();
    let stranger = KeyPair::generate(&sshd.dir, "other_host_key", "");
    let wrong = format!("[127.0.0.1]:{} {}\n", sshd.port, stranger.public);
    let remote = sshd.remote(&fixture, Some(wrong), false);
    let err = push(
        &work,
        &remote,
        "refs/heads/main",
        "refs/heads/main",
        &PushOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.category(), "host_key", "{err}");
    assert_no_secret(&err, &sshd.user_key);
    assert_eq!(
        support::git(&fixture.bare, &["rev-parse", "main"]),
        fixture.c3
    );
}
