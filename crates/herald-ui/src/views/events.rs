//! The Events page: the query API's filters as a form, its answer as a table.

use herald_store::{EventPage, EventRecord};
use jiff::Timestamp;

use super::{encode, short};
use crate::time::When;

#[derive(Debug, Clone, PartialEq)]
pub struct EventsPage {
    /// The filters as given, to fill the form again.
    pub filters: Vec<(String, String)>,
    pub rows: Vec<EventRow>,
    /// The next (older) page, with the same filters.
    pub older_href: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub id: i64,
    pub when: When,
    pub kind: String,
    pub namespace: String,
    pub subject: String,
    pub reason: String,
    pub class: &'static str,
    pub message: String,
    pub revision: Option<(String, String)>,
}

/// The filters the form offers, as the query API names them.
pub const FILTERS: [&str; 8] = [
    "kind",
    "revision",
    "trigger",
    "source",
    "involvedKind",
    "involvedName",
    "reason",
    "severity",
];

impl EventsPage {
    pub fn new(pairs: &[(String, String)], page: &EventPage, now: Timestamp) -> Self {
        let filters: Vec<(String, String)> = pairs
            .iter()
            .filter(|(k, _)| k != "cursor")
            .cloned()
            .collect();
        let older_href = page.next_cursor.map(|cursor| {
            let mut query: Vec<String> = (filters.iter())
                .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
                .collect();
            query.push(format!("cursor={cursor}"));
            format!("/ui/events?{}", query.join("&"))
        });
        Self {
            filters,
            rows: page.events.iter().map(|e| EventRow::new(e, now)).collect(),
            older_href,
        }
    }

    /// The value given for `name`, for the form.
    pub fn value(&self, name: &str) -> &str {
        (self.filters.iter())
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

impl EventRow {
    fn new(event: &EventRecord, now: Timestamp) -> Self {
        let subject = super::event_subject(event, "/");
        let bad = event.severity.as_deref() == Some("error");
        Self {
            id: event.id,
            when: When::new(event.at, now),
            kind: event.kind.as_str().to_owned(),
            namespace: event.namespace.clone().unwrap_or_default(),
            subject,
            reason: event.reason.clone().unwrap_or_default(),
            class: if bad { "bad" } else { "muted" },
            message: event.message.clone().unwrap_or_default(),
            revision: (event.revision.as_ref())
                .map(|r| (short(r), format!("/ui/revisions/{}", encode(r)))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_older_page_keeps_the_filters() {
        let page = EventPage {
            events: Vec::new(),
            next_cursor: Some(42),
        };
        let pairs = [
            ("kind".to_owned(), "run.transition".to_owned()),
            ("cursor".to_owned(), "99".to_owned()),
        ];
        let view = EventsPage::new(&pairs, &page, Timestamp::UNIX_EPOCH);
        assert_eq!(
            view.older_href.as_deref(),
            Some("/ui/events?kind=run.transition&cursor=42")
        );
        assert_eq!(view.value("kind"), "run.transition");
        assert_eq!(view.value("trigger"), "");
    }
}
