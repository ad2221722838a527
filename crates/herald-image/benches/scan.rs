//! The scan for targets over 1,000 generated manifest files (a Service and a Deployment with
//! two containers and comments in each, about 60 lines), against the baseline of only parsing
//! them with the same YAML parser, measured in the same run. Issue 13 asks for 1,000 files in
//! well under 200 ms.
//!
//! - `parse only`: every file through saphyr-parser's event stream, nothing kept;
//! - `scan, every file parsed`: the watched repository is in every file, so the prefilter
//!   lets all through (tree, targets, references);
//! - `scan, 1 file in 10`: the usual case (one image, one policy, as one ImageUpdate watches),
//!   most files ruled out by one literal search;
//! - `apply, every file`: one tag intent applied to each file (edit and the re-parse check).
//!
//! Wall-clock medians of several runs on this thread; figures are printed, nothing asserted.
//! `cargo bench -p herald-image --bench scan`; knob: `HERALD_BENCH_FILES` (default 1000).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use herald_image::{Intent, PolicyName, Repository, Watched, apply, find_targets};
use saphyr_parser::Parser;

const RUNS: usize = 15;

fn main() {
    let count: usize = std::env::var("HERALD_BENCH_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let files: Vec<(String, String)> = (0..count)
        .map(|i| (format!("apps/app-{i}.yaml"), manifest(i)))
        .collect();
    let bytes: usize = files.iter().map(|(_, text)| text.len()).sum();
    let common = Repository::parse("ghcr.io/org/common-proxy").unwrap();
    let rare = Repository::parse("ghcr.io/org/app-7").unwrap();
    let policy = PolicyName::parse("flux-system:app-7").unwrap();

    let parse_only = median(|| {
        for (_, text) in &files {
            for event in Parser::new_from_str(text) {
                black_box(event.unwrap());
            }
        }
    });
    let every_file = Watched::new([common.clone()], []);
    let scan_all = median(|| {
        let report = find_targets(files.iter().map(|(p, t)| (p, t.as_bytes())), &every_file);
        assert_eq!(report.files.len(), count);
    });
    let one_in_ten = Watched::new([rare], [policy]);
    let rarely_parsed = files.iter().filter(|(_, t)| t.contains("app-7:")).count();
    let scan_some = median(|| {
        let report = find_targets(files.iter().map(|(p, t)| (p, t.as_bytes())), &one_in_ten);
        assert_eq!(report.files.len(), rarely_parsed);
    });
    let intents = [Intent::Tag {
        repository: common,
        tag: "2.0.0".into(),
    }];
    let apply_all = median(|| {
        for (_, text) in &files {
            let edited = apply(text.as_bytes(), &intents).unwrap();
            assert_eq!(edited.changes.len(), 1);
        }
    });

    println!("{count} files, {} KiB", bytes / 1024);
    println!("| what | ms (median of {RUNS}) | × parse only |");
    println!("|---|---:|---:|");
    for (what, took) in [
        ("parse only (baseline)", parse_only),
        ("scan, every file parsed", scan_all),
        ("scan, 1 file in 10 holds the image", scan_some),
        ("apply one intent to every file", apply_all),
    ] {
        println!(
            "| {what} | {:.1} | {:.2} |",
            took.as_secs_f64() * 1000.0,
            took.as_secs_f64() / parse_only.as_secs_f64()
        );
    }
}

fn median(mut run: impl FnMut()) -> Duration {
    run();
    let mut times: Vec<Duration> = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed()
        })
        .collect();
    times.sort();
    times[RUNS / 2]
}

/// One application's manifests; app `i` runs image `ghcr.io/org/app-{i % 10}` beside the
/// shared proxy, so one file in ten holds any one app image.
fn manifest(i: usize) -> String {
    format!(
        r#"# app {i}: generated for the scan benchmark
---
apiVersion: v1
kind: Service
metadata:
  name: svc-{i}
  labels:
    app.kubernetes.io/name: svc-{i}
spec:
  selector:
    app.kubernetes.io/name: svc-{i}
  ports:
    - name: http
      port: 80
      targetPort: 8080 # the container's port
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: svc-{i}
  annotations:
    description: |
      Application {i}.
      Managed by Herald.
spec:
  replicas: 2
  selector:
    matchLabels:
      app.kubernetes.io/name: svc-{i}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: svc-{i}
    spec:
      containers:
        - name: app
          image: ghcr.io/org/app-{app}:1.{i}.0 # {{"$imagepolicy": "flux-system:app-{app}"}}
          ports:
            - containerPort: 8080
          env:
            - name: MODE
              value: "production"
            - name: WORKERS
              value: '4'
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
        - name: proxy
          image: "ghcr.io/org/common-proxy:1.0.0"
          args: ["--upstream", "localhost:8080"]
"#,
        app = i % 10
    )
}
