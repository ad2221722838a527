//! `/metrics` as Prometheus reads it: after a run, the scrape is parsed by the Prometheus
//! project's own OpenMetrics parser (`scripts/check-metrics.py`, Debian's
//! python3-prometheus-client) and must serve exactly the families the README documents.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::process::{Command, Stdio};

use herald_api::RunPhase;
use herald_testkit::metric_sample;
use support::{DEADLINE, LocalHerald, Manifests, TestRepo, schedule_setup, wait_for};

/// Port 9 (discard) on loopback: nothing listens, so connections are refused at once.
const IMAGE_UPDATE: &str = r#"
apiVersion: v1
kind: Secret
metadata: {name: hook}
stringData: {webhook-url: "http://127.0.0.1:9/hook"}
---
apiVersion: herald.dev/v1alpha1
kind: ImageUpdate
metadata: {name: web}
spec:
  image: {repository: "127.0.0.1:9/team/web"}
  policy: {semver: {range: ">=1.0.0"}}
  interval: 1h
  target: {gitRepo: {kind: GitRepo, name: repo}, branch: main}
  notifications:
    - {format: json, secretRef: {name: hook}}
"#;

/// Runs the checker over `scrape`; `None` when python3 or its Prometheus parser is missing
/// outside CI (in CI that fails the test).
fn check_against_readme(scrape: &str) -> Option<String> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let Some(python) = python_with_parser() else {
        let why = "python3 with prometheus_client (Debian: python3-prometheus-client) is missing";
        assert!(std::env::var_os("CI").is_none(), "{why}");
        eprintln!("SKIPPED: {why}");
        return None;
    };
    let mut child = Command::new(python)
        .arg(format!("{root}/scripts/check-metrics.py"))
        .arg(format!("{root}/README.md"))
        .arg("--local")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(scrape.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{report}\n{scrape}");
    Some(report)
}

/// Debian's interpreter first (where the package installs the parser): a `python3` earlier on
/// the PATH (pyenv, a virtualenv) may not see it.
fn python_with_parser() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"].into_iter().find(|python| {
        Command::new(python)
            .args(["-c", "import prometheus_client.openmetrics.parser"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    })
}

#[tokio::test]
async fn the_scrape_parses_and_serves_every_documented_family() {
    let repo = TestRepo::new();
    let manifests = Manifests::new();
    manifests.write("all.yaml", &schedule_setup(&repo.url(), "true", true, "1s"));
    // An image update whose registry and notification endpoint refuse connections: it fails
    // at once, and its failure notification fails too, so both families have samples.
    manifests.write("image.yaml", IMAGE_UPDATE);
    let herald = LocalHerald::start(&manifests).await;
    herald
        .wait_for_runs("a finished run", |runs| {
            runs.iter().any(|r| r.phase == RunPhase::Succeeded)
        })
        .await;
    // A hook to a trigger that does not exist: answered, timed, counted.
    let (status, _) = herald.post("/hooks/default/nope", &[], b"{}").await;
    assert_eq!(status, 404);
    let url = format!("http://{}/metrics", herald.listen);
    let failed = r#"herald_notifications_total{result="failed"}"#;
    let scrape = wait_for("the failed notification counted", DEADLINE, || async {
        let scrape = reqwest::get(&url).await.ok()?.text().await.ok()?;
        metric_sample(&scrape, failed).map(|_| scrape)
    })
    .await;
    let unavailable = r#"herald_image_updates_total{result="RegistryUnavailable"}"#;
    assert_eq!(metric_sample(&scrape, unavailable), Some(1.0), "{scrape}");

    let created = r#"herald_source_checks_total{result="created"}"#;
    assert!(metric_sample(&scrape, created).unwrap() >= 1.0, "{scrape}");
    let succeeded = r#"herald_run_duration_seconds_count{phase="Succeeded"}"#;
    assert!(
        metric_sample(&scrape, succeeded).unwrap() >= 1.0,
        "{scrape}"
    );
    assert!(metric_sample(&scrape, "herald_schedule_lag_seconds_count").unwrap() >= 1.0);
    assert!(metric_sample(&scrape, "herald_run_start_latency_seconds_count").unwrap() >= 1.0);
    assert!(metric_sample(&scrape, "herald_store_write_batch_events_count").unwrap() >= 1.0);
    assert!(metric_sample(&scrape, "herald_source_check_duration_seconds_count").unwrap() >= 1.0);
    let hook = r#"herald_hook_request_duration_seconds_count{provider="unknown",status="404"}"#;
    assert_eq!(metric_sample(&scrape, hook), Some(1.0), "{scrape}");
    assert_eq!(metric_sample(&scrape, "herald_leader"), Some(1.0));
    if let Some(report) = check_against_readme(&scrape) {
        assert!(report.contains("families served"), "{report}");
    }
    herald.stop().await;
}
