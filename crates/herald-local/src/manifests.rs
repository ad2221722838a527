//! Reading the manifest folder: every `*.yaml` / `*.yml` file below it, each possibly holding
//! several documents. A bad document is reported with its file and reason and left out; the
//! others load.

use std::path::{Path, PathBuf};

use herald_api::API_VERSION;
use herald_api::validate::{FieldError, Validate};
use k8s_openapi::api::core::v1::Secret;
use kube::Resource;
use serde::de::DeserializeOwned;
use serde_yaml::Value;

use crate::catalog::{Catalog, Key};

/// Namespace of objects whose manifest names none.
pub const DEFAULT_NAMESPACE: &str = "default";

/// One document that could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub file: PathBuf,
    /// 1-based index of the document in its file; 0 when the file itself failed.
    pub document: usize,
    /// `Kind namespace/name` when known.
    pub object: Option<String>,
    pub reason: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.document > 0 {
            write!(f, " (document {}", self.document)?;
            if let Some(object) = &self.object {
                write!(f, ", {object}")?;
            }
            write!(f, ")")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// What a load produced: the good objects and a report of each bad document.
#[derive(Debug, Default)]
pub struct Loaded {
    pub catalog: Catalog,
    pub errors: Vec<LoadError>,
    /// Where each webhook trigger and Notifier was read (file, document), by (kind, key), to
    /// report what it references once every document is in.
    origins: std::collections::BTreeMap<(String, Key), (PathBuf, usize)>,
}

/// Every manifest file below `dir`, sorted, skipping hidden files and folders (such as the
/// `.herald` state folder).
pub fn manifest_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let entry = entry?;
            let path = entry.path();
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if hidden {
                continue;
            }
            if entry.file_type()?.is_dir() {
                pending.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml")
            ) {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Load every manifest below `dir`, then report each webhook trigger that cannot verify its
/// senders (a missing Secret or key, an empty secret, a short Bitbucket Cloud token): such a
/// trigger stays loaded, so its deliveries are told why they are refused.
pub fn load_dir(dir: &Path) -> std::io::Result<Loaded> {
    let mut loaded = Loaded::default();
    for file in manifest_files(dir)? {
        match std::fs::read_to_string(&file) {
            Ok(text) => load_text(&file, &text, &mut loaded),
            Err(e) => loaded.errors.push(LoadError {
                file,
                document: 0,
                object: None,
                reason: format!("cannot read: {e}"),
            }),
        }
    }
    report_unready(&mut loaded);
    Ok(loaded)
}

/// Kinds whose references (a Secret and its keys) are checked once the folder is read.
const CHECKED_AFTER_LOAD: [&str; 2] = ["WebhookTrigger", "Notifier"];

/// What a webhook trigger or a Notifier names but the folder lacks: reported now, though the
/// object stays loaded (a Secret may be added by the next reload).
fn report_unready(loaded: &mut Loaded) {
    for ((kind, (namespace, name)), (file, document)) in &loaded.origins {
        let why = match kind.as_str() {
            "WebhookTrigger" => match loaded.catalog.hook_auth(namespace, name) {
                Some(Err(why)) => format!(
                    "{}: {why}; its hooks are answered 503 until this is fixed",
                    why.reason()
                ),
                _ => continue,
            },
            _ => match loaded.catalog.notifier_readiness(namespace, name) {
                Some(Err(why)) => format!(
                    "{}: {why}; it sends nothing until this is fixed",
                    why.reason
                ),
                _ => continue,
            },
        };
        loaded.errors.push(LoadError {
            file: file.clone(),
            document: *document,
            object: Some(format!("{kind} {namespace}/{name}")),
            reason: why,
        });
    }
}

/// Load the documents of one file's text into `loaded`.
pub fn load_text(file: &Path, text: &str, loaded: &mut Loaded) {
    for (index, document) in serde_yaml::Deserializer::from_str(text).enumerate() {
        let at = |object: Option<String>, reason: String| LoadError {
            file: file.to_path_buf(),
            document: index + 1,
            object,
            reason,
        };
        let value = match Value::deserialize_from(document) {
            Ok(Value::Null) => continue,
            Ok(value) => resolve_relative_repo(value, file),
            Err(e) => {
                loaded.errors.push(at(None, format!("invalid YAML: {e}")));
                // A syntax error leaves the stream unusable past this point.
                break;
            }
        };
        let checked = string_field(&value, "kind")
            .filter(|kind| CHECKED_AFTER_LOAD.contains(&kind.as_str()))
            .map(|kind| (kind, value_key(&value)));
        match add_document(value, &mut loaded.catalog) {
            Ok(()) => {
                if let Some(key) = checked {
                    let origin = (file.to_path_buf(), index + 1);
                    loaded.origins.insert(key, origin);
                }
            }
            Err((object, reason)) => loaded.errors.push(at(object, reason)),
        }
    }
}

/// Local mode lets a source name a repository by a path relative to its manifest (`../..`),
/// so examples work wherever they are checked out. It becomes an absolute `file://` URI.
fn resolve_relative_repo(mut value: Value, file: &Path) -> Value {
    let is_source = matches!(
        string_field(&value, "kind").as_deref(),
        Some("GitRepo" | "ClusterGitRepo")
    );
    let Some(uri) = value
        .get_mut("spec")
        .and_then(|spec| spec.get_mut("repoUri"))
    else {
        return value;
    };
    let relative = uri
        .as_str()
        .filter(|u| *u == "." || u.starts_with("./") || u.starts_with("../"));
    if let (true, Some(rel)) = (is_source, relative) {
        let base = file.parent().unwrap_or(Path::new("."));
        let joined = base.join(rel);
        let absolute = std::fs::canonicalize(&joined).unwrap_or(joined);
        *uri = Value::String(format!("file://{}", absolute.display()));
    }
    value
}

trait DeserializeFrom: Sized {
    fn deserialize_from(d: serde_yaml::Deserializer<'_>) -> Result<Self, serde_yaml::Error>;
}

impl DeserializeFrom for Value {
    fn deserialize_from(d: serde_yaml::Deserializer<'_>) -> Result<Self, serde_yaml::Error> {
        serde::Deserialize::deserialize(d)
    }
}

type DocError = (Option<String>, String);

fn add_document(value: Value, catalog: &mut Catalog) -> Result<(), DocError> {
    let api_version =
        string_field(&value, "apiVersion").ok_or((None, "missing apiVersion".into()))?;
    let kind = string_field(&value, "kind").ok_or((None, "missing kind".into()))?;
    let label = object_label(&kind, &value);
    let fail = |reason: String| (Some(label.clone()), reason);
    match (api_version.as_str(), kind.as_str()) {
        ("v1", "Secret") => {
            let secret: Secret = parse(value).map_err(fail)?;
            insert(&mut catalog.secrets, namespaced_key(&secret), secret).map_err(fail)
        }
        (API_VERSION, "GitRepo") => add_namespaced(value, &mut catalog.git_repos).map_err(fail),
        (API_VERSION, "ScheduleTrigger") => {
            add_namespaced(value, &mut catalog.schedule_triggers).map_err(fail)
        }
        (API_VERSION, "WebhookTrigger") => {
            add_namespaced(value, &mut catalog.webhook_triggers).map_err(fail)
        }
        (API_VERSION, "Action") => add_namespaced(value, &mut catalog.actions).map_err(fail),
        (API_VERSION, "ImageUpdate") => {
            add_namespaced(value, &mut catalog.image_updates).map_err(fail)
        }
        (API_VERSION, "Notifier") => add_namespaced(value, &mut catalog.notifiers).map_err(fail),
        (API_VERSION, "ClusterGitRepo") => {
            add_cluster(value, &mut catalog.cluster_git_repos).map_err(fail)
        }
        (API_VERSION, "ClusterAction") => {
            add_cluster(value, &mut catalog.cluster_actions).map_err(fail)
        }
        (API_VERSION, "Run") => Err(fail("Run objects are created by Herald, not loaded".into())),
        (API_VERSION, other) => Err(fail(format!(
            "unknown kind {other:?}; expected GitRepo, ClusterGitRepo, ScheduleTrigger, \
             WebhookTrigger, Action, ClusterAction, ImageUpdate, Notifier or v1 Secret"
        ))),
        (other, _) => Err(fail(format!(
            "unsupported apiVersion {other:?} for kind {kind}; Herald reads {API_VERSION} and v1 Secret"
        ))),
    }
}

fn add_namespaced<T>(
    value: Value,
    into: &mut std::collections::BTreeMap<Key, T>,
) -> Result<(), String>
where
    T: DeserializeOwned + Resource + Validate,
{
    let object: T = parse(value)?;
    validated(&object)?;
    insert(into, namespaced_key(&object), object)
}

fn add_cluster<T>(
    value: Value,
    into: &mut std::collections::BTreeMap<String, T>,
) -> Result<(), String>
where
    T: DeserializeOwned + Resource + Validate,
{
    let object: T = parse(value)?;
    if object.meta().namespace.is_some() {
        return Err("cluster-scoped kinds take no metadata.namespace".into());
    }
    validated(&object)?;
    let name = object.meta().name.clone().unwrap_or_default();
    insert(into, name, object)
}

fn insert<K: Ord + std::fmt::Debug, T>(
    into: &mut std::collections::BTreeMap<K, T>,
    key: K,
    object: T,
) -> Result<(), String> {
    if into.contains_key(&key) {
        return Err(format!(
            "defined twice ({key:?}); the first definition is kept"
        ));
    }
    into.insert(key, object);
    Ok(())
}

/// A field's path as a manifest spells it (`spec.steps.0.retries.limit`): serde_ignored also
/// names the `Option` and newtype layers between fields, as `?`.
fn dotted(path: &serde_ignored::Path<'_>) -> String {
    use serde_ignored::Path;
    match path {
        Path::Root => String::new(),
        Path::Seq { parent, index } => joined(parent, &index.to_string()),
        Path::Map { parent, key } => joined(parent, key),
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => dotted(parent),
    }
}

fn joined(parent: &serde_ignored::Path<'_>, segment: &str) -> String {
    let parent = dotted(parent);
    if parent.is_empty() {
        segment.to_owned()
    } else {
        format!("{parent}.{segment}")
    }
}

/// Deserialize, rejecting unknown fields by path (a typo must not be silently ignored) and a
/// missing `metadata.name`.
fn parse<T: DeserializeOwned + Resource>(value: Value) -> Result<T, String> {
    let mut unknown = Vec::new();
    let object: T = serde_ignored::deserialize(value, |path| {
        let path = dotted(&path);
        // Derived kinds read the type fields apart from the struct; they are known.
        if path != "apiVersion" && path != "kind" {
            unknown.push(path);
        }
    })
    .map_err(|e| e.to_string())?;
    if !unknown.is_empty() {
        return Err(format!("unknown field(s): {}", unknown.join(", ")));
    }
    match object.meta().name.as_deref() {
        None | Some("") => Err("metadata.name is required".into()),
        Some(_) => Ok(object),
    }
}

fn validated<T: Validate>(object: &T) -> Result<(), String> {
    object.validate().map_err(|errors| {
        errors
            .iter()
            .map(FieldError::to_string)
            .collect::<Vec<_>>()
            .join("; ")
    })
}

fn string_field(value: &Value, field: &str) -> Option<String> {
    value.get(field).and_then(Value::as_str).map(str::to_owned)
}

fn object_label(kind: &str, value: &Value) -> String {
    let meta = value.get("metadata");
    let field = |f: &str| meta.and_then(|m| m.get(f)).and_then(Value::as_str);
    match (field("namespace"), field("name")) {
        (Some(ns), Some(name)) => format!("{kind} {ns}/{name}"),
        (None, Some(name)) => format!("{kind} {name}"),
        _ => kind.to_owned(),
    }
}

/// `(namespace, name)` of a document not yet parsed, with the default namespace filled in.
fn value_key(value: &Value) -> Key {
    let meta = value.get("metadata");
    let field = |f: &str| meta.and_then(|m| m.get(f)).and_then(Value::as_str);
    let namespace = field("namespace").unwrap_or(DEFAULT_NAMESPACE);
    (
        namespace.to_owned(),
        field("name").unwrap_or_default().to_owned(),
    )
}

/// `(namespace, name)`, with the default namespace filled in.
fn namespaced_key<T: Resource>(object: &T) -> Key {
    let meta = object.meta();
    (
        meta.namespace
            .clone()
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned()),
        meta.name.clone().unwrap_or_default(),
    )
}
