//! The handlers: read through the store and the board, build the view, render the template.
//! A page that cannot be read answers with an HTML error page and the right status.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use herald_store::{EventKind, EventPage, EventQuery, RunFilter};
use jiff::Timestamp;

use crate::Ui;
use crate::board::BoardError;
use crate::views::events::{EventsPage, FILTERS};
use crate::views::overview::OverviewPage;
use crate::views::revision::RevisionPage;
use crate::views::run::RunPage;
use crate::views::runs::{PHASES, RUNS_SHOWN, RunRow, RunsQuery};

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewHtml<'a> {
    section: &'static str,
    page: &'a OverviewPage,
}

#[derive(Template)]
#[template(path = "runs.html")]
struct RunsHtml<'a> {
    section: &'static str,
    query: &'a RunsQuery,
    phases: Vec<String>,
    rows: Vec<RunRow>,
    limit: usize,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "run.html")]
struct RunHtml<'a> {
    section: &'static str,
    page: &'a RunPage,
}

#[derive(Template)]
#[template(path = "revision.html")]
struct RevisionHtml<'a> {
    section: &'static str,
    page: &'a RevisionPage,
}

#[derive(Template)]
#[template(path = "events.html")]
struct EventsHtml<'a> {
    section: &'static str,
    filters: &'a [&'static str],
    page: &'a EventsPage,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorHtml<'a> {
    section: &'static str,
    title: &'a str,
    message: &'a str,
}

/// Failed reconciles of every failed run the overview shows.
const FAILURES_SHOWN: u32 = 10;

pub(crate) async fn to_overview() -> Redirect {
    Redirect::permanent("/ui/")
}

pub(crate) async fn overview(State(ui): State<Ui>) -> Response {
    let failed = RunFilter {
        phase: Some(herald_api::RunPhase::Failed),
        limit: Some(FAILURES_SHOWN),
        ..RunFilter::default()
    };
    let read = async {
        let (triggers, sources, latest, failures) = tokio::try_join!(
            ui.board.triggers(),
            ui.board.sources(),
            ui.board.latest_runs(),
            ui.board.runs(&failed),
        )?;
        Ok::<_, BoardError>(OverviewPage::new(
            &triggers,
            &sources,
            &latest,
            &failures,
            Timestamp::now(),
        ))
    };
    match read.await {
        Ok(page) => render(
            StatusCode::OK,
            &OverviewHtml {
                section: "overview",
                page: &page,
            },
        ),
        Err(e) => unavailable(&e),
    }
}

pub(crate) async fn runs(
    State(ui): State<Ui>,
    query: Result<Query<RunsQuery>, QueryRejection>,
) -> Response {
    let query = match query {
        Ok(Query(query)) => query,
        Err(e) => {
            let why = Some(e.body_text());
            return runs_page(
                StatusCode::BAD_REQUEST,
                &RunsQuery::default(),
                Vec::new(),
                why,
            );
        }
    };
    let filter = match query.filter() {
        Ok(filter) => filter,
        Err(why) => return runs_page(StatusCode::BAD_REQUEST, &query, Vec::new(), Some(why)),
    };
    match ui.board.runs(&filter).await {
        Ok(runs) => {
            let now = Timestamp::now();
            let rows = runs.iter().map(|r| RunRow::new(r, now)).collect();
            runs_page(StatusCode::OK, &query, rows, None)
        }
        Err(e) => unavailable(&e),
    }
}

fn runs_page(
    status: StatusCode,
    query: &RunsQuery,
    rows: Vec<RunRow>,
    error: Option<String>,
) -> Response {
    let page = RunsHtml {
        section: "runs",
        query,
        phases: PHASES.iter().map(ToString::to_string).collect(),
        rows,
        limit: RUNS_SHOWN as usize,
        error,
    };
    render(status, &page)
}

pub(crate) async fn run(State(ui): State<Ui>, Path(name): Path<String>) -> Response {
    match ui.board.run(&name).await {
        Ok(Some(view)) => {
            let page = RunPage::new(&view, Timestamp::now());
            render(
                StatusCode::OK,
                &RunHtml {
                    section: "runs",
                    page: &page,
                },
            )
        }
        Ok(None) => error_page(
            StatusCode::NOT_FOUND,
            "No such run",
            &format!("There is no run named {name:?}."),
        ),
        Err(e) => unavailable(&e),
    }
}

#[derive(Debug, serde::Deserialize)]
pub(crate) struct Jump {
    revision: Option<String>,
}

/// The header's revision box: a GET form, so it works without script.
pub(crate) async fn jump_to_revision(Query(jump): Query<Jump>) -> Response {
    match jump
        .revision
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        Some(revision) => {
            Redirect::to(&format!("/ui/revisions/{}", crate::views::encode(revision)))
                .into_response()
        }
        None => error_page(
            StatusCode::BAD_REQUEST,
            "Which revision?",
            "Give a commit SHA to show.",
        ),
    }
}

pub(crate) async fn revision(State(ui): State<Ui>, Path(revision): Path<String>) -> Response {
    let images = EventQuery {
        kind: Some(EventKind::ImageUpdate),
        revision: Some(revision.clone()),
        limit: Some(EventQuery::MAX_LIMIT),
        ..EventQuery::default()
    };
    let read = async {
        tokio::try_join!(
            ui.store.revision_summary(&revision),
            ui.store.query_events(&images)
        )
    };
    match read.await {
        Ok((summary, images)) => {
            let page = RevisionPage::new(&summary, &images.events, Timestamp::now());
            render(
                StatusCode::OK,
                &RevisionHtml {
                    section: "revision",
                    page: &page,
                },
            )
        }
        Err(e) => unavailable(&BoardError::from(e)),
    }
}

pub(crate) async fn events(
    State(ui): State<Ui>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let pairs: Vec<(String, String)> = pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    let (status, page, error) = match herald_server::api::parse_event_query(&pairs) {
        Ok(query) => match ui.store.query_events(&query).await {
            Ok(page) => (StatusCode::OK, page, None),
            Err(e) => return unavailable(&BoardError::from(e)),
        },
        Err(why) => (
            StatusCode::BAD_REQUEST,
            EventPage {
                events: Vec::new(),
                next_cursor: None,
            },
            Some(why),
        ),
    };
    let page = EventsPage::new(&pairs, &page, Timestamp::now());
    render(
        status,
        &EventsHtml {
            section: "events",
            filters: &FILTERS,
            page: &page,
            error,
        },
    )
}

pub(crate) async fn live(State(ui): State<Ui>) -> impl IntoResponse {
    ui.live.stream()
}

pub(crate) async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", include_str!("../assets/app.css"))
}

pub(crate) async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../assets/live.js"),
    )
}

pub(crate) async fn icon() -> Response {
    asset("image/svg+xml", include_str!("../assets/icon.svg"))
}

pub(crate) async fn not_found() -> Response {
    error_page(StatusCode::NOT_FOUND, "Not found", "There is no such page.")
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let headers = [
        (header::CONTENT_TYPE, content_type),
        (header::CACHE_CONTROL, "public, max-age=300"),
    ];
    (headers, body).into_response()
}

fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a dashboard page could not be rendered");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<!doctype html><title>Error</title><p>This page could not be rendered.</p>"),
            )
                .into_response()
        }
    }
}

fn unavailable(error: &BoardError) -> Response {
    tracing::warn!(%error, "a dashboard page could not be read");
    error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Unavailable",
        &error.to_string(),
    )
}

fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    render(
        status,
        &ErrorHtml {
            section: "",
            title,
            message,
        },
    )
}
