//! The batch's commit message, rendered from a template so a team can keep its commit
//! conventions (a prefix, a trailer) while every change is still listed.

use crate::writer::types::FileChange;

/// The template used when an update brings none of its own.
pub const DEFAULT_MESSAGE_TEMPLATE: &str = "Update images ({{count}} changes)\n\n{{changes}}\n";

/// Render `template`: `{{changes}}` is one line per change (`- <file>:<line>: <old> ->
/// <new>`), `{{count}}` the number of changes, `{{updates}}` the comma-separated update ids.
/// Unknown placeholders are left as written.
pub fn render_message(template: &str, changes: &[FileChange], updates: &[&str]) -> String {
    let lines: Vec<String> = changes.iter().map(change_line).collect();
    template
        .replace("{{changes}}", &lines.join("\n"))
        .replace("{{count}}", &changes.len().to_string())
        .replace("{{updates}}", &updates.join(", "))
}

fn change_line(change: &FileChange) -> String {
    let old = change.change.old.as_deref().unwrap_or("(none)");
    format!(
        "- {}:{}: {} -> {}",
        change.file, change.change.line, old, change.change.new
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use herald_image::{Change, Target, YamlPath};

    fn change(file: &str, line: usize, old: Option<&str>, new: &str) -> FileChange {
        FileChange {
            file: file.into(),
            change: Change {
                document: 0,
                path: YamlPath::parse("image").expect("a valid path"),
                line,
                target: Target::ContainerImage,
                old: old.map(str::to_owned),
                new: new.into(),
            },
        }
    }

    #[test]
    fn placeholders_are_filled_and_unknown_ones_kept() {
        let changes = [
            change("a.yaml", 3, Some("nginx:1"), "nginx:2"),
            change("b.yaml", 7, None, "1.0"),
        ];
        let text = render_message(
            "{{count}} by {{updates}} {{author}}\n{{changes}}",
            &changes,
            &["ns/a", "ns/b"],
        );
        assert_eq!(
            text,
            "2 by ns/a, ns/b {{author}}\n- a.yaml:3: nginx:1 -> nginx:2\n- b.yaml:7: (none) -> 1.0"
        );
    }

    #[test]
    fn the_default_template_counts_and_lists() {
        let changes = [change("a.yaml", 3, Some("x:1"), "x:2")];
        assert_eq!(
            render_message(DEFAULT_MESSAGE_TEMPLATE, &changes, &["u"]),
            "Update images (1 changes)\n\n- a.yaml:3: x:1 -> x:2\n"
        );
    }
}
