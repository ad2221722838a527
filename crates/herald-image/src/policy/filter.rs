//! Flux's `filterTags`: a regular expression a tag must match, and an optional `extract`
//! template (`$ts`, `${version}`, `$1`) whose expansion is what the policy orders. The tag
//! itself is still what is returned.

use regex::Regex;

use super::PolicyError;

/// A compiled tag filter.
#[derive(Debug, Clone)]
pub(crate) struct TagFilter {
    pattern: Regex,
    extract: Option<String>,
}

impl TagFilter {
    /// Compile the pattern and check that every group the template names exists, so a typo is
    /// an error when the object is loaded rather than a policy that silently selects nothing.
    pub(crate) fn new(pattern: &str, extract: Option<&str>) -> Result<Self, PolicyError> {
        let compiled = Regex::new(pattern).map_err(|source| PolicyError::Pattern {
            pattern: pattern.to_owned(),
            reason: source.to_string(),
        })?;
        let extract = extract.filter(|template| !template.is_empty());
        if let Some(template) = extract {
            check_template(&compiled, template)?;
        }
        Ok(Self {
            pattern: compiled,
            extract: extract.map(str::to_owned),
        })
    }

    /// The value to order `tag` by, or `None` when the tag does not match. The match is
    /// unanchored, as in Flux: anchor the pattern with `^...$` to match whole tags.
    pub(crate) fn key(&self, tag: &str) -> Option<String> {
        let captures = self.pattern.captures(tag)?;
        Some(match &self.extract {
            Some(template) => {
                let mut expanded = String::new();
                captures.expand(template, &mut expanded);
                expanded
            }
            None => tag.to_owned(),
        })
    }
}

fn check_template(pattern: &Regex, template: &str) -> Result<(), PolicyError> {
    let groups = template_groups(template);
    if groups.is_empty() {
        return Err(PolicyError::ExtractWithoutGroup {
            extract: template.to_owned(),
        });
    }
    for group in groups {
        let exists = match group.parse::<usize>() {
            Ok(index) => index < pattern.captures_len(),
            Err(_) => pattern.capture_names().flatten().any(|name| name == group),
        };
        if !exists {
            return Err(PolicyError::ExtractGroup {
                extract: template.to_owned(),
                group: group.to_owned(),
                pattern: pattern.as_str().to_owned(),
            });
        }
    }
    Ok(())
}

/// The group names or numbers a template refers to, read as `regex`'s `expand` reads them:
/// `$$` is a dollar, `${name}` is braced, `$name` takes the longest run of `[_0-9A-Za-z]`.
fn template_groups(template: &str) -> Vec<&str> {
    let mut groups = Vec::new();
    let mut rest = template;
    while let Some(dollar) = rest.find('$') {
        rest = &rest[dollar + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            rest = after;
        } else if let Some(braced) = rest.strip_prefix('{') {
            if let Some((name, after)) = braced.split_once('}') {
                groups.push(name);
                rest = after;
            }
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if end > 0 {
                groups.push(&rest[..end]);
            }
            rest = &rest[end..];
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_the_named_group() {
        let filter = TagFilter::new(r"^main-[a-f0-9]+-(?P<ts>\d+)$", Some("$ts")).unwrap();
        assert_eq!(
            filter.key("main-abc123-1700000000").as_deref(),
            Some("1700000000")
        );
        assert_eq!(filter.key("feature-abc123-1700000000"), None);
    }

    #[test]
    fn without_extract_the_tag_is_the_key() {
        let filter = TagFilter::new("^v1", None).unwrap();
        assert_eq!(filter.key("v1.2.3").as_deref(), Some("v1.2.3"));
        assert_eq!(filter.key("v2.0.0"), None);
        let empty_extract = TagFilter::new("^v1", Some("")).unwrap();
        assert_eq!(empty_extract.key("v1.0.0").as_deref(), Some("v1.0.0"));
    }

    #[test]
    fn the_match_is_unanchored_as_in_flux() {
        let filter = TagFilter::new(r"rc", None).unwrap();
        assert!(filter.key("1.0.0-rc.1").is_some());
    }

    #[test]
    fn braced_numbered_and_literal_text_in_templates() {
        let filter = TagFilter::new(r"^(\d+)\.(?P<minor>\d+)$", Some("${minor}x$1$$")).unwrap();
        assert_eq!(filter.key("3.14").as_deref(), Some("14x3$"));
    }

    #[test]
    fn template_group_names_are_read_like_regex_expand() {
        assert_eq!(template_groups("$ts"), ["ts"]);
        assert_eq!(template_groups("a${b}c$d-e$$f$1"), ["b", "d", "1"]);
        assert!(template_groups("plain").is_empty());
    }

    #[test]
    fn load_errors() {
        assert!(matches!(
            TagFilter::new("(", None),
            Err(PolicyError::Pattern { .. })
        ));
        assert!(matches!(
            TagFilter::new(r"(?P<ts>\d+)", Some("$tz")),
            Err(PolicyError::ExtractGroup { group, .. }) if group == "tz"
        ));
        assert!(matches!(
            TagFilter::new(r"(\d+)", Some("$2")),
            Err(PolicyError::ExtractGroup { group, .. }) if group == "2"
        ));
        assert!(matches!(
            TagFilter::new(r"(\d+)", Some("constant")),
            Err(PolicyError::ExtractWithoutGroup { .. })
        ));
    }
}
