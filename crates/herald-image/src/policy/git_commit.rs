//! `gitCommit` policies: the tag is made from a commit of the application's repository, as a
//! CI that tags images with the commit does (`main-{{shortSha}}`, `{{sha}}`).

use super::PolicyError;
use crate::reference::is_valid_tag;

const SHA: &str = "sha";
const SHORT_SHA: &str = "shortSha";
/// Git's own abbreviation length, and what CI systems write.
const SHORT_SHA_LENGTH: usize = 7;
const SHA_LENGTH: usize = 40;

/// A tag template, checked when loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitTagTemplate {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Sha,
    ShortSha,
}

/// A commit id that is not 40 hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a commit id (40 hexadecimal digits)")]
pub struct NotACommit(pub String);

impl CommitTagTemplate {
    /// Read `{{sha}}` and `{{shortSha}}` (spaces inside the braces allowed). A template with
    /// neither would tag every commit the same; an unknown placeholder is most likely a typo.
    pub fn parse(template: &str) -> Result<Self, PolicyError> {
        let parts = template_parts(template)?;
        if !parts
            .iter()
            .any(|part| matches!(part, Part::Sha | Part::ShortSha))
        {
            return Err(PolicyError::TemplateWithoutCommit {
                template: template.to_owned(),
            });
        }
        let parsed = Self { parts };
        let example = parsed.render_unchecked(&"0".repeat(SHA_LENGTH));
        if !is_valid_tag(&example) {
            return Err(PolicyError::TemplateMakesInvalidTags {
                template: template.to_owned(),
                example,
            });
        }
        Ok(parsed)
    }

    /// The tag for a commit; upper-case hex is lower-cased, as Git prints ids.
    pub fn render(&self, sha: &str) -> Result<String, NotACommit> {
        if sha.len() != SHA_LENGTH || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(NotACommit(sha.to_owned()));
        }
        Ok(self.render_unchecked(&sha.to_ascii_lowercase()))
    }

    fn render_unchecked(&self, sha: &str) -> String {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Text(text) => text.as_str(),
                Part::Sha => sha,
                Part::ShortSha => &sha[..SHORT_SHA_LENGTH],
            })
            .collect()
    }
}

fn template_parts(template: &str) -> Result<Vec<Part>, PolicyError> {
    let mut parts = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            parts.push(Part::Text(rest[..open].to_owned()));
        }
        let after_open = &rest[open + 2..];
        let close = after_open
            .find("}}")
            .ok_or_else(|| PolicyError::TemplateUnclosed {
                template: template.to_owned(),
            })?;
        parts.push(match after_open[..close].trim() {
            SHA => Part::Sha,
            SHORT_SHA => Part::ShortSha,
            unknown => {
                return Err(PolicyError::TemplatePlaceholder {
                    template: template.to_owned(),
                    placeholder: unknown.to_owned(),
                });
            }
        });
        rest = &after_open[close + 2..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest.to_owned()));
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

    fn render(template: &str, sha: &str) -> String {
        CommitTagTemplate::parse(template)
            .unwrap()
            .render(sha)
            .unwrap()
    }

    #[test]
    fn long_and_short_sha() {
        assert_eq!(render("{{sha}}", COMMIT), COMMIT);
        assert_eq!(render("{{shortSha}}", COMMIT), "0123456");
        assert_eq!(render("main-{{shortSha}}", COMMIT), "main-0123456");
        assert_eq!(
            render("{{ shortSha }}-{{sha}}", COMMIT),
            format!("0123456-{COMMIT}")
        );
        assert_eq!(render("{{shortSha}}", &COMMIT.to_uppercase()), "0123456");
    }

    #[test]
    fn the_sha_must_be_a_full_commit_id() {
        let template = CommitTagTemplate::parse("{{sha}}").unwrap();
        assert_eq!(
            template.render("0123456"),
            Err(NotACommit("0123456".into()))
        );
        assert!(template.render(&"g".repeat(40)).is_err());
    }

    #[test]
    fn load_errors() {
        assert!(matches!(
            CommitTagTemplate::parse("main"),
            Err(PolicyError::TemplateWithoutCommit { .. })
        ));
        assert!(matches!(
            CommitTagTemplate::parse("main-{{short_sha}}"),
            Err(PolicyError::TemplatePlaceholder { placeholder, .. }) if placeholder == "short_sha"
        ));
        assert!(matches!(
            CommitTagTemplate::parse("main-{{sha"),
            Err(PolicyError::TemplateUnclosed { .. })
        ));
        assert!(matches!(
            CommitTagTemplate::parse("main/{{sha}}"),
            Err(PolicyError::TemplateMakesInvalidTags { example, .. }) if example.starts_with("main/")
        ));
    }
}
