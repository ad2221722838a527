//! Semver ranges as Flux users write them, evaluated with the `semver` crate.
//!
//! Flux's ImagePolicy reads ranges with Masterminds/semver (Go); the `semver` crate reads Cargo's
//! syntax. Herald accepts the Flux spelling and gives it Flux's meaning where the two differ:
//! - comparators are separated by white space or commas (`>=1.0.0 <2.0.0`, `>=1.0.0, <2.0.0`);
//! - `||` separates alternatives, any of which may match;
//! - `A - B` is `>=A, <=B`;
//! - a leading `v` is accepted on every version (`>=v1.2.0`, `v1.x`);
//! - a version with no operator is exact, with missing parts as wildcards: `1.2.3` is `=1.2.3`
//!   and `1.2` is `1.2.*`, as in Flux. The `semver` crate alone would read `1.2` as `^1.2`
//!   (anything below 2.0.0), which would move a workload across minor releases its owner pinned.
//!
//! Pre-releases: without `prereleases` a version with a pre-release is never chosen. With it,
//! each comparator is read as the interval it denotes and pre-releases inside are chosen
//! (`^1.2` takes `1.3.0-rc.1` but not `2.0.0-rc.1`), as npm's `includePrerelease` does.

use std::cmp::Ordering;

use semver::{BuildMetadata, Comparator, Op, Prerelease, Version, VersionReq};

/// A parsed range: alternatives, each a conjunction of comparators.
#[derive(Debug, Clone)]
pub(crate) struct SemverRange {
    alternatives: Vec<VersionReq>,
}

impl SemverRange {
    /// Parse a range; the error is a sentence saying what is wrong.
    pub(crate) fn parse(range: &str) -> Result<Self, String> {
        if range.trim().is_empty() {
            return Err("it is empty".to_owned());
        }
        let alternatives = range
            .split("||")
            .map(parse_alternative)
            .collect::<Result<_, _>>()?;
        Ok(Self { alternatives })
    }

    pub(crate) fn matches(&self, version: &Version, prereleases: bool) -> bool {
        if !version.pre.is_empty() && !prereleases {
            return false;
        }
        self.alternatives.iter().any(|req| {
            if version.pre.is_empty() {
                req.matches(version)
            } else {
                req.comparators
                    .iter()
                    .all(|c| interval_contains(c, version))
            }
        })
    }
}

/// A version from a tag: full `MAJOR.MINOR.PATCH[-pre][+build]`, a leading `v` allowed.
/// Floating tags such as `1.25` are not versions: they move, and would tie with `1.25.0`.
pub(crate) fn parse_tag_version(tag: &str) -> Option<Version> {
    Version::parse(strip_v(tag)).ok()
}

