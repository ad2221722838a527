//! The `herald` binary as a user runs it: real Git repository, real SQLite file.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

fn herald(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .args(["-c", "user.name=T", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(status.success(), "git {args:?}");
}

/// A folder with a Git repository `repo/` and manifests `m/` whose action runs `script`.
fn setup(script: &str) -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let repo = root.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    std::fs::write(repo.join("file.txt"), "content\n").unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "init"]);
    std::fs::create_dir_all(root.path().join("m")).unwrap();
    let manifests = format!(
        r#"apiVersion: herald.dev/v1alpha1
kind: GitRepo
metadata: {{name: repo, namespace: ci}}
spec: {{repoUri: ../repo}}
---
apiVersion: herald.dev/v1alpha1
kind: Action
metadata: {{name: act, namespace: ci}}
spec: {{actionJob: {{command: [sh, -c, {script:?}]}}}}
---
apiVersion: herald.dev/v1alpha1
kind: ScheduleTrigger
metadata: {{name: nightly, namespace: ci}}
spec:
  sources: {{kind: GitRepo, names: [repo], watchOn: {{onChangeOnly: true, reference: {{branch: main}}}}}}
  schedule: {{cron: "0 3 * * *", timeZone: Europe/Paris}}
  action: {{kind: Action, name: act}}
"#
    );
    std::fs::write(root.path().join("m/herald.yaml"), manifests).unwrap();
    root
}

#[test]
fn trigger_then_list_and_show_runs() {
    let root = setup("echo from-the-action; cat file.txt");
    let fired = herald(&["trigger", "ci/nightly", "--dir", "m"], root.path());
    assert!(fired.status.success(), "{}", text(&fired.stderr));
    let shown = text(&fired.stdout);
    assert!(
        shown.contains("Phase:     Succeeded") && shown.contains("from-the-action"),
        "{shown}"
    );

    let listed = herald(&["runs", "-o", "json"], root.path());
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let runs: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 1);
    assert_eq!(runs[0]["phase"], "Succeeded");
    assert_eq!(runs[0]["cause"], "Manual");
    assert_eq!(runs[0]["trigger"], "nightly");

    let table = text(&herald(&["runs", "--trigger", "nightly"], root.path()).stdout);
    assert!(
        table.starts_with("ID") && table.contains("ci/nightly"),
        "{table}"
    );
    let none = text(&herald(&["runs", "--phase", "Failed"], root.path()).stdout);
    assert!(none.contains("(no runs)"), "{none}");

    let show = herald(&["runs", "show", "1"], root.path());
    let show = text(&show.stdout);
    for expected in ["History:", "Pending", "Running", "Succeeded", "| content"] {
        assert!(show.contains(expected), "{expected:?} in {show}");
    }
    let by_name = herald(
        &["runs", "show", runs[0]["name"].as_str().unwrap()],
        root.path(),
    );
    assert!(by_name.status.success());
}

#[test]
fn a_failing_action_makes_trigger_exit_non_zero() {
    let root = setup("echo broken >&2; exit 7");
    let fired = herald(&["trigger", "ci/nightly", "--dir", "m"], root.path());
    assert!(!fired.status.success());
    assert!(
        text(&fired.stdout).contains("Exit code: 7"),
        "{}",
        text(&fired.stdout)
    );
}

#[test]
fn unknown_things_are_clear_errors() {
    let root = setup("true");
    let missing = herald(&["trigger", "ci/nope", "--dir", "m"], root.path());
    assert!(!missing.status.success());
    assert!(
        text(&missing.stderr).contains("no ScheduleTrigger or WebhookTrigger ci/nope"),
        "{}",
        text(&missing.stderr)
    );
    let no_run = herald(&["runs", "show", "42"], root.path());
    assert!(!no_run.status.success());
    assert!(text(&no_run.stderr).contains("no run \"42\""));
}

