//! Every Herald manifest under `examples/` must deserialize without losing a field, survive a
//! serialize/deserialize round trip unchanged, and pass validation. Other kinds (Secrets, ...)
//! are skipped.

use std::path::{Path, PathBuf};

use herald_api::validate::Validate;
use herald_api::{
    API_VERSION, Action, ClusterAction, ClusterGitRepo, GitRepo, Run, ScheduleTrigger,
    WebhookTrigger,
};
use serde::Deserialize;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path
            .extension()
            .is_some_and(|ext| ext == "yaml" || ext == "yml")
        {
            out.push(path);
        }
    }
}

/// Local mode turns `./` and `../` repoUris into `file://` URIs relative to the manifest before
/// validating; do the same so examples written for local mode validate here too.
fn resolve_relative_repo(value: &mut Value, file: &Path) {
    let Some(uri) = value.pointer_mut("/spec/repoUri") else {
        return;
    };
    let relative = uri
        .as_str()
        .filter(|u| *u == "." || u.starts_with("./") || u.starts_with("../"))
        .map(str::to_owned);
    if let Some(rel) = relative {
        let base = file.parent().unwrap_or(Path::new("."));
        let joined = base.join(rel);
        let absolute = std::fs::canonicalize(&joined).unwrap_or(joined);
        *uri = Value::String(format!("file://{}", absolute.display()));
    }
}

/// Whether everything written in `original` is still in `reserialized` (which may add
/// defaults): a field the types do not know would be dropped silently otherwise.
fn missing_fields(original: &Value, reserialized: &Value, at: &str, out: &mut Vec<String>) {
    match (original, reserialized) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                let path = format!("{at}.{key}");
                match b.get(key) {
                    Some(other) => missing_fields(value, other, &path, out),
                    None if value.is_null() => {}
                    None => out.push(path),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                missing_fields(x, y, &format!("{at}[{i}]"), out);
            }
        }
        (a, b) if a == b => {}
        // YAML `1` may come back as `1.0`, and so on.
        (Value::Number(a), Value::Number(b)) if a.as_f64() == b.as_f64() => {}
        _ => out.push(format!("{at} (changed)")),
    }
}

fn check<T>(value: Value) -> Result<(), String>
where
    T: DeserializeOwned + Serialize + Validate + PartialEq + std::fmt::Debug,
{
    let object: T = serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
    let reserialized = serde_json::to_value(&object).map_err(|e| e.to_string())?;
    let mut missing = Vec::new();
    missing_fields(&value, &reserialized, "", &mut missing);
    if !missing.is_empty() {
        return Err(format!(
            "fields lost in deserialization: {}",
            missing.join(", ")
        ));
    }
    let again: T = serde_json::from_value(reserialized).map_err(|e| e.to_string())?;
    if again != object {
        return Err(format!(
            "round trip changed the object:\n{object:#?}\n{again:#?}"
        ));
    }
    object
        .validate()
        .map_err(|errors| herald_api::validate::join_errors(&errors))
}

#[test]
fn example_manifests_round_trip_and_validate() {
    let mut files = Vec::new();
    yaml_files(&examples_dir(), &mut files);
    let mut problems = Vec::new();
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable example");
        for (i, doc) in serde_yaml::Deserializer::from_str(&text).enumerate() {
            let at = format!("{} document {}", file.display(), i + 1);
            let mut value = match Value::deserialize(doc) {
                Ok(Value::Null) => continue,
                Ok(value) => value,
                Err(e) => {
                    problems.push(format!("{at}: invalid YAML: {e}"));
                    break;
                }
            };
            if value["apiVersion"] != API_VERSION {
                continue;
            }
            resolve_relative_repo(&mut value, file);
            let result = match value["kind"].as_str().unwrap_or_default() {
                "GitRepo" => check::<GitRepo>(value),
                "ClusterGitRepo" => check::<ClusterGitRepo>(value),
                "ScheduleTrigger" => check::<ScheduleTrigger>(value),
                "WebhookTrigger" => check::<WebhookTrigger>(value),
                "Action" => check::<Action>(value),
                "ClusterAction" => check::<ClusterAction>(value),
                "Run" => check::<Run>(value),
                other => Err(format!("unknown Herald kind {other:?}")),
            };
            checked += 1;
            if let Err(e) = result {
                problems.push(format!("{at}: {e}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    eprintln!(
        "checked {checked} Herald manifests in {} files",
        files.len()
    );
}
