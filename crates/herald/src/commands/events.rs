//! `herald events`: the event log of a running Herald, through its API.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, bail};
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::cli::{EventsArgs, OutputFormat};
use crate::client::ApiClient;

pub async fn events(args: EventsArgs) -> anyhow::Result<ExitCode> {
    let client = ApiClient::new(&args.server.server)?;
    let query = query(&args, Timestamp::now())?;
    let mut events = Vec::new();
    let mut cursor = args.cursor;
    let next = loop {
        let mut page_query = query.clone();
        if let Some(c) = cursor {
            page_query.push(("cursor", c.to_string()));
        }
        let page = client.events(&page_query).await?;
        let page_events = page["events"]
            .as_array()
            .context("the server's answer has no events list")?;
        events.extend(page_events.iter().cloned());
        cursor = page["nextCursor"].as_i64();
        if !args.all || cursor.is_none() {
            break cursor;
        }
    };
    print(&events, next, args.output)?;
    Ok(ExitCode::SUCCESS)
}

/// The API query for `args`; relative times are taken back from `now`.
fn query(args: &EventsArgs, now: Timestamp) -> anyhow::Result<Vec<(&'static str, String)>> {
    let mut query = Vec::new();
    let mut add = |name: &'static str, value: Option<String>| {
        if let Some(value) = value {
            query.push((name, value));
        }
    };
    add("kind", args.kind.clone());
    add("revision", args.revision.clone());
    add("source", args.source.clone());
    add("trigger", args.trigger.clone());
    let (kind, namespace, name) = match &args.object {
        Some(object) => object_parts(object)?,
        None => (
            args.involved_kind.clone(),
            args.involved_namespace.clone(),
            args.involved_name.clone(),
        ),
    };
    add("involvedKind", kind);
    add("involvedNamespace", namespace);
    add("involvedName", name);
    add("reason", args.reason.clone());
    add("severity", args.severity.clone());
    add(
        "since",
        args.since
            .as_deref()
            .map(|t| time("--since", t, now))
            .transpose()?,
    );
    add(
        "until",
        args.until
            .as_deref()
            .map(|t| time("--until", t, now))
            .transpose()?,
    );
    add("limit", Some(args.limit.to_string()));
    Ok(query)
}

type Parts = (Option<String>, Option<String>, Option<String>);

/// `Kind/namespace/name` or `Kind/name` (any namespace).
fn object_parts(object: &str) -> anyhow::Result<Parts> {
    let parts: Vec<&str> = object.split('/').collect();
    let owned = |s: &str| Some(s.to_owned());
    match parts.as_slice() {
        [kind, namespace, name] if [kind, namespace, name].iter().all(|p| !p.is_empty()) => {
            Ok((owned(kind), owned(namespace), owned(name)))
        }
        [kind, name] if !kind.is_empty() && !name.is_empty() => {
            Ok((owned(kind), None, owned(name)))
        }
        _ => bail!("--object {object:?}: expected Kind/namespace/name or Kind/name"),
    }
}

/// An RFC 3339 time as given, or `now` minus a duration (`1h`, `30m`).
fn time(flag: &str, text: &str, now: Timestamp) -> anyhow::Result<String> {
    if let Ok(at) = text.parse::<Timestamp>() {
        return Ok(at.to_string());
    }
    let ago = humantime::parse_duration(text).map_err(|_| {
        anyhow::anyhow!("{flag} {text:?}: expected an RFC 3339 time or a duration such as 1h")
    })?;
    let ago = jiff::SignedDuration::try_from(ago).context("duration out of range")?;
    let at = now
        .checked_sub(ago)
        .with_context(|| format!("{flag} {text:?} is too far back"))?;
    Ok(at.to_string())
}

fn print(events: &[Value], next: Option<i64>, format: OutputFormat) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => {
            let mut out = std::io::stdout().lock();
            let page = json!({ "events": events, "nextCursor": next });
            serde_json::to_writer_pretty(&mut out, &page)?;
            writeln!(out)?;
        }
        OutputFormat::Table => table(events)?,
    }
    if let Some(cursor) = next {
        eprintln!("more events: --cursor {cursor}, or --all for every page");
    }
    Ok(())
}

fn table(events: &[Value]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<6} {:<19} {:<17} {:<40} {:<12} {:<24} MESSAGE",
        "ID", "TIME", "KIND", "OBJECT", "REVISION", "REASON"
    )?;
    for event in events {
        writeln!(
            out,
            "{:<6} {:<19} {:<17} {:<40} {:<12} {:<24} {}",
            event["id"],
            when(&event["at"]),
            text(&event["kind"]),
            object(event),
            text(&event["revision"])
                .chars()
                .take(12)
                .collect::<String>(),
            text(&event["reason"]),
            one_line(text(&event["message"]), 80),
        )?;
    }
    if events.is_empty() {
        writeln!(out, "(no events)")?;
    }
    Ok(())
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("-")
}

fn when(at: &Value) -> String {
    at.as_str()
        .and_then(|t| t.parse::<Timestamp>().ok())
        .map_or_else(
            || "-".to_owned(),
            |t| t.strftime("%Y-%m-%d %H:%M:%S").to_string(),
        )
}

/// The object an event is about: `Kind/namespace/name`, else its trigger and source.
fn object(event: &Value) -> String {
    if let (Some(kind), Some(name)) = (
        event["involvedKind"].as_str(),
        event["involvedName"].as_str(),
    ) {
        return match event["involvedNamespace"].as_str() {
            Some(namespace) => format!("{kind}/{namespace}/{name}"),
            None => format!("{kind}/{name}"),
        };
    }
    match (event["trigger"].as_str(), event["source"].as_str()) {
        (Some(trigger), Some(source)) => format!("{trigger} ({source})"),
        (Some(trigger), None) => trigger.to_owned(),
        (None, Some(source)) => source.to_owned(),
        (None, None) => "-".to_owned(),
    }
}

/// `message` on one line, cut to `max` characters.
fn one_line(message: &str, max: usize) -> String {
    let flat: String = message.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_take_two_or_three_parts() {
        let (k, ns, n) = object_parts("Kustomization/flux-system/apps").expect("three");
        assert_eq!(
            (k.as_deref(), ns.as_deref(), n.as_deref()),
            (Some("Kustomization"), Some("flux-system"), Some("apps"))
        );
        let (_, ns, n) = object_parts("HelmRelease/web").expect("two");
        assert_eq!((ns, n.as_deref()), (None, Some("web")));
        for bad in ["apps", "a/b/c/d", "/ns/name", "Kind//name"] {
            assert!(object_parts(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times_are_rfc3339_or_ago() {
        let now: Timestamp = "2026-11-23T12:00:00Z".parse().expect("time");
        assert_eq!(
            time("--since", "1h", now).expect("ago"),
            "2026-11-23T11:00:00Z"
        );
        assert_eq!(
            time("--since", "2026-11-23T10:00:00+01:00", now).expect("rfc 3339"),
            "2026-11-23T09:00:00Z"
        );
        let err = time("--until", "noon", now).expect_err("bad");
        assert!(err.to_string().contains("--until"), "{err}");
    }

    #[test]
    fn long_messages_are_cut() {
        assert_eq!(one_line("a\n  b", 10), "a b");
        assert_eq!(one_line(&"x".repeat(20), 5), "xxxx…");
    }
}