/// Bad usage is exit 2 for every command and flag: clap refuses the value as it reads the
/// arguments, names the flag, and says what form it expects.
#[test]
fn bad_usage_exits_2_and_names_the_flag() {
    // (arguments, the flag the error must name, what it must say is expected)
    #[rustfmt::skip]
    let cases: &[(&[&str], &str, &str)] = &[
        (&["wait", "--revision", ""], "--revision", "main@sha1:<sha>"),
        (&["wait", "--revision", " "], "--revision", "main@sha1:<sha>"),
        (&["wait", "--revision", "x", "--timeout", "0s"], "--timeout", "above zero"),
        (&["wait", "--revision", "x", "--interval", "soon"], "--interval", "such as 30s"),
        (&["wait", "--revision", "x", "--interval", "0s"], "--interval", "above zero"),
        (&["wait", "--revision", "x", "--server", "nowhere"], "--server", "http://"),
        (&["wait", "--revision", "x", "--for", "flux"], "--for", "flux-ready"),
        (&["events", "--object", "a/b/c/d"], "--object", "Kind/namespace/name"),
        (&["events", "--object", "Kind//name"], "--object", "Kind/namespace/name"),
        (&["events", "--since", "garbage"], "--since", "RFC 3339"),
        (&["events", "--until", "garbage"], "--until", "RFC 3339"),
        (&["events", "--since", "100000y"], "--since", "too far back"),
        (&["events", "--limit", "0"], "--limit", "1..=1000"),
        (&["events", "--limit", "1001"], "--limit", "1..=1000"),
        (&["events", "--cursor", "0"], "--cursor", "1.."),
        (&["events", "--cursor", "next"], "--cursor", "invalid digit"),
        (&["events", "--kind", "flux"], "--kind", "flux.event"),
        (&["events", "--revision", ""], "--revision", "main@sha1:<sha>"),
        (&["events", "--trigger", ""], "--trigger", "non-empty"),
        (&["events", "--severity", ""], "--severity", "non-empty"),
        (&["events", "--server", "ftp://x"], "--server", "http://"),
        (&["events", "-o", "yaml"], "--output", "table"),
        (&["events", "--object", "K/n", "--involved-kind", "K"], "--object", "cannot be used with"),
        (&["runs", "--phase", "Done"], "--phase", "Succeeded"),
        (&["clone", "--url", "x", "--revision", "abc", "--dest", "d"], "--revision", "40 hex"),
        (&["local", "m", "--reload-every", "0s"], "--reload-every", "above zero"),
        (&["local", "m", "--events-max-age", "a month"], "--events-max-age", "such as 30s"),
        (&["run", "--lease-renew", "0s"], "--lease-renew", "above zero"),
    ];
    let root = tempfile::tempdir().unwrap();
    for (args, flag, expected) in cases {
        let out = herald(args, root.path());
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "herald {args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("'{flag} <")) && stderr.contains(expected),
            "herald {args:?} names {flag} and says {expected:?}: {stderr}"
        );
    }
}

#[test]
fn crds_command_prints_the_committed_crds() {
    let out = herald(&["crds"], Path::new(env!("CARGO_MANIFEST_DIR")));
    assert!(out.status.success());
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/crds/herald.dev.yaml"),
    )
    .unwrap();
    assert_eq!(
        text(&out.stdout),
        committed,
        "regenerate with: cargo run -p herald -- crds > deploy/crds/herald.dev.yaml"
    );
    for kind in [
        "GitRepo",
        "ClusterGitRepo",
        "ScheduleTrigger",
        "WebhookTrigger",
        "Action",
        "ClusterAction",
        "Run",
    ] {
        assert!(committed.contains(&format!("kind: {kind}\n")), "{kind}");
    }
}

