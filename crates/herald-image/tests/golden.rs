//! Golden files for the YAML edits. Each folder under `tests/golden/` holds:
//! - `input.yaml`: the file as found;
//! - `intents.txt`: one intent a line, `tag REPOSITORY TAG`, `policy NS:NAME IMAGE TAG` or
//!   `path YAML.PATH VALUE` (`#` starts a comment line);
//! - `expected.yaml`: the edited file, byte for byte, or `expected.error`: the error's text
//!   (and then the file must come back untouched);
//! - `changes.txt`: the changes and skips the edit reports, one a line.
//!
//! `HERALD_BLESS=1 cargo test -p herald-image --test golden` rewrites the expected files from
//! what the code does now; review the diff before committing it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use herald_image::{Change, Edited, Intent, PolicyName, Repository, Skipped, YamlPath, apply};

#[test]
fn golden_edits() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut cases: Vec<PathBuf> = fs::read_dir(&root)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 10,
        "golden cases missing under {}",
        root.display()
    );
    let bless = std::env::var_os("HERALD_BLESS").is_some();
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| check_case(case, bless).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

fn check_case(case: &Path, bless: bool) -> Result<(), String> {
    let name = case.file_name().unwrap().to_string_lossy().into_owned();
    let input = fs::read(case.join("input.yaml")).unwrap();
    let intents = read_intents(&fs::read_to_string(case.join("intents.txt")).unwrap());
    let (output, report) = match apply(&input, &intents) {
        Ok(edited) => {
            reparse_is_stable(&name, &edited, &intents)?;
            (Output::File(edited.bytes.clone()), describe(&edited))
        }
        Err(error) => (Output::Error(format!("{error}\n")), String::new()),
    };
    if bless {
        write_expected(case, &output, &report);
        return Ok(());
    }
    let mut problems = Vec::new();
    match &output {
        Output::File(bytes) => {
            let expected = fs::read(case.join("expected.yaml"))
                .map_err(|e| format!("{name}: expected.yaml: {e}"))?;
            if *bytes != expected {
                problems.push(format!(
                    "output differs from expected.yaml:\n--- got\n{}\n--- expected\n{}",
                    String::from_utf8_lossy(bytes),
                    String::from_utf8_lossy(&expected)
                ));
            }
        }
        Output::Error(text) => {
            let expected = fs::read_to_string(case.join("expected.error")).map_err(|e| {
                format!("{name}: failed with {text:?} but has no expected.error: {e}")
            })?;
            if *text != expected {
                problems.push(format!("error {text:?}, expected {expected:?}"));
            }
        }
    }
    let expected_report = fs::read_to_string(case.join("changes.txt")).unwrap_or_default();
    if report != expected_report {
        problems.push(format!("changes:\n{report}expected:\n{expected_report}"));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("golden case {name}: {}", problems.join("\n")))
    }
}

/// Applying the same intents to the output changes nothing more: intents are idempotent, which
/// is what lets a writer re-apply them after losing a push race.
fn reparse_is_stable(name: &str, edited: &Edited, intents: &[Intent]) -> Result<(), String> {
    let again =
        apply(&edited.bytes, intents).map_err(|e| format!("{name}: re-applying failed: {e}"))?;
    if again.changes.is_empty() && again.bytes == edited.bytes {
        Ok(())
    } else {
        Err(format!(
            "{name}: re-applying the intents changed {:?}",
            again.changes
        ))
    }
}

enum Output {
    File(Vec<u8>),
    Error(String),
}

fn write_expected(case: &Path, output: &Output, report: &str) {
    let _ = fs::remove_file(case.join("expected.yaml"));
    let _ = fs::remove_file(case.join("expected.error"));
    match output {
        Output::File(bytes) => fs::write(case.join("expected.yaml"), bytes).unwrap(),
        Output::Error(text) => fs::write(case.join("expected.error"), text).unwrap(),
    }
    if report.is_empty() {
        let _ = fs::remove_file(case.join("changes.txt"));
    } else {
        fs::write(case.join("changes.txt"), report).unwrap();
    }
}

fn read_intents(text: &str) -> Vec<Intent> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["tag", repository, tag] => Intent::Tag {
                    repository: Repository::parse(repository).unwrap(),
                    tag: (*tag).to_owned(),
                },
                ["policy", policy, image, tag] => Intent::Policy {
                    policy: PolicyName::parse(policy).unwrap(),
                    image: (*image).to_owned(),
                    tag: (*tag).to_owned(),
                },
                ["path", path, value] => Intent::Path {
                    path: YamlPath::parse(path).unwrap(),
                    value: (*value).to_owned(),
                },
                _ => panic!("unreadable intent line {line:?}"),
            }
        })
        .collect()
}

fn describe(edited: &Edited) -> String {
    let mut out = String::new();
    for Change {
        document,
        path,
        line,
        target,
        old,
        new,
    } in &edited.changes
    {
        let old = old.as_deref().unwrap_or("(inserted)");
        writeln!(
            out,
            "doc {document} line {line} {path} [{target:?}]: {old} -> {new}"
        )
        .unwrap();
    }
    for Skipped {
        document,
        path,
        reason,
    } in &edited.skipped
    {
        writeln!(out, "skipped doc {document} {path}: {reason}").unwrap();
    }
    out
}
