//! Property tests: the parsers never panic, and verification accepts exactly what was signed.

use herald_core::hooks::{HookEvent, HookSecret, Provider, parse, verify};
use hmac::{Hmac, Mac};
use proptest::prelude::*;
use serde_json::Value;
use sha2::Sha256;

fn sign(key: &[u8], body: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

/// The event header each provider needs to reach its push parser.
fn push_headers(p: Provider) -> Vec<(String, Vec<u8>)> {
    let (k, v): (&str, &str) = match p {
        Provider::Github | Provider::Generic | Provider::GenericHmac => ("x-github-event", "push"),
        Provider::Gitea => ("x-gitea-event", "push"),
        Provider::Gitlab => ("x-gitlab-event", "Push Hook"),
        Provider::BitbucketServer => ("x-event-key", "repo:refs_changed"),
        Provider::BitbucketCloud => ("x-event-key", "repo:push"),
    };
    vec![(k.to_owned(), v.as_bytes().to_vec())]
}

fn provider() -> impl Strategy<Value = Provider> {
    prop::sample::select(Provider::ALL.to_vec())
}

fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(vec![
            "refs/heads/main",
            "refs/tags/v1",
            "0000000000000000000000000000000000000000",
            "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c",
            "branch",
            "tag",
            "DELETE",
            "push",
            "",
        ])
        .prop_map(Value::from),
        ".*".prop_map(Value::from),
    ];
    let keys = prop::sample::select(vec![
        "ref",
        "after",
        "before",
        "deleted",
        "created",
        "forced",
        "commits",
        "added",
        "modified",
        "removed",
        "total_commits",
        "total_commits_count",
        "repository",
        "full_name",
        "clone_url",
        "project",
        "path_with_namespace",
        "changes",
        "id",
        "toHash",
        "type",
        "push",
        "new",
        "old",
        "name",
        "target",
        "hash",
        "closed",
        "links",
        "clone",
        "href",
        "key",
        "slug",
        "event_name",
        "object_kind",
        "x",
    ]);
    leaf.prop_recursive(5, 64, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone().prop_map(str::to_owned), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A fixture with the value at one of its paths replaced by an arbitrary one.
fn mutated_fixture() -> impl Strategy<Value = (Provider, Value)> {
    let fixtures: Vec<(Provider, &'static str)> = vec![
        (
            Provider::Github,
            include_str!("fixtures/hooks/github/push.json"),
        ),
        (
            Provider::Gitea,
            include_str!("fixtures/hooks/gitea/push.json"),
        ),
        (
            Provider::Gitlab,
            include_str!("fixtures/hooks/gitlab/push.json"),
        ),
        (
            Provider::BitbucketServer,
            include_str!("fixtures/hooks/bitbucket-server/refs_changed.json"),
        ),
        (
            Provider::BitbucketCloud,
            include_str!("fixtures/hooks/bitbucket-cloud/push.json"),
        ),
    ];
    (
        prop::sample::select(fixtures),
        any::<prop::sample::Index>(),
        json(),
    )
        .prop_map(|((p, text), idx, replacement)| {
            let mut v: Value = serde_json::from_str(text).expect("fixture is JSON");
            let mut paths = Vec::new();
            collect_paths(&v, String::new(), &mut paths);
            let path = idx.get(&paths).clone();
            if let Some(slot) = v.pointer_mut(&path) {
                *slot = replacement;
            }
            (p, v)
        })
}

fn collect_paths(v: &Value, here: String, out: &mut Vec<String>) {
    out.push(here.clone());
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                collect_paths(c, format!("{here}/{k}"), out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                collect_paths(c, format!("{here}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn check_push_invariants(e: &HookEvent) {
    if let HookEvent::Push(pushes) = e {
        assert!(!pushes.is_empty());
        for p in pushes {
            assert!(p.git_ref.starts_with("refs/"), "{p:?}");
            assert!(matches!(p.revision.len(), 40 | 64), "{p:?}");
            assert!(
                p.revision
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics_on_bytes(p in provider(), body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(p, &push_headers(p), &body);
    }

    #[test]
    fn parse_never_panics_on_any_headers(
        p in provider(),
        headers in prop::collection::vec((
            prop::sample::select(vec!["x-github-event", "x-gitea-event", "x-gitlab-event", "x-event-key", "content-type", "x-forgejo-event"]).prop_map(str::to_owned),
            prop::collection::vec(any::<u8>(), 0..40),
        ), 0..4),
        body in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let _ = parse(p, &headers, &body);
    }

    #[test]
    fn parse_never_panics_on_json(p in provider(), v in json()) {
        let body = serde_json::to_vec(&v).unwrap();
        if let Ok(e) = parse(p, &push_headers(p), &body) {
            check_push_invariants(&e);
        }
    }

    #[test]
    fn parse_never_panics_on_mutated_fixtures((p, v) in mutated_fixture()) {
        let body = serde_json::to_vec(&v).unwrap();
        if let Ok(e) = parse(p, &push_headers(p), &body) {
            check_push_invariants(&e);
        }
    }

    #[test]
    fn parse_never_panics_on_form_bodies(p in prop::sample::select(vec![Provider::Github, Provider::Gitea]), body in "[a-z%+=&0-9A-F{}\"]{0,80}") {
        let mut h = push_headers(p);
        h.push(("content-type".into(), b"application/x-www-form-urlencoded".to_vec()));
        let _ = parse(p, &h, body.as_bytes());
    }

    #[test]
    fn hmac_accepts_exactly_the_signed_body(
        p in prop::sample::select(vec![Provider::Github, Provider::Gitea, Provider::BitbucketServer, Provider::GenericHmac]),
        key in prop::collection::vec(any::<u8>(), 1..64),
        body in prop::collection::vec(any::<u8>(), 0..512),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let (name, prefix) = match p {
            Provider::Github => ("x-hub-signature-256", "sha256="),
            Provider::Gitea => ("x-gitea-signature", ""),
            Provider::BitbucketServer => ("x-hub-signature", "sha256="),
            _ => ("x-hub-signature-256", ""),
        };
        let secret = HookSecret::new(&key);
        let sig = sign(&key, &body);
        let headers = |sig: &[u8]| vec![(name.to_owned(), format!("{prefix}{}", hex::encode(sig)))];
        prop_assert!(verify(p, &headers(&sig), &body, &secret, None).is_ok());

        if !body.is_empty() {
            let mut tampered = body.clone();
            tampered[flip.index(body.len())] ^= 1 << bit;
            prop_assert!(verify(p, &headers(&sig), &tampered, &secret, None).is_err());
        }
        let mut bad_sig = sig.clone();
        bad_sig[flip.index(sig.len())] ^= 1 << bit;
        prop_assert!(verify(p, &headers(&bad_sig), &body, &secret, None).is_err());

        // a flipped bit anywhere in the header text fails too
        let text = headers(&sig)[0].1.clone().into_bytes();
        let mut raw = text.clone();
        raw[flip.index(text.len())] ^= 1 << bit;
        let raw_headers = vec![(name.to_owned(), raw.clone())];
        // flipping the case bit of a hex letter or of the prefix leaves the same signature
        let same = String::from_utf8(raw).is_ok_and(|s| s.eq_ignore_ascii_case(&headers(&sig)[0].1));
        prop_assert_eq!(verify(p, &raw_headers, &body, &secret, None).is_ok(), same);
    }

    #[test]
    fn tokens_accept_exactly_the_secret(
        p in prop::sample::select(vec![Provider::Gitlab, Provider::Generic, Provider::BitbucketCloud]),
        token in "[A-Za-z0-9._~-]{1,64}",
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let secret = HookSecret::new(token.as_bytes());
        let present = |t: &[u8]| -> (Vec<(String, Vec<u8>)>, Option<String>) {
            match p {
                Provider::Gitlab => (vec![("x-gitlab-token".into(), t.to_vec())], None),
                Provider::Generic => {
                    let mut v = b"Bearer ".to_vec();
                    v.extend_from_slice(t);
                    (vec![("authorization".into(), v)], None)
                }
                _ => (vec![], Some(String::from_utf8_lossy(t).into_owned())),
            }
        };
        let (h, path) = present(token.as_bytes());
        prop_assert!(verify(p, &h, b"body", &secret, path.as_deref()).is_ok());
        let mut bad = token.clone().into_bytes();
        bad[flip.index(token.len())] ^= 1 << bit;
        let (h, path) = present(&bad);
        prop_assert!(verify(p, &h, b"body", &secret, path.as_deref()).is_err());
    }
}
