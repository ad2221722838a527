//! Every Git host's hooks over real HTTP in local mode: each host's realistic payloads (the
//! fixtures the parser tests read), sent with the headers the host documents and a signature
//! (or token) over the exact body, to a real `herald local` with a real Git repository and a
//! real SQLite store.
//!
//! One [`Host`] per sender says how it signs, which events it names and which payloads it
//! sends; `provider_tests!` turns each host's list of cases into a module of tests, so adding a
//! provider is one `Host` and one line there.
#![allow(clippy::unwrap_used)]

mod support;

use herald_api::RunPhase;
use herald_store::RunRecord;
use serde_json::Value;
use support::{LocalHerald, Manifests, TestRepo, hmac_sha256_hex};

/// The shared secret of every trigger here (GitLab's token too).
const SECRET: &[u8] = b"it-is-a-secret";

/// A host's fixture, read at compile time from herald-core's parser tests.
macro_rules! fixture {
    ($path:literal) => {
        include_str!(concat!("../../herald-core/tests/fixtures/hooks/", $path))
    };
}

// ---- the hosts ------------------------------------------------------------------------------

/// How one kind of sender delivers hooks, and what it sends.
struct Host {
    /// `webhook.provider` in the trigger.
    provider: &'static str,
    /// `webhook.authConfig.header`, for senders whose header is configured (generic-hmac).
    auth_header: Option<&'static str>,
    /// The headers the sender puts on one delivery.
    headers: fn(&Delivery<'_>) -> Vec<(&'static str, String)>,
    /// The event names of a branch push and of a tag push.
    push_event: &'static str,
    tag_event: &'static str,
    /// A branch push and a tag push as the sender sends them.
    push: Payload,
    tag: Payload,
    /// Whether the proof covers the body (GitLab's token does not).
    signs_body: bool,
    /// For senders that list changed files: a glob matching one file the push lists.
    files_glob: Option<&'static str>,
    /// An event the sender sends that Herald acknowledges and ignores.
    ignored: Option<Event>,
    /// The sender's ping, where it has one.
    ping: Option<Event>,
}

/// A push payload and what it pushes.
struct Payload {
    json: &'static str,
    /// The commit id in the fixture, replaced by the test repository's.
    revision: &'static str,
    /// The pushed branch or tag, without `refs/heads/` or `refs/tags/`.
    name: &'static str,
}

impl Payload {
    /// The payload pushing `revision` instead of the fixture's commit (in either case, as
    /// senders differ in how they spell it).
    fn body(&self, revision: &str) -> Vec<u8> {
        self.json
            .replace(self.revision, revision)
            .replace(&self.revision.to_uppercase(), &revision.to_uppercase())
            .into_bytes()
    }
}

/// An event name and a body of that event.
struct Event {
    name: &'static str,
    body: &'static str,
}

/// What a sender's headers are made from.
struct Delivery<'a> {
    event: &'a str,
    id: &'a str,
    body: &'a [u8],
    secret: &'a [u8],
}

/// Gitea sends its own headers and, for compatibility, Gogs' and GitHub's.
fn gitea_headers(d: &Delivery<'_>) -> Vec<(&'static str, String)> {
    let signature = hmac_sha256_hex(d.secret, d.body);
    vec![
        ("content-type", "application/json".into()),
        ("user-agent", "Go-http-client/1.1".into()),
        ("x-github-delivery", d.id.into()),
        ("x-github-event", d.event.into()),
        ("x-gitea-delivery", d.id.into()),
        ("x-gitea-event", d.event.into()),
        ("x-gitea-event-type", d.event.into()),
        ("x-gitea-signature", signature.clone()),
        ("x-gogs-delivery", d.id.into()),
        ("x-gogs-event", d.event.into()),
        ("x-gogs-signature", signature.clone()),
        ("x-hub-signature-256", format!("sha256={signature}")),
    ]
}

