//! The environment an action sees, the same for a process (local mode) and a Job (cluster).

/// The variable naming the checkout folder. Set by the executor, which alone knows the path
/// (a temporary folder locally, the shared volume in a Job).
pub const WORKDIR_ENV: &str = "HERALD_WORKDIR";

/// What an action is told about the run it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunContext<'a> {
    pub run: &'a str,
    pub namespace: &'a str,
    pub trigger_kind: &'a str,
    pub trigger: &'a str,
    pub source_kind: &'a str,
    pub source: &'a str,
    pub git_ref: Option<&'a str>,
    pub revision: &'a str,
    pub cause: &'a str,
}

/// The `HERALD_*` variables for a run, in a stable order ([`WORKDIR_ENV`] apart).
pub fn run_env(ctx: &RunContext<'_>) -> Vec<(&'static str, String)> {
    vec![
        ("HERALD_RUN", ctx.run.to_owned()),
        ("HERALD_NAMESPACE", ctx.namespace.to_owned()),
        ("HERALD_TRIGGER_KIND", ctx.trigger_kind.to_owned()),
        ("HERALD_TRIGGER", ctx.trigger.to_owned()),
        ("HERALD_SOURCE_KIND", ctx.source_kind.to_owned()),
        ("HERALD_SOURCE", ctx.source.to_owned()),
        ("HERALD_REF", ctx.git_ref.unwrap_or_default().to_owned()),
        ("HERALD_REVISION", ctx.revision.to_owned()),
        ("HERALD_CAUSE", ctx.cause.to_owned()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_reaches_the_environment() {
        let ctx = RunContext {
            run: "r",
            namespace: "ns",
            trigger_kind: "ScheduleTrigger",
            trigger: "t",
            source_kind: "GitRepo",
            source: "s",
            git_ref: Some("refs/heads/main"),
            revision: "abc",
            cause: "Change",
        };
        let env = run_env(&ctx);
        let get = |k: &str| {
            env.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("HERALD_REF"), Some("refs/heads/main"));
        assert_eq!(get("HERALD_REVISION"), Some("abc"));
        assert_eq!(get(WORKDIR_ENV), None);
        assert_eq!(env.len(), 9);
    }
}
