//! A notice as it leaves: with how many it stands for, its link and who sends it; and the
//! bodies of `slack` and `generic` (signed or not).

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::notice::Notice;

/// The `apiVersion` of the generic JSON: a change that breaks a receiver gets a new one.
pub const GENERIC_API_VERSION: &str = "herald.dev/v1";
/// Its `kind`.
pub const GENERIC_KIND: &str = "Notification";

/// One notification to send.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// What happened (the latest of a fold).
    #[serde(flatten)]
    pub notice: Notice,
    /// How many identical notices this one stands for (1 unless it ends a fold window).
    pub occurrences: i64,
    /// The fold window, for a message that ends one (`"10m"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window: Option<String>,
    /// Where to see it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// `namespace/name` of the Notifier.
    pub notifier: String,
}

impl Message {
    /// The notice, told once: a message that ends a fold window says how many there were.
    pub fn new(
        notice: Notice,
        occurrences: i64,
        window: Option<Duration>,
        link: Option<String>,
        notifier: String,
    ) -> Self {
        let window = window
            .filter(|_| occurrences > 1)
            .map(|w| humantime::format_duration(w).to_string().replace(' ', ""));
        Self {
            notice,
            occurrences,
            window,
            link,
            notifier,
        }
    }

    /// The headline, with the count of a fold: `... failed (5 times in 10m)`.
    pub fn text(&self) -> String {
        let headline = self.notice.headline();
        match &self.window {
            Some(window) => format!("{headline} ({} times in {window})", self.occurrences),
            None => headline,
        }
    }
}

/// Herald's own JSON: `apiVersion`, `kind`, then the message's fields (documented in
/// docs/NOTIFICATIONS.md).
pub fn generic_body(message: &Message) -> serde_json::Value {
    let mut body = serde_json::json!({
        "apiVersion": GENERIC_API_VERSION,
        "kind": GENERIC_KIND,
    });
    if let (Some(fields), Ok(serde_json::Value::Object(more))) =
        (body.as_object_mut(), serde_json::to_value(message))
    {
        fields.extend(more);
    }
    body
}

/// `X-Signature`'s value for `body` keyed with `key`: `sha256=<hex HMAC-SHA256>`, as Flux's
/// `generic-hmac` provider sends it (and Herald's own `/api/v1/flux/events` checks it).
pub fn signature(key: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length; new_from_slice cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A Slack incoming webhook's body: `text` (the fallback shown in alerts) and blocks with the
/// headline linked to the run, the message, and a context line of what it concerns.
pub fn slack_body(message: &Message) -> serde_json::Value {
    let notice = &message.notice;
    let emoji = match notice.severity {
        herald_api::Severity::Error => ":red_circle:",
        herald_api::Severity::Info => ":large_green_circle:",
    };
    let headline = escape(&message.text());
    let title = match &message.link {
        Some(link) => format!("{emoji} *<{}|{headline}>*", escape(link)),
        None => format!("{emoji} *{headline}*"),
    };
    let mut blocks = vec![section(&title)];
    if let Some(text) = &notice.message {
        blocks.push(section(&format!("```{}```", escape(&excerpt(text, 2_500)))));
    }
    let mut context = Vec::new();
    for (label, object) in [
        ("trigger", &notice.trigger),
        ("action", &notice.action),
        ("source", &notice.source),
    ] {
        if let Some(object) = object {
            context.push(format!("{label} `{}`", escape(&object.name)));
        }
    }
    if let Some(revision) = &notice.revision {
        context.push(format!("revision `{}`", escape(&excerpt(revision, 12))));
    }
    if let Some(reason) = &notice.reason {
        context.push(format!("reason `{}`", escape(reason)));
    }
    if !context.is_empty() {
        blocks.push(serde_json::json!({
            "type": "context",
            "elements": [{ "type": "mrkdwn", "text": context.join(" · ") }],
        }));
    }
    serde_json::json!({ "text": message.text(), "blocks": blocks })
}

fn section(text: &str) -> serde_json::Value {
    serde_json::json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } })
}

/// Slack's three control characters in mrkdwn (its documented escaping).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// At most `chars` characters of `text`.
fn excerpt(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::notice::sample;
    use herald_api::{NotifyOn, Severity};

    fn message(occurrences: i64) -> Message {
        Message::new(
            Notice {
                severity: Severity::Error,
                action: None,
                source: None,
                revision: Some("0123456789abcdef0123".into()),
                reason: Some("Failed".into()),
                message: Some("<b>exit 1</b>".into()),
                ..sample(NotifyOn::RunFailed)
            },
            occurrences,
            Some(Duration::from_secs(600)),
            Some("http://herald.example/x?a=1&b=2".into()),
            "team/chat".into(),
        )
    }

    #[test]
    fn the_generic_body_is_versioned_and_flat() {
        let body = generic_body(&message(1));
        assert_eq!(body["apiVersion"], "herald.dev/v1");
        assert_eq!(body["kind"], "Notification");
        assert_eq!(body["event"], "run.failed");
        assert_eq!(body["severity"], "error");
        assert_eq!(body["object"]["name"], "nightly-1");
        assert_eq!(body["occurrences"], 1);
        assert!(body.get("window").is_none(), "{body}");
        assert_eq!(generic_body(&message(5))["window"], "10m");
    }

    #[test]
    fn a_fold_says_how_many() {
        assert_eq!(
            message(5).text(),
            "Run nightly-1 of ScheduleTrigger nightly in team failed (5 times in 10m)"
        );
    }

    #[test]
    fn slack_escapes_what_it_shows_and_links_the_headline() {
        let body = slack_body(&message(1));
        let blocks = body["blocks"].as_array().unwrap();
        let title = blocks[0]["text"]["text"].as_str().unwrap();
        assert!(
            title.contains("<http://herald.example/x?a=1&amp;b=2|"),
            "{title}"
        );
        assert_eq!(blocks[1]["text"]["text"], "```&lt;b&gt;exit 1&lt;/b&gt;```");
        let context = blocks[2]["elements"][0]["text"].as_str().unwrap();
        assert_eq!(
            context,
            "trigger `nightly` · revision `0123456789ab` · reason `Failed`"
        );
    }

    #[test]
    fn the_signature_is_flux_s() {
        // The value `echo -n '{"a":1}' | openssl dgst -sha256 -hmac key` prints.
        assert_eq!(
            signature(b"key", br#"{"a":1}"#),
            "sha256=88a67f24bbcdaed0e6c997404bb79a743baf44c6bab2f4c27328e3009d22e342"
        );
    }
}
