//! `/metrics` as Prometheus reads it: after a run, the scrape is parsed by the Prometheus
//! project's own OpenMetrics parser (`scripts/check-metrics.py`, Debian's
//! python3-prometheus-client) and must serve exactly the families the README documents.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use herald_api::RunPhase;
use herald_testkit::{ScrapeOf, check_scrape_against_readme, metric_sample};
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
    let change = r#"herald_change_to_run_seconds_count{trigger_kind="ScheduleTrigger"}"#;
    assert!(metric_sample(&scrape, change).unwrap() >= 1.0, "{scrape}");
    assert_eq!(metric_sample(&scrape, "herald_runs_queued"), Some(0.0));
    if let Some(report) = check_scrape_against_readme(&scrape, ScrapeOf::Local) {
        assert!(report.contains("families served"), "{report}");
    }
    herald.stop().await;
}
