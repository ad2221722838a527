//! Provider payloads as the hosts document them, with signatures computed here.

use herald_core::hooks::{
    HookEvent, HookSecret, ParseError, Provider, Push, RefKind, VerifyError, delivery_id, parse,
    verify,
};
use hmac::{Hmac, Mac};
use sha2::Sha256;

const SECRET: &[u8] = b"It's a Secret to Everybody";

fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/fixtures/hooks/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn sign(key: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

type H = Vec<(String, String)>;

fn h(pairs: &[(&str, &str)]) -> H {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn pushes(e: HookEvent) -> Vec<Push> {
    match e {
        HookEvent::Push(p) => p,
        other => panic!("expected a push, got {other:?}"),
    }
}

fn one_push(e: HookEvent) -> Push {
    let mut p = pushes(e);
    assert_eq!(p.len(), 1);
    p.remove(0)
}

fn secret() -> HookSecret<'static> {
    HookSecret::new(SECRET)
}

// ---- GitHub ---------------------------------------------------------------------------------

fn github_headers(event: &str, body: &[u8]) -> H {
    h(&[
        ("Content-Type", "application/json"),
        ("User-Agent", "GitHub-Hookshot/2b5a6c1"),
        ("X-GitHub-Event", event),
        ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        ("X-GitHub-Hook-ID", "292430182"),
        ("X-Hub-Signature", "sha1=ignored"),
        (
            "X-Hub-Signature-256",
            &format!("sha256={}", sign(SECRET, body)),
        ),
    ])
}

#[test]
fn github_push() {
    let body = fixture("github/push.json");
    let hd = github_headers("push", &body);
    verify(Provider::Github, &hd, &body, &secret(), None).unwrap();
    assert_eq!(
        delivery_id(Provider::Github, &hd).as_deref(),
        Some("72d3162e-cc78-11e3-81ab-4c9367dc0958")
    );
    let p = one_push(parse(Provider::Github, &hd, &body).unwrap());
    assert_eq!(p.git_ref, "refs/heads/main");
    assert_eq!(p.kind(), RefKind::Branch);
    assert_eq!(p.short_ref(), "main");
    assert_eq!(p.revision, "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c");
    assert!(!p.deleted);
    assert_eq!(
        p.changed_files.unwrap(),
        [
            "deploy/app.yaml",
            "README.md",
            "src/main.rs",
            "old/notes.txt"
        ]
    );
    let repo = p.repository.unwrap();
    assert_eq!(repo.full_name.as_deref(), Some("octo-org/hello-world"));
    assert!(repo.matches_url("git@github.com:octo-org/hello-world.git"));
    assert!(repo.matches_url("https://github.com/Octo-Org/hello-world"));
    assert!(!repo.matches_url("https://github.com/octo-org/other.git"));
}

#[test]
fn github_tag_push_has_no_file_list() {
    let body = fixture("github/tag_push.json");
    let hd = github_headers("push", &body);
    verify(Provider::Github, &hd, &body, &secret(), None).unwrap();
    let p = one_push(parse(Provider::Github, &hd, &body).unwrap());
    assert_eq!(p.git_ref, "refs/tags/v1.2.0");
    assert_eq!(p.kind(), RefKind::Tag);
    assert_eq!(p.short_ref(), "v1.2.0");
    // An annotated tag: `after` is the tag object, `head_commit` the commit it tags.
    assert_eq!(p.revision, "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c");
    assert_eq!(p.changed_files, None);
}

#[test]
fn github_branch_delete() {
    let body = fixture("github/delete_branch.json");
    let hd = github_headers("push", &body);
    verify(Provider::Github, &hd, &body, &secret(), None).unwrap();
    let p = one_push(parse(Provider::Github, &hd, &body).unwrap());
    assert!(p.deleted);
    assert_eq!(p.git_ref, "refs/heads/feature/old");
    assert_eq!(p.revision, "0".repeat(40));
    assert_eq!(p.changed_files, None);
}

#[test]
fn github_ping_and_ignored() {
    let body = fixture("github/ping.json");
    let hd = github_headers("ping", &body);
    verify(Provider::Github, &hd, &body, &secret(), None).unwrap();
    assert_eq!(
        parse(Provider::Github, &hd, &body).unwrap(),
        HookEvent::Ping
    );

    let body = fixture("github/pull_request.json");
    let hd = github_headers("pull_request", &body);
    verify(Provider::Github, &hd, &body, &secret(), None).unwrap();
    assert_eq!(
        parse(Provider::Github, &hd, &body).unwrap(),
        HookEvent::Ignored {
            event: "pull_request".into()
        }
    );
}

#[test]
fn github_form_encoded_body() {
    let json = fixture("github/push.json");
    let mut body = b"payload=".to_vec();
    for &b in &json {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            body.push(b);
        } else if b == b' ' {
            body.push(b'+');
        } else {
            body.extend_from_slice(format!("%{b:02X}").as_bytes());
        }
    }
    let mut hd = github_headers("push", &body);
    hd[0].1 = "application/x-www-form-urlencoded".into();
    verify(Provider::Github, &hd, &body, &secret(), None).unwrap();
    let p = one_push(parse(Provider::Github, &hd, &body).unwrap());
    assert_eq!(p.revision, "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c");
}

