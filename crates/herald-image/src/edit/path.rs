//! YAML paths: `spec.template.spec.containers[0].image`, where a change was made and where an
//! explicit target (`image.tag` in a values file) is.

use std::fmt;

/// One step of a path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// A path from a document's root.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct YamlPath(pub Vec<Segment>);

/// A path that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid YAML path {path:?}: {problem}")]
pub struct PathError {
    pub path: String,
    pub problem: &'static str,
}

impl YamlPath {
    /// Read `a.b[0].c`. Keys are separated by dots and indices written in brackets, so a key
    /// holding a dot or a bracket cannot be named (no values file Herald targets needs one).
    pub fn parse(path: &str) -> Result<Self, PathError> {
        let fail = |problem| PathError {
            path: path.to_owned(),
            problem,
        };
        if path.is_empty() {
            return Err(fail("it is empty"));
        }
        let mut segments = Vec::new();
        for part in path.split('.') {
            let (key, indices) = part
                .split_once('[')
                .map_or((part, ""), |(k, rest)| (k, rest));
            if key.is_empty() && (segments.is_empty() || indices.is_empty()) {
                return Err(fail("a key is empty"));
            }
            if !key.is_empty() {
                segments.push(Segment::Key(key.to_owned()));
            }
            if !indices.is_empty() {
                for index in format!("[{indices}").split_terminator(']') {
                    let digits = index
                        .strip_prefix('[')
                        .ok_or_else(|| fail("text after ']'"))?;
                    let index = digits
                        .parse()
                        .map_err(|_| fail("an index is not a number"))?;
                    segments.push(Segment::Index(index));
                }
                if !indices.ends_with(']') {
                    return Err(fail("a '[' is not closed"));
                }
            }
        }
        Ok(Self(segments))
    }

    pub fn segments(&self) -> &[Segment] {
        &self.0
    }
}

impl fmt::Display for YamlPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (position, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(key) if position == 0 => f.write_str(key)?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

impl std::str::FromStr for YamlPath {
    type Err = PathError;

    fn from_str(path: &str) -> Result<Self, Self::Err> {
        Self::parse(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Segment {
        Segment::Key(k.into())
    }

    #[test]
    fn parses_keys_and_indices_and_prints_them_back() {
        let path = YamlPath::parse("spec.containers[0].image").unwrap();
        assert_eq!(
            path.segments(),
            [
                key("spec"),
                key("containers"),
                Segment::Index(0),
                key("image")
            ]
        );
        assert_eq!(path.to_string(), "spec.containers[0].image");
        let nested = YamlPath::parse("matrix[1][2].x").unwrap();
        assert_eq!(
            nested.segments(),
            [
                key("matrix"),
                Segment::Index(1),
                Segment::Index(2),
                key("x")
            ]
        );
        assert_eq!(nested.to_string(), "matrix[1][2].x");
        assert_eq!(
            YamlPath::parse("image.tag").unwrap().to_string(),
            "image.tag"
        );
    }

    #[test]
    fn malformed_paths() {
        for (path, problem) in [
            ("", "it is empty"),
            ("a..b", "a key is empty"),
            (".a", "a key is empty"),
            ("a[x]", "an index is not a number"),
            ("a[0", "a '[' is not closed"),
            ("a[0]b", "text after ']'"),
        ] {
            assert_eq!(
                YamlPath::parse(path).unwrap_err().problem,
                problem,
                "{path}"
            );
        }
    }
}
