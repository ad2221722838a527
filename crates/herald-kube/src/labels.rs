//! Labels and names linking Runs, Jobs, triggers and sources.

/// The Run a Job or Secret belongs to.
pub const RUN: &str = "herald.dev/run";
/// The trigger that created a Run.
pub const TRIGGER: &str = "herald.dev/trigger";
/// `ScheduleTrigger` or `WebhookTrigger`.
pub const TRIGGER_KIND: &str = "herald.dev/trigger-kind";
/// The source a Run checks out.
pub const SOURCE: &str = "herald.dev/source";
/// The field manager of every server-side apply Herald makes.
pub const FIELD_MANAGER: &str = "herald";

/// The per-run Secret holding the cloner's credentials.
pub fn credentials_secret_name(run: &str) -> String {
    format!("{run}-credentials")
}