#[test]
fn github_wrong_missing_and_malformed_signatures() {
    let body = fixture("github/push.json");
    let mut hd = github_headers("push", &body);

    let wrong = HookSecret::new(b"another secret");
    assert_eq!(
        verify(Provider::Github, &hd, &body, &wrong, None),
        Err(VerifyError::Mismatch)
    );

    let mut tampered = body.clone();
    let i = tampered.iter().position(|&b| b == b'm').unwrap();
    tampered[i] = b'M';
    assert_eq!(
        verify(Provider::Github, &hd, &tampered, &secret(), None),
        Err(VerifyError::Mismatch)
    );

    // the sha1 header alone is not enough
    let only_sha1: H = hd
        .iter()
        .filter(|(k, _)| k != "X-Hub-Signature-256")
        .cloned()
        .collect();
    assert_eq!(
        verify(Provider::Github, &only_sha1, &body, &secret(), None),
        Err(VerifyError::MissingHeader("x-hub-signature-256".into()))
    );

    let pos = hd
        .iter()
        .position(|(k, _)| k == "X-Hub-Signature-256")
        .unwrap();
    for bad in [
        sign(SECRET, &body),                             // no prefix
        "sha256=nothex".to_owned(),                      // not hex
        format!("sha256={}", &sign(SECRET, &body)[2..]), // short
        "sha1=0123".to_owned(),
    ] {
        hd[pos].1 = bad;
        assert!(matches!(
            verify(Provider::Github, &hd, &body, &secret(), None),
            Err(VerifyError::Malformed(_))
        ));
    }
    // upper-case hex is still the same signature
    hd[pos].1 = format!("sha256={}", sign(SECRET, &body).to_uppercase());
    verify(Provider::Github, &hd, &body, &secret(), None).unwrap();
}

#[test]
fn empty_secret_never_verifies() {
    let body = b"{}";
    let hd = h(&[(
        "x-hub-signature-256",
        &format!("sha256={}", sign(b"", body)),
    )]);
    assert_eq!(
        verify(Provider::Github, &hd, body, &HookSecret::new(b""), None),
        Err(VerifyError::NoSecret)
    );
}

#[test]
fn verify_errors_say_nothing_about_the_secret() {
    let body = fixture("github/push.json");
    let hd = github_headers("push", &body);
    let err = verify(Provider::Github, &hd, &body, &HookSecret::new(b"zzz"), None).unwrap_err();
    let text = err.to_string();
    assert_eq!(text, "signature or token does not match");
    assert!(!text.contains(&sign(b"zzz", &body)));
}