/// Forgejo's own headers only: Forgejo also sends Gitea's, which would hide whether its own
/// names are read at all.
fn forgejo_headers(d: &Delivery<'_>) -> Vec<(&'static str, String)> {
    vec![
        ("content-type", "application/json".into()),
        ("user-agent", "Go-http-client/1.1".into()),
        ("x-forgejo-delivery", d.id.into()),
        ("x-forgejo-event", d.event.into()),
        ("x-forgejo-event-type", d.event.into()),
        ("x-forgejo-signature", hmac_sha256_hex(d.secret, d.body)),
    ]
}

/// GitLab sends the secret token itself; the delivery id is both the event UUID and (since
/// GitLab 17.4) the idempotency key.
fn gitlab_headers(d: &Delivery<'_>) -> Vec<(&'static str, String)> {
    vec![
        ("content-type", "application/json".into()),
        ("user-agent", "GitLab/17.6.0".into()),
        ("x-gitlab-event", d.event.into()),
        (
            "x-gitlab-token",
            String::from_utf8(d.secret.to_vec()).unwrap(),
        ),
        ("x-gitlab-instance", "https://gitlab.example.com".into()),
        (
            "x-gitlab-webhook-uuid",
            "16e2a4c1-2f4f-4d39-8b1a-8a0f4a3f4b8a".into(),
        ),
        ("x-gitlab-event-uuid", d.id.into()),
        ("idempotency-key", d.id.into()),
    ]
}

fn bitbucket_server_headers(d: &Delivery<'_>) -> Vec<(&'static str, String)> {
    let signature = hmac_sha256_hex(d.secret, d.body);
    vec![
        ("content-type", "application/json; charset=utf-8".into()),
        (
            "user-agent",
            "Atlassian HttpClient 4.2.0 / Bitbucket-8.19.1 (8019001) / Default".into(),
        ),
        ("x-event-key", d.event.into()),
        ("x-request-id", d.id.into()),
        ("x-hub-signature", format!("sha256={signature}")),
    ]
}

fn github_headers(d: &Delivery<'_>) -> Vec<(&'static str, String)> {
    let signature = hmac_sha256_hex(d.secret, d.body);
    vec![
        ("content-type", "application/json".into()),
        ("user-agent", "GitHub-Hookshot/8f2bc7c".into()),
        ("x-github-event", d.event.into()),
        ("x-github-delivery", d.id.into()),
        ("x-github-hook-id", "458906215".into()),
        (
            "x-github-hook-installation-target-type",
            "repository".into(),
        ),
        ("x-github-hook-installation-target-id", "186853002".into()),
        ("x-hub-signature-256", format!("sha256={signature}")),
    ]
}

/// A CI system or script signing its body like GitHub does, in a header the trigger names.
fn generic_hmac_headers(d: &Delivery<'_>) -> Vec<(&'static str, String)> {
    let signature = hmac_sha256_hex(d.secret, d.body);
    vec![
        ("content-type", "application/json".into()),
        ("x-delivery-id", d.id.into()),
        ("x-signature-256", format!("sha256={signature}")),
    ]
}

const GITEA: Host = Host {
    provider: "gitea",
    auth_header: None,
    headers: gitea_headers,
    push_event: "push",
    tag_event: "push",
    push: Payload {
        json: fixture!("gitea/push.json"),
        revision: "bffeb74224043ba2feb48d137756c8a9331c449a",
        name: "develop",
    },
    tag: Payload {
        json: fixture!("gitea/tag_push.json"),
        revision: "bffeb74224043ba2feb48d137756c8a9331c449a",
        name: "v0.9.1",
    },
    signs_body: true,
    files_glob: Some("docs/**"),
    ignored: Some(Event {
        name: "create",
        body: fixture!("gitea/create.json"),
    }),
    ping: None,
};

const FORGEJO: Host = Host {
    headers: forgejo_headers,
    ..GITEA
};

