//! `herald events`: the event log of a running Herald, through its API.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use jiff::Timestamp;
use serde_json::{Value, json};

use crate::cli::{EventsArgs, OutputFormat};
use crate::client::ApiClient;

pub async fn events(args: EventsArgs) -> anyhow::Result<ExitCode> {
    let client = ApiClient::new(&args.server.server)?;
    let query = query(&args);
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

/// The API query for `args`. The values were checked as the arguments were read, so nothing
/// here can fail; a parameter not given is left out, so the server's default applies (the
/// page size in particular).
fn query(args: &EventsArgs) -> Vec<(&'static str, String)> {
    let (kind, namespace, name) = match (&args.object, &args.run) {
        (Some(object), _) => (
            Some(object.kind.clone()),
            object.namespace.clone(),
            Some(object.name.clone()),
        ),
        (None, Some(run)) => (
            Some("Run".to_owned()),
            args.involved_namespace.clone(),
            Some(run.clone()),
        ),
        (None, None) => (
            args.involved_kind.clone(),
            args.involved_namespace.clone(),
            args.involved_name.clone(),
        ),
    };
    let pairs = [
        ("kind", args.kind.clone()),
        ("revision", args.revision.clone()),
        ("source", args.source.clone()),
        ("trigger", args.trigger.clone()),
        ("involvedKind", kind),
        ("involvedNamespace", namespace),
        ("involvedName", name),
        ("reason", args.reason.clone()),
        ("severity", args.severity.clone()),
        ("since", args.since.map(|t| t.to_string())),
        ("until", args.until.map(|t| t.to_string())),
        ("limit", args.limit.map(|l| l.to_string())),
    ];
    pairs
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
        .collect()
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

/// The object an event is about: `Kind/namespace/name` (and a run's step with its attempt,
/// `Run/ns/name:build#2`), else its trigger and source.
fn object(event: &Value) -> String {
    if let (Some(kind), Some(name)) = (
        event["involvedKind"].as_str(),
        event["involvedName"].as_str(),
    ) {
        let object = match event["involvedNamespace"].as_str() {
            Some(namespace) => format!("{kind}/{namespace}/{name}"),
            None => format!("{kind}/{name}"),
        };
        let payload = &event["payload"];
        return match (payload["step"].as_str(), payload["attempt"].as_u64()) {
            (Some(step), Some(attempt)) => format!("{object}:{step}#{attempt}"),
            (Some(step), None) => format!("{object}:{step}"),
            _ => object,
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
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn events_args(args: &[&str]) -> EventsArgs {
        let cli = Cli::try_parse_from([&["herald", "events"], args].concat()).expect("valid");
        match cli.command {
            Command::Events(args) => args,
            other => panic!("not events: {other:?}"),
        }
    }

    #[test]
    fn the_query_holds_only_what_was_given() {
        let given = events_args(&[
            "--object",
            "HelmRelease/web",
            "--since",
            "2026-11-23T10:00:00+01:00",
        ]);
        assert_eq!(
            query(&given),
            [
                ("involvedKind", "HelmRelease".to_owned()),
                ("involvedName", "web".to_owned()),
                ("since", "2026-11-23T09:00:00Z".to_owned()),
            ]
        );
        let limited = events_args(&["--limit", "7"]);
        assert_eq!(query(&limited), [("limit", "7".to_owned())]);
    }

    #[test]
    fn long_messages_are_cut() {
        assert_eq!(one_line("a\n  b", 10), "a b");
        assert_eq!(one_line(&"x".repeat(20), 5), "xxxx…");
    }
}
