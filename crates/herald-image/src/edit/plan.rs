//! From intents to splices: which bytes to replace with what, and what the re-parsed file must
//! then hold instead of the old events.

use std::ops::Range;

use super::marker::MarkerField;
use super::path::{Segment, YamlPath};
use super::quoting::{render, render_new};
use super::source::{Mapping, Node, Parsed, Scalar, Shape, Style};
use super::targets::{self, KustomizeImage, Targets};
use super::{Change, EditError, Intent, SkipReason, Skipped, Target};

const NEW_TAG: &str = "newTag";

/// Bytes to replace (an empty range inserts) and what that must do to the events.
#[derive(Debug)]
pub(crate) struct Splice {
    pub(crate) at: Range<usize>,
    pub(crate) text: String,
    pub(crate) expect: Expectation,
    pub(crate) change: Change,
}

/// The events the edited file must have in place of the original's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expectation {
    /// The scalar event at this position has a new value and style.
    Replace {
        event: usize,
        value: String,
        style: Style,
    },
    /// These events follow the event at this position.
    InsertAfter { event: usize, shapes: Vec<Shape> },
}

#[derive(Debug, Default)]
pub(crate) struct Planned {
    pub(crate) splices: Vec<Splice>,
    pub(crate) skipped: Vec<Skipped>,
}

/// Where a target is, for changes and skips.
struct Place<'a> {
    document: usize,
    path: &'a YamlPath,
    target: Target,
}

pub(crate) fn plan(
    source: &str,
    parsed: &Parsed,
    intents: &[Intent],
) -> Result<Planned, EditError> {
    let found = targets::find(source, parsed);
    let mut planned = Planned::default();
    for intent in intents {
        match intent {
            Intent::Tag { repository, tag } => {
                plan_container_images(source, &found, repository, tag, &mut planned);
                plan_kustomize_images(source, &found, repository, tag, &mut planned);
            }
            Intent::Policy { policy, image, tag } => {
                for marked in found.marked.iter().filter(|m| &m.marker.policy == policy) {
                    let place = Place {
                        document: marked.document,
                        path: &marked.path,
                        target: Target::SetterMarker,
                    };
                    let new = match marked.marker.field {
                        Ok(MarkerField::Image) => format!("{image}:{tag}"),
                        Ok(MarkerField::Tag) => tag.clone(),
                        Ok(MarkerField::Name) => image.clone(),
                        Err(ref field) => {
                            planned.skip(&place, SkipReason::MarkerField(field.clone()));
                            continue;
                        }
                    };
                    planned.replace(source, marked.scalar, &new, &place);
                }
            }
            Intent::Path { path, value } => plan_path(source, parsed, path, value, &mut planned),
        }
    }
    planned.dedupe()?;
    Ok(planned)
}

fn plan_container_images(
    source: &str,
    found: &Targets<'_>,
    repository: &crate::Repository,
    tag: &str,
    planned: &mut Planned,
) {
    for image in found
        .container_images
        .iter()
        .filter(|image| image.reference.repository() == repository)
    {
        let place = Place {
            document: image.document,
            path: &image.path,
            target: Target::ContainerImage,
        };
        // `name@digest` with no tag is a deliberate pin; `name:tag@digest` follows its tag.
        if image.reference.tag().is_none() && image.reference.digest().is_some() {
            planned.skip(&place, SkipReason::PinnedByDigest);
            continue;
        }
        planned.replace(source, image.scalar, &image.reference.with_tag(tag), &place);
    }
}

fn plan_kustomize_images(
    source: &str,
    found: &Targets<'_>,
    repository: &crate::Repository,
    tag: &str,
    planned: &mut Planned,
) {
    for entry in found
        .kustomize_images
        .iter()
        .filter(|entry| entry.repositories.contains(repository))
    {
        let mut path = entry.path.clone();
        path.0.push(Segment::Key(NEW_TAG.to_owned()));
        let place = Place {
            document: entry.document,
            path: &path,
            target: Target::KustomizeNewTag,
        };
        if entry.pinned_by_digest {
            planned.skip(&place, SkipReason::PinnedByDigest);
            continue;
        }
        match entry.new_tag {
            Some(Node::Scalar(scalar)) => planned.replace(source, scalar, tag, &place),
            Some(_) => planned.skip(&place, SkipReason::NotAScalar),
            None => match insert_new_tag(source, entry, tag, &place) {
                Ok(splice) => planned.splices.push(splice),
                Err(reason) => planned.skip(&place, reason),
            },
        }
    }
}

fn plan_path(source: &str, parsed: &Parsed, path: &YamlPath, value: &str, planned: &mut Planned) {
    let mut found_somewhere = false;
    for (document, root) in parsed.documents.iter().enumerate() {
        let Some(node) = resolve(root, path) else {
            continue;
        };
        found_somewhere = true;
        let place = Place {
            document,
            path,
            target: Target::ValuesPath,
        };
        match node {
            Node::Scalar(scalar) => planned.replace(source, scalar, value, &place),
            _ => planned.skip(&place, SkipReason::NotAScalar),
        }
    }
    if !found_somewhere {
        planned.skipped.push(Skipped {
            document: 0,
            path: path.clone(),
            reason: SkipReason::PathNotFound,
        });
    }
}