const GITLAB: Host = Host {
    provider: "gitlab",
    auth_header: None,
    headers: gitlab_headers,
    push_event: "Push Hook",
    tag_event: "Tag Push Hook",
    push: Payload {
        json: fixture!("gitlab/push.json"),
        revision: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
        name: "master",
    },
    tag: Payload {
        json: fixture!("gitlab/tag_push.json"),
        revision: "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7",
        name: "v1.0.0",
    },
    signs_body: false,
    files_glob: Some("app/**"),
    ignored: Some(Event {
        name: "Merge Request Hook",
        body: fixture!("gitlab/merge_request.json"),
    }),
    ping: None,
};

/// One `repo:refs_changed` carries both a branch and a tag change (of the same commit).
const BITBUCKET_SERVER: Host = Host {
    provider: "bitbucket-server",
    auth_header: None,
    headers: bitbucket_server_headers,
    push_event: "repo:refs_changed",
    tag_event: "repo:refs_changed",
    push: Payload {
        json: fixture!("bitbucket-server/refs_changed.json"),
        revision: "178864a7d521b6f5e720b386b2c2b0ef8563e0dc",
        name: "master",
    },
    tag: Payload {
        json: fixture!("bitbucket-server/refs_changed.json"),
        revision: "178864a7d521b6f5e720b386b2c2b0ef8563e0dc",
        name: "release-2.0",
    },
    signs_body: true,
    files_glob: None,
    ignored: Some(Event {
        name: "pr:opened",
        body: fixture!("bitbucket-server/pr_opened.json"),
    }),
    ping: Some(Event {
        name: "diagnostics:ping",
        body: fixture!("bitbucket-server/ping.json"),
    }),
};

const GITHUB: Host = Host {
    provider: "github",
    auth_header: None,
    headers: github_headers,
    push_event: "push",
    tag_event: "push",
    push: Payload {
        json: fixture!("github/push.json"),
        revision: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
        name: "main",
    },
    tag: Payload {
        json: fixture!("github/tag_push.json"),
        // The tagged commit; `after` stays the annotated tag's object, as GitHub sends it.
        revision: "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
        name: "v1.2.0",
    },
    signs_body: true,
    files_glob: Some("deploy/**"),
    ignored: Some(Event {
        name: "pull_request",
        body: fixture!("github/pull_request.json"),
    }),
    ping: Some(Event {
        name: "ping",
        body: fixture!("github/ping.json"),
    }),
};

/// A generic sender's body is never read: these only have to be what such a sender posts.
const GENERIC_HMAC: Host = Host {
    provider: "generic-hmac",
    auth_header: Some("X-Signature-256"),
    headers: generic_hmac_headers,
    push_event: "",
    tag_event: "",
    push: Payload {
        json: r#"{"pipeline": "build", "ref": "refs/heads/main", "sha": "0123456789abcdef0123456789abcdef01234567"}"#,
        revision: "0123456789abcdef0123456789abcdef01234567",
        name: "main",
    },
    tag: Payload {
        json: r#"{"pipeline": "release", "ref": "refs/tags/v2.0.0", "sha": "0123456789abcdef0123456789abcdef01234567"}"#,
        revision: "0123456789abcdef0123456789abcdef01234567",
        name: "v2.0.0",
    },
    signs_body: true,
    files_glob: None,
    ignored: None,
    ping: None,
};

/// One module per host, one test per case the host has.
macro_rules! provider_tests {
    ($($module:ident: $host:ident => [$($case:ident),* $(,)?];)*) => {$(
        mod $module {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(&super::$host).await;
                }
            )*
        }
    )*};
}

