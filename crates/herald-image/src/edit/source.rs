//! A YAML file read into a small tree whose scalars know their exact bytes, plus the file's
//! event stream without positions (its [`Shape`]), which is what an edit must leave unchanged
//! apart from the intended values.
//!
//! saphyr-parser's markers count characters; spans are converted to byte offsets here, once,
//! so nothing else handles character indices.

use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};

use super::EditError;

/// How a scalar is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    /// `|` or `>`: never edited (nothing Herald sets is multi-line).
    Block,
}

/// A scalar and where its text is: `span` covers the value as written (quotes included), not
/// the anchor or tag before it.
#[derive(Debug, Clone)]
pub(crate) struct Scalar {
    pub(crate) value: String,
    pub(crate) style: Style,
    pub(crate) span: Range<usize>,
    /// 1-based line of the value's first byte.
    pub(crate) line: usize,
    /// Position of this scalar's event in [`Parsed::shapes`].
    pub(crate) event: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct Mapping {
    pub(crate) entries: Vec<(Node, Node)>,
    /// Written `{...}`: a key cannot be inserted as a line.
    pub(crate) flow: bool,
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Scalar(Scalar),
    Sequence(Vec<Node>),
    Mapping(Mapping),
    Alias,
}

impl Node {
    pub(crate) fn as_scalar(&self) -> Option<&Scalar> {
        match self {
            Node::Scalar(scalar) => Some(scalar),
            _ => None,
        }
    }

    /// The value under a plain key of a mapping.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Mapping(mapping) => mapping.get(key),
            _ => None,
        }
    }

    /// The string value under a key, when it is a scalar.
    pub(crate) fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key)
            .and_then(Node::as_scalar)
            .map(|scalar| scalar.value.as_str())
    }
}

impl Mapping {
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_scalar().is_some_and(|k| k.value == key))
            .map(|(_, value)| value)
    }
}

/// An event without its position: two files with the same shapes hold the same data, written
/// with the same styles, anchors and tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Shape {
    DocumentStart {
        explicit: bool,
    },
    DocumentEnd,
    Alias(usize),
    Scalar {
        value: String,
        style: Style,
        anchor: usize,
        tag: Option<String>,
    },
    SequenceStart {
        anchor: usize,
        tag: Option<String>,
    },
    SequenceEnd,
    MappingStart {
        anchor: usize,
        tag: Option<String>,
    },
    MappingEnd,
}

/// A parsed file: one root per document, and the shapes of all events.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) documents: Vec<Node>,
    pub(crate) shapes: Vec<Shape>,
}

/// Parse a whole file. Any syntax error fails the whole file, so an edit never works from a
/// partial reading.
pub(crate) fn parse(source: &str) -> Result<Parsed, EditError> {
    let offsets = ByteOffsets::new(source);
    let mut builder = Builder::default();
    for item in Parser::new_from_str(source) {
        let (event, span) = item.map_err(|error| EditError::Parse {
            line: error.marker().line(),
            column: error.marker().col() + 1,
            message: error.info().to_owned(),
        })?;
        builder.event(source, &offsets, event, span);
    }
    Ok(Parsed {
        documents: builder.documents,
        shapes: builder.shapes,
    })
}

/// Character index to byte offset. Most manifests are ASCII, where the two are the same and no
/// table is built.
struct ByteOffsets {
    table: Option<Vec<usize>>,
}

impl ByteOffsets {
    fn new(source: &str) -> Self {
        let table = (!source.is_ascii()).then(|| {
            source
                .char_indices()
                .map(|(byte, _)| byte)
                .chain(std::iter::once(source.len()))
                .collect()
        });
        Self { table }
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.table {
            Some(table) => table
                .get(char_index)
                .or(table.last())
                .copied()
                .unwrap_or_default(),
            None => char_index,
        }
    }
}

enum Frame {
    Sequence(Vec<Node>),
    Mapping {
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        flow: bool,
    },
}

#[derive(Default)]
struct Builder {
    documents: Vec<Node>,
    shapes: Vec<Shape>,
    stack: Vec<Frame>,
}

