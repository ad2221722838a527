//! Trigger decisions: which revision a reference points at and whether it is worth a run.

use globset::{Glob, GlobSetBuilder};
use herald_api::{GitReference, RunCause};

/// One ref as listed by the remote: full name and the commit it points at (tags peeled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefTip {
    pub name: String,
    pub commit: String,
}

/// The revision a trigger's reference resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selected {
    /// The full ref name (`refs/heads/main`); `None` for a pinned commit.
    pub git_ref: Option<String>,
    pub revision: String,
}

/// Why a reference could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error("the remote has no ref {0}")]
    RefNotFound(String),
    #[error("the reference names none of branch, tag or commit")]
    Empty,
}

/// Resolve a trigger's reference against the remote's refs. A commit needs no lookup.
pub fn select_revision(reference: &GitReference, refs: &[RefTip]) -> Result<Selected, SelectError> {
    if let Some(commit) = &reference.commit {
        return Ok(Selected {
            git_ref: None,
            revision: commit.to_ascii_lowercase(),
        });
    }
    let wanted = reference.full_ref().ok_or(SelectError::Empty)?;
    refs.iter()
        .find(|tip| tip.name == wanted)
        .map(|tip| Selected {
            git_ref: Some(wanted.clone()),
            revision: tip.commit.clone(),
        })
        .ok_or(SelectError::RefNotFound(wanted))
}

/// The revision a hook's payload gives for the trigger's watched reference: the pushed ref must
/// be the watched branch or tag (or carry the watched commit), must not be a deletion, and must
/// touch a watched file when the payload lists files. `None` when the push is not for this
/// trigger.
pub fn select_pushed(
    reference: &GitReference,
    file_globs: &[String],
    pushes: &[crate::hooks::Push],
) -> Result<Option<Selected>, globset::Error> {
    for push in pushes.iter().filter(|p| !p.deleted) {
        let wanted = match (&reference.commit, reference.full_ref()) {
            (Some(commit), _) => push.revision.eq_ignore_ascii_case(commit),
            (None, Some(full)) => push.git_ref == full,
            (None, None) => false,
        };
        if wanted && files_match(file_globs, push.changed_files.as_deref())? {
            return Ok(Some(Selected {
                git_ref: Some(push.git_ref.clone()),
                revision: push.revision.clone(),
            }));
        }
    }
    Ok(None)
}

/// Why [`select_pushed`] selected nothing, in words for the sender and the log.
pub fn why_not_selected(reference: &GitReference, pushes: &[crate::hooks::Push]) -> String {
    let watched = reference.full_ref();
    let deleted = pushes
        .iter()
        .find(|p| p.deleted && watched.as_deref() == Some(p.git_ref.as_str()));
    match deleted {
        Some(push) => format!("{} was deleted; a deletion runs nothing", push.git_ref),
        None => "the push touches no watched ref or file".to_owned(),
    }
}

/// Why a firing cannot name the sources it asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceChoiceError {
    #[error("has no source {name:?}; its sources are {known:?}")]
    Unknown { name: String, known: Vec<String> },
    #[error("fires one source at a time; name the source")]
    OneAtATime,
}

/// The sources a firing covers: the one it names, which must be the trigger's, or every
/// source when none is named and `all_allowed` (schedules, hand firings, multi-source hooks)
/// or the trigger has only one.
pub fn sources_to_fire(
    names: &[String],
    requested: Option<&str>,
    all_allowed: bool,
) -> Result<Vec<String>, SourceChoiceError> {
    match requested {
        Some(name) if names.iter().any(|n| n == name) => Ok(vec![name.to_owned()]),
        Some(name) => Err(SourceChoiceError::Unknown {
            name: name.to_owned(),
            known: names.to_vec(),
        }),
        None if all_allowed || names.len() == 1 => Ok(names.to_vec()),
        None => Err(SourceChoiceError::OneAtATime),
    }
}

/// What a trigger does with a revision it has looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Create a run with this cause.
    Fire(RunCause),
    /// Nothing to do, and why.
    Skip(String),
}

/// Decide whether a scheduled check fires. With `onChangeOnly`, a revision already seen for
/// this (trigger, source) is skipped and a new one fires as a `Change`; without it every tick
/// fires as a `Schedule`.
pub fn decide(on_change_only: bool, last_seen: Option<&str>, revision: &str) -> Decision {
    match (on_change_only, last_seen) {
        (false, _) => Decision::Fire(RunCause::Schedule),
        (true, Some(seen)) if seen.eq_ignore_ascii_case(revision) => {
            Decision::Skip(format!("revision {revision} already seen"))
        }
        (true, _) => Decision::Fire(RunCause::Change),
    }
}