provider_tests! {
    gitea: GITEA => [
        a_push_runs_its_revision_once,
        forged_deliveries_are_refused,
        a_tag_push_runs_the_tag,
        a_push_to_another_branch_runs_nothing,
        a_files_filter_skips_a_push_touching_no_matching_file,
        file_lists_are_read_only_for_a_files_filter,
        other_events_are_acknowledged_and_ignored,
        malformed_json_is_a_bad_request,
    ];
    forgejo: FORGEJO => [
        a_push_runs_its_revision_once,
        forged_deliveries_are_refused,
        a_tag_push_runs_the_tag,
        other_events_are_acknowledged_and_ignored,
    ];
    gitlab: GITLAB => [
        a_push_runs_its_revision_once,
        forged_deliveries_are_refused,
        a_tag_push_runs_the_tag,
        a_push_to_another_branch_runs_nothing,
        a_files_filter_skips_a_push_touching_no_matching_file,
        file_lists_are_read_only_for_a_files_filter,
        other_events_are_acknowledged_and_ignored,
        malformed_json_is_a_bad_request,
    ];
    bitbucket_server: BITBUCKET_SERVER => [
        a_push_runs_its_revision_once,
        forged_deliveries_are_refused,
        a_tag_push_runs_the_tag,
        a_push_to_another_branch_runs_nothing,
        a_files_filter_cannot_skip_a_push_without_file_lists,
        other_events_are_acknowledged_and_ignored,
        a_ping_is_answered,
        malformed_json_is_a_bad_request,
    ];
    github: GITHUB => [
        a_push_runs_its_revision_once,
        a_tag_push_runs_the_tag,
        a_files_filter_skips_a_push_touching_no_matching_file,
        file_lists_are_read_only_for_a_files_filter,
        other_events_are_acknowledged_and_ignored,
        a_ping_is_answered,
    ];
    generic_hmac: GENERIC_HMAC => [
        a_push_runs_its_revision_once,
        forged_deliveries_are_refused,
        a_tag_push_runs_the_tag,
        the_body_is_not_read,
        a_files_filter_cannot_skip_a_push_without_file_lists,
    ];
}

// ---- a Herald to send to --------------------------------------------------------------------

/// What one WebhookTrigger watches.
enum Watch {
    Branch(&'static str),
    Tag(&'static str),
}

/// One WebhookTrigger of the host's provider on the one repository.
struct Trigger {
    name: &'static str,
    watch: Watch,
    files: Vec<&'static str>,
}

impl Trigger {
    fn on(name: &'static str, watch: Watch) -> Self {
        Self {
            name,
            watch,
            files: Vec::new(),
        }
    }
}

/// A running Herald with one repository `repo` (every watched branch and tag made at its head),
/// an action that checks the revision out, and `host`'s triggers.
struct Setup<'h> {
    host: &'h Host,
    repo: TestRepo,
    herald: LocalHerald,
    _manifests: Manifests,
}

impl<'h> Setup<'h> {
    async fn start(host: &'h Host, triggers: &[Trigger]) -> Self {
        let repo = TestRepo::new();
        let mut made = std::collections::BTreeSet::from([("branch", "main")]);
        for trigger in triggers {
            let (kind, name) = match trigger.watch {
                Watch::Branch(name) => ("branch", name),
                Watch::Tag(name) => ("tag", name),
            };
            if made.insert((kind, name)) {
                repo.git(&[kind, name]);
            }
        }
        let manifests = Manifests::new();
        manifests.write("all.yaml", &manifests_yaml(host, &repo.url(), triggers));
        let herald = LocalHerald::start(&manifests).await;
        Self {
            host,
            repo,
            herald,
            _manifests: manifests,
        }
    }

    /// Deliver `body` to `trigger`, signed (or with the token) as the host does.
    async fn deliver(&self, trigger: &str, event: &str, id: &str, body: &[u8]) -> (u16, Value) {
        let delivery = Delivery {
            event,
            id,
            body,
            secret: SECRET,
        };
        self.send(trigger, &delivery, body).await
    }

    /// Send `body` with the headers made for `delivery`, which may be for another body.
    async fn send(&self, trigger: &str, delivery: &Delivery<'_>, body: &[u8]) -> (u16, Value) {
        let headers = (self.host.headers)(delivery);
        let path = format!("/hooks/default/{trigger}/repo");
        self.herald.post(&path, &headers, body).await
    }

    async fn assert_no_runs(&self, why: &str) {
        let runs = self.herald.runs().await;
        assert!(runs.is_empty(), "{why}: {runs:?}");
    }

