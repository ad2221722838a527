//! `GET /api/v1/events`: the event log, filtered, newest first, a page at a time.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use herald_store::{EventKind, EventQuery};
use jiff::Timestamp;

use super::ApiState;
use super::json::store_failed;
use crate::router::error;

/// The query parameters, in the order the OpenAPI document lists them.
pub(crate) const PARAMS: [&str; 13] = [
    "kind",
    "revision",
    "source",
    "trigger",
    "involvedKind",
    "involvedNamespace",
    "involvedName",
    "reason",
    "severity",
    "since",
    "until",
    "cursor",
    "limit",
];

pub(crate) async fn list(
    State(api): State<ApiState>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let pairs = match query {
        Ok(Query(pairs)) => pairs,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e.body_text()),
    };
    let query = match parse(&pairs) {
        Ok(query) => query,
        Err(why) => return error(StatusCode::BAD_REQUEST, &why),
    };
    match api.store.query_events(&query).await {
        Ok(page) => (StatusCode::OK, Json(page)).into_response(),
        Err(e) => store_failed("querying events", &e),
    }
}

/// The store query a request's parameters ask for; the error names the parameter.
pub fn parse(pairs: &[(String, String)]) -> Result<EventQuery, String> {
    let mut query = EventQuery::default();
    let mut seen = Vec::new();
    for (name, value) in pairs {
        if seen.contains(&name) {
            return Err(format!("query parameter {name} is given more than once"));
        }
        seen.push(name);
        set(&mut query, name, value)?;
    }
    Ok(query)
}

fn set(query: &mut EventQuery, name: &str, value: &str) -> Result<(), String> {
    let text = || Some(value.to_owned());
    match name {
        "kind" => query.kind = Some(kind(value)?),
        "revision" => query.revision = text(),
        "source" => query.source = text(),
        "trigger" => query.trigger = text(),
        "involvedKind" => query.involved_kind = text(),
        "involvedNamespace" => query.involved_namespace = text(),
        "involvedName" => query.involved_name = text(),
        "reason" => query.reason = text(),
        "severity" => query.severity = text(),
        "since" => query.since = Some(time(name, value)?),
        "until" => query.until = Some(time(name, value)?),
        "cursor" => query.cursor = Some(cursor(value)?),
        "limit" => query.limit = Some(limit(value)?),
        _ => {
            return Err(format!(
                "unknown query parameter {name}; known: {}",
                PARAMS.join(", ")
            ));
        }
    }
    Ok(())
}

fn kind(value: &str) -> Result<EventKind, String> {
    EventKind::parse(value).ok_or_else(|| {
        let known: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
        format!(
            "query parameter kind: unknown kind {value:?}; one of {}",
            known.join(", ")
        )
    })
}

fn time(name: &str, value: &str) -> Result<Timestamp, String> {
    value.parse().map_err(|_| {
        format!(
            "query parameter {name}: {value:?} is not an RFC 3339 time such as \
             2026-11-23T10:00:00Z"
        )
    })
}

fn cursor(value: &str) -> Result<i64, String> {
    value
        .parse::<i64>()
        .ok()
        .filter(|c| *c > 0)
        .ok_or_else(|| format!("query parameter cursor: {value:?} is not a positive integer"))
}

fn limit(value: &str) -> Result<u32, String> {
    value
        .parse::<u32>()
        .ok()
        .filter(|l| (1..=EventQuery::MAX_LIMIT).contains(l))
        .ok_or_else(|| {
            format!(
                "query parameter limit: {value:?} is not between 1 and {}",
                EventQuery::MAX_LIMIT
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn every_parameter_sets_its_filter() {
        let query = parse(&pairs(&[
            ("kind", "flux.event"),
            ("revision", "main/abc"),
            ("involvedKind", "Kustomization"),
            ("involvedNamespace", "flux-system"),
            ("involvedName", "apps"),
            ("since", "2026-11-23T10:00:00Z"),
            ("until", "2026-11-23T11:00:00+01:00"),
            ("cursor", "42"),
            ("limit", "7"),
        ]))
        .expect("valid");
        assert_eq!(query.kind, Some(EventKind::FluxEvent));
        assert_eq!(query.revision.as_deref(), Some("main/abc"));
        assert_eq!(query.involved_name.as_deref(), Some("apps"));
        assert_eq!(query.since, query.until, "the same instant in two offsets");
        assert_eq!((query.cursor, query.limit), (Some(42), Some(7)));
    }

    #[test]
    fn bad_parameters_are_named() {
        for (name, value) in [
            ("kind", "flux"),
            ("since", "yesterday"),
            ("until", "2026-11-23"),
            ("cursor", "-1"),
            ("cursor", "x"),
            ("limit", "0"),
            ("limit", "1001"),
            ("sourceName", "a"),
        ] {
            let err = parse(&pairs(&[(name, value)])).expect_err(name);
            assert!(err.contains(name), "{err}");
        }
        let twice = parse(&pairs(&[("source", "a"), ("source", "b")])).expect_err("twice");
        assert!(
            twice.contains("source") && twice.contains("more than once"),
            "{twice}"
        );
    }
}