#[test]
fn github_malformed_json_and_missing_fields() {
    let check = |body: &[u8]| {
        let hd = github_headers("push", body);
        verify(Provider::Github, &hd, body, &secret(), None).unwrap();
        parse(Provider::Github, &hd, body).unwrap_err()
    };
    assert!(matches!(check(b"{\"ref\": "), ParseError::Json(_)));
    assert!(matches!(check(b""), ParseError::Json(_)));
    assert!(matches!(check(b"[1,2]"), ParseError::Json(_)));
    let e = check(br#"{"after": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"}"#);
    assert_eq!(e, ParseError::MissingField("ref".into()));
    assert_eq!(e.to_string(), "missing field `ref`");
    assert_eq!(
        check(br#"{"ref": "refs/heads/main"}"#),
        ParseError::MissingField("after".into())
    );
    assert_eq!(
        check(br#"{"ref": "refs/heads/main", "after": "xyz"}"#),
        ParseError::BadRevision("after".into())
    );
    assert_eq!(
        check(br#"{"ref": 7, "after": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"}"#),
        ParseError::InvalidField {
            field: "ref".into(),
            expected: "a string"
        }
    );
    assert_eq!(
        check(br#"{"ref": "main", "after": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"}"#),
        ParseError::BadRef("ref".into())
    );
    // a missing event header is a 400 too
    let body = fixture("github/push.json");
    assert_eq!(
        parse(Provider::Github, &h(&[]), &body),
        Err(ParseError::MissingHeader("x-github-event"))
    );
}

#[test]
fn github_incomplete_commit_lists_mean_unknown_files() {
    let base = serde_json::json!({
        "ref": "refs/heads/main",
        "before": "9049f1265b7d61be4a8904a9a27120d2064dab3b",
        "after": "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
    });
    let files = |v: serde_json::Value| {
        let body = serde_json::to_vec(&v).unwrap();
        one_push(parse(Provider::Github, &h(&[("x-github-event", "push")]), &body).unwrap())
            .changed_files
    };
    let commit = serde_json::json!({"added": ["a"], "modified": [], "removed": []});
    let mut v = base.clone();
    v["commits"] = serde_json::json!([commit]);
    assert_eq!(files(v.clone()), Some(vec!["a".to_owned()]));
    v["forced"] = true.into();
    assert_eq!(files(v), None, "forced push");
    let mut v = base.clone();
    v["commits"] = serde_json::json!([]);
    assert_eq!(files(v), None, "no commits");
    let mut v = base.clone();
    v["commits"] = serde_json::Value::Array(vec![commit; 2048]);
    assert_eq!(files(v), None, "payload commit cap reached");
    let mut v = base;
    v["commits"] = serde_json::json!([{"added": ["a"]}]);
    assert_eq!(files(v), None, "file lists absent");
}

// ---- Gitea / Forgejo ------------------------------------------------------------------------

#[test]
fn gitea_push_tag_and_ignored() {
    let body = fixture("gitea/push.json");
    let hd = h(&[
        ("Content-Type", "application/json"),
        ("X-Gitea-Delivery", "f6266f16-1bf3-46a5-9ea4-602e06ead473"),
        ("X-Gitea-Event", "push"),
        ("X-Gitea-Event-Type", "push"),
        ("X-Gitea-Signature", &sign(SECRET, &body)),
        ("X-Gogs-Delivery", "f6266f16-1bf3-46a5-9ea4-602e06ead473"),
        ("X-Gogs-Event", "push"),
        ("X-Gogs-Signature", &sign(SECRET, &body)),
    ]);
    verify(Provider::Gitea, &hd, &body, &secret(), None).unwrap();
    assert_eq!(
        delivery_id(Provider::Gitea, &hd).as_deref(),
        Some("f6266f16-1bf3-46a5-9ea4-602e06ead473")
    );
    let p = one_push(parse(Provider::Gitea, &hd, &body).unwrap());
    assert_eq!(p.git_ref, "refs/heads/develop");
    assert_eq!(p.revision, "bffeb74224043ba2feb48d137756c8a9331c449a");
    assert_eq!(p.changed_files.unwrap(), ["docs/hooks.md", "Makefile"]);
    let repo = p.repository.unwrap();
    assert!(repo.matches_url("ssh://gitea@gitea.example:2222/gitea/webhooks.git"));

    // Forgejo headers only; upper-case sha normalized
    let body = fixture("gitea/tag_push.json");
    let hd = h(&[
        ("X-Forgejo-Delivery", "0b5e8c3e-9f6c-4a8e-b6a3-3b7c2d0f4e11"),
        ("X-Forgejo-Event", "push"),
        ("X-Forgejo-Signature", &sign(SECRET, &body)),
    ]);
    verify(Provider::Gitea, &hd, &body, &secret(), None).unwrap();
    assert_eq!(
        delivery_id(Provider::Gitea, &hd).as_deref(),
        Some("0b5e8c3e-9f6c-4a8e-b6a3-3b7c2d0f4e11")
    );
    let p = one_push(parse(Provider::Gitea, &hd, &body).unwrap());
    assert_eq!(p.kind(), RefKind::Tag);
    assert_eq!(p.revision, "bffeb74224043ba2feb48d137756c8a9331c449a");

    let body = fixture("gitea/create.json");
    let hd = h(&[
        ("X-Gitea-Event", "create"),
        ("X-Gitea-Signature", &sign(SECRET, &body)),
    ]);
    verify(Provider::Gitea, &hd, &body, &secret(), None).unwrap();
    assert_eq!(
        parse(Provider::Gitea, &hd, &body).unwrap(),
        HookEvent::Ignored {
            event: "create".into()
        }
    );
}

#[test]
fn gitea_bad_signatures() {
    let body = fixture("gitea/push.json");
    let hd = h(&[("X-Gitea-Event", "push")]);
    assert_eq!(
        verify(Provider::Gitea, &hd, &body, &secret(), None),
        Err(VerifyError::MissingHeader("x-gitea-signature".into()))
    );
    let hd = h(&[("X-Gitea-Signature", &sign(b"nope", &body))]);
    assert_eq!(
        verify(Provider::Gitea, &hd, &body, &secret(), None),
        Err(VerifyError::Mismatch)
    );
    let hd = h(&[("X-Gitea-Signature", &sign(SECRET, &body))]);
    assert_eq!(
        verify(Provider::Gitea, &hd, &body[1..], &secret(), None),
        Err(VerifyError::Mismatch)
    );
}

// ---- GitLab ---------------------------------------------------------------------------------

fn gitlab_headers(event: &str, token: &str) -> H {
    h(&[
        ("Content-Type", "application/json"),
        ("User-Agent", "GitLab/17.6.0"),
        ("X-Gitlab-Event", event),
        ("X-Gitlab-Token", token),
        ("X-Gitlab-Instance", "https://gitlab.example.com"),
        (
            "X-Gitlab-Webhook-UUID",
            "16e2a4c1-2f4f-4d39-8b1a-8a0f4a3f4b8a",
        ),
        (
            "X-Gitlab-Event-UUID",
            "13792a34-cac6-4fda-95a8-c58e00a3954e",
        ),
    ])
}

#[test]
fn gitlab_push() {
    let body = fixture("gitlab/push.json");
    let token = std::str::from_utf8(SECRET).unwrap();
    let hd = gitlab_headers("Push Hook", token);
    verify(Provider::Gitlab, &hd, &body, &secret(), None).unwrap();
    assert_eq!(
        delivery_id(Provider::Gitlab, &hd).as_deref(),
        Some("13792a34-cac6-4fda-95a8-c58e00a3954e")
    );
    let mut with_key = hd.clone();
    with_key.push((
        "Idempotency-Key".into(),
        "908a6d9e-45fd-46c8-97e6-c4f350f219dd".into(),
    ));
    assert_eq!(
        delivery_id(Provider::Gitlab, &with_key).as_deref(),
        Some("908a6d9e-45fd-46c8-97e6-c4f350f219dd"),
        "the retry-stable Idempotency-Key wins"
    );
    let p = one_push(parse(Provider::Gitlab, &hd, &body).unwrap());
    assert_eq!(p.git_ref, "refs/heads/master");
    assert_eq!(p.revision, "da1560886d4f094c3e6c9ef40349f7d38b5d27d7");
    assert_eq!(
        p.changed_files.unwrap(),
        ["CHANGELOG", "app/controller/application.rb", "README"]
    );
    let repo = p.repository.unwrap();
    assert_eq!(repo.full_name.as_deref(), Some("mike/diaspora"));
    assert!(repo.matches_url("https://gitlab.example.com/mike/diaspora"));
}

#[test]
fn gitlab_truncated_commits_mean_unknown_files() {
    let mut v: serde_json::Value = serde_json::from_slice(&fixture("gitlab/push.json")).unwrap();
    v["total_commits_count"] = 57.into();
    let body = serde_json::to_vec(&v).unwrap();
    let hd = gitlab_headers("Push Hook", "x");
    assert_eq!(
        one_push(parse(Provider::Gitlab, &hd, &body).unwrap()).changed_files,
        None
    );
}

#[test]
fn gitlab_tag_push_delete_system_and_ignored() {
    let token = std::str::from_utf8(SECRET).unwrap();
    let body = fixture("gitlab/tag_push.json");
    let hd = gitlab_headers("Tag Push Hook", token);
    verify(Provider::Gitlab, &hd, &body, &secret(), None).unwrap();
    let p = one_push(parse(Provider::Gitlab, &hd, &body).unwrap());
    assert_eq!(p.git_ref, "refs/tags/v1.0.0");
    assert_eq!(p.kind(), RefKind::Tag);
    assert_eq!(p.changed_files, None);

    let body = fixture("gitlab/delete_branch.json");
    let p = one_push(parse(Provider::Gitlab, &gitlab_headers("Push Hook", token), &body).unwrap());
    assert!(p.deleted);
    assert_eq!(p.git_ref, "refs/heads/feature/gone");

    // the same payloads arrive as system hooks
    let body = fixture("gitlab/tag_push.json");
    let p = one_push(
        parse(
            Provider::Gitlab,
            &gitlab_headers("System Hook", token),
            &body,
        )
        .unwrap(),
    );
    assert_eq!(p.git_ref, "refs/tags/v1.0.0");
    let body = fixture("gitlab/merge_request.json");
    assert_eq!(
        parse(
            Provider::Gitlab,
            &gitlab_headers("System Hook", token),
            &body
        )
        .unwrap(),
        HookEvent::Ignored {
            event: "System Hook: merge_request".into()
        }
    );
    assert_eq!(
        parse(
            Provider::Gitlab,
            &gitlab_headers("Merge Request Hook", token),
            &body
        )
        .unwrap(),
        HookEvent::Ignored {
            event: "Merge Request Hook".into()
        }
    );
}

#[test]
fn gitlab_wrong_and_missing_token() {
    let body = fixture("gitlab/push.json");
    for wrong in [
        "It's a Secret to Everybody ",
        "it's a secret to everybody",
        "",
        "x",
    ] {
        assert_eq!(
            verify(
                Provider::Gitlab,
                &gitlab_headers("Push Hook", wrong),
                &body,
                &secret(),
                None
            ),
            Err(VerifyError::Mismatch),
            "{wrong:?}"
        );
    }
    assert_eq!(
        verify(
            Provider::Gitlab,
            &h(&[("X-Gitlab-Event", "Push Hook")]),
            &body,
            &secret(),
            None
        ),
        Err(VerifyError::MissingHeader("x-gitlab-token".into()))
    );
}

#[test]
fn gitlab_missing_ref_and_bad_json() {
    let hd = gitlab_headers("Push Hook", "x");
    let mut v: serde_json::Value = serde_json::from_slice(&fixture("gitlab/push.json")).unwrap();
    v.as_object_mut().unwrap().remove("ref");
    let body = serde_json::to_vec(&v).unwrap();
    assert_eq!(
        parse(Provider::Gitlab, &hd, &body),
        Err(ParseError::MissingField("ref".into()))
    );
    let e = parse(Provider::Gitlab, &hd, b"{\"ref\": \"refs/heads/x\",}").unwrap_err();
    assert!(matches!(e, ParseError::Json(_)), "{e:?}");
    assert!(e.to_string().starts_with("malformed JSON: "), "{e}");
}

// ---- Bitbucket Server -----------------------------------------------------------------------

fn bbs_headers(event: &str, body: &[u8]) -> H {
    h(&[
        ("Content-Type", "application/json; charset=utf-8"),
        ("X-Event-Key", event),
        ("X-Request-Id", "d9a1bd82-5f43-4fa3-a45e-2bd7d7b4a1c0"),
        ("X-Hub-Signature", &format!("sha256={}", sign(SECRET, body))),
    ])
}

#[test]
fn bitbucket_server_refs_changed_gives_one_push_per_change() {
    let body = fixture("bitbucket-server/refs_changed.json");
    let hd = bbs_headers("repo:refs_changed", &body);
    verify(Provider::BitbucketServer, &hd, &body, &secret(), None).unwrap();
    assert_eq!(
        delivery_id(Provider::BitbucketServer, &hd).as_deref(),
        Some("d9a1bd82-5f43-4fa3-a45e-2bd7d7b4a1c0")
    );
    let p = pushes(parse(Provider::BitbucketServer, &hd, &body).unwrap());
    assert_eq!(p.len(), 2);
    assert_eq!(p[0].git_ref, "refs/heads/master");
    assert_eq!(p[0].revision, "178864a7d521b6f5e720b386b2c2b0ef8563e0dc");
    assert_eq!(p[0].changed_files, None);
    assert_eq!(p[1].git_ref, "refs/tags/release-2.0");
    assert_eq!(p[1].kind(), RefKind::Tag);
    assert!(!p[1].deleted);
    let repo = p[0].repository.as_ref().unwrap();
    assert_eq!(repo.full_name.as_deref(), Some("PROJ/repository"));
    assert!(repo.matches_url("https://bitbucket.example/scm/proj/repository.git"));
    assert!(repo.matches_url("ssh://git@bitbucket.example:7999/proj/repository.git"));
}

#[test]
fn bitbucket_server_delete_ping_ignored_and_errors() {
    let body = fixture("bitbucket-server/delete_branch.json");
    let hd = bbs_headers("repo:refs_changed", &body);
    verify(Provider::BitbucketServer, &hd, &body, &secret(), None).unwrap();
    let p = one_push(parse(Provider::BitbucketServer, &hd, &body).unwrap());
    assert!(p.deleted);

    let body = fixture("bitbucket-server/ping.json");
    let hd = bbs_headers("diagnostics:ping", &body);
    verify(Provider::BitbucketServer, &hd, &body, &secret(), None).unwrap();
    assert_eq!(
        parse(Provider::BitbucketServer, &hd, &body).unwrap(),
        HookEvent::Ping
    );

    let body = fixture("bitbucket-server/pr_opened.json");
    let hd = bbs_headers("pr:opened", &body);
    assert_eq!(
        parse(Provider::BitbucketServer, &hd, &body).unwrap(),
        HookEvent::Ignored {
            event: "pr:opened".into()
        }
    );

    let body = fixture("bitbucket-server/refs_changed.json");
    let mut hd = bbs_headers("repo:refs_changed", &body);
    hd.pop();
    assert_eq!(
        verify(Provider::BitbucketServer, &hd, &body, &secret(), None),
        Err(VerifyError::MissingHeader("x-hub-signature".into()))
    );
    hd.push((
        "X-Hub-Signature".into(),
        format!("sha256={}", sign(b"other", &body)),
    ));
    assert_eq!(
        verify(Provider::BitbucketServer, &hd, &body, &secret(), None),
        Err(VerifyError::Mismatch)
    );

    let v = serde_json::json!({"changes": [{"ref": {"displayId": "main"}, "toHash": "178864a7d521b6f5e720b386b2c2b0ef8563e0dc"}]});
    let body = serde_json::to_vec(&v).unwrap();
    assert_eq!(
        parse(Provider::BitbucketServer, &hd, &body),
        Err(ParseError::MissingField("changes[0].ref.id".into()))
    );
    assert_eq!(
        parse(Provider::BitbucketServer, &hd, b"{}"),
        Err(ParseError::MissingField("changes".into()))
    );
}

// ---- Bitbucket Cloud ------------------------------------------------------------------------

fn bbc_headers(event: &str) -> H {
    h(&[
        ("Content-Type", "application/json"),
        ("User-Agent", "Bitbucket-Webhooks/2.0"),
        ("X-Event-Key", event),
        ("X-Hook-UUID", "{8b2a4f5c-0c1d-4e4f-9a7b-3c2d1e0f9a8b}"),
        ("X-Request-UUID", "5c7a9b1e-3f2d-4c8a-9e6b-0a1b2c3d4e5f"),
        ("X-Attempt-Number", "1"),
    ])
}

#[test]
fn bitbucket_cloud_push_with_path_token() {
    let body = fixture("bitbucket-cloud/push.json");
    let hd = bbc_headers("repo:push");
    let token = "p0Yb6Jc9m2Qw4Zt7Lx1Rn8Vd3Hs5Kf0A";
    let s = HookSecret::new(token.as_bytes());
    verify(Provider::BitbucketCloud, &hd, &body, &s, Some(token)).unwrap();
    assert_eq!(
        verify(
            Provider::BitbucketCloud,
            &hd,
            &body,
            &s,
            Some("p0Yb6Jc9m2Qw4Zt7Lx1Rn8Vd3Hs5Kf0B")
        ),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(
        verify(Provider::BitbucketCloud, &hd, &body, &s, Some("")),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(
        verify(Provider::BitbucketCloud, &hd, &body, &s, None),
        Err(VerifyError::MissingPathToken)
    );
    assert_eq!(
        delivery_id(Provider::BitbucketCloud, &hd).as_deref(),
        Some("5c7a9b1e-3f2d-4c8a-9e6b-0a1b2c3d4e5f")
    );
    let only_hook_uuid = h(&[("X-Hook-UUID", "{8b2a4f5c-0c1d-4e4f-9a7b-3c2d1e0f9a8b}")]);
    assert_eq!(delivery_id(Provider::BitbucketCloud, &only_hook_uuid), None);

    let p = pushes(parse(Provider::BitbucketCloud, &hd, &body).unwrap());
    assert_eq!(p.len(), 2);
    assert_eq!(p[0].git_ref, "refs/heads/main");
    assert_eq!(p[0].revision, "a37a7f5e7b0e6c8cb4e3b9a2a7f8e8d1c6b5a4f3");
    assert_eq!(p[0].changed_files, None);
    assert_eq!(p[1].git_ref, "refs/tags/v3.1.0");
    let repo = p[0].repository.as_ref().unwrap();
    assert_eq!(repo.full_name.as_deref(), Some("team/app"));
    assert!(repo.matches_url("git@bitbucket.org:team/app.git"));
}

#[test]
fn bitbucket_cloud_delete_ignored_and_errors() {
    let hd = bbc_headers("repo:push");
    let body = fixture("bitbucket-cloud/delete_branch.json");
    let p = one_push(parse(Provider::BitbucketCloud, &hd, &body).unwrap());
    assert!(p.deleted);
    assert_eq!(p.git_ref, "refs/heads/feature/old");
    assert_eq!(p.revision, "0".repeat(40));

    let body = fixture("bitbucket-cloud/issue_created.json");
    assert_eq!(
        parse(
            Provider::BitbucketCloud,
            &bbc_headers("issue:created"),
            &body
        )
        .unwrap(),
        HookEvent::Ignored {
            event: "issue:created".into()
        }
    );
    assert_eq!(
        parse(Provider::BitbucketCloud, &hd, br#"{"push": {}}"#),
        Err(ParseError::MissingField("push.changes".into()))
    );
    let v = serde_json::json!({"push": {"changes": [{"new": {"type": "branch", "name": "main", "target": {"hash": "abc"}}}]}});
    assert_eq!(
        parse(
            Provider::BitbucketCloud,
            &hd,
            &serde_json::to_vec(&v).unwrap()
        ),
        Err(ParseError::BadRevision(
            "push.changes[0].new.target.hash".into()
        ))
    );
}

// ---- generic --------------------------------------------------------------------------------

#[test]
fn generic_bearer_and_custom_header() {
    let tok = "9f86d081884c7d659a2feaa0c55ad015";
    let s = HookSecret::new(tok.as_bytes());
    let hd = h(&[("Authorization", &format!("Bearer {tok}"))]);
    verify(Provider::Generic, &hd, b"", &s, None).unwrap();
    assert_eq!(
        parse(Provider::Generic, &hd, b"").unwrap(),
        HookEvent::Unspecified
    );
    assert_eq!(
        parse(Provider::Generic, &hd, b"\xff not json").unwrap(),
        HookEvent::Unspecified
    );
    let hd = h(&[("Authorization", tok)]);
    assert!(matches!(
        verify(Provider::Generic, &hd, b"", &s, None),
        Err(VerifyError::Malformed(_))
    ));
    let hd = h(&[("Authorization", "Bearer wrong")]);
    assert_eq!(
        verify(Provider::Generic, &hd, b"", &s, None),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(
        verify(Provider::Generic, &h(&[]), b"", &s, None),
        Err(VerifyError::MissingHeader("authorization".into()))
    );

    let custom = s.with_header("X-Trigger-Auth");
    let hd = h(&[
        ("x-trigger-auth", tok),
        ("X-Idempotency-Key", "no"),
        ("Idempotency-Key", "run-42"),
    ]);
    verify(Provider::Generic, &hd, b"anything", &custom, None).unwrap();
    assert_eq!(
        delivery_id(Provider::Generic, &hd).as_deref(),
        Some("run-42")
    );
    let hd = h(&[("x-trigger-auth", &format!("{tok}x"))]);
    assert_eq!(
        verify(Provider::Generic, &hd, b"", &custom, None),
        Err(VerifyError::Mismatch)
    );
    let with_scheme = custom.with_prefix("Token");
    let hd = h(&[("x-trigger-auth", &format!("token {tok}"))]);
    verify(Provider::Generic, &hd, b"", &with_scheme, None).unwrap();
}

#[test]
fn generic_hmac() {
    let body = br#"{"image": "registry.example/app:1.4.2"}"#;
    let s = HookSecret::new(SECRET);
    let hd = h(&[("X-Hub-Signature-256", &sign(SECRET, body))]);
    verify(Provider::GenericHmac, &hd, body, &s, None).unwrap();
    let hd = h(&[(
        "X-Hub-Signature-256",
        &format!("sha256={}", sign(SECRET, body)),
    )]);
    verify(Provider::GenericHmac, &hd, body, &s, None).unwrap();
    assert_eq!(
        verify(Provider::GenericHmac, &hd, b"{}", &s, None),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(
        parse(Provider::GenericHmac, &hd, body).unwrap(),
        HookEvent::Unspecified
    );

    let custom = s.with_header("X-Signature").with_prefix("sha256=");
    let hd = h(&[("x-signature", &format!("sha256={}", sign(SECRET, body)))]);
    verify(Provider::GenericHmac, &hd, body, &custom, None).unwrap();
    let hd = h(&[("x-signature", &sign(SECRET, body))]);
    assert!(matches!(
        verify(Provider::GenericHmac, &hd, body, &custom, None),
        Err(VerifyError::Malformed(_))
    ));
    assert_eq!(
        verify(Provider::GenericHmac, &h(&[]), body, &custom, None),
        Err(VerifyError::MissingHeader("x-signature".into()))
    );
}

// ---- misc -----------------------------------------------------------------------------------

#[test]
fn provider_names_round_trip() {
    for p in Provider::ALL {
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, format!("\"{p}\""));
        assert_eq!(serde_json::from_str::<Provider>(&json).unwrap(), p);
        assert_eq!(p.as_str().parse::<Provider>().unwrap(), p);
    }
    assert_eq!(
        serde_json::from_str::<Provider>("\"bitbucket-server\"").unwrap(),
        Provider::BitbucketServer
    );
    assert!("GitHub".parse::<Provider>().is_err());
}

#[test]
fn every_delivery_id_deduplicates_and_is_kept_short_and_printable() {
    let id = |value: &[u8]| {
        let raw: Vec<(&str, &[u8])> = vec![("x-github-delivery", value)];
        delivery_id(Provider::Github, &raw)
    };
    let max = herald_core::hooks::MAX_PLAIN_DELIVERY_ID;
    let exact = "e".repeat(max);
    assert_eq!(id(exact.as_bytes()), Some(exact.clone()), "kept as it is");
    let long = "a".repeat(max + 1);
    let hashed = id(long.as_bytes()).unwrap();
    assert!(
        hashed.starts_with("sha256:") && hashed.len() == 71,
        "{hashed}"
    );
    assert_eq!(
        id(long.as_bytes()).unwrap(),
        hashed,
        "the same id, the same key"
    );
    assert_ne!(id(format!("{long}b").as_bytes()).unwrap(), hashed);
    for odd in [&b"a b"[..], b"\xff\xfe", "caf\u{e9}".as_bytes()] {
        let kept = id(odd).unwrap();
        assert!(kept.starts_with("sha256:"), "{odd:?} -> {kept}");
        assert_eq!(id(odd).unwrap(), kept);
    }
    assert_eq!(id(b"  "), None, "a blank id is no id");
    assert_eq!(delivery_id(Provider::Github, &h(&[])), None);
}