    /// The recorded deliveries with this id for `trigger`.
    async fn recorded(&self, trigger: &str, id: &str) -> Vec<herald_store::EventRecord> {
        let key = format!("default/{trigger}/{id}");
        let mut all = self.herald.deliveries().await;
        all.retain(|e| e.delivery_id.as_deref() == Some(key.as_str()));
        all
    }
}

fn manifests_yaml(host: &Host, repo_url: &str, triggers: &[Trigger]) -> String {
    let mut yaml = format!(
        r#"apiVersion: herald.dev/v1alpha1
kind: GitRepo
metadata: {{name: repo}}
spec: {{repoUri: "{repo_url}"}}
---
apiVersion: herald.dev/v1alpha1
kind: Action
metadata: {{name: act}}
spec:
  actionJob:
    command: [sh, -c, 'test -f README.md && echo "$HERALD_REF $HERALD_REVISION"']
    activeDeadlineSeconds: 20
---
apiVersion: v1
kind: Secret
metadata: {{name: hook-secret}}
stringData: {{token: "{secret}"}}
"#,
        secret = std::str::from_utf8(SECRET).unwrap()
    );
    let header = host
        .auth_header
        .map(|h| format!(", header: {h}"))
        .unwrap_or_default();
    for trigger in triggers {
        let reference = match trigger.watch {
            Watch::Branch(name) => format!("{{branch: {name}}}"),
            Watch::Tag(name) => format!("{{tag: {name}}}"),
        };
        yaml += &format!(
            r#"---
apiVersion: herald.dev/v1alpha1
kind: WebhookTrigger
metadata: {{name: {name}}}
spec:
  sources: {{kind: GitRepo, names: [repo], watchOn: {{reference: {reference}, files: {files:?}}}}}
  webhook:
    provider: {provider}
    authConfig: {{secretRef: {{name: hook-secret}}{header}}}
  action: {{kind: Action, name: act}}
"#,
            name = trigger.name,
            files = trigger.files,
            provider = host.provider,
        );
    }
    yaml
}

/// A delivery id shaped like the UUIDs hosts send, distinct per `n`.
fn delivery_id(n: u16) -> String {
    format!("7c9e6679-7425-40de-944b-{n:012x}")
}

fn runs_in(answer: &Value) -> usize {
    answer["runs"].as_array().map_or(usize::MAX, Vec::len)
}

fn succeeded<'a>(runs: &'a [RunRecord], git_ref: &str, revision: &str) -> Option<&'a RunRecord> {
    runs.iter().find(|r| {
        r.git_ref.as_deref() == Some(git_ref)
            && r.revision == revision
            && r.phase == RunPhase::Succeeded
    })
}

// ---- the cases ------------------------------------------------------------------------------

/// A push runs the pushed commit to success; the same delivery again is acknowledged as a
/// duplicate and runs nothing.
async fn a_push_runs_its_revision_once(host: &Host) {
    let branch = host.push.name;
    let s = Setup::start(host, &[Trigger::on("push", Watch::Branch(branch))]).await;
    let head = s.repo.head();
    let body = host.push.body(&head);
    let id = delivery_id(1);

    let (status, first) = s.deliver("push", host.push_event, &id, &body).await;
    assert_eq!((status, runs_in(&first)), (202, 1), "{first}");
    assert_eq!(first["runs"][0]["revision"], head.as_str());
    assert_eq!(first["runs"][0]["created"], true);

    let (status, again) = s.deliver("push", host.push_event, &id, &body).await;
    assert_eq!(
        (status, again["duplicate"].as_bool()),
        (200, Some(true)),
        "a redelivery is acknowledged: {again}"
    );
    let git_ref = format!("refs/heads/{branch}");
    let runs = s
        .herald
        .wait_for_runs("the pushed revision's run to succeed", |runs| {
            succeeded(runs, &git_ref, &head).is_some()
        })
        .await;
    assert_eq!(runs.len(), 1, "a redelivery runs nothing: {runs:?}");
    assert_eq!(runs[0].cause, herald_api::RunCause::Webhook);
    assert_eq!(
        s.recorded("push", &id).await.len(),
        1,
        "the delivery is recorded once"
    );
    s.herald.stop().await;
}

