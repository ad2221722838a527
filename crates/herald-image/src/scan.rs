//! Which files hold a target for which watched repositories and policies, so a writer knows
//! which files to edit (and an operator can see which manifests an update will touch).
//!
//! Cheap by construction: a file is parsed only when its bytes contain the last path component
//! of a watched repository (every spelling of a name ends with it) or a watched policy's
//! `namespace:name` (every marker naming it holds that). The others, usually most of a
//! repository, cost one literal search.

use std::collections::BTreeSet;

use regex::bytes::Regex;

use crate::edit::{EditError, PolicyName, find_targets_in, parse};
use crate::reference::Repository;

/// What to look for.
#[derive(Debug, Clone)]
pub struct Watched {
    repositories: BTreeSet<Repository>,
    policies: BTreeSet<PolicyName>,
    /// `None` when there is nothing to look for, or the literals made too big an automaton
    /// (then every file is parsed).
    prefilter: Option<Regex>,
}

impl Watched {
    pub fn new(
        repositories: impl IntoIterator<Item = Repository>,
        policies: impl IntoIterator<Item = PolicyName>,
    ) -> Self {
        let repositories: BTreeSet<_> = repositories.into_iter().collect();
        let policies: BTreeSet<_> = policies.into_iter().collect();
        let names = repositories.iter().map(|repository| {
            repository
                .path()
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned()
        });
        let markers = policies.iter().map(PolicyName::to_string);
        let literals: BTreeSet<String> = names.chain(markers).collect();
        let alternation = literals
            .iter()
            .map(|literal| regex::escape(literal))
            .collect::<Vec<_>>()
            .join("|");
        let prefilter = (!literals.is_empty())
            .then(|| Regex::new(&alternation).ok())
            .flatten();
        Self {
            repositories,
            policies,
            prefilter,
        }
    }

    fn is_empty(&self) -> bool {
        self.repositories.is_empty() && self.policies.is_empty()
    }

    fn may_hold_a_target(&self, bytes: &[u8]) -> bool {
        self.prefilter
            .as_ref()
            .is_none_or(|prefilter| prefilter.is_match(bytes))
    }
}

/// The watched repositories and policies one file has targets for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileTargets<P> {
    pub path: P,
    pub repositories: BTreeSet<Repository>,
    pub policies: BTreeSet<PolicyName>,
}

/// The scan's answer: files with targets, in the order given, and files that might hold one
/// but could not be read (a file the prefilter rules out is never parsed, so its syntax is not
/// checked).
#[derive(Debug)]
pub struct ScanReport<P> {
    pub files: Vec<FileTargets<P>>,
    pub unreadable: Vec<(P, EditError)>,
}

/// Scan files for targets of the watched repositories and policies.
pub fn find_targets<P, B: AsRef<[u8]>>(
    files: impl IntoIterator<Item = (P, B)>,
    watched: &Watched,
) -> ScanReport<P> {
    let mut report = ScanReport {
        files: Vec::new(),
        unreadable: Vec::new(),
    };
    if watched.is_empty() {
        return report;
    }
    for (path, bytes) in files {
        let bytes = bytes.as_ref();
        if !watched.may_hold_a_target(bytes) {
            continue;
        }
        match file_targets(bytes, watched) {
            Ok((repositories, policies)) if repositories.is_empty() && policies.is_empty() => {}
            Ok((repositories, policies)) => report.files.push(FileTargets {
                path,
                repositories,
                policies,
            }),
            Err(error) => report.unreadable.push((path, error)),
        }
    }
    report
}

type Found = (BTreeSet<Repository>, BTreeSet<PolicyName>);

fn file_targets(bytes: &[u8], watched: &Watched) -> Result<Found, EditError> {
    let source = std::str::from_utf8(bytes).map_err(|error| EditError::NotUtf8 {
        valid_up_to: error.valid_up_to(),
    })?;
    let parsed = parse(source)?;
    let targets = find_targets_in(source, &parsed);
    let container_repositories = targets
        .container_images
        .iter()
        .map(|image| image.reference.repository());
    let kustomize_repositories = targets
        .kustomize_images
        .iter()
        .flat_map(|entry| entry.repositories.iter());
    let repositories = container_repositories
        .chain(kustomize_repositories)
        .filter(|repository| watched.repositories.contains(*repository))
        .cloned()
        .collect();
    let policies = targets
        .marked
        .iter()
        .map(|marked| &marked.marker.policy)
        .filter(|policy| watched.policies.contains(*policy))
        .cloned()
        .collect();
    Ok((repositories, policies))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repository(text: &str) -> Repository {
        Repository::parse(text).unwrap()
    }

    fn watched() -> Watched {
        Watched::new(
            [repository("nginx"), repository("ghcr.io/org/app")],
            [PolicyName::parse("flux-system:app").unwrap()],
        )
    }

    const DEPLOYMENT: &str = "\
kind: Deployment
spec:
  template:
    spec:
      containers:
        - image: docker.io/library/nginx:1.25
        - image: ghcr.io/org/app-sidecar:1.0
";

    #[test]
    fn reports_watched_targets_per_file() {
        let files = [
            ("deploy.yaml", DEPLOYMENT),
            (
                "kustomization.yaml",
                "images:\n  - name: ghcr.io/org/app\n    newTag: 1.0\n",
            ),
            (
                "values.yaml",
                "tag: 1.0 # {\"$imagepolicy\": \"flux-system:app:tag\"}\n",
            ),
            ("other.yaml", "image: nginx:1.0\n"),
            ("readme.md", "nothing here"),
        ];
        let report = find_targets(files, &watched());
        let summary: Vec<_> = report
            .files
            .iter()
            .map(|f| (f.path, f.repositories.len(), f.policies.len()))
            .collect();
        assert_eq!(
            summary,
            [
                ("deploy.yaml", 1, 0),
                ("kustomization.yaml", 1, 0),
                ("values.yaml", 0, 1)
            ]
        );
        assert!(report.files[0].repositories.contains(&repository("nginx")));
        assert!(
            report.unreadable.is_empty(),
            "other.yaml parses; readme.md is never parsed"
        );
    }

    #[test]
    fn a_file_that_might_hold_a_target_but_does_not_parse_is_reported() {
        let report = find_targets(
            [("broken.yaml", "image: nginx:1.0\n  bad: [\n")],
            &watched(),
        );
        assert!(report.files.is_empty());
        assert_eq!(report.unreadable.len(), 1);
        assert!(matches!(report.unreadable[0].1, EditError::Parse { .. }));
    }

    #[test]
    fn nothing_watched_finds_nothing() {
        let report = find_targets([("deploy.yaml", DEPLOYMENT)], &Watched::new([], []));
        assert!(report.files.is_empty());
    }
}