fn resolve<'p>(root: &'p Node, path: &YamlPath) -> Option<&'p Node> {
    path.segments()
        .iter()
        .try_fold(root, |node, segment| match (segment, node) {
            (Segment::Key(key), Node::Mapping(mapping)) => mapping.get(key),
            (Segment::Index(index), Node::Sequence(items)) => items.get(*index),
            _ => None,
        })
}

impl Planned {
    fn skip(&mut self, place: &Place<'_>, reason: SkipReason) {
        self.skipped.push(Skipped {
            document: place.document,
            path: place.path.clone(),
            reason,
        });
    }

    /// Replace a scalar's value, unless it already holds it.
    fn replace(&mut self, source: &str, scalar: &Scalar, new: &str, place: &Place<'_>) {
        if scalar.value == new {
            return;
        }
        if scalar.style == Style::Block {
            self.skip(place, SkipReason::BlockScalar);
            return;
        }
        let (text, style) = render(new, scalar.style, &scalar.value);
        let (at, text) = match empty_value_colon(source, scalar) {
            Some(colon) => (colon + 1..colon + 1, format!(" {text}")),
            None => (scalar.span.clone(), text),
        };
        self.splices.push(Splice {
            at,
            text,
            expect: Expectation::Replace {
                event: scalar.event,
                value: new.to_owned(),
                style,
            },
            change: Change {
                document: place.document,
                path: place.path.clone(),
                line: scalar.line,
                target: place.target,
                old: Some(scalar.value.clone()),
                new: new.to_owned(),
            },
        });
    }

    /// Two intents may reach one scalar (a container image with a marker): the same new text
    /// is one change, different texts are a conflict.
    fn dedupe(&mut self) -> Result<(), EditError> {
        self.splices
            .sort_by_key(|splice| (splice.at.start, !splice.at.is_empty()));
        let mut kept: Vec<Splice> = Vec::with_capacity(self.splices.len());
        for splice in self.splices.drain(..) {
            match kept.last() {
                Some(previous) if previous.at == splice.at && previous.text == splice.text => {}
                Some(previous) if previous.at == splice.at => {
                    return Err(EditError::Conflict {
                        document: splice.change.document,
                        path: splice.change.path,
                        first: previous.change.new.clone(),
                        second: splice.change.new,
                    });
                }
                _ => kept.push(splice),
            }
        }
        self.splices = kept;
        Ok(())
    }
}

/// `key:` with no value: saphyr-parser places the empty scalar on the colon, so the value goes
/// after the colon, with a space.
fn empty_value_colon(source: &str, scalar: &Scalar) -> Option<usize> {
    let on_colon = source.as_bytes().get(scalar.span.start) == Some(&b':');
    (scalar.span.is_empty() && on_colon).then_some(scalar.span.start)
}

/// A `newTag: <tag>` line at the end of a block-style entry, indented as its first key, with
/// the line ending of the line it follows.
fn insert_new_tag(
    source: &str,
    entry: &KustomizeImage<'_>,
    tag: &str,
    place: &Place<'_>,
) -> Result<Splice, SkipReason> {
    if entry.entry.flow {
        return Err(SkipReason::FlowMapping);
    }
    let (first_key, last_value) =
        first_key_and_last_value(entry.entry).ok_or(SkipReason::NoPlaceForKey)?;
    let line_start = source[..first_key.span.start]
        .rfind('\n')
        .map_or(0, |n| n + 1);
    let lead = &source[line_start..first_key.span.start];
    if !lead.chars().all(|c| c == ' ' || c == '-') {
        return Err(SkipReason::NoPlaceForKey);
    }
    let indent = " ".repeat(lead.chars().count());
    let (value_text, style) = render_new(tag);
    let line = format!("{indent}{NEW_TAG}: {value_text}");
    let (at, text) = match source[last_value.span.end..].find('\n') {
        Some(newline) => {
            let at = last_value.span.end + newline + 1;
            let ending = if source[..at].ends_with("\r\n") {
                "\r\n"
            } else {
                "\n"
            };
            (at, format!("{line}{ending}"))
        }
        None => {
            let ending = if source.contains("\r\n") {
                "\r\n"
            } else {
                "\n"
            };
            (source.len(), format!("{ending}{line}"))
        }
    };
    let shape = |value: &str, style| Shape::Scalar {
        value: value.to_owned(),
        style,
        anchor: 0,
        tag: None,
    };
    Ok(Splice {
        at: at..at,
        text,
        expect: Expectation::InsertAfter {
            event: last_value.event,
            shapes: vec![shape(NEW_TAG, Style::Plain), shape(tag, style)],
        },
        change: Change {
            document: place.document,
            path: place.path.clone(),
            line: last_value.line + 1,
            target: Target::KustomizeNewTag,
            old: None,
            new: tag.to_owned(),
        },
    })
}

fn first_key_and_last_value(mapping: &Mapping) -> Option<(&Scalar, &Scalar)> {
    let first_key = mapping.entries.first()?.0.as_scalar()?;
    let last_value = mapping.entries.last()?.1.as_scalar()?;
    (last_value.style != Style::Block).then_some((first_key, last_value))
}

/// The source with the splices applied; they are sorted and do not overlap.
pub(crate) fn splice(source: &str, splices: &[Splice]) -> String {
    let mut out = String::with_capacity(source.len() + 64);
    let mut copied_to = 0;
    for splice in splices {
        out.push_str(&source[copied_to..splice.at.start]);
        out.push_str(&splice.text);
        copied_to = splice.at.end;
    }
    out.push_str(&source[copied_to..]);
    out
}
