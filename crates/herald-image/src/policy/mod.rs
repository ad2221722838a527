//! Tag policies: which of the tags a registry lists is the one to deploy.
//!
//! A policy is written as a [`PolicySpec`] (plain data, as an object holds it) and compiled with
//! [`Policy::compile`] when the object is loaded, so a bad regex, range, template or glob is a
//! typed error at load ([`validate`]), never a policy that silently selects nothing.
//!
//! Selecting from listed tags goes: exclusions (globs on the tag) → the filter (a regex, and the
//! value to order by) → the ordering of the [`Choice`]; the tag itself is returned.

mod filter;
mod git_commit;
mod numeric;
mod semver_range;

use globset::{Glob, GlobSet, GlobSetBuilder};

pub use git_commit::{CommitTagTemplate, NotACommit};

use filter::TagFilter;
use numeric::Decimal;
use semver_range::SemverRange;

/// Signature, attestation and SBOM tags that cosign attaches to an image
/// (`sha256-<digest>.sig`, `.att`, `.sbom`). None of them is a runnable image, and an
/// alphabetical policy would otherwise pick `sha256-...` tags over release tags. A spec that
/// lists its own exclusions replaces these (list them again to keep them), as Flux's
/// `exclusionList` does.
pub const DEFAULT_EXCLUSIONS: [&str; 3] = ["*.sig", "*.att", "*.sbom"];

/// A policy as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicySpec {
    /// Choose among the tags a registry lists.
    Tags(TagPolicySpec),
    /// Build the tag from a commit of the application's repository.
    GitCommit { template: String },
}

/// A policy that chooses among listed tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagPolicySpec {
    pub choice: Choice,
    pub filter: Option<FilterSpec>,
    /// Glob patterns of tags never chosen; `None` means [`DEFAULT_EXCLUSIONS`].
    pub exclude: Option<Vec<String>>,
}

/// How candidate tags are ordered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// The highest version in `range`; tags that are not full semver versions are ignored.
    Semver { range: String, prereleases: bool },
    /// By byte order of the (extracted) tag.
    Alphabetical { order: Order },
    /// By decimal value; tags that are not decimal numbers are ignored.
    Numerical { order: Order },
}

/// Flux's meaning: `Asc` chooses the highest (the last in ascending order), `Desc` the lowest.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Order {
    #[default]
    Asc,
    Desc,
}

/// Flux's `filterTags`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterSpec {
    pub pattern: String,
    /// A template such as `$ts` naming capture groups; what is ordered instead of the tag.
    pub extract: Option<String>,
}

/// A policy that does not hold, found when the object is loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("semver range {range:?} is not valid: {reason}")]
    Range { range: String, reason: String },
    #[error("tag filter pattern {pattern:?} is not a valid regular expression: {reason}")]
    Pattern { pattern: String, reason: String },
    #[error("extract {extract:?} names group {group:?}, which pattern {pattern:?} does not have")]
    ExtractGroup {
        extract: String,
        group: String,
        pattern: String,
    },
    #[error("extract {extract:?} names no capture group, so every tag would extract the same")]
    ExtractWithoutGroup { extract: String },
    #[error("exclusion {pattern:?} is not a valid glob: {reason}")]
    Exclusion { pattern: String, reason: String },
    #[error("tag template {template:?} has neither {{{{sha}}}} nor {{{{shortSha}}}}")]
    TemplateWithoutCommit { template: String },
    #[error(
        "tag template {template:?} has placeholder {placeholder:?}; the known ones are {{{{sha}}}} and {{{{shortSha}}}}"
    )]
    TemplatePlaceholder {
        template: String,
        placeholder: String,
    },
    #[error("tag template {template:?} opens a placeholder with '{{{{' it does not close")]
    TemplateUnclosed { template: String },
    #[error(
        "tag template {template:?} makes tags that are not valid image tags, such as {example:?}"
    )]
    TemplateMakesInvalidTags { template: String, example: String },
}