#[test]
fn clone_checks_out_one_revision_with_credentials_from_files() {
    let root = setup("true");
    let repo = root.path().join("repo");
    let first = String::from_utf8(
        Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(&repo)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    std::fs::write(repo.join("file.txt"), "changed\n").unwrap();
    git(&repo, &["commit", "-q", "-am", "second"]);
    let url = format!("file://{}", repo.display());
    let out = herald(
        &[
            "clone",
            "--url",
            &url,
            "--revision",
            first.trim(),
            "--ref",
            "refs/heads/main",
            "--dest",
            "checkout",
        ],
        root.path(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(root.path().join("checkout/file.txt")).unwrap(),
        "content\n"
    );

    let missing = herald(
        &[
            "clone",
            "--url",
            &url,
            "--revision",
            first.trim(),
            "--dest",
            "c2",
            "--auth",
            "basic",
            "--credentials-dir",
            "nowhere",
        ],
        root.path(),
    );
    assert!(!missing.status.success());
    assert!(
        text(&missing.stderr).contains("credential username is missing (looked in nowhere)"),
        "{}",
        text(&missing.stderr)
    );
}

#[test]
fn the_multi_step_example_runs_its_graph_and_shows_every_step() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/steps");
    let state = tempfile::tempdir().unwrap();
    let db = state.path().join("herald.db");
    let fired = herald(
        &[
            "trigger",
            "default/steps-on-commit",
            "--dir",
            &examples.display().to_string(),
            "--db",
            &db.display().to_string(),
        ],
        state.path(),
    );
    let shown = text(&fired.stdout);
    assert!(fired.status.success(), "{shown}\n{}", text(&fired.stderr));
    assert!(
        shown.contains("Message:   5 steps succeeded, 0 skipped"),
        "{shown}"
    );
    for step in ["describe", "count-rust", "count-docs", "summary", "report"] {
        let attempt = format!("{step}#1 ");
        assert!(
            shown
                .lines()
                .any(|l| l.contains(&attempt) && l.contains("Running -> Succeeded")),
            "{step} in {shown}"
        );
    }
    assert!(shown.contains("Output of summary:"), "{shown}");
    let summary = shown
        .lines()
        .find(|l| l.contains("Rust files and"))
        .unwrap_or_else(|| panic!("the summary got its needs' outputs: {shown}"));
    assert!(!summary.contains("holds  Rust"), "{summary}");
    let json = herald(
        &[
            "runs",
            "show",
            "1",
            "-o",
            "json",
            "--db",
            &db.display().to_string(),
        ],
        state.path(),
    );
    let detail: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(detail["steps"].as_array().unwrap().len(), 5);
    let files = detail["steps"][1]["outputs"]["files"].as_str().unwrap();
    assert!(files.parse::<u32>().unwrap() > 10, "{files}");
}

#[test]
fn a_failed_run_is_rerun_from_its_failed_step_keeping_what_succeeded_before() {
    let root = setup("true");
    let marks = root.path().join("marks");
    std::fs::create_dir(&marks).unwrap();
    let marks = marks.display().to_string();
    let action = format!(
        r#"apiVersion: herald.dev/v1alpha1
kind: Action
metadata: {{name: act, namespace: ci}}
spec:
  steps:
  - name: a
    env: [{{name: MARKS, value: "{marks}"}}]
    command: [sh, -c, 'echo ran >> "$MARKS/a"; echo "token=$$-$(date +%N)" >> "$HERALD_OUTPUT"']
    outputs: [token]
  - name: b
    needs: [a]
    env: [{{name: MARKS, value: "{marks}"}}]
    command: [sh, -c, 'echo "b got $HERALD_NEEDS_A_TOKEN"; [ -e "$MARKS/fixed" ]']
  - name: c
    needs: [b]
    command: ["true"]
"#
    );
    let manifests = root.path().join("m/herald.yaml");
    let all = std::fs::read_to_string(&manifests).unwrap();
    let kept: Vec<&str> = all
        .split("---\n")
        .filter(|d| !d.contains("\nkind: Action\n"))
        .collect();
    std::fs::write(&manifests, format!("{}---\n{action}", kept.join("---\n"))).unwrap();

    let first = herald(&["trigger", "ci/nightly", "--dir", "m"], root.path());
    assert!(
        !first.status.success() && text(&first.stdout).contains("step b failed"),
        "{}\n{}",
        text(&first.stdout),
        text(&first.stderr)
    );
    let json = herald(&["runs", "show", "1", "-o", "json"], root.path());
    let run1: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let token = run1["steps"][0]["outputs"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(run1["steps"][1]["phase"], "Failed");
    assert_eq!(run1["steps"][2]["phase"], "Skipped");

    let unknown = herald(
        &["runs", "rerun", "1", "--from", "nope", "--dir", "m"],
        root.path(),
    );
    assert!(!unknown.status.success());
    assert!(
        text(&unknown.stderr).contains("the action has no step \"nope\"; its steps are a, b, c"),
        "{}",
        text(&unknown.stderr)
    );

    std::fs::write(Path::new(&marks).join("fixed"), "").unwrap();
    let again = herald(
        &["runs", "rerun", "1", "--from", "b", "--dir", "m"],
        root.path(),
    );
    let shown = text(&again.stdout);
    assert!(again.status.success(), "{shown}\n{}", text(&again.stderr));
    assert!(shown.contains("re-run of run 1"), "{shown}");
    // a was kept, not run again: its output and token are run 1's.
    assert_eq!(
        std::fs::read_to_string(Path::new(&marks).join("a")).unwrap(),
        "ran\n"
    );
    assert!(shown.contains(&format!("b got {token}")), "{shown}");
    let json = herald(&["runs", "show", "2", "-o", "json"], root.path());
    let run2: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(run2["steps"][0]["reason"], "Reused");
    assert_eq!(run2["steps"][0]["outputs"]["token"], token.as_str());
    assert_eq!(run2["steps"][1]["phase"], "Succeeded");
    assert_eq!(run2["steps"][2]["phase"], "Succeeded");
    // Run 1 is as it was.
    let json = herald(&["runs", "show", "1", "-o", "json"], root.path());
    let still: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(still["run"]["phase"], "Failed");
}
