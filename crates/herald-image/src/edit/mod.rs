//! Byte-exact YAML edits. An edit is a list of [`Intent`]s ("set repository R to tag T"),
//! applied to a file's bytes: only the bytes of each changed scalar are replaced (or, for a
//! Kustomization entry without `newTag`, one line inserted), so comments, key order, blank
//! lines, block scalars, flow style, anchors, documents, CRLF and a leading `---` stay as they
//! were. The result is parsed again and compared event by event with the original: anything
//! but the intended values differing is an error, and nothing is returned to write.
//!
//! Intents rather than diffs, so a writer that lost a push race can re-apply them to the new
//! head of the branch.

mod marker;
mod path;
mod plan;
mod quoting;
mod source;
mod targets;
mod verify;

pub use marker::{PolicyName, PolicyNameError};
pub use path::{PathError, Segment, YamlPath};

pub(crate) use source::parse;
pub(crate) use targets::find as find_targets_in;

use crate::reference::Repository;

/// One thing to set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// Set every container `image:` and every Kustomization `images:` entry of `repository`
    /// to `tag`. A container image keeps the file's spelling of the name (`nginx` stays
    /// `nginx`) and loses its digest, which would otherwise keep the old image running; one
    /// written `name@digest` with no tag is a deliberate pin and is skipped. A Kustomization
    /// entry matches by its `name` or its `newName`.
    Tag { repository: Repository, tag: String },
    /// Set the scalars carrying policy `policy`'s setter marker: the whole `image:tag`, the tag,
    /// or the repository `image` (as the policy's image repository is written), by the marker.
    Policy {
        policy: PolicyName,
        image: String,
        tag: String,
    },
    /// Set the scalar at `path` to `value` in every document that has the path (a values
    /// file's `image.tag`, a HelmRelease's `spec.values.image.tag`).
    Path { path: YamlPath, value: String },
}

/// What kind of target a change was made in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    ContainerImage,
    KustomizeNewTag,
    SetterMarker,
    ValuesPath,
}

/// One value changed, in file terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// 0-based index of the document in the file.
    pub document: usize,
    pub path: YamlPath,
    /// 1-based line of the value in the original file.
    pub line: usize,
    pub target: Target,
    /// `None` when the key was inserted.
    pub old: Option<String>,
    pub new: String,
}

/// A target an intent named but that was left alone, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub document: usize,
    pub path: YamlPath,
    pub reason: SkipReason,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkipReason {
    /// A Kustomization entry with a `digest` (kustomize uses it instead of `newTag`), or a
    /// container image written `name@digest` with no tag.
    #[error("the image is pinned by a digest")]
    PinnedByDigest,
    #[error("the value is a block scalar ('|' or '>')")]
    BlockScalar,
    #[error("the value is not a scalar")]
    NotAScalar,
    #[error("the entry is a flow mapping ({{...}}), where no line can be inserted")]
    FlowMapping,
    #[error("the entry's layout leaves no clear place for a newTag line")]
    NoPlaceForKey,
    #[error("the setter marker names field {0:?}; Herald writes the image, 'tag' and 'name'")]
    MarkerField(String),
    #[error("no document has this path")]
    PathNotFound,
}

/// The edited file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edited {
    /// The new bytes; the input's when nothing changed.
    pub bytes: Vec<u8>,
    /// In file order.
    pub changes: Vec<Change>,
    pub skipped: Vec<Skipped>,
}

/// Why a file was not edited. In every case nothing is to be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("the file is not UTF-8 (invalid byte at offset {valid_up_to})")]
    NotUtf8 { valid_up_to: usize },
    #[error("the file is not valid YAML: {message} at line {line} column {column}")]
    Parse {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("two intents set {path} (document {document}) to {first:?} and {second:?}")]
    Conflict {
        document: usize,
        path: YamlPath,
        first: String,
        second: String,
    },
    #[error("the edit would change more than the intended values: {detail}")]
    Unverified { detail: String },
}