/// A compiled policy.
#[derive(Debug, Clone)]
pub enum Policy {
    Tags(TagPolicy),
    GitCommit(CommitTagTemplate),
}

impl Policy {
    pub fn compile(spec: &PolicySpec) -> Result<Self, PolicyError> {
        Ok(match spec {
            PolicySpec::Tags(spec) => Self::Tags(TagPolicy::compile(spec)?),
            PolicySpec::GitCommit { template } => {
                Self::GitCommit(CommitTagTemplate::parse(template)?)
            }
        })
    }
}

/// Check a policy when its object is loaded.
pub fn validate(spec: &PolicySpec) -> Result<(), PolicyError> {
    Policy::compile(spec).map(drop)
}

/// A compiled tag-choosing policy.
#[derive(Debug, Clone)]
pub struct TagPolicy {
    ordering: Ordering,
    filter: Option<TagFilter>,
    exclusions: GlobSet,
}

#[derive(Debug, Clone)]
enum Ordering {
    Semver {
        range: SemverRange,
        prereleases: bool,
    },
    Alphabetical(Order),
    Numerical(Order),
}

impl TagPolicy {
    pub fn compile(spec: &TagPolicySpec) -> Result<Self, PolicyError> {
        let ordering = match &spec.choice {
            Choice::Semver { range, prereleases } => Ordering::Semver {
                range: SemverRange::parse(range).map_err(|reason| PolicyError::Range {
                    range: range.clone(),
                    reason,
                })?,
                prereleases: *prereleases,
            },
            Choice::Alphabetical { order } => Ordering::Alphabetical(*order),
            Choice::Numerical { order } => Ordering::Numerical(*order),
        };
        let filter = spec
            .filter
            .as_ref()
            .map(|filter| TagFilter::new(&filter.pattern, filter.extract.as_deref()))
            .transpose()?;
        let exclusions = match &spec.exclude {
            Some(patterns) => glob_set(patterns.iter().map(String::as_str))?,
            None => glob_set(DEFAULT_EXCLUSIONS)?,
        };
        Ok(Self {
            ordering,
            filter,
            exclusions,
        })
    }

    /// The latest of `tags` under this policy, or `None` when no tag qualifies.
    /// Ties (`v1.0.0` and `1.0.0`, `7` and `07`) go to the tag that sorts last, so the answer
    /// does not depend on the order the registry listed them in.
    pub fn latest<'t>(&self, tags: impl IntoIterator<Item = &'t str>) -> Option<&'t str> {
        let candidates = tags
            .into_iter()
            .filter(|tag| !self.exclusions.is_match(tag))
            .filter_map(|tag| Some((self.key(tag)?, tag)));
        match &self.ordering {
            Ordering::Semver { range, prereleases } => candidates
                .filter_map(|(key, tag)| Some((semver_range::parse_tag_version(&key)?, tag)))
                .filter(|(version, _)| range.matches(version, *prereleases))
                .max_by(semver_range::compare)
                .map(|(_, tag)| tag),
            Ordering::Alphabetical(order) => pick(candidates, *order),
            Ordering::Numerical(order) => pick(
                candidates.filter_map(|(key, tag)| Some((Decimal::parse(&key)?, tag))),
                *order,
            ),
        }
    }

    fn key(&self, tag: &str) -> Option<String> {
        match &self.filter {
            Some(filter) => filter.key(tag),
            None => Some(tag.to_owned()),
        }
    }
}

/// The highest (`Asc`) or lowest (`Desc`) key; ties by tag, the last one winning either way.
fn pick<'t, K: Ord>(
    candidates: impl Iterator<Item = (K, &'t str)>,
    order: Order,
) -> Option<&'t str> {
    candidates
        .max_by(|(key_a, tag_a), (key_b, tag_b)| {
            let by_key = key_a.cmp(key_b);
            let by_key = match order {
                Order::Asc => by_key,
                Order::Desc => by_key.reverse(),
            };
            by_key.then_with(|| tag_a.cmp(tag_b))
        })
        .map(|(_, tag)| tag)
}