fn parse_alternative(alternative: &str) -> Result<VersionReq, String> {
    let comparators = comparator_texts(alternative)?
        .iter()
        .filter(|(_, text)| !matches!(text.as_str(), "*" | "x" | "X"))
        .map(|(written, text)| {
            text.parse::<Comparator>()
                .map_err(|error| format!("{written:?}: {error}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(VersionReq { comparators })
}

/// Split one alternative into comparators, each as written and in the `semver` crate's syntax:
/// operators joined to their version, hyphen ranges expanded, `v` dropped, bare versions exact.
fn comparator_texts(alternative: &str) -> Result<Vec<(String, String)>, String> {
    let tokens = join_operators(
        alternative
            .split([' ', '\t', ','])
            .filter(|t| !t.is_empty()),
    );
    if tokens.is_empty() {
        return Err("an alternative between '||' is empty".to_owned());
    }
    let mut texts = Vec::new();
    let mut index = 0;
    while index < tokens.len() {
        match (
            tokens.get(index + 1).map(String::as_str),
            tokens.get(index + 2),
        ) {
            (Some("-"), Some(upper)) => {
                let lower = &tokens[index];
                texts.push((lower.clone(), format!(">={}", strip_v(lower))));
                texts.push((upper.clone(), format!("<={}", strip_v(upper))));
                index += 3;
            }
            (Some("-"), None) => return Err("a hyphen range has no upper end".to_owned()),
            _ => {
                let token = &tokens[index];
                texts.push((token.clone(), exact_when_bare(token)));
                index += 1;
            }
        }
    }
    Ok(texts)
}

/// `>= 1.2` written with a space is one comparator.
fn join_operators<'a>(tokens: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut joined: Vec<String> = Vec::new();
    for token in tokens {
        match joined.last_mut() {
            Some(last) if is_operator(last) => last.push_str(token),
            _ => joined.push(token.to_owned()),
        }
    }
    joined
}

fn is_operator(token: &str) -> bool {
    matches!(token, "=" | ">" | ">=" | "<" | "<=" | "~" | "^" | "~>")
}

fn exact_when_bare(token: &str) -> String {
    let operator_length = token
        .find(|c: char| !matches!(c, '=' | '>' | '<' | '~' | '^'))
        .unwrap_or(token.len());
    let (operator, version) = token.split_at(operator_length);
    let version = strip_v(version);
    if operator.is_empty() && !matches!(version, "*" | "x" | "X") {
        format!("={version}")
    } else {
        format!("{operator}{version}")
    }
}

fn strip_v(text: &str) -> &str {
    text.strip_prefix(['v', 'V']).unwrap_or(text)
}

/// One end of an interval.
enum Bound {
    Unbounded,
    Included(Version),
    Excluded(Version),
}

/// Whether `version` lies in the interval the comparator denotes, pre-releases included.
fn interval_contains(comparator: &Comparator, version: &Version) -> bool {
    let version = Version {
        build: BuildMetadata::EMPTY,
        ..version.clone()
    };
    let (lower, upper) = interval(comparator);
    let above = match lower {
        Bound::Unbounded => true,
        Bound::Included(low) => version >= low,
        Bound::Excluded(low) => version > low,
    };
    let below = match upper {
        Bound::Unbounded => true,
        Bound::Included(high) => version <= high,
        Bound::Excluded(high) => version < high,
    };
    above && below
}

/// The interval a comparator denotes, as the `semver` crate documents each operator. A bound
/// that comes from a missing part or from a caret or tilde excludes the next release's
/// pre-releases (`X.Y.Z-0` is the lowest version of `X.Y.Z`).
fn interval(c: &Comparator) -> (Bound, Bound) {
    let major = c.major;
    let exact = |minor, patch| Version {
        pre: c.pre.clone(),
        ..Version::new(major, minor, patch)
    };
    match (c.op, c.minor, c.patch) {
        (Op::Exact | Op::Tilde | Op::Caret | Op::Wildcard, None, _) => (
            lowest(major, 0, 0),
            Bound::Excluded(lowest_version(major + 1, 0, 0)),
        ),
        (Op::Exact | Op::Tilde | Op::Wildcard, Some(minor), None) => (
            lowest(major, minor, 0),
            Bound::Excluded(lowest_version(major, minor + 1, 0)),
        ),
        (Op::Exact | Op::Wildcard, Some(minor), Some(patch)) => (
            Bound::Included(exact(minor, patch)),
            Bound::Included(exact(minor, patch)),
        ),
        (Op::Tilde, Some(minor), Some(patch)) => (
            Bound::Included(exact(minor, patch)),
            Bound::Excluded(lowest_version(major, minor + 1, 0)),
        ),
        (Op::Caret, Some(minor), patch) => caret(major, minor, patch, &c.pre),
        (Op::Greater, None, _) => (lowest(major + 1, 0, 0), Bound::Unbounded),
        (Op::Greater, Some(minor), None) => (lowest(major, minor + 1, 0), Bound::Unbounded),
        (Op::Greater, Some(minor), Some(patch)) => {
            (Bound::Excluded(exact(minor, patch)), Bound::Unbounded)
        }
        (Op::GreaterEq, minor, patch) => (
            match patch {
                Some(patch) => Bound::Included(exact(minor.unwrap_or(0), patch)),
                None => lowest(major, minor.unwrap_or(0), 0),
            },
            Bound::Unbounded,
        ),
        (Op::Less, minor, patch) => (
            Bound::Unbounded,
            match patch {
                Some(patch) => Bound::Excluded(exact(minor.unwrap_or(0), patch)),
                None => Bound::Excluded(lowest_version(major, minor.unwrap_or(0), 0)),
            },
        ),
        (Op::LessEq, None, _) => (
            Bound::Unbounded,
            Bound::Excluded(lowest_version(major + 1, 0, 0)),
        ),
        (Op::LessEq, Some(minor), None) => (
            Bound::Unbounded,
            Bound::Excluded(lowest_version(major, minor + 1, 0)),
        ),
        (Op::LessEq, Some(minor), Some(patch)) => {
            (Bound::Unbounded, Bound::Included(exact(minor, patch)))
        }
        // `Op` is non-exhaustive; an operator added later matches nothing until it is read here.
        _ => (
            Bound::Excluded(Version::new(u64::MAX, 0, 0)),
            Bound::Unbounded,
        ),
    }
}

fn caret(major: u64, minor: u64, patch: Option<u64>, pre: &Prerelease) -> (Bound, Bound) {
    let lower = match patch {
        Some(patch) => Bound::Included(Version {
            pre: pre.clone(),
            ..Version::new(major, minor, patch)
        }),
        None => lowest(major, minor, 0),
    };
    let upper = match (major, minor, patch) {
        (0, 0, Some(patch)) => lowest_version(0, 0, patch + 1),
        (0, minor, _) => lowest_version(0, minor + 1, 0),
        (major, _, _) => lowest_version(major + 1, 0, 0),
    };
    (lower, Bound::Excluded(upper))
}

fn lowest(major: u64, minor: u64, patch: u64) -> Bound {
    Bound::Included(lowest_version(major, minor, patch))
}

/// `X.Y.Z-0`: below every other version of `X.Y.Z`, pre-releases included.
fn lowest_version(major: u64, minor: u64, patch: u64) -> Version {
    Version {
        pre: Prerelease::new("0").unwrap_or(Prerelease::EMPTY),
        ..Version::new(major, minor, patch)
    }
}

/// Order versions, then tags, so that `v1.0.0` and `1.0.0` still give one answer.
pub(crate) fn compare(a: &(Version, &str), b: &(Version, &str)) -> Ordering {
    a.0.cmp_precedence(&b.0).then_with(|| a.1.cmp(b.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(range: &str, version: &str, prereleases: bool) -> bool {
        SemverRange::parse(range)
            .unwrap()
            .matches(&Version::parse(version).unwrap(), prereleases)
    }

    #[test]
    fn a_bare_version_is_exact_not_caret() {
        assert!(matches("1.2", "1.2.9", false));
        assert!(
            !matches("1.2", "1.3.0", false),
            "semver alone would take 1.3.0 (^1.2)"
        );
        assert!(matches("1.2.3", "1.2.3", false));
        assert!(!matches("1.2.3", "1.2.4", false));
        assert!(matches("1", "1.9.0", false));
        assert!(!matches("1", "2.0.0", false));
        assert!(
            matches("^1.2", "1.3.0", false),
            "a caret written out is a caret"
        );
    }

    #[test]
    fn flux_spellings_are_accepted() {
        assert!(matches(">=1.0.0 <2.0.0", "1.5.0", false));
        assert!(!matches(">=1.0.0 <2.0.0", "2.0.0", false));
        assert!(matches(">=1.0.0, <2.0.0", "1.5.0", false));
        assert!(matches(">= 1.0.0 < 2.0.0", "1.5.0", false));
        assert!(matches("1.x", "1.7.0", false));
        assert!(matches("1.2.x", "1.2.7", false));
        assert!(!matches("1.2.x", "1.3.0", false));
        assert!(matches("*", "7.0.0", false));
        assert!(matches("~1.2.3", "1.2.9", false));
        assert!(!matches("~1.2.3", "1.3.0", false));
        assert!(matches("1.0.0 - 1.4.0", "1.4.0", false));
        assert!(!matches("1.0.0 - 1.4.0", "1.4.1", false));
        assert!(matches("<1.0.0 || >=3.0.0", "3.1.0", false));
        assert!(!matches("<1.0.0 || >=3.0.0", "2.0.0", false));
    }

    #[test]
    fn a_leading_v_is_accepted_in_ranges_and_tags() {
        assert!(matches(">=v1.2.0", "1.2.0", false));
        assert!(matches("v1.x", "1.2.0", false));
        assert!(matches("v1.0.0 - v2.0.0", "1.2.0", false));
        assert_eq!(parse_tag_version("v1.2.3"), Version::parse("1.2.3").ok());
        assert_eq!(
            parse_tag_version("1.2"),
            None,
            "a floating tag is not a version"
        );
        assert_eq!(parse_tag_version("latest"), None);
    }

    #[test]
    fn pre_releases_only_when_asked() {
        assert!(!matches(">=1.0.0", "1.1.0-rc.1", false));
        assert!(
            !matches(">=1.1.0-rc.0", "1.1.0-rc.1", false),
            "not even when named"
        );
        assert!(matches(">=1.0.0", "1.1.0-rc.1", true));
        assert!(matches("^1.2", "1.3.0-rc.1", true));
        assert!(
            !matches("^1.2", "2.0.0-rc.1", true),
            "not the next major's pre-releases"
        );
        assert!(!matches("1.2", "1.3.0-rc.1", true));
        assert!(matches("1.2", "1.2.0-rc.1", true));
        assert!(
            !matches(">=1.2.0", "1.2.0-rc.1", true),
            "1.2.0-rc.1 comes before 1.2.0"
        );
        assert!(
            matches("<2.0.0", "2.0.0-rc.1", true),
            "an explicit bound is taken as written"
        );
        assert!(!matches("<2", "2.0.0-rc.1", true));
        assert!(matches("~1.2.3", "1.2.4-beta", true));
        assert!(matches("^0.2.3", "0.2.4-beta", true));
        assert!(!matches("^0.0.3", "0.0.4-beta", true));
    }

    #[test]
    fn the_interval_reading_agrees_with_semver_on_releases() {
        let ranges = [
            "=1.2.3", "=1.2", "=1", ">1.2.3", ">1.2", ">1", ">=1.2.3", ">=1.2", ">=1", "<1.2.3",
            "<1.2", "<1", "<=1.2.3", "<=1.2", "<=1", "~1.2.3", "~1.2", "~1", "^1.2.3", "^1.2",
            "^1", "^0.2.3", "^0.2", "^0.0.3", "^0.0", "^0", "1.*", "1.2.*",
        ];
        let versions = [
            "0.0.3", "0.0.4", "0.2.3", "0.2.9", "0.3.0", "1.0.0", "1.1.9", "1.2.0", "1.2.3",
            "1.2.4", "1.3.0", "1.9.9", "2.0.0",
        ];
        for range in ranges {
            let req = VersionReq::parse(range).unwrap();
            for version in versions {
                let version = Version::parse(version).unwrap();
                let by_interval = req
                    .comparators
                    .iter()
                    .all(|c| interval_contains(c, &version));
                assert_eq!(by_interval, req.matches(&version), "{range} {version}");
            }
        }
    }

    #[test]
    fn bad_ranges_say_why() {
        assert_eq!(SemverRange::parse("  ").unwrap_err(), "it is empty");
        assert!(
            SemverRange::parse(">=1.0.0 ||")
                .unwrap_err()
                .contains("empty")
        );
        assert!(SemverRange::parse("1.0.0 -").unwrap_err().contains("upper"));
        assert!(
            SemverRange::parse("banana")
                .unwrap_err()
                .starts_with("\"banana\": ")
        );
        assert!(SemverRange::parse(">=1.0.0 <x.y").is_err());
    }
}