/// A wrong secret, a body changed after signing and a delivery without its proof are all
/// refused with 401 and leave nothing behind.
async fn forged_deliveries_are_refused(host: &Host) {
    let s = Setup::start(host, &[Trigger::on("push", Watch::Branch(host.push.name))]).await;
    let head = s.repo.head();
    let body = host.push.body(&head);

    let wrong = Delivery {
        event: host.push_event,
        id: &delivery_id(1),
        body: &body,
        secret: b"not-the-secret",
    };
    let (status, answer) = s.send("push", &wrong, &body).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (401, Some("unauthorized")),
        "a wrong secret"
    );

    let path = "/hooks/default/push/repo";
    let (status, _) = s.herald.post(path, &[], &body).await;
    assert_eq!(status, 401, "no signature or token at all");

    // GitLab's token proves the sender but does not cover the body.
    if host.signs_body {
        let signed = Delivery {
            event: host.push_event,
            id: &delivery_id(2),
            body: &body,
            secret: SECRET,
        };
        let tampered = one_byte_changed(&body, &head);
        let (status, answer) = s.send("push", &signed, &tampered).await;
        assert_eq!(status, 401, "a body changed after signing: {answer}");
    }

    s.assert_no_runs("no forged delivery runs").await;
    assert!(
        s.herald.deliveries().await.is_empty(),
        "no forged delivery is recorded"
    );
    s.herald.stop().await;
}

/// `body` with the first digit of `revision` in it changed: still valid JSON, now naming
/// another commit, so only the signature can tell.
fn one_byte_changed(body: &[u8], revision: &str) -> Vec<u8> {
    let at = body
        .windows(revision.len())
        .position(|w| w == revision.as_bytes())
        .expect("the body names the revision");
    let mut tampered = body.to_vec();
    tampered[at] = if tampered[at] == b'0' { b'1' } else { b'0' };
    tampered
}

/// A trigger watching a tag runs the tag's commit, not the branch's newer one.
async fn a_tag_push_runs_the_tag(host: &Host) {
    let tag = host.tag.name;
    let s = Setup::start(host, &[Trigger::on("release", Watch::Tag(tag))]).await;
    let tagged = s.repo.head();
    let newer = s.repo.commit("after the tag");
    assert_ne!(tagged, newer);
    let id = delivery_id(1);

    let body = host.tag.body(&tagged);
    let (status, fired) = s.deliver("release", host.tag_event, &id, &body).await;
    assert_eq!((status, runs_in(&fired)), (202, 1), "{fired}");
    assert_eq!(fired["runs"][0]["revision"], tagged.as_str());
    assert_eq!(fired["runs"][0]["created"], true);
    let git_ref = format!("refs/tags/{tag}");
    s.herald
        .wait_for_runs("the tag's run to succeed", |runs| {
            succeeded(runs, &git_ref, &tagged).is_some()
        })
        .await;
    s.herald.stop().await;
}

/// A push to a branch the trigger does not watch is accepted and runs nothing.
async fn a_push_to_another_branch_runs_nothing(host: &Host) {
    let branch = host.push.name;
    let s = Setup::start(host, &[Trigger::on("push", Watch::Branch(branch))]).await;
    let pushed = String::from_utf8(host.push.body(&s.repo.head())).unwrap();
    let elsewhere = pushed.replace(
        &format!("\"refs/heads/{branch}\""),
        "\"refs/heads/elsewhere\"",
    );
    assert_ne!(pushed, elsewhere, "the fixture names refs/heads/{branch}");

    let id = delivery_id(1);
    let (status, answer) = s
        .deliver("push", host.push_event, &id, elsewhere.as_bytes())
        .await;
    assert_eq!((status, runs_in(&answer)), (202, 0), "{answer}");
    s.assert_no_runs("another branch runs nothing").await;
    assert_eq!(s.recorded("push", &id).await.len(), 1, "still recorded");
    s.herald.stop().await;
}

