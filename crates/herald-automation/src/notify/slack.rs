//! The text of a Slack-format notification.

use crate::{Outcome, Report};

/// How much of a commit id to show: Git's own abbreviation.
const SHORT_COMMIT: usize = 7;

/// One summary line (`web in apps: updated from 1.0.0 to 1.1.0 (commit abc1234)`), then the
/// report's message on a second line when it adds something (what was set, or why it
/// failed). `&`, `<` and `>` are escaped as Slack asks, so a message quoting YAML or a
/// server's refusal is not read as a link or a mention.
pub fn slack_text(report: &Report) -> String {
    let mut text = format!(
        "{} in {}: {}",
        report.deployment,
        report.namespace,
        summary(report)
    );
    if !report.message.trim().is_empty() {
        text.push('\n');
        text.push_str(report.message.trim());
    }
    escape(&text)
}

/// What happened, in a few words with the tags.
fn summary(report: &Report) -> String {
    let tags = tags(report.from.as_deref(), report.to.as_deref());
    match report.action {
        Outcome::Updated => {
            let commit = report
                .commit
                .as_deref()
                .map(|c| format!(" (commit {})", short(c)))
                .unwrap_or_default();
            format!("updated{tags}{commit}")
        }
        Outcome::UpToDate => match report.to.as_deref() {
            Some(to) => format!("up to date at {to}"),
            None => "up to date".to_owned(),
        },
        Outcome::WaitingForImage => match report.to.as_deref() {
            Some(to) => format!("waiting for the image {to}"),
            None => "waiting for the image".to_owned(),
        },
        Outcome::Rejected => format!("update{tags} FAILED: the push was rejected"),
        Outcome::Failed => format!("update{tags} FAILED"),
        Outcome::DryRun => format!("dry run, would update{tags}"),
    }
}

/// ` from A to B`, ` to B`, ` from A` or nothing, as far as the tags are known.
fn tags(from: Option<&str>, to: Option<&str>) -> String {
    let mut tags = String::new();
    if let Some(from) = from {
        tags.push_str(" from ");
        tags.push_str(from);
    }
    if let Some(to) = to {
        tags.push_str(" to ");
        tags.push_str(to);
    }
    tags
}

/// The first seven characters of a commit id (all of it when shorter).
fn short(commit: &str) -> &str {
    commit
        .char_indices()
        .nth(SHORT_COMMIT)
        .map_or(commit, |(end, _)| &commit[..end])
}

/// Slack's three control characters in message text.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(action: Outcome, message: &str) -> Report {
        Report {
            deployment: "web".to_owned(),
            namespace: "apps".to_owned(),
            action,
            from: Some("1.0.0".to_owned()),
            to: Some("1.1.0".to_owned()),
            status: action.status().to_owned(),
            message: message.to_owned(),
            commit: None,
            diff: None,
        }
    }

    #[test]
    fn updated_names_the_tags_and_the_short_commit() {
        let mut updated = report(
            Outcome::Updated,
            "set registry.example/web:1.1.0 in 1 place(s)",
        );
        updated.commit = Some("abc1234def5678900000000000000000000000ff".to_owned());
        assert_eq!(
            slack_text(&updated),
            "web in apps: updated from 1.0.0 to 1.1.0 (commit abc1234)\n\
             set registry.example/web:1.1.0 in 1 place(s)"
        );
    }

    #[test]
    fn updated_without_a_known_old_tag_or_commit() {
        let mut updated = report(Outcome::Updated, "");
        updated.from = None;
        assert_eq!(slack_text(&updated), "web in apps: updated to 1.1.0");
    }

    #[test]
    fn up_to_date_and_waiting_name_the_tag() {
        assert_eq!(
            slack_text(&report(Outcome::UpToDate, "")),
            "web in apps: up to date at 1.1.0"
        );
        let mut waiting = report(
            Outcome::WaitingForImage,
            "waiting for registry.example/web:1.1.0 to be pushed to the registry",
        );
        waiting.from = None;
        assert_eq!(
            slack_text(&waiting),
            "web in apps: waiting for the image 1.1.0\n\
             waiting for registry.example/web:1.1.0 to be pushed to the registry"
        );
    }

    #[test]
    fn failures_say_so_with_the_message() {
        assert_eq!(
            slack_text(&report(
                Outcome::Failed,
                "other writers kept moving the branch through 5 attempts"
            )),
            "web in apps: update from 1.0.0 to 1.1.0 FAILED\n\
             other writers kept moving the branch through 5 attempts"
        );
        assert_eq!(
            slack_text(&report(
                Outcome::Rejected,
                "the server refused the push: pre-receive hook declined"
            )),
            "web in apps: update from 1.0.0 to 1.1.0 FAILED: the push was rejected\n\
             the server refused the push: pre-receive hook declined"
        );
    }

    #[test]
    fn dry_run_says_what_would_change() {
        assert_eq!(
            slack_text(&report(Outcome::DryRun, "2 value(s) would change")),
            "web in apps: dry run, would update from 1.0.0 to 1.1.0\n2 value(s) would change"
        );
    }

    #[test]
    fn slack_control_characters_are_escaped() {
        assert_eq!(
            slack_text(&report(Outcome::Failed, "a <b> & <!channel>")),
            "web in apps: update from 1.0.0 to 1.1.0 FAILED\na &lt;b&gt; &amp; &lt;!channel&gt;"
        );
    }

    #[test]
    fn a_short_commit_is_kept_whole() {
        assert_eq!(short("abc"), "abc");
        assert_eq!(short("abcdefghij"), "abcdefg");
    }
}