fn glob_set<'p>(patterns: impl IntoIterator<Item = &'p str>) -> Result<GlobSet, PolicyError> {
    let mut builder = GlobSetBuilder::new();
    for pattern in patterns {
        let glob = Glob::new(pattern).map_err(|error| PolicyError::Exclusion {
            pattern: pattern.to_owned(),
            reason: error.kind().to_string(),
        })?;
        builder.add(glob);
    }
    builder.build().map_err(|error| PolicyError::Exclusion {
        pattern: error.glob().unwrap_or_default().to_owned(),
        reason: error.kind().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(choice: Choice) -> TagPolicy {
        TagPolicy::compile(&TagPolicySpec {
            choice,
            filter: None,
            exclude: None,
        })
        .unwrap()
    }

    fn semver(range: &str, prereleases: bool) -> TagPolicy {
        policy(Choice::Semver {
            range: range.into(),
            prereleases,
        })
    }

    const SIG: &str = "sha256-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.sig";

    #[test]
    fn semver_takes_the_highest_in_range_and_ignores_other_tags() {
        let tags = [
            "1.0.0",
            "v1.2.0",
            "1.10.0",
            "2.0.0",
            "latest",
            "1.9",
            "1.11.0-rc.1",
            SIG,
        ];
        assert_eq!(semver(">=1.0.0 <2.0.0", false).latest(tags), Some("1.10.0"));
        assert_eq!(semver("1.2", false).latest(tags), Some("v1.2.0"));
        assert_eq!(semver("*", false).latest(tags), Some("2.0.0"));
        assert_eq!(semver(">=3.0.0", false).latest(tags), None);
    }

    #[test]
    fn semver_prereleases_only_when_asked() {
        let tags = ["1.0.0", "1.1.0-rc.1", "1.1.0-rc.2", "2.0.0-alpha"];
        assert_eq!(semver("^1.0", false).latest(tags), Some("1.0.0"));
        assert_eq!(semver("^1.0", true).latest(tags), Some("1.1.0-rc.2"));
        assert_eq!(semver(">=1.0.0", true).latest(tags), Some("2.0.0-alpha"));
    }

    #[test]
    fn semver_ties_do_not_depend_on_listing_order() {
        let one = semver("*", false).latest(["v1.0.0", "1.0.0"]);
        let other = semver("*", false).latest(["1.0.0", "v1.0.0"]);
        assert_eq!(one, other);
        assert_eq!(one, Some("v1.0.0"));
        assert_eq!(
            semver("*", false).latest(["1.0.0+b", "1.0.0+a"]),
            Some("1.0.0+b")
        );
    }

    #[test]
    fn alphabetical_asc_takes_the_last_desc_the_first() {
        let tags = [
            "RELEASE.2024-01-02",
            "RELEASE.2024-03-01",
            "RELEASE.2023-12-31",
        ];
        assert_eq!(
            policy(Choice::Alphabetical { order: Order::Asc }).latest(tags),
            Some("RELEASE.2024-03-01")
        );
        assert_eq!(
            policy(Choice::Alphabetical { order: Order::Desc }).latest(tags),
            Some("RELEASE.2023-12-31")
        );
    }

    #[test]
    fn numerical_ignores_non_numbers() {
        let tags = ["9", "10", "latest", "1e9", "2.5", SIG];
        assert_eq!(
            policy(Choice::Numerical { order: Order::Asc }).latest(tags),
            Some("10")
        );
        assert_eq!(
            policy(Choice::Numerical { order: Order::Desc }).latest(tags),
            Some("2.5")
        );
        assert_eq!(
            policy(Choice::Numerical { order: Order::Asc }).latest(["latest"]),
            None
        );
    }

    #[test]
    fn the_filter_orders_extracted_values_and_returns_the_tag() {
        let spec = TagPolicySpec {
            choice: Choice::Numerical { order: Order::Asc },
            filter: Some(FilterSpec {
                pattern: r"^main-[a-f0-9]+-(?P<ts>\d+)$".into(),
                extract: Some("$ts".into()),
            }),
            exclude: None,
        };
        let tags = [
            "main-aaaaaaa-1700000300",
            "main-bbbbbbb-1700000900",
            "dev-ccccccc-1800000000",
            "main-ddddddd-170000100",
        ];
        assert_eq!(
            TagPolicy::compile(&spec).unwrap().latest(tags),
            Some("main-bbbbbbb-1700000900")
        );
    }

    #[test]
    fn the_filter_feeds_semver_too() {
        let spec = TagPolicySpec {
            choice: Choice::Semver {
                range: "^1".into(),
                prereleases: false,
            },
            filter: Some(FilterSpec {
                pattern: r"^app-(?P<version>.*)$".into(),
                extract: Some("$version".into()),
            }),
            exclude: None,
        };
        let tags = ["app-1.2.0", "app-1.3.0", "other-1.9.0", "app-2.0.0"];
        assert_eq!(
            TagPolicy::compile(&spec).unwrap().latest(tags),
            Some("app-1.3.0")
        );
    }

    #[test]
    fn cosign_tags_are_excluded_by_default_and_a_given_list_replaces_the_default() {
        let digest = "sha256-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let sig = format!("{digest}.sig");
        let att = format!("{digest}.att");
        let sbom = format!("{digest}.sbom");
        let tags = ["a-release", sig.as_str(), att.as_str(), sbom.as_str()];
        let alphabetical = Choice::Alphabetical { order: Order::Asc };
        assert_eq!(policy(alphabetical.clone()).latest(tags), Some("a-release"));

        let own_list = TagPolicySpec {
            choice: alphabetical,
            filter: None,
            exclude: Some(vec!["*.sig".into(), "a-*".into()]),
        };
        let chosen = TagPolicy::compile(&own_list).unwrap().latest(tags);
        assert_eq!(
            chosen,
            Some(sbom.as_str()),
            "*.att and *.sbom are no longer excluded"
        );
    }

    #[test]
    fn validate_reports_bad_config_with_its_context() {
        let tags = |choice, filter, exclude| {
            PolicySpec::Tags(TagPolicySpec {
                choice,
                filter,
                exclude,
            })
        };
        let alphabetical = Choice::Alphabetical { order: Order::Asc };
        let error = validate(&tags(
            Choice::Semver {
                range: ">=1.0.0 <".into(),
                prereleases: false,
            },
            None,
            None,
        ))
        .unwrap_err();
        assert!(
            matches!(&error, PolicyError::Range { range, .. } if range == ">=1.0.0 <"),
            "{error}"
        );

        let bad_regex = Some(FilterSpec {
            pattern: "([a-z".into(),
            extract: None,
        });
        assert!(matches!(
            validate(&tags(alphabetical.clone(), bad_regex, None)),
            Err(PolicyError::Pattern { .. })
        ));

        let missing_group = Some(FilterSpec {
            pattern: r"(?P<ts>\d+)".into(),
            extract: Some("$stamp".into()),
        });
        let error = validate(&tags(alphabetical.clone(), missing_group, None)).unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"extract "$stamp" names group "stamp", which pattern "(?P<ts>\\d+)" does not have"#
        );

        let bad_glob = Some(vec!["[a-".into()]);
        assert!(
            matches!(validate(&tags(alphabetical, None, bad_glob)), Err(PolicyError::Exclusion { pattern, .. }) if pattern == "[a-")
        );

        let error = validate(&PolicySpec::GitCommit {
            template: "main-{{commit}}".into(),
        })
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            r#"tag template "main-{{commit}}" has placeholder "commit"; the known ones are {{sha}} and {{shortSha}}"#
        );
        assert_eq!(
            validate(&PolicySpec::GitCommit {
                template: "main".into()
            })
            .unwrap_err()
            .to_string(),
            r#"tag template "main" has neither {{sha}} nor {{shortSha}}"#
        );
        assert!(
            validate(&PolicySpec::GitCommit {
                template: "main-{{shortSha}}".into()
            })
            .is_ok()
        );
    }
}