/// With file lists in the payload, a trigger whose globs match none of them runs nothing; one
/// whose glob matches runs.
async fn a_files_filter_skips_a_push_touching_no_matching_file(host: &Host) {
    let glob = host.files_glob.expect("the host lists changed files");
    let branch = host.push.name;
    let triggers = [
        Trigger {
            files: vec!["charts/**"],
            ..Trigger::on("charts", Watch::Branch(branch))
        },
        Trigger {
            files: vec![glob],
            ..Trigger::on("matching", Watch::Branch(branch))
        },
    ];
    let s = Setup::start(host, &triggers).await;
    let body = host.push.body(&s.repo.head());

    let (status, skipped) = s
        .deliver("charts", host.push_event, &delivery_id(1), &body)
        .await;
    assert_eq!((status, runs_in(&skipped)), (202, 0), "{skipped}");
    s.assert_no_runs("no listed file is under charts/").await;

    let (status, fired) = s
        .deliver("matching", host.push_event, &delivery_id(2), &body)
        .await;
    assert_eq!((status, runs_in(&fired)), (202, 1), "{glob}: {fired}");
    s.herald.stop().await;
}

/// File lists are read only for a trigger that watches files: a push whose list is not a
/// list runs a trigger without a files filter, and is a bad request for one with a filter.
async fn file_lists_are_read_only_for_a_files_filter(host: &Host) {
    let branch = host.push.name;
    let triggers = [
        Trigger::on("any", Watch::Branch(branch)),
        Trigger {
            files: vec!["charts/**"],
            ..Trigger::on("charts", Watch::Branch(branch))
        },
    ];
    let s = Setup::start(host, &triggers).await;
    let mut payload: Value =
        serde_json::from_slice(&host.push.body(&s.repo.head())).expect("fixture is JSON");
    payload["commits"][0]["added"] = Value::from(5);
    let body = serde_json::to_vec(&payload).expect("serializes");

    let (status, fired) = s
        .deliver("any", host.push_event, &delivery_id(1), &body)
        .await;
    assert_eq!((status, runs_in(&fired)), (202, 1), "{fired}");
    let (status, refused) = s
        .deliver("charts", host.push_event, &delivery_id(2), &body)
        .await;
    assert_eq!(status, 400, "{refused}");
    let reason = refused["error"].as_str().unwrap_or_default();
    assert!(reason.contains("commits[0].added"), "the reason: {refused}");
    s.herald.stop().await;
}

/// Without file lists (Bitbucket, generic senders) a push may touch anything, so a files
/// filter cannot skip it.
async fn a_files_filter_cannot_skip_a_push_without_file_lists(host: &Host) {
    let trigger = Trigger {
        files: vec!["charts/**"],
        ..Trigger::on("charts", Watch::Branch(host.push.name))
    };
    let s = Setup::start(host, &[trigger]).await;
    let head = s.repo.head();
    let body = host.push.body(&head);
    let (status, fired) = s
        .deliver("charts", host.push_event, &delivery_id(1), &body)
        .await;
    assert_eq!((status, runs_in(&fired)), (202, 1), "{fired}");
    assert_eq!(fired["runs"][0]["revision"], head.as_str());
    s.herald.stop().await;
}

/// An event Herald does not act on is acknowledged with 202, named, recorded, and runs nothing.
async fn other_events_are_acknowledged_and_ignored(host: &Host) {
    let event = host
        .ignored
        .as_ref()
        .expect("the host has an ignored event");
    let s = Setup::start(host, &[Trigger::on("push", Watch::Branch(host.push.name))]).await;
    let id = delivery_id(1);
    let (status, answer) = s
        .deliver("push", event.name, &id, event.body.as_bytes())
        .await;
    assert_eq!(
        (status, answer["ignored"].as_str()),
        (202, Some(event.name)),
        "{answer}"
    );
    s.assert_no_runs("an ignored event runs nothing").await;
    let recorded = s.recorded("push", &id).await;
    let expected = format!("ignored:{}", event.name);
    assert_eq!(recorded.len(), 1, "recorded once");
    assert_eq!(recorded[0].reason.as_deref(), Some(expected.as_str()));
    s.herald.stop().await;
}