impl Builder {
    fn event(&mut self, source: &str, offsets: &ByteOffsets, event: Event<'_>, span: Span) {
        let start = offsets.byte(span.start.index());
        let end = offsets.byte(span.end.index());
        let shape = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => return,
            Event::DocumentStart(explicit) => Shape::DocumentStart { explicit },
            Event::DocumentEnd => Shape::DocumentEnd,
            Event::Alias(anchor) => {
                self.complete(Node::Alias);
                Shape::Alias(anchor)
            }
            Event::Scalar(value, style, anchor, tag) => {
                let has_properties = anchor > 0 || tag.is_some();
                let value_start = if has_properties {
                    skip_properties(source, start, end)
                } else {
                    start
                };
                let style = style_of(style);
                let value_end = match style {
                    Style::SingleQuoted | Style::DoubleQuoted => {
                        closing_quote_end(source, value_start).unwrap_or(end)
                    }
                    _ => end,
                };
                self.complete(Node::Scalar(Scalar {
                    value: value.to_string(),
                    style,
                    span: value_start..value_end,
                    line: span.start.line() + source.get(start..value_start).map_or(0, count_lines),
                    event: self.shapes.len(),
                }));
                Shape::Scalar {
                    value: value.into_owned(),
                    style,
                    anchor,
                    tag: tag.as_deref().map(tag_text),
                }
            }
            Event::SequenceStart(anchor, tag) => {
                self.stack.push(Frame::Sequence(Vec::new()));
                Shape::SequenceStart {
                    anchor,
                    tag: tag.as_deref().map(tag_text),
                }
            }
            Event::MappingStart(anchor, tag) => {
                let has_properties = anchor > 0 || tag.is_some();
                let first = if has_properties {
                    skip_properties(source, start, end)
                } else {
                    start
                };
                self.stack.push(Frame::Mapping {
                    entries: Vec::new(),
                    key: None,
                    flow: source.as_bytes().get(first) == Some(&b'{'),
                });
                Shape::MappingStart {
                    anchor,
                    tag: tag.as_deref().map(tag_text),
                }
            }
            Event::SequenceEnd => {
                if let Some(Frame::Sequence(items)) = self.stack.pop() {
                    self.complete(Node::Sequence(items));
                }
                Shape::SequenceEnd
            }
            Event::MappingEnd => {
                if let Some(Frame::Mapping { entries, flow, .. }) = self.stack.pop() {
                    self.complete(Node::Mapping(Mapping { entries, flow }));
                }
                Shape::MappingEnd
            }
        };
        self.shapes.push(shape);
    }

    /// A node is finished: it becomes an item, a key, a value, or a document's root.
    fn complete(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.documents.push(node),
            Some(Frame::Sequence(items)) => items.push(node),
            Some(Frame::Mapping { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }
}

fn style_of(style: ScalarStyle) -> Style {
    match style {
        ScalarStyle::Plain => Style::Plain,
        ScalarStyle::SingleQuoted => Style::SingleQuoted,
        ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
        _ => Style::Block,
    }
}

fn tag_text(tag: &Tag) -> String {
    format!("{}{}", tag.handle, tag.suffix)
}

/// A node's span starts at its properties (`&anchor`, `!tag`); the value starts after them
/// and the white space, line breaks and comments that may follow them.
fn skip_properties(source: &str, start: usize, end: usize) -> usize {
    let bytes = source.as_bytes();
    let mut at = start;
    while at < end && matches!(bytes.get(at), Some(b'&' | b'!')) {
        while at < end && !bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
            at += 1;
        }
        loop {
            match bytes.get(at) {
                Some(b) if at < end && b.is_ascii_whitespace() => at += 1,
                Some(b'#') if at < end => {
                    while at < end && bytes.get(at) != Some(&b'\n') {
                        at += 1;
                    }
                }
                _ => break,
            }
        }
    }
    at
}

/// The byte after a quoted scalar's closing quote. saphyr-parser ends a quoted scalar's span
/// after the white space and comment that follow it on its line (it reads them looking for a
/// `:`), so replacing that span would delete the comment; the quotes themselves are exact.
fn closing_quote_end(source: &str, start: usize) -> Option<usize> {
    let bytes = source.as_bytes();
    let quote = *bytes.get(start)?;
    let mut at = start + 1;
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b'\\' if quote == b'"' => at += 2,
            b'\'' if quote == b'\'' && bytes.get(at + 1) == Some(&b'\'') => at += 2,
            _ if byte == quote => return Some(at + 1),
            _ => at += 1,
        }
    }
    None
}

fn count_lines(text: &str) -> usize {
    text.bytes().filter(|&b| b == b'\n').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalars(node: &Node, out: &mut Vec<Scalar>) {
        match node {
            Node::Scalar(scalar) => out.push(scalar.clone()),
            Node::Sequence(items) => items.iter().for_each(|item| scalars(item, out)),
            Node::Mapping(mapping) => mapping.entries.iter().for_each(|(k, v)| {
                scalars(k, out);
                scalars(v, out);
            }),
            Node::Alias => {}
        }
    }

    fn all_scalars(source: &str) -> Vec<Scalar> {
        let mut out = Vec::new();
        for document in parse(source).unwrap().documents {
            scalars(&document, &mut out);
        }
        out
    }

    #[test]
    fn spans_are_bytes_even_after_multi_byte_characters() {
        let source = "é: \"x\"\nname: 'naïve' # ü\nnext: plain\n";
        for scalar in all_scalars(source) {
            let text = &source[scalar.span.clone()];
            let unquoted = text.trim_matches(['"', '\'']);
            assert_eq!(unquoted, scalar.value);
        }
    }

    #[test]
    fn quoted_spans_end_at_the_closing_quote_not_at_the_comment() {
        let source = "a: 'x' # ü\nb: \"y\\\" z\"   # c\nc: 'it''s' #\n- ignored: 1\n";
        let source = source.split("- ignored").next().unwrap_or_default();
        let texts: Vec<_> = all_scalars(source)
            .into_iter()
            .map(|s| source[s.span].to_owned())
            .collect();
        assert_eq!(texts, ["a", "'x'", "b", "\"y\\\" z\"", "c", "'it''s'"]);
    }

    #[test]
    fn spans_skip_anchors_and_tags() {
        let source = "a: &img !!str nginx:1.0\nb: *img\nc: !custom\n  'x'\n";
        let values: Vec<_> = all_scalars(source)
            .into_iter()
            .map(|s| source[s.span].to_owned())
            .collect();
        assert_eq!(values, ["a", "nginx:1.0", "b", "c", "'x'"]);
    }

    #[test]
    fn styles_lines_and_flow() {
        let source = "---\nk: |\n  text\nf: {a: 'b'}\n";
        let parsed = parse(source).unwrap();
        let scalars = all_scalars(source);
        assert_eq!(scalars[1].style, Style::Block);
        assert_eq!(
            (scalars[4].style, scalars[4].line),
            (Style::SingleQuoted, 4)
        );
        let Some(Node::Mapping(flow)) = parsed.documents[0].get("f") else {
            panic!("f is a mapping")
        };
        assert!(flow.flow);
        assert_eq!(parsed.shapes[0], Shape::DocumentStart { explicit: true });
    }

    #[test]
    fn a_syntax_error_fails_the_file() {
        let error = parse("a: [b\nc: d\n").unwrap_err();
        assert!(matches!(error, EditError::Parse { .. }), "{error}");
    }
}
