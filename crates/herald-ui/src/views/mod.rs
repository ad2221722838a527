//! View models: what each page shows, built from records by pure functions, so the pages'
//! rules (order, folding, links, the step graph) are tested without a server or a browser.

pub mod events;
pub mod graph;
pub mod overview;
pub mod revision;
pub mod run;
pub mod runs;

use herald_api::RunPhase;

/// The colour class a phase is shown with.
pub fn phase_class(phase: RunPhase) -> &'static str {
    match phase {
        RunPhase::Succeeded => "ok",
        RunPhase::Failed | RunPhase::TimedOut => "bad",
        RunPhase::Running => "busy",
        RunPhase::Pending => "wait",
        _ => "muted",
    }
}

/// `value` made safe inside a URL's path segment or query value.
pub fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A query string (`?a=1&b=2`) from the pairs whose value is set; empty when none is.
pub fn query(pairs: &[(&str, Option<&str>)]) -> String {
    let set: Vec<String> = (pairs.iter())
        .filter_map(|(name, value)| Some(format!("{name}={}", encode((*value)?))))
        .collect();
    if set.is_empty() {
        String::new()
    } else {
        format!("?{}", set.join("&"))
    }
}

/// The id of a step's card on the Run page, which its box in the graph links to.
pub fn step_anchor(step: &str) -> String {
    format!("step-{}", encode(step))
}

/// What an event is about: `Kind<separator>name` of its involved object, else its trigger or
/// source.
pub fn event_subject(event: &herald_store::EventRecord, separator: &str) -> String {
    match (&event.involved_kind, &event.involved_name) {
        (Some(kind), Some(name)) => format!("{kind}{separator}{name}"),
        _ => (event.trigger.clone())
            .or(event.source.clone())
            .unwrap_or_default(),
    }
}

/// A commit as people write it: its first 12 characters.
pub fn short(revision: &str) -> String {
    revision.chars().take(12).collect()
}

/// Long text folded: the first lines shown, the whole behind a disclosure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folded {
    pub head: String,
    /// Lines not in `head`; 0 when nothing is folded.
    pub hidden_lines: usize,
    pub full: String,
}

impl Folded {
    /// Lines shown before the rest is folded away.
    pub const SHOWN: usize = 12;

    pub fn new(text: &str) -> Self {
        let lines: Vec<&str> = text.lines().collect();
        let shown = lines.len().min(Self::SHOWN);
        Self {
            head: lines[..shown].join("\n"),
            hidden_lines: lines.len() - shown,
            full: text.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_encode_what_they_carry() {
        assert_eq!(encode("a b/<c>&"), "a+b%2F%3Cc%3E%26");
        let q = query(&[
            ("trigger", Some("x&y")),
            ("phase", None),
            ("source", Some("r")),
        ]);
        assert_eq!(q, "?trigger=x%26y&source=r");
        assert_eq!(query(&[("phase", None)]), "");
    }

    #[test]
    fn long_text_is_folded_after_the_first_lines() {
        let text: Vec<String> = (1..=30).map(|i| format!("line {i}")).collect();
        let folded = Folded::new(&text.join("\n"));
        assert_eq!(folded.hidden_lines, 18);
        assert!(folded.head.ends_with("line 12"));
        assert_eq!(Folded::new("one\ntwo").hidden_lines, 0);
    }
}
