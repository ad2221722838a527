//! Labels and names linking Runs, Jobs, triggers and sources.

/// The Run a Job or Secret belongs to.
pub const RUN: &str = "herald.dev/run";
/// The trigger that created a Run.
pub const TRIGGER: &str = "herald.dev/trigger";
/// `ScheduleTrigger` or `WebhookTrigger`.
pub const TRIGGER_KIND: &str = "herald.dev/trigger-kind";
/// The source a Run checks out.
pub const SOURCE: &str = "herald.dev/source";
/// The step a Job runs.
pub const STEP: &str = "herald.dev/step";
/// The step's attempt a Job runs, from 1.
pub const ATTEMPT: &str = "herald.dev/attempt";
/// The field manager of every server-side apply Herald makes.
pub const FIELD_MANAGER: &str = "herald";

/// The per-run Secret holding the cloner's credentials.
pub fn credentials_secret_name(run: &str) -> String {
    format!("{run}-credentials")
}

/// The Job of attempt `attempt` of step `step` of run `run`: deterministic, so a second
/// create is a conflict, never a second Job. An `actionJob`'s one attempt keeps the Run's own
/// name (as before steps existed); others are `{run}-{step}-{attempt}`, cut with a hash when
/// that passes 63 characters.
pub fn job_name(run: &str, step: &str, attempt: u32) -> String {
    use sha2::{Digest, Sha256};
    if step == herald_api::ACTION_JOB_STEP && attempt == 1 {
        return run.to_owned();
    }
    let full = format!("{run}-{step}-{attempt}");
    if full.len() <= 63 {
        return full;
    }
    let digest = hex::encode(Sha256::digest(full.as_bytes()));
    let keep = 63 - 11;
    format!("{}-{}", full[..keep].trim_end_matches('-'), &digest[..10])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_names_are_deterministic_and_fit() {
        assert_eq!(job_name("r-1", "main", 1), "r-1");
        assert_eq!(job_name("r-1", "main", 2), "r-1-main-2");
        assert_eq!(job_name("r-1", "build", 1), "r-1-build-1");
        let long = job_name(&"r".repeat(60), "build-image", 3);
        assert!(long.len() <= 63, "{long}");
        assert_eq!(long, job_name(&"r".repeat(60), "build-image", 3));
        assert_ne!(long, job_name(&"r".repeat(60), "build-image", 4));
    }
}