/// Whether any changed file matches any of the globs. No globs means every change matches;
/// an unknown file list (`None`) matches too, since we cannot tell.
pub fn files_match(globs: &[String], changed: Option<&[String]>) -> Result<bool, globset::Error> {
    let Some(changed) = changed else {
        return Ok(true);
    };
    if globs.is_empty() {
        return Ok(true);
    }
    let mut builder = GlobSetBuilder::new();
    for glob in globs {
        builder.add(Glob::new(glob)?);
    }
    let set = builder.build()?;
    Ok(changed.iter().any(|file| set.is_match(file)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tips() -> Vec<RefTip> {
        vec![
            RefTip {
                name: "refs/heads/main".into(),
                commit: "a".repeat(40),
            },
            RefTip {
                name: "refs/tags/v1".into(),
                commit: "b".repeat(40),
            },
        ]
    }

    fn reference(branch: Option<&str>, tag: Option<&str>, commit: Option<&str>) -> GitReference {
        GitReference {
            branch: branch.map(Into::into),
            tag: tag.map(Into::into),
            commit: commit.map(Into::into),
        }
    }

    #[test]
    fn branch_and_tag_resolve_to_their_commits() {
        let main = select_revision(&reference(Some("main"), None, None), &tips()).unwrap();
        assert_eq!(main.git_ref.as_deref(), Some("refs/heads/main"));
        assert_eq!(main.revision, "a".repeat(40));
        let tag = select_revision(&reference(None, Some("v1"), None), &tips()).unwrap();
        assert_eq!(tag.revision, "b".repeat(40));
    }

    #[test]
    fn commit_needs_no_lookup_and_is_lowercased() {
        let sel = select_revision(&reference(None, None, Some(&"C".repeat(40))), &[]).unwrap();
        assert_eq!(
            sel,
            Selected {
                git_ref: None,
                revision: "c".repeat(40)
            }
        );
    }

    #[test]
    fn missing_ref_is_an_error_naming_it() {
        let err = select_revision(&reference(Some("dev"), None, None), &tips()).unwrap_err();
        assert_eq!(err.to_string(), "the remote has no ref refs/heads/dev");
        assert_eq!(
            select_revision(&GitReference::default(), &tips()),
            Err(SelectError::Empty)
        );
    }

    #[test]
    fn on_change_only_skips_seen_revisions() {
        let rev = "a".repeat(40);
        assert!(matches!(decide(true, Some(&rev), &rev), Decision::Skip(_)));
        assert_eq!(
            decide(true, Some(&"b".repeat(40)), &rev),
            Decision::Fire(RunCause::Change)
        );
        assert_eq!(decide(true, None, &rev), Decision::Fire(RunCause::Change));
        assert_eq!(
            decide(false, Some(&rev), &rev),
            Decision::Fire(RunCause::Schedule)
        );
    }

    fn push(
        git_ref: &str,
        revision: &str,
        files: Option<&[&str]>,
        deleted: bool,
    ) -> crate::hooks::Push {
        crate::hooks::Push {
            git_ref: git_ref.into(),
            revision: revision.into(),
            deleted,
            changed_files: files.map(|f| f.iter().map(|s| (*s).to_owned()).collect()),
            repository: None,
        }
    }

    #[test]
    fn a_push_selects_the_watched_ref_only() {
        let main = reference(Some("main"), None, None);
        let rev = "a".repeat(40);
        let other = push("refs/heads/dev", &rev, None, false);
        assert_eq!(
            select_pushed(&main, &[], std::slice::from_ref(&other)).unwrap(),
            None
        );
        let pushed = push("refs/heads/main", &rev, None, false);
        let selected = select_pushed(&main, &[], &[other, pushed])
            .unwrap()
            .unwrap();
        assert_eq!(
            (selected.git_ref.as_deref(), selected.revision.as_str()),
            (Some("refs/heads/main"), rev.as_str())
        );
        let deleted = push("refs/heads/main", &"0".repeat(40), None, true);
        assert_eq!(
            select_pushed(&main, &[], &[deleted]).unwrap(),
            None,
            "a deleted branch runs nothing"
        );
        assert_eq!(
            why_not_selected(
                &main,
                &[push("refs/heads/main", &"0".repeat(40), None, true)]
            ),
            "refs/heads/main was deleted; a deletion runs nothing"
        );
        assert_eq!(
            why_not_selected(&main, &[push("refs/heads/dev", &rev, None, false)]),
            "the push touches no watched ref or file"
        );
        let docs = push("refs/heads/main", &rev, Some(&["README.md"]), false);
        assert_eq!(
            select_pushed(&main, &["src/**".into()], &[docs]).unwrap(),
            None,
            "file filters apply"
        );
    }

    #[test]
    fn a_firing_covers_the_named_source_or_all_when_allowed() {
        let names = vec!["a".to_string(), "b".to_string()];
        assert_eq!(sources_to_fire(&names, Some("b"), false).unwrap(), ["b"]);
        assert_eq!(sources_to_fire(&names, None, true).unwrap(), names);
        assert_eq!(
            sources_to_fire(&names, None, false),
            Err(SourceChoiceError::OneAtATime)
        );
        let one = vec!["a".to_string()];
        assert_eq!(sources_to_fire(&one, None, false).unwrap(), one);
        let unknown = sources_to_fire(&names, Some("c"), true).unwrap_err();
        assert_eq!(
            unknown.to_string(),
            r#"has no source "c"; its sources are ["a", "b"]"#
        );
    }

    #[test]
    fn file_globs_filter_changes() {
        let globs = vec!["src/**/*.rs".to_string()];
        let rs = vec!["src/a/b.rs".to_string()];
        let md = vec!["README.md".to_string()];
        assert!(files_match(&globs, Some(&rs)).unwrap());
        assert!(!files_match(&globs, Some(&md)).unwrap());
        assert!(files_match(&globs, None).unwrap());
        assert!(files_match(&[], Some(&md)).unwrap());
        assert!(files_match(&["[".to_string()], Some(&md)).is_err());
    }
}
