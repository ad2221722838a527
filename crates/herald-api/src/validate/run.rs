//! Run.

use super::{Errors, FieldError, Validate, join, names};
use crate::RunSpec;

impl Validate for RunSpec {
    fn validate(&self) -> Result<(), Vec<FieldError>> {
        let mut errors = Errors::default();
        for (at, name) in [
            ("trigger", &self.trigger.name),
            ("source", &self.source.name),
            ("action", &self.action.name),
        ] {
            errors.check(
                join(at, "name"),
                names::dns1123_subdomain(name).map_err(|m| format!("{at} name {m}")),
            );
        }
        if let Some(git_ref) = &self.git_ref {
            errors.check("gitRef", names::full_ref_name(git_ref));
        }
        errors.check("revision", names::commit_hash(&self.revision));
        errors.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::test_support::{paths, single};
    use crate::{ActionKind, ActionRef, RunCause, SourceKind, SourceRef, TriggerKind, TriggerRef};

    fn run() -> RunSpec {
        RunSpec {
            cause: RunCause::Change,
            trigger: TriggerRef {
                kind: TriggerKind::ScheduleTrigger,
                name: "nightly".into(),
            },
            source: SourceRef {
                kind: SourceKind::GitRepo,
                name: "app".into(),
            },
            git_ref: Some("refs/heads/main".into()),
            revision: "89abcdef0123456789abcdef0123456789abcdef".into(),
            action: ActionRef {
                kind: ActionKind::ClusterAction,
                name: "build".into(),
            },
            rerun_of: None,
        }
    }

    #[test]
    fn valid_runs() {
        assert_eq!(paths(run().validate()), Vec::<String>::new());
        let manual = RunSpec {
            cause: RunCause::Manual,
            git_ref: None,
            ..run()
        };
        assert_eq!(paths(manual.validate()), Vec::<String>::new());
    }

    #[test]
    fn revision_is_a_full_commit_id() {
        for bad in [
            "",
            "main",
            "89abcde",
            "89ABCDEF0123456789ABCDEF0123456789ABCDEF",
        ] {
            let r = RunSpec {
                revision: bad.into(),
                ..run()
            };
            let e = single(r.validate());
            assert_eq!(e.path, "revision", "{bad:?}");
        }
    }

    #[test]
    fn names_and_ref() {
        let mut r = run();
        r.trigger.name = "Nightly".into();
        r.source.name = String::new();
        r.action.name = "a_b".into();
        r.git_ref = Some("main".into());
        assert_eq!(
            paths(r.validate()),
            ["trigger.name", "source.name", "action.name", "gitRef"]
        );
    }
}