/// The sender's ping is answered 200 and runs nothing.
async fn a_ping_is_answered(host: &Host) {
    let ping = host.ping.as_ref().expect("the host has a ping");
    let s = Setup::start(host, &[Trigger::on("push", Watch::Branch(host.push.name))]).await;
    let (status, answer) = s
        .deliver("push", ping.name, &delivery_id(1), ping.body.as_bytes())
        .await;
    assert_eq!(
        (status, answer["message"].as_str()),
        (200, Some("pong")),
        "{answer}"
    );
    s.assert_no_runs("a ping runs nothing").await;
    s.herald.stop().await;
}

/// A validly signed push whose body is not JSON is refused with 400 and the parser's reason.
async fn malformed_json_is_a_bad_request(host: &Host) {
    let s = Setup::start(host, &[Trigger::on("push", Watch::Branch(host.push.name))]).await;
    let body = host.push.body(&s.repo.head());
    let truncated = &body[..body.len() / 2];
    let id = delivery_id(1);
    let (status, answer) = s.deliver("push", host.push_event, &id, truncated).await;
    assert_eq!(status, 400, "{answer}");
    let reason = answer["error"].as_str().unwrap_or_default();
    assert!(reason.contains("malformed JSON"), "the reason: {answer}");
    s.assert_no_runs("a malformed payload runs nothing").await;
    assert!(s.recorded("push", &id).await.is_empty(), "nor is recorded");
    s.herald.stop().await;
}

/// A generic sender's body is never read: whatever it says (not JSON, another branch), a
/// verified delivery runs the branch the trigger watches, as the repository has it now.
async fn the_body_is_not_read(host: &Host) {
    let s = Setup::start(host, &[Trigger::on("push", Watch::Branch("main"))]).await;
    let head = s.repo.head();
    let bodies: [&[u8]; 2] = [
        b"{not json",
        br#"{"ref": "refs/heads/elsewhere", "sha": "0000000000000000000000000000000000000000"}"#,
    ];
    for (n, body) in (1..).zip(bodies) {
        let (status, fired) = s.deliver("push", "", &delivery_id(n), body).await;
        assert_eq!((status, runs_in(&fired)), (202, 1), "{fired}");
        assert_eq!(fired["runs"][0]["revision"], head.as_str());
        assert_eq!(
            fired["runs"][0]["created"], true,
            "each delivery is its own run"
        );
    }
    s.herald.stop().await;
}

/// GitHub names an annotated tag's tag object in `after` and the tagged commit in
/// `head_commit.id`; the run must be for the commit, which is what a checkout can run.
#[tokio::test]
async fn github_annotated_tag_push_runs_the_tagged_commit() {
    let host = &GITHUB;
    let tag = host.tag.name;
    let s = Setup::start(host, &[Trigger::on("release", Watch::Tag(tag))]).await;
    s.repo
        .git(&["tag", "--force", "--annotate", tag, "-m", "release"]);
    let tag_object = s.repo.git(&["rev-parse", tag]);
    let commit = s.repo.git(&["rev-parse", &format!("{tag}^{{commit}}")]);
    assert_ne!(
        tag_object, commit,
        "an annotated tag is an object of its own"
    );
    // The fixture's `after` is its tag object; `host.tag.body` fills in the tagged commit.
    let body = String::from_utf8(host.tag.body(&commit))
        .unwrap()
        .replace("6113728f27ae82c7b1a177c8d03f9e96e0adf246", &tag_object);

    let (status, fired) = s
        .deliver("release", host.tag_event, &delivery_id(1), body.as_bytes())
        .await;
    assert_eq!((status, runs_in(&fired)), (202, 1), "{fired}");
    assert_eq!(fired["runs"][0]["revision"], commit.as_str(), "{fired}");
    let git_ref = format!("refs/tags/{tag}");
    s.herald
        .wait_for_runs("the tagged commit's run to succeed", |runs| {
            succeeded(runs, &git_ref, &commit).is_some()
        })
        .await;
    s.herald.stop().await;
}
