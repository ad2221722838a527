//! Flux's setter markers: a line comment `# {"$imagepolicy": "ns:name"}` after a scalar says
//! that the scalar holds policy `ns:name`'s image (`ns:name`), its tag (`ns:name:tag`) or its
//! repository (`ns:name:name`). Any YAML file may hold them.

use std::fmt;

const MARKER_KEY: &str = "$imagepolicy";

/// A policy named `namespace:name`, as markers name it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyName {
    pub namespace: String,
    pub name: String,
}

/// A policy name that is not `namespace:name`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a policy name of the form namespace:name")]
pub struct PolicyNameError(pub String);

impl PolicyName {
    pub fn parse(text: &str) -> Result<Self, PolicyNameError> {
        match text.split_once(':') {
            Some((namespace, name))
                if !namespace.is_empty() && !name.is_empty() && !name.contains(':') =>
            {
                Ok(Self {
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                })
            }
            _ => Err(PolicyNameError(text.to_owned())),
        }
    }
}

impl fmt::Display for PolicyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.namespace, self.name)
    }
}

/// Which part of the image a marked scalar holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MarkerField {
    /// `repository:tag`.
    Image,
    Tag,
    /// The repository.
    Name,
}

/// A marker found after a scalar. `field` is `Err` with the field's text when Flux's marker
/// names a part Herald does not write (such as `digest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Marker {
    pub(crate) policy: PolicyName,
    pub(crate) field: Result<MarkerField, String>,
}

/// The marker in the comment that follows a scalar ending at byte `scalar_end` on the same
/// line, if there is one. A comment needs white space before `#`.
pub(crate) fn marker_after(source: &str, scalar_end: usize) -> Option<Marker> {
    let rest = source.get(scalar_end..)?;
    let line = rest.split_once('\n').map_or(rest, |(line, _)| line);
    let trimmed = line.trim_start_matches([' ', '\t']);
    if trimmed.len() == line.len() {
        return None;
    }
    let comment = trimmed.strip_prefix('#')?;
    if !comment.contains(MARKER_KEY) {
        return None;
    }
    parse_marker(comment.trim())
}

fn parse_marker(comment: &str) -> Option<Marker> {
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(comment).ok()?;
    let setter = object.get(MARKER_KEY)?.as_str()?;
    let mut parts = setter.splitn(3, ':');
    let (namespace, name) = (parts.next()?, parts.next()?);
    if namespace.is_empty() || name.is_empty() {
        return None;
    }
    let field = match parts.next() {
        None => Ok(MarkerField::Image),
        Some("tag") => Ok(MarkerField::Tag),
        Some("name") => Ok(MarkerField::Name),
        Some(other) => Err(other.to_owned()),
    };
    Some(Marker {
        policy: PolicyName {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        },
        field,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marker(line: &str) -> Option<Marker> {
        let end = line
            .find(" #")
            .or_else(|| line.find("\t#"))
            .unwrap_or(line.len());
        marker_after(line, end)
    }

    fn policy() -> PolicyName {
        PolicyName::parse("flux-system:app").unwrap()
    }

    #[test]
    fn the_three_fields() {
        let image = marker(r#"image: x:1 # {"$imagepolicy": "flux-system:app"}"#).unwrap();
        assert_eq!(
            (image.policy, image.field),
            (policy(), Ok(MarkerField::Image))
        );
        let tag = marker("tag: 1 #{\"$imagepolicy\":\"flux-system:app:tag\"}\r").unwrap();
        assert_eq!(tag.field, Ok(MarkerField::Tag));
        let name = marker("repo: x\t# {\"$imagepolicy\": \"flux-system:app:name\"}").unwrap();
        assert_eq!(name.field, Ok(MarkerField::Name));
        let digest = marker(r#"d: x # {"$imagepolicy": "flux-system:app:digest"}"#).unwrap();
        assert_eq!(digest.field, Err("digest".into()));
    }

    #[test]
    fn only_a_comment_on_the_same_line_counts() {
        let source = "image: x:1\n# {\"$imagepolicy\": \"flux-system:app\"}\n";
        assert_eq!(marker_after(source, "image: x:1".len()), None);
        assert_eq!(marker(r#"image: x:1 # a comment"#), None);
        assert_eq!(marker(r#"image: x:1 # {"$imagepolicy": 3}"#), None);
        assert_eq!(marker(r#"image: x:1 # {"$imagepolicy": "no-name"}"#), None);
        assert_eq!(
            marker_after(r#"a: b#{"$imagepolicy": "x:y"}"#, 4),
            None,
            "# without space"
        );
    }

    #[test]
    fn policy_names() {
        assert_eq!(policy().to_string(), "flux-system:app");
        assert!(PolicyName::parse("app").is_err());
        assert!(PolicyName::parse("a:b:c").is_err());
        assert!(PolicyName::parse(":b").is_err());
    }
}
