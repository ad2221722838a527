//! Loading the manifest folder: good documents load, each bad one is reported with its file,
//! document and reason.
#![allow(clippy::unwrap_used)]

mod support;

use herald_local::load_dir;
use support::{Manifests, schedule_setup};

fn errors_for(yaml: &str) -> Vec<String> {
    let m = Manifests::new();
    m.write("x.yaml", yaml);
    load_dir(&m.path())
        .unwrap()
        .errors
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn a_good_folder_loads_every_kind() {
    let m = Manifests::new();
    m.write(
        "a.yaml",
        &schedule_setup("file:///tmp/nowhere", "true", true, "1m"),
    );
    m.write(
        "sub/b.yml",
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: team}\nstringData: {token: t}\n",
    );
    m.write("notes.txt", "not a manifest");
    std::fs::create_dir_all(m.path().join(".herald")).unwrap();
    m.write(".herald/ignored.yaml", "kind: Nonsense");
    let loaded = load_dir(&m.path()).unwrap();
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let c = &loaded.catalog;
    assert_eq!(
        (
            c.git_repos.len(),
            c.actions.len(),
            c.schedule_triggers.len(),
            c.secrets.len()
        ),
        (1, 1, 1, 1)
    );
    assert_eq!(c.secret_value("team", "s", "token").unwrap(), b"t");
    let missing_key = c.secret_value("team", "s", "nope").unwrap_err();
    assert_eq!(missing_key.reason, herald_api::reasons::SECRET_KEY_MISSING);
    assert!(missing_key.message.contains("has no key \"nope\""));
    let missing = c.secret_value("team", "other", "token").unwrap_err();
    assert_eq!(missing.reason, herald_api::reasons::SECRET_MISSING);
}

#[test]
fn bad_documents_are_reported_and_the_good_ones_kept() {
    let m = Manifests::new();
    let good = schedule_setup("file:///tmp/nowhere", "true", true, "1m");
    let bad_cron = good
        .replace(
            "schedule: {interval: 1m}",
            "schedule: {cron: \"not a cron\"}",
        )
        .replace("name: every", "name: bad");
    m.write("good.yaml", &good);
    m.write("bad.yaml", &bad_cron);
    let loaded = load_dir(&m.path()).unwrap();
    assert_eq!(
        loaded.catalog.schedule_triggers.len(),
        1,
        "the good trigger loads"
    );
    let errors: Vec<String> = loaded.errors.iter().map(ToString::to_string).collect();
    assert_eq!(
        errors.len(),
        3,
        "the bad file's repo and action are duplicates, its trigger invalid: {errors:?}"
    );
    let cron = errors
        .iter()
        .find(|e| e.contains("ScheduleTrigger bad"))
        .unwrap();
    assert!(
        cron.contains("bad.yaml (document 3, ScheduleTrigger bad)"),
        "{cron}"
    );
    assert!(cron.contains("spec.schedule.cron"), "{cron}");
}

#[test]
fn unknown_fields_are_named() {
    let errors = errors_for(
        "apiVersion: herald.dev/v1alpha1\nkind: GitRepo\nmetadata: {name: r}\nspec: {repoUri: \"file:///x\", branchh: main}\n",
    );
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].contains("unknown field(s): spec.branchh"),
        "{errors:?}"
    );
}

/// An action's definition is flattened into its spec, where serde alone tells nothing of
/// what it ignores: a typo there must be named as anywhere else, at every depth.
#[test]
fn unknown_fields_in_an_action_are_named() {
    for (kind, spec, unknown) in [
        (
            "Action",
            "{actionJob: {command: [\"true\"], timeout: 1s}}",
            "spec.actionJob.timeout",
        ),
        (
            "ClusterAction",
            "{actionJob: {command: [\"true\"]}, retires: 2}",
            "spec.retires",
        ),
        (
            "Action",
            "{steps: [{name: a, command: [\"true\"], retries: {limit: 1, backof: 1s}}]}",
            "spec.steps.0.retries.backof",
        ),
    ] {
        let errors = errors_for(&format!(
            "apiVersion: herald.dev/v1alpha1\nkind: {kind}\nmetadata: {{name: a}}\nspec: {spec}\n"
        ));
        assert_eq!(errors.len(), 1, "{kind} {spec}: {errors:?}");
        assert!(
            errors[0].contains(&format!("unknown field(s): {unknown}")),
            "{errors:?}"
        );
    }
}

#[test]
fn each_bad_input_has_a_clear_reason() {
    let cases = [
        ("kind: GitRepo\nmetadata: {name: r}\n", "missing apiVersion"),
        (
            "apiVersion: herald.dev/v1alpha1\nkind: Pipeline\nmetadata: {name: p}\n",
            "unknown kind \"Pipeline\"",
        ),
        (
            "apiVersion: herald.dev/v2\nkind: GitRepo\nmetadata: {name: p}\n",
            "unsupported apiVersion",
        ),
        (
            "apiVersion: herald.dev/v1alpha1\nkind: GitRepo\nmetadata: {}\nspec: {repoUri: \"file:///x\"}\n",
            "metadata.name is required",
        ),
        (
            "apiVersion: herald.dev/v1alpha1\nkind: GitRepo\nmetadata: {name: r}\nspec: {repoUri: \"nope://x\"}\n",
            "spec.repoUri",
        ),
        (
            "apiVersion: herald.dev/v1alpha1\nkind: Run\nmetadata: {name: r}\n",
            "created by Herald",
        ),
        (
            "apiVersion: herald.dev/v1alpha1\nkind: ClusterAction\nmetadata: {name: a, namespace: x}\nspec: {actionJob: {command: [\"true\"]}}\n",
            "take no metadata.namespace",
        ),
        ("a: [unclosed\n", "invalid YAML"),
        (
            "apiVersion: herald.dev/v1alpha1\nkind: Action\nmetadata: {name: a}\nspec: {steps: [{name: a, command: [\"true\"], needs: [b]}, {name: b, command: [\"true\"], needs: [a]}]}\n",
            "spec.steps[0].needs: the needs form a cycle: a -> b -> a",
        ),
        (
            "apiVersion: herald.dev/v1alpha1\nkind: ClusterAction\nmetadata: {name: a}\nspec: {steps: [{name: a, command: [\"true\"]}], finally: [{name: a, command: [\"true\"]}]}\n",
            "spec.finally[0].name: step name \"a\" is already used by steps[0]",
        ),
    ];
    for (yaml, expected) in cases {
        let errors = errors_for(yaml);
        assert_eq!(errors.len(), 1, "{yaml}: {errors:?}");
        assert!(
            errors[0].contains(expected),
            "{yaml}: expected {expected:?} in {:?}",
            errors[0]
        );
        assert!(
            errors[0].starts_with(&format!("{}", std::path::Path::new("x.yaml").display()))
                || errors[0].contains("x.yaml"),
            "{errors:?}"
        );
    }
}

#[test]
fn relative_repo_paths_resolve_against_the_manifest_folder() {
    let m = Manifests::new();
    std::fs::create_dir_all(m.path().join("repo")).unwrap();
    m.write("sub.yaml", "apiVersion: herald.dev/v1alpha1\nkind: GitRepo\nmetadata: {name: r}\nspec: {repoUri: ./repo}\n");
    let loaded = load_dir(&m.path()).unwrap();
    assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
    let uri = &loaded
        .catalog
        .git_repos
        .values()
        .next()
        .unwrap()
        .spec
        .repo_uri;
    let expected = std::fs::canonicalize(m.path().join("repo")).unwrap();
    assert_eq!(uri, &format!("file://{}", expected.display()));
}
