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
    /// `nginx`) and loses its digest, which would otherwise keep the old image running.
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