/// Apply `intents` to a file. Targets already at the intended value are not changes.
pub fn apply(bytes: &[u8], intents: &[Intent]) -> Result<Edited, EditError> {
    let source = std::str::from_utf8(bytes).map_err(|error| EditError::NotUtf8 {
        valid_up_to: error.valid_up_to(),
    })?;
    let parsed = parse(source)?;
    let planned = plan::plan(source, &parsed, intents)?;
    if planned.splices.is_empty() {
        return Ok(Edited {
            bytes: bytes.to_vec(),
            changes: Vec::new(),
            skipped: planned.skipped,
        });
    }
    let new_source = plan::splice(source, &planned.splices);
    verify::verify(&parsed.shapes, &planned.splices, &new_source)?;
    Ok(Edited {
        bytes: new_source.into_bytes(),
        changes: planned.splices.into_iter().map(|s| s.change).collect(),
        skipped: planned.skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(repository: &str, tag: &str) -> Intent {
        Intent::Tag {
            repository: Repository::parse(repository).unwrap(),
            tag: tag.into(),
        }
    }

    fn edited(source: &str, intents: &[Intent]) -> (String, Vec<Change>) {
        let edited = apply(source.as_bytes(), intents).unwrap();
        (String::from_utf8(edited.bytes).unwrap(), edited.changes)
    }

    const DEPLOYMENT: &str =
        "spec:\n  containers:\n    - image: nginx:1.0 # {\"$imagepolicy\": \"ns:web\"}\n";

    #[test]
    fn an_image_already_at_the_tag_is_no_change() {
        let (bytes, changes) = edited(DEPLOYMENT, &[tag("nginx", "1.0")]);
        assert_eq!(bytes, DEPLOYMENT);
        assert!(changes.is_empty());
    }

    #[test]
    fn two_intents_agreeing_on_one_scalar_make_one_change() {
        let policy = Intent::Policy {
            policy: PolicyName::parse("ns:web").unwrap(),
            image: "nginx".into(),
            tag: "1.1".into(),
        };
        let (bytes, changes) = edited(DEPLOYMENT, &[tag("nginx", "1.1"), policy]);
        assert!(bytes.contains("image: nginx:1.1 # {"));
        assert_eq!(changes.len(), 1);
    }

    #[test]
    fn two_intents_disagreeing_on_one_scalar_are_a_conflict() {
        let policy = Intent::Policy {
            policy: PolicyName::parse("ns:web").unwrap(),
            image: "nginx".into(),
            tag: "1.2".into(),
        };
        let error = apply(DEPLOYMENT.as_bytes(), &[tag("nginx", "1.1"), policy]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "two intents set spec.containers[0].image (document 0) to \"nginx:1.1\" and \"nginx:1.2\""
        );
    }

    #[test]
    fn multi_byte_text_before_and_after_the_value_is_kept() {
        let source = "# café ☕\nspec:\n  containers:\n    - name: naïve\n      image: \"nginx:1.0\" # ü is kept\n";
        let (bytes, _) = edited(source, &[tag("nginx", "1.1")]);
        assert_eq!(bytes, source.replace("nginx:1.0", "nginx:1.1"));
    }

    #[test]
    fn an_empty_value_gets_its_space() {
        let path = Intent::Path {
            path: YamlPath::parse("image.tag").unwrap(),
            value: "1.0".into(),
        };
        let (bytes, _) = edited("image:\n  tag:\n  name: x\n", std::slice::from_ref(&path));
        assert_eq!(bytes, "image:\n  tag: \"1.0\"\n  name: x\n");
        let (bytes, _) = edited("image: {tag: , name: x}\n", std::slice::from_ref(&path));
        assert_eq!(bytes, "image: {tag: \"1.0\" , name: x}\n");
        let (bytes, _) = edited("image:\n  tag:   # default\n", &[path]);
        assert_eq!(bytes, "image:\n  tag: \"1.0\"   # default\n");
    }

    #[test]
    fn a_block_scalar_target_is_skipped_not_rewritten() {
        let path = Intent::Path {
            path: YamlPath::parse("tag").unwrap(),
            value: "2".into(),
        };
        let edited = apply(b"tag: |\n  1\n", &[path]).unwrap();
        assert_eq!(edited.bytes, b"tag: |\n  1\n");
        assert_eq!(edited.skipped[0].reason, SkipReason::BlockScalar);
    }

    #[test]
    fn a_byte_order_mark_is_kept() {
        let source = "\u{feff}spec:\n  containers:\n    - image: 'nginx:1.0'\n";
        let (bytes, _) = edited(source, &[tag("nginx", "1.1")]);
        assert_eq!(bytes, source.replace("1.0", "1.1"));
    }

    #[test]
    fn bytes_that_are_not_utf8_are_an_error() {
        let error = apply(b"image: \xff\n", &[tag("nginx", "1.1")]).unwrap_err();
        assert_eq!(error, EditError::NotUtf8 { valid_up_to: 7 });
    }

    #[test]
    fn a_file_that_does_not_parse_names_the_place() {
        let error = apply(b"a: b\n c: [\n", &[tag("nginx", "1.1")]).unwrap_err();
        assert!(matches!(error, EditError::Parse { line: 2, .. }), "{error}");
    }
}
